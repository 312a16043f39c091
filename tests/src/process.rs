//! Long-running child processes of a test (Kamailio, the SIPp agent phone, chromedriver),
//! each in a process group of its own so that ending it also ends what it started.
//!
//! Kamailio forks worker processes and chromedriver starts Chromium; signalling only the
//! process we spawned would leave those behind (Kamailio's workers survive a SIGKILL of
//! their parent). [`Service::stop`] therefore sends SIGTERM to the whole group, waits a
//! little, then SIGKILLs the group. It runs on drop too, so a failing test cleans up.
//! Only groups this module created are ever signalled.
//!
//! Stopping waits on the calling thread, for at most three seconds: Kamailio exits within
//! tens of milliseconds of SIGTERM, SIPp within about a second. A SIPp process holds
//! nothing worth a clean exit, so [`Service::kill`] skips the grace period for it.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use rustix::process::{kill_process_group, Pid, Signal};

/// How long a process may take to exit after SIGTERM before its group gets SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(3);

/// How much of the end of a log file error messages quote.
const LOG_TAIL_BYTES: u64 = 4000;

/// Where a child's standard output goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stdout {
    /// Into the log file, beside standard error.
    Log,
    /// Discarded (SIPp redraws its status screen there).
    Discard,
}

/// A child process that is stopped, with its process group, when dropped.
pub struct Service {
    name: String,
    child: Child,
    log: PathBuf,
    stopped: bool,
}

impl Service {
    /// Starts `command` as the leader of a new process group, standard input closed and
    /// standard error (plus standard output if `stdout` says so) appended to `log`.
    ///
    /// # Errors
    /// When the log file cannot be created or the program cannot be started.
    pub fn spawn(
        name: &str,
        mut command: Command,
        log: &Path,
        stdout: Stdout,
    ) -> anyhow::Result<Service> {
        let log_file =
            File::create(log).with_context(|| format!("creating log file {}", log.display()))?;
        let out = match stdout {
            Stdout::Log => Stdio::from(log_file.try_clone()?),
            Stdout::Discard => Stdio::null(),
        };
        command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(log_file)
            .process_group(0);
        let child = command
            .spawn()
            .with_context(|| format!("starting {name}"))?;
        Ok(Service {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
            stopped: false,
        })
    }

    /// The operating system's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Fails when the process has already exited, quoting the end of its log.
    ///
    /// # Errors
    /// When the process is gone, or its status cannot be read.
    pub fn ensure_running(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited early ({status}); end of {}:\n{}",
                self.name,
                self.log.display(),
                self.log_tail()
            );
        }
        Ok(())
    }

    /// The last few kilobytes of the log, for error messages.
    pub fn log_tail(&self) -> String {
        tail_of(&self.log).unwrap_or_else(|err| format!("(log unreadable: {err})"))
    }

    /// Ends the process group: SIGTERM, up to three seconds to exit, then SIGKILL.
    ///
    /// Returns the leader's exit status, or `None` when it could not be collected.
    /// Calling it again does nothing.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        if self.stopped {
            return None;
        }
        self.stopped = true;
        let group = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw);
        let Some(group) = group else {
            // Not a valid pid: only the leader can be reached.
            let _ = self.child.kill();
            return self.child.wait().ok();
        };

        // The group may already be empty; that is the outcome we want, not an error.
        let _ = kill_process_group(group, Signal::TERM);
        let deadline = Instant::now() + STOP_GRACE;
        let mut status = None;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(exited)) => {
                    status = Some(exited);
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        // The leader may be gone while a member (a Kamailio worker, a Chromium helper)
        // still runs; SIGKILL whatever is left of the group.
        let _ = kill_process_group(group, Signal::KILL);
        match status {
            Some(exited) => Some(exited),
            None => self.child.wait().ok(),
        }
    }

    /// Ends the process group at once with SIGKILL, for programs that need no clean exit.
    ///
    /// Returns the leader's exit status, or `None` when it could not be collected.
    /// Calling it (or [`Service::stop`]) again does nothing.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        if self.stopped {
            return None;
        }
        self.stopped = true;
        match i32::try_from(self.child.id()).ok().and_then(Pid::from_raw) {
            // The group may already be empty; that is the outcome we want, not an error.
            Some(group) => {
                let _ = kill_process_group(group, Signal::KILL);
            }
            None => {
                let _ = self.child.kill();
            }
        }
        self.child.wait().ok()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The last few kilobytes of the file at `path`, as text.
///
/// # Errors
/// When the file cannot be opened or read.
pub fn tail_of(path: &Path) -> io::Result<String> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL_BYTES)))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// User plus system CPU time of a process so far, from `/proc/<pid>/stat`; `None` where
/// that cannot be read (not Linux, or the process is gone).
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces, so count fields from its closing parenthesis:
    // after it come state (field 3) ... utime (14) and stime (15).
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = rustix::param::clock_ticks_per_second().max(1);
    Some(Duration::from_micros((utime + stime) * 1_000_000 / ticks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_ends_the_whole_group() -> anyhow::Result<()> {
        ends_the_whole_group(|service| service.stop())
    }

    #[test]
    fn kill_ends_the_whole_group() -> anyhow::Result<()> {
        ends_the_whole_group(|service| service.kill())
    }

    fn ends_the_whole_group(
        end: impl FnOnce(&mut Service) -> Option<ExitStatus>,
    ) -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let pid_file = dir.path().join("grandchild.pid");
        let mut command = Command::new("sh");
        // The shell starts a grandchild that outlives a killed parent unless the group goes.
        command
            .arg("-c")
            .arg(format!("sleep 30 & echo $! > {}; wait", pid_file.display()));
        let mut service = Service::spawn("sh", command, &dir.path().join("sh.log"), Stdout::Log)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !pid_file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let grandchild = std::fs::read_to_string(&pid_file)?.trim().to_owned();

        service.ensure_running()?;
        assert!(end(&mut service).is_some());
        assert!(service.stop().is_none(), "a second stop must do nothing");

        let proc_dir = PathBuf::from(format!("/proc/{grandchild}"));
        let deadline = Instant::now() + Duration::from_secs(2);
        while alive(&proc_dir) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(!alive(&proc_dir), "grandchild {grandchild} survived");
        Ok(())
    }

    /// A process counts as gone once it has exited, even if nobody has reaped it yet.
    fn alive(proc_dir: &Path) -> bool {
        std::fs::read_to_string(proc_dir.join("stat"))
            .map(|stat| !stat.contains(") Z "))
            .unwrap_or(false)
    }

    #[test]
    fn an_exited_process_is_reported_with_its_log() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut command = Command::new("sh");
        command.arg("-c").arg("echo cannot bind >&2; exit 3");
        let mut service = Service::spawn(
            "failing",
            command,
            &dir.path().join("f.log"),
            Stdout::Discard,
        )?;
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut outcome = service.ensure_running();
        while outcome.is_ok() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            outcome = service.ensure_running();
        }
        let message = outcome.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("failing exited early"), "{message}");
        assert!(message.contains("cannot bind"), "{message}");
        Ok(())
    }
}
