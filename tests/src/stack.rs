//! One complete test installation: the Ringside server in-process on a fresh SQLite
//! database, Kamailio mirroring SIP to the server's HEP socket, and the SIPp agent phone
//! Kamailio rings for extensions 2001-2010.
//!
//! The browser is not part of the stack: a test closes it before asserting, while the
//! stack stays up for reading the database.

use std::net::SocketAddr;
use std::time::Duration;

use agent_server::store::{CustomerFields, Store};
use agent_server::users::UserSpec;
use agent_server::Running;
use anyhow::Context;
use ringside_protocol::{CustomerId, PhoneKind, PhoneNumber, UserId};
use secrecy::SecretString;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;

use crate::kamailio::{Kamailio, ProxyPorts};
use crate::ports::free_udp_ports;
use crate::sipp::{AgentPhone, Caller, CallerScenario, CallerSpec, PhoneScenario};
use crate::tools::Tools;

/// Server, proxy and agent phone of one run; see the module docs.
pub struct Stack {
    tools: Tools,
    server: Option<Running>,
    shutdown: CancellationToken,
    kamailio: Option<Kamailio>,
    phone: Option<AgentPhone>,
    phone_port: u16,
    dir: TempDir,
}

impl Stack {
    /// Starts the server and Kamailio. No agent phone runs until
    /// [`Stack::use_agent_phone`] starts one.
    ///
    /// # Errors
    /// When the server or Kamailio does not start.
    pub async fn start(tools: Tools) -> anyhow::Result<Stack> {
        let dir = tempfile::Builder::new().prefix("ringside-e2e-").tempdir()?;
        let database = format!("sqlite://{}", dir.path().join("ringside.db").display());
        let mut settings = agent_server::config::Settings::for_tests(&database);
        settings.ui_dir = tools.ui_dir.clone();
        let shutdown = CancellationToken::new();
        let server = agent_server::start(settings, shutdown.clone())
            .await
            .context("starting the Ringside server")?;

        let [sip, phone_port] = free_udp_ports(2)?[..] else {
            anyhow::bail!("could not pick two UDP ports");
        };
        let ports = ProxyPorts {
            sip,
            agent_phone: phone_port,
            hep: server.hep_addr.port(),
        };
        let kamailio = match Kamailio::start(&tools, ports, dir.path()).await {
            Ok(kamailio) => kamailio,
            Err(err) => {
                shutdown.cancel();
                server.wait().await;
                return Err(err);
            }
        };

        Ok(Stack {
            tools,
            server: Some(server),
            shutdown,
            kamailio: Some(kamailio),
            phone: None,
            phone_port,
            dir,
        })
    }

    /// The tools this stack was started with.
    pub fn tools(&self) -> &Tools {
        &self.tools
    }

    fn server(&self) -> anyhow::Result<&Running> {
        self.server
            .as_ref()
            .context("the server is already stopped")
    }

    /// The server's database.
    ///
    /// # Errors
    /// When the stack is already stopped.
    pub fn store(&self) -> anyhow::Result<&Store> {
        Ok(&self.server()?.store)
    }

    /// The console's address, `http://127.0.0.1:<port>/`.
    ///
    /// # Errors
    /// When the stack is already stopped.
    pub fn console_url(&self) -> anyhow::Result<String> {
        Ok(format!("http://{}/", self.server()?.http_addr))
    }

    /// Where callers send SIP.
    ///
    /// # Errors
    /// When the stack is already stopped.
    pub fn proxy_addr(&self) -> anyhow::Result<SocketAddr> {
        Ok(self
            .kamailio
            .as_ref()
            .context("Kamailio is stopped")?
            .sip_addr())
    }

    /// Creates an agent who logs in with `password` and takes calls on `extension`.
    ///
    /// # Errors
    /// When the server refuses the user.
    pub async fn add_agent(
        &self,
        username: &str,
        display_name: &str,
        extension: &str,
        password: &str,
    ) -> anyhow::Result<UserId> {
        let spec = UserSpec {
            username,
            display_name: Some(display_name),
            extension: Some(extension),
            role: "agent",
        };
        let (id, _) = agent_server::users::add_user(
            self.store()?,
            spec,
            Some(SecretString::from(password.to_owned())),
        )
        .await
        .with_context(|| format!("adding agent {username}"))?;
        Ok(id)
    }

    /// Creates a customer reachable on one number, given in E.164 and as written.
    ///
    /// # Errors
    /// When the store refuses the record.
    pub async fn add_customer(
        &self,
        name: &str,
        organisation: Option<&str>,
        e164: &str,
        written: &str,
    ) -> anyhow::Result<CustomerId> {
        let store = self.store()?;
        let now = agent_server::ingest::now_ms();
        let organisation = match organisation {
            Some(name) => Some(store.organisation_by_name_or_new(name, now).await?),
            None => None,
        };
        let customer = CustomerFields {
            name: name.to_owned(),
            organisation,
            phones: vec![PhoneNumber {
                kind: PhoneKind::Work,
                e164: e164.to_owned(),
                original: written.to_owned(),
                extension: None,
            }],
            ..CustomerFields::default()
        };
        let id = store
            .create_customer(&customer, now)
            .await
            .context("adding a customer")?;
        Ok(id)
    }

    /// Makes the agent phone run `scenario`, ringing each call for `ring` before it
    /// answers. A phone already running is stopped first (they share the port Kamailio
    /// routes to).
    ///
    /// # Errors
    /// When SIPp does not start.
    pub async fn use_agent_phone(
        &mut self,
        scenario: PhoneScenario,
        ring: Duration,
    ) -> anyhow::Result<()> {
        if let Some(phone) = self.phone.take() {
            phone.stop();
        }
        let phone = AgentPhone::start(
            &self.tools,
            scenario,
            self.phone_port,
            ring,
            self.dir.path(),
        )
        .await?;
        self.phone = Some(phone);
        Ok(())
    }

    /// Errors the running agent phone has logged (empty when none or no phone runs).
    pub fn agent_phone_errors(&self) -> String {
        self.phone
            .as_ref()
            .map(AgentPhone::errors)
            .unwrap_or_default()
    }

    /// Starts a caller through the proxy; see [`Caller::dial`].
    ///
    /// # Errors
    /// As [`Caller::dial`].
    pub fn dial(
        &self,
        scenario: CallerScenario,
        spec: &CallerSpec<'_>,
        hold: Duration,
    ) -> anyhow::Result<Caller> {
        Caller::dial(&self.tools, self.proxy_addr()?, scenario, spec, hold)
    }

    /// The end of Kamailio's log, for failure messages.
    pub fn kamailio_log_tail(&self) -> String {
        self.kamailio
            .as_ref()
            .map(Kamailio::log_tail)
            .unwrap_or_default()
    }

    /// Stops the agent phone, Kamailio and the server, and waits for the server's tasks.
    pub async fn stop(mut self) {
        if let Some(phone) = self.phone.take() {
            phone.stop();
        }
        if let Some(kamailio) = self.kamailio.take() {
            kamailio.stop();
        }
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.wait().await;
        }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // The processes stop through their own Drop; the server's tasks stop on the token.
        self.shutdown.cancel();
    }
}
