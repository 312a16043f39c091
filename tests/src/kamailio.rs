//! The Kamailio proxy of a test run: the project's `tests/kamailio/kamailio.cfg` with its
//! port placeholders filled in, run in the foreground as a child process.
//!
//! Kamailio mirrors every SIP message it receives or sends to the server's HEP socket, so
//! the server sees the calls exactly as it would behind a production proxy.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::ports::{udp_port_taken, LOOPBACK};
use crate::process::{Service, Stdout};
use crate::tools::Tools;
use crate::wait;

/// How long Kamailio may take to bind its SIP port (it took 15-41 ms in the lab).
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Shared memory, in MB: plenty for a handful of calls.
const SHARED_MEMORY_MB: &str = "64";

/// Private memory per process, in MB.
const PRIVATE_MEMORY_MB: &str = "8";

/// The three ports a configuration is made for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProxyPorts {
    /// UDP port Kamailio listens on for SIP.
    pub sip: u16,
    /// UDP port of the SIPp agent phone.
    pub agent_phone: u16,
    /// UDP port of the server's HEP socket.
    pub hep: u16,
}

/// A running Kamailio; stopped (with its worker processes) on drop.
pub struct Kamailio {
    service: Service,
    sip_addr: SocketAddr,
}

impl Kamailio {
    /// Writes the configuration for `ports` into `dir`, starts Kamailio and waits until
    /// it has bound its SIP port.
    ///
    /// # Errors
    /// When the template cannot be read or filled in, Kamailio does not start, or it does
    /// not bind the port in time (the error quotes its log).
    pub async fn start(tools: &Tools, ports: ProxyPorts, dir: &Path) -> anyhow::Result<Kamailio> {
        let template_path = tools.kamailio_template();
        let template = std::fs::read_to_string(&template_path)
            .with_context(|| format!("reading {}", template_path.display()))?;
        let config = render_config(&template, ports)?;
        let config_path = dir.join("kamailio.cfg");
        std::fs::write(&config_path, config)
            .with_context(|| format!("writing {}", config_path.display()))?;
        let run_dir = dir.join("kamailio-run");
        std::fs::create_dir_all(&run_dir)
            .with_context(|| format!("creating {}", run_dir.display()))?;

        let mut command = Command::new(&tools.kamailio);
        command
            .arg("-f")
            .arg(&config_path)
            // -DD: stay in the foreground; -E: log to standard error.
            .arg("-DD")
            .arg("-E")
            .arg("-Y")
            .arg(&run_dir)
            .args(["-m", SHARED_MEMORY_MB, "-M", PRIVATE_MEMORY_MB]);
        let log = dir.join("kamailio.log");
        let mut service = Service::spawn("kamailio", command, &log, Stdout::Log)?;

        let port = ports.sip;
        let waited = wait::until("Kamailio to bind its SIP port", START_TIMEOUT, || {
            let state = service
                .ensure_running()
                .map(|()| udp_port_taken(port).then_some(()));
            async move { state }
        })
        .await;
        if let Err(err) = waited {
            let tail = service.log_tail();
            bail!("{err}; end of {}:\n{tail}", log.display());
        }

        Ok(Kamailio {
            service,
            sip_addr: SocketAddr::from((LOOPBACK, port)),
        })
    }

    /// Where SIPp callers send their requests.
    pub fn sip_addr(&self) -> SocketAddr {
        self.sip_addr
    }

    /// The end of Kamailio's log, for failure messages.
    pub fn log_tail(&self) -> String {
        self.service.log_tail()
    }

    /// Stops Kamailio and its workers.
    pub fn stop(mut self) {
        self.service.stop();
    }
}

/// Fills the `@SIP_PORT@`, `@UAS_PORT@` and `@HEP_PORT@` placeholders of `template`.
///
/// # Errors
/// When the template lacks one of the placeholders or still holds an unknown `@NAME@`
/// after filling, which would mean the template and the harness disagree.
pub fn render_config(template: &str, ports: ProxyPorts) -> anyhow::Result<String> {
    let fills = [
        ("@SIP_PORT@", ports.sip),
        ("@UAS_PORT@", ports.agent_phone),
        ("@HEP_PORT@", ports.hep),
    ];
    let mut config = template.to_owned();
    for (placeholder, port) in fills {
        if !config.contains(placeholder) {
            bail!("the Kamailio template has no {placeholder}");
        }
        config = config.replace(placeholder, &port.to_string());
    }
    if let Some(left) = leftover_placeholder(&config) {
        bail!("the Kamailio template has a placeholder the harness does not fill: {left}");
    }
    Ok(config)
}

/// The first `@WORD@` made of capitals and underscores, if any.
fn leftover_placeholder(text: &str) -> Option<&str> {
    text.match_indices('@').find_map(|(start, _)| {
        let rest = &text[start + 1..];
        let end = rest.find('@')?;
        let word = &rest[..end];
        let is_name = !word.is_empty() && word.chars().all(|c| c.is_ascii_uppercase() || c == '_');
        is_name.then(|| &text[start..start + end + 2])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORTS: ProxyPorts = ProxyPorts {
        sip: 15060,
        agent_phone: 15070,
        hep: 19060,
    };

    #[test]
    fn the_project_template_is_filled_completely() -> anyhow::Result<()> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("kamailio/kamailio.cfg");
        let config = render_config(&std::fs::read_to_string(path)?, PORTS)?;
        assert!(config.contains("listen=udp:127.0.0.1:15060"));
        assert!(config.contains("$du = \"sip:127.0.0.1:15070\";"));
        assert!(config.contains("\"sip:127.0.0.1:19060\""));
        assert!(!config.contains("@SIP_PORT@"));
        Ok(())
    }

    #[test]
    fn a_missing_placeholder_is_an_error() {
        let err = render_config("listen=udp:127.0.0.1:@SIP_PORT@ @UAS_PORT@", PORTS)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("the Kamailio template has no @HEP_PORT@")
        );
    }

    #[test]
    fn an_unknown_placeholder_is_an_error() {
        let err = render_config("@SIP_PORT@ @UAS_PORT@ @HEP_PORT@ @HEP_HOST@", PORTS)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("the Kamailio template has a placeholder the harness does not fill: @HEP_HOST@")
        );
    }

    #[test]
    fn addresses_with_at_signs_are_not_placeholders() {
        assert_eq!(leftover_placeholder("sip:2001@127.0.0.1 user@host"), None);
        assert_eq!(leftover_placeholder("x @A_B@ y"), Some("@A_B@"));
    }
}
