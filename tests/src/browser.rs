//! Headless Chromium driven through chromedriver and fantoccini, and the agent console as
//! the test sees it: logging in, reading pop cards, and writing a wrap-up.
//!
//! Only the console's stable hooks are used (`#login-*`, `#agent-*`, `#ws-status`,
//! `article.pop` with its `data-*` attributes and `.pop-*` parts). Cards are read with one
//! script call that returns every card as JSON ([`PopView`]), which keeps each poll to a
//! single WebDriver round trip.
//!
//! Close the session with [`Browser::close`] before asserting: a panic with the session
//! open leaves Chromium running after chromedriver is gone. As a fallback, dropping a
//! [`Browser`] ends chromedriver's whole process group, Chromium included.

use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context};
use fantoccini::{Client, ClientBuilder, Locator};
use serde::Deserialize;
use serde_json::json;
use tempfile::TempDir;
use tokio::time::Instant;

use crate::ports::{free_tcp_port, LOOPBACK};
use crate::process::{Service, Stdout};
use crate::tools::Tools;
use crate::wait;

/// How long chromedriver may take to accept connections.
const DRIVER_START_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the console may take to load its wasm and show the login form, or to log in
/// and connect its websocket.
const CONSOLE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a save of the wrap-up may take.
const SAVE_TIMEOUT: Duration = Duration::from_secs(10);

/// Chromium's flags: headless, no sandbox (containers run as root), and nothing that
/// reaches the network or a user profile.
const CHROMIUM_ARGS: [&str; 9] = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--window-size=1280,900",
];

/// Reads every pop card; the field names match [`PopView`].
const READ_POPS: &str = r#"
const text = (card, selector) => {
  const el = card.querySelector(selector);
  return el === null ? null : el.textContent.trim();
};
return Array.from(document.querySelectorAll('article.pop')).map((card) => ({
  call_id: card.dataset.callId ?? '',
  interaction_id: card.dataset.interactionId ?? null,
  state: card.dataset.state ?? '',
  outcome: card.dataset.outcome ?? null,
  ringing_at: card.dataset.ringingAt ?? null,
  shown_at: card.dataset.shownAt ?? null,
  customer_name: text(card, '.pop-customer-name'),
  organisation: text(card, '.pop-organisation'),
  caller_number: text(card, '.pop-caller-number'),
  unknown: card.querySelector('.pop-unknown') !== null,
  recent_count: card.querySelectorAll('.pop-recent li').length,
  save_status: text(card, '.pop-save-status'),
}));
"#;

/// One pop card as the browser shows it.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PopView {
    /// `data-call-id`.
    pub call_id: String,
    /// `data-interaction-id`.
    pub interaction_id: Option<String>,
    /// `data-state`: `ringing`, `answered` or `ended`.
    pub state: String,
    /// `data-outcome`, once ended.
    pub outcome: Option<String>,
    /// `data-ringing-at`: the call's ringing time in ms.
    pub ringing_at: Option<String>,
    /// `data-shown-at`: the browser's clock in ms when the card was first rendered.
    pub shown_at: Option<String>,
    /// `.pop-customer-name`.
    pub customer_name: Option<String>,
    /// `.pop-organisation`.
    pub organisation: Option<String>,
    /// `.pop-caller-number`.
    pub caller_number: Option<String>,
    /// Whether `.pop-unknown` is shown.
    pub unknown: bool,
    /// How many `.pop-recent li` rows are shown.
    pub recent_count: usize,
    /// `.pop-save-status`.
    pub save_status: Option<String>,
}

impl PopView {
    /// The interaction id as a number.
    ///
    /// # Errors
    /// When the attribute is missing or not a number.
    pub fn interaction(&self) -> anyhow::Result<i64> {
        parse_attr("data-interaction-id", self.interaction_id.as_deref())
    }

    /// How long after the call started ringing the card appeared, in ms
    /// (`data-shown-at` minus `data-ringing-at`).
    ///
    /// # Errors
    /// When either attribute is missing or not a number.
    pub fn pop_latency_ms(&self) -> anyhow::Result<i64> {
        let shown = parse_attr("data-shown-at", self.shown_at.as_deref())?;
        let ringing = parse_attr("data-ringing-at", self.ringing_at.as_deref())?;
        Ok(shown - ringing)
    }
}

fn parse_attr(name: &str, value: Option<&str>) -> anyhow::Result<i64> {
    let value = value.with_context(|| format!("the pop card has no {name}"))?;
    value
        .parse()
        .with_context(|| format!("{name} is not a number: {value:?}"))
}

/// The console header after logging in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentHeader {
    /// `#agent-name`.
    pub name: String,
    /// `#agent-extension`.
    pub extension: String,
}

/// A browser session; see the module docs for how to end it.
pub struct Browser {
    client: Option<Client>,
    driver: Service,
    _profile: TempDir,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a headless Chromium session.
    ///
    /// # Errors
    /// When chromedriver does not start or the session cannot be created.
    pub async fn start(tools: &Tools) -> anyhow::Result<Browser> {
        let profile = tempfile::Builder::new()
            .prefix("ringside-chromium-")
            .tempdir()?;
        let port = free_tcp_port()?;
        let mut command = Command::new(&tools.chromedriver);
        command
            .arg(format!("--port={port}"))
            // Chromium's own temporary files go with the profile and are removed with it.
            .env("TMPDIR", profile.path());
        let log = profile.path().join("chromedriver.log");
        let mut driver = Service::spawn("chromedriver", command, &log, Stdout::Log)?;

        let waited = wait::until("chromedriver to listen", DRIVER_START_TIMEOUT, || {
            let state = driver.ensure_running().map(|()| {
                std::net::TcpStream::connect((LOOPBACK, port))
                    .ok()
                    .map(drop)
            });
            async move { state }
        })
        .await;
        if let Err(err) = waited {
            bail!("{err}; end of {}:\n{}", log.display(), driver.log_tail());
        }

        let user_data = profile.path().join("user-data");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", user_data.display()));
        let options = json!({ "binary": tools.chromium, "args": args });
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let client = ClientBuilder::native()
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .with_context(|| format!("opening a Chromium session; {}", driver.log_tail()))?;

        Ok(Browser {
            client: Some(client),
            driver,
            _profile: profile,
        })
    }

    fn client(&self) -> anyhow::Result<&Client> {
        self.client
            .as_ref()
            .context("the browser session is already closed")
    }

    /// Opens the console at `base_url`, logs in and waits until the websocket is
    /// connected, so a call placed afterwards pops here.
    ///
    /// # Errors
    /// When the console does not load, `#login-error` appears (its text is quoted), or the
    /// websocket does not connect in time.
    pub async fn log_in(
        &self,
        base_url: &str,
        username: &str,
        password: &str,
    ) -> anyhow::Result<AgentHeader> {
        let client = self.client()?;
        client.goto(base_url).await?;

        let username_field = wait::until("the login form", CONSOLE_TIMEOUT, || async {
            Ok(client.find(Locator::Css("#login-username")).await.ok())
        })
        .await?;
        username_field.send_keys(username).await?;
        client
            .find(Locator::Css("#login-password"))
            .await?
            .send_keys(password)
            .await?;
        client
            .find(Locator::Css("#login-submit"))
            .await?
            .click()
            .await?;

        wait::until("the console after login", CONSOLE_TIMEOUT, || async {
            if let Ok(error) = client.find(Locator::Css("#login-error")).await {
                bail!("login as {username} refused: {}", error.text().await?);
            }
            let status = match client.find(Locator::Css("#ws-status")).await {
                Ok(element) => element.text().await?,
                Err(_) => return Ok(None),
            };
            Ok((status.trim() == "connected").then_some(()))
        })
        .await?;

        Ok(AgentHeader {
            name: self.text_of("#agent-name").await?,
            extension: self.text_of("#agent-extension").await?,
        })
    }

    async fn text_of(&self, selector: &str) -> anyhow::Result<String> {
        let element = self.client()?.find(Locator::Css(selector)).await?;
        Ok(element.text().await?.trim().to_owned())
    }

    /// Every pop card currently in the page.
    ///
    /// # Errors
    /// When the script fails or returns something else than the expected list.
    pub async fn pops(&self) -> anyhow::Result<Vec<PopView>> {
        let value = self.client()?.execute(READ_POPS, Vec::new()).await?;
        serde_json::from_value(value).context("reading the pop cards")
    }

    /// The card of call `call_id`, if shown.
    ///
    /// # Errors
    /// As [`Browser::pops`].
    pub async fn pop(&self, call_id: &str) -> anyhow::Result<Option<PopView>> {
        Ok(self
            .pops()
            .await?
            .into_iter()
            .find(|p| p.call_id == call_id))
    }

    /// Waits up to `timeout` for the card of `call_id` to satisfy `ready`, described by
    /// `what` (for example "state ringing").
    ///
    /// # Errors
    /// On timeout, naming the call and the card as last seen.
    pub async fn wait_for_pop(
        &self,
        call_id: &str,
        what: &str,
        timeout: Duration,
        ready: impl Fn(&PopView) -> bool,
    ) -> anyhow::Result<PopView> {
        let deadline = Instant::now() + timeout;
        loop {
            let view = self.pop(call_id).await?;
            if let Some(hit) = view.as_ref().filter(|v| ready(v)) {
                return Ok(hit.clone());
            }
            if Instant::now() >= deadline {
                bail!(
                    "timed out after {} ms waiting for the pop of {call_id} in {what}; \
                     last seen: {view:?}",
                    timeout.as_millis()
                );
            }
            tokio::time::sleep(wait::POLL_INTERVAL).await;
        }
    }

    /// Waits for the card of `call_id` in `state` (`ringing`, `answered` or `ended`).
    ///
    /// # Errors
    /// As [`Browser::wait_for_pop`].
    pub async fn wait_for_state(
        &self,
        call_id: &str,
        state: &str,
        timeout: Duration,
    ) -> anyhow::Result<PopView> {
        self.wait_for_pop(call_id, &format!("state {state}"), timeout, |p| {
            p.state == state
        })
        .await
    }

    /// Types `notes` into the card's notes, picks `disposition`, presses Save and waits
    /// for `Saved`.
    ///
    /// # Errors
    /// When the card or one of its parts is missing, or the save fails (the status text
    /// is quoted) or takes too long.
    pub async fn save_wrap_up(
        &self,
        call_id: &str,
        notes: &str,
        disposition: &str,
    ) -> anyhow::Result<()> {
        let client = self.client()?;
        let card = client.find(Locator::Css(&card_selector(call_id))).await?;
        let notes_field = card.find(Locator::Css("textarea.pop-notes")).await?;
        notes_field.clear().await?;
        notes_field.send_keys(notes).await?;
        card.find(Locator::Css("select.pop-disposition"))
            .await?
            .select_by_value(disposition)
            .await
            .with_context(|| format!("choosing disposition {disposition:?}"))?;
        card.find(Locator::Css("button.pop-save"))
            .await?
            .click()
            .await?;

        let view = self
            .wait_for_pop(call_id, "save status Saved", SAVE_TIMEOUT, |p| {
                let status = p.save_status.as_deref().unwrap_or("");
                status == "Saved" || status.starts_with("Not saved")
            })
            .await?;
        match view.save_status.as_deref() {
            Some("Saved") => Ok(()),
            other => bail!("the wrap-up of {call_id} was not saved: {other:?}"),
        }
    }

    /// Ends the WebDriver session (Chromium exits) and stops chromedriver.
    ///
    /// # Errors
    /// When the session could not be closed cleanly; chromedriver is stopped anyway.
    pub async fn close(mut self) -> anyhow::Result<()> {
        let closed = match self.client.take() {
            Some(client) => client.close().await.context("closing the browser session"),
            None => Ok(()),
        };
        self.driver.stop();
        closed
    }
}

/// The CSS selector of the card of `call_id`.
///
/// Call-IDs are SIP tokens and `@host`; a quote or backslash is escaped all the same.
pub fn card_selector(call_id: &str) -> String {
    let escaped = call_id.replace('\\', "\\\\").replace('"', "\\\"");
    format!("article.pop[data-call-id=\"{escaped}\"]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_is_read_from_the_script_json() -> anyhow::Result<()> {
        let value = json!({
            "call_id": "e2e-1@ringside.test",
            "interaction_id": "7",
            "state": "ended",
            "outcome": "completed",
            "ringing_at": "1000",
            "shown_at": "1042",
            "customer_name": "Jan Jansen",
            "organisation": null,
            "caller_number": "+31201234567",
            "unknown": false,
            "recent_count": 0,
            "save_status": ""
        });
        let view: PopView = serde_json::from_value(value)?;
        assert_eq!(view.interaction()?, 7);
        assert_eq!(view.pop_latency_ms()?, 42);
        Ok(())
    }

    #[test]
    fn a_missing_time_is_an_error() {
        let view = PopView {
            call_id: "x".into(),
            interaction_id: None,
            state: "ringing".into(),
            outcome: None,
            ringing_at: Some("1000".into()),
            shown_at: None,
            customer_name: None,
            organisation: None,
            caller_number: None,
            unknown: true,
            recent_count: 0,
            save_status: None,
        };
        assert!(view.pop_latency_ms().is_err());
        assert!(view.interaction().is_err());
    }

    #[test]
    fn selectors_quote_the_call_id() {
        assert_eq!(
            card_selector("a\"b@c"),
            "article.pop[data-call-id=\"a\\\"b@c\"]"
        );
    }
}
