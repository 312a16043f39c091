//! SIPp on both ends of a test call: the agent phone (a UAS that stays up between calls)
//! and the caller (one UAC run per call, from the project's scenarios in `tests/sipp/`).
//!
//! Each caller run gets its own Call-ID (`-cid_str`), so the test knows which pop card and
//! which interaction row belong to it before the call starts.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context};
use tempfile::TempDir;

use crate::ports::{free_udp_ports, udp_port_taken};
use crate::process::{tail_of, Service, Stdout};
use crate::tools::Tools;
use crate::wait;

/// How long SIPp may take to bind its port.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// SIPp's own limit on one call, as `-timeout`; the harness's limit is on top of it.
const SIPP_CALL_TIMEOUT: &str = "30s";

/// Numbers the callers of one test process, so their Call-IDs never repeat.
static CALL_COUNTER: AtomicU32 = AtomicU32::new(0);

/// How the agent phone treats each incoming call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhoneScenario {
    /// `uas_answer.xml`: rings for the ring time, answers, waits for the caller's BYE.
    Answer,
    /// `uas_ring.xml`: rings until the caller cancels, then ends the INVITE with 487.
    RingUntilCancelled,
}

impl PhoneScenario {
    fn file(self) -> &'static str {
        match self {
            PhoneScenario::Answer => "uas_answer.xml",
            PhoneScenario::RingUntilCancelled => "uas_ring.xml",
        }
    }
}

/// What the caller does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallerScenario {
    /// `uac_call.xml`: waits for the answer, talks for the hold time, hangs up with BYE.
    TalkThenHangUp,
    /// `uac_cancel.xml`: listens to the ringing for the hold time, then sends CANCEL.
    CancelWhileRinging,
}

impl CallerScenario {
    fn file(self) -> &'static str {
        match self {
            CallerScenario::TalkThenHangUp => "uac_call.xml",
            CallerScenario::CancelWhileRinging => "uac_cancel.xml",
        }
    }
}

/// Who calls whom.
#[derive(Clone, Copy, Debug)]
pub struct CallerSpec<'a> {
    /// The user part of the From URI: the number as the trunk presents it.
    pub from: &'a str,
    /// Display name in From.
    pub display_name: &'a str,
    /// The agent extension dialled (the Request-URI user).
    pub extension: &'a str,
    /// The number in a P-Asserted-Identity header, if the trunk asserts one.
    pub asserted: Option<&'a str>,
}

/// The agent phone: a SIPp UAS on a fixed port, stopped on drop.
pub struct AgentPhone {
    service: Service,
    scenario: PhoneScenario,
    errors: PathBuf,
}

impl AgentPhone {
    /// Starts the phone on UDP `port` and waits until it listens. It rings each call for
    /// `ring` before answering ([`PhoneScenario::Answer`]).
    ///
    /// # Errors
    /// When SIPp cannot be started or does not bind the port in time.
    pub async fn start(
        tools: &Tools,
        scenario: PhoneScenario,
        port: u16,
        ring: Duration,
        dir: &std::path::Path,
    ) -> anyhow::Result<AgentPhone> {
        let name = scenario.file().trim_end_matches(".xml");
        let errors = dir.join(format!("{name}-errors.log"));
        let mut command = std::process::Command::new(&tools.sipp);
        command
            .arg("-sf")
            .arg(tools.scenario(scenario.file()))
            .args(["-i", "127.0.0.1", "-p", &port.to_string()])
            .args(["-d", &ring.as_millis().to_string()])
            .arg("-nostdin")
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&errors)
            .current_dir(dir);
        let log = dir.join(format!("{name}.log"));
        let mut service = Service::spawn("the SIPp agent phone", command, &log, Stdout::Discard)?;

        let waited = wait::until(
            "the SIPp agent phone to bind its port",
            START_TIMEOUT,
            || {
                let state = service
                    .ensure_running()
                    .map(|()| udp_port_taken(port).then_some(()));
                async move { state }
            },
        )
        .await;
        if let Err(err) = waited {
            bail!("{err}; end of {}:\n{}", log.display(), service.log_tail());
        }
        Ok(AgentPhone {
            service,
            scenario,
            errors,
        })
    }

    /// The scenario this phone runs.
    pub fn scenario(&self) -> PhoneScenario {
        self.scenario
    }

    /// Stops the phone at once, freeing its port.
    pub fn stop(mut self) {
        self.service.kill();
    }

    /// The errors SIPp logged for this phone so far (empty when none).
    pub fn errors(&self) -> String {
        tail_of(&self.errors).unwrap_or_default()
    }
}

impl Drop for AgentPhone {
    fn drop(&mut self) {
        self.service.kill();
    }
}

/// One caller, placing one call; killed if dropped before it finished.
pub struct Caller {
    child: tokio::process::Child,
    call_id: String,
    errors: PathBuf,
    stderr: PathBuf,
    _dir: TempDir,
}

impl Caller {
    /// Starts SIPp placing one call to `proxy` as `spec` says. `hold` is the talk time
    /// ([`CallerScenario::TalkThenHangUp`]) or the ring time before the CANCEL
    /// ([`CallerScenario::CancelWhileRinging`]).
    ///
    /// # Errors
    /// When `spec` holds a character the injection file cannot carry, or SIPp cannot be
    /// started.
    pub fn dial(
        tools: &Tools,
        proxy: SocketAddr,
        scenario: CallerScenario,
        spec: &CallerSpec<'_>,
        hold: Duration,
    ) -> anyhow::Result<Caller> {
        let dir = tempfile::Builder::new()
            .prefix("ringside-caller-")
            .tempdir()?;
        let csv = dir.path().join("call.csv");
        std::fs::write(&csv, injection_csv(spec)?)
            .with_context(|| format!("writing {}", csv.display()))?;
        let number = CALL_COUNTER.fetch_add(1, Ordering::Relaxed);
        let call_id = format!("e2e-{}-{number}@ringside.test", std::process::id());
        let errors = dir.path().join("errors.log");
        let stderr = dir.path().join("stderr.log");
        let local_port = free_udp_ports(1)?
            .first()
            .copied()
            .context("no free UDP port for the caller")?;

        let mut command = tokio::process::Command::new(&tools.sipp);
        command
            .arg(proxy.to_string())
            .arg("-sf")
            .arg(tools.scenario(scenario.file()))
            .arg("-inf")
            .arg(&csv)
            .args(["-i", "127.0.0.1", "-p", &local_port.to_string()])
            .args(["-m", "1"])
            .args(["-d", &hold.as_millis().to_string()])
            .args(["-cid_str", &call_id])
            .arg("-nostdin")
            .args(["-timeout", SIPP_CALL_TIMEOUT, "-timeout_error"])
            .arg("-trace_err")
            .arg("-error_file")
            .arg(&errors)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .kill_on_drop(true);
        let child = command.spawn().context("starting the SIPp caller")?;
        Ok(Caller {
            child,
            call_id,
            errors,
            stderr,
            _dir: dir,
        })
    }

    /// The SIP Call-ID of this call.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Waits up to `timeout` for SIPp to finish the call.
    ///
    /// # Errors
    /// When SIPp reports a failed call (the error quotes its error log) or does not finish
    /// in time (it is killed).
    pub async fn finish(mut self, timeout: Duration) -> anyhow::Result<()> {
        let status: ExitStatus = match tokio::time::timeout(timeout, self.child.wait()).await {
            Ok(status) => status?,
            Err(_) => {
                // The kill can only fail if SIPp exited meanwhile; either way it is gone.
                let _ = self.child.kill().await;
                bail!(
                    "SIPp caller {} did not finish within {} ms{}",
                    self.call_id,
                    timeout.as_millis(),
                    self.diagnostics()
                );
            }
        };
        if !status.success() {
            bail!(
                "SIPp caller {} failed ({status}){}",
                self.call_id,
                self.diagnostics()
            );
        }
        Ok(())
    }

    fn diagnostics(&self) -> String {
        let mut text = String::new();
        for (what, path) in [("error log", &self.errors), ("stderr", &self.stderr)] {
            if let Ok(content) = tail_of(path) {
                if !content.trim().is_empty() {
                    text.push_str(&format!("\n--- SIPp {what} ---\n{}", content.trim_end()));
                }
            }
        }
        text
    }
}

/// The SIPp injection file for one call: `from;display;extension;header line`.
///
/// The fourth field is a whole header line, the P-Asserted-Identity or a neutral
/// `X-Ringside-Asserted: none`, because a SIPp field cannot leave a header out.
///
/// # Errors
/// When a value holds a character that would break the file or the SIP message: `;` is
/// SIPp's field separator, `"` would end the display name, line breaks would end the
/// header.
pub fn injection_csv(spec: &CallerSpec<'_>) -> anyhow::Result<String> {
    let fields = [spec.from, spec.display_name, spec.extension]
        .into_iter()
        .chain(spec.asserted);
    for value in fields {
        if value.is_empty() || value.contains([';', '"', '\r', '\n', '<', '>']) {
            bail!("caller field {value:?} is empty or holds one of ; \" < > or a line break");
        }
    }
    let asserted = match spec.asserted {
        Some(number) => format!("P-Asserted-Identity: <sip:{number}@trunk.ringside.test>"),
        None => "X-Ringside-Asserted: none".to_owned(),
    };
    Ok(format!(
        "SEQUENTIAL\n{};{};{};{asserted}\n",
        spec.from, spec.display_name, spec.extension
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(asserted: Option<&'static str>) -> CallerSpec<'static> {
        CallerSpec {
            from: "0201234567",
            display_name: "Jan Jansen",
            extension: "2001",
            asserted,
        }
    }

    #[test]
    fn an_asserted_number_becomes_a_pai_header() -> anyhow::Result<()> {
        assert_eq!(
            injection_csv(&spec(Some("+31201234567")))?,
            "SEQUENTIAL\n0201234567;Jan Jansen;2001;\
             P-Asserted-Identity: <sip:+31201234567@trunk.ringside.test>\n"
        );
        Ok(())
    }

    #[test]
    fn without_an_asserted_number_a_neutral_header_fills_the_field() -> anyhow::Result<()> {
        assert_eq!(
            injection_csv(&spec(None))?,
            "SEQUENTIAL\n0201234567;Jan Jansen;2001;X-Ringside-Asserted: none\n"
        );
        Ok(())
    }

    #[test]
    fn separators_and_quotes_are_refused() {
        let mut bad = spec(None);
        bad.display_name = "Jansen; BV";
        assert!(injection_csv(&bad).is_err());
        bad.display_name = "\"Jan\"";
        assert!(injection_csv(&bad).is_err());
        bad.display_name = "";
        assert!(injection_csv(&bad).is_err());
    }

    #[test]
    fn every_scenario_file_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("sipp");
        let files = [
            PhoneScenario::Answer.file(),
            PhoneScenario::RingUntilCancelled.file(),
            CallerScenario::TalkThenHangUp.file(),
            CallerScenario::CancelWhileRinging.file(),
        ];
        for file in files {
            assert!(dir.join(file).is_file(), "{file} is missing");
        }
    }
}
