//! Finding what the end-to-end test needs outside Cargo, and deciding whether it runs.
//!
//! The test is opt-in: it runs when `RINGSIDE_E2E=1` is set. Then a missing program or an
//! unbuilt console is a failure that says what to install; without the variable the test
//! prints why it is skipped and passes, so `cargo test` works on a bare machine.

use std::path::{Path, PathBuf};

use anyhow::bail;

/// The variable that switches the end-to-end test on.
pub const OPT_IN_VAR: &str = "RINGSIDE_E2E";

/// Folders searched after `PATH`: Debian puts `kamailio` in `/usr/sbin`, which is not on a
/// normal user's `PATH`.
const EXTRA_DIRS: [&str; 3] = ["/usr/sbin", "/usr/local/sbin", "/sbin"];

/// The external programs and files of one run.
#[derive(Clone, Debug)]
pub struct Tools {
    /// The Kamailio binary.
    pub kamailio: PathBuf,
    /// The SIPp binary.
    pub sipp: PathBuf,
    /// The Chromium binary chromedriver is told to start.
    pub chromium: PathBuf,
    /// The chromedriver binary.
    pub chromedriver: PathBuf,
    /// The built agent console (`agent-ui/dist`), holding `index.html`.
    pub ui_dir: PathBuf,
    /// This package's folder, holding `kamailio/` and `sipp/`.
    pub package_dir: PathBuf,
}

impl Tools {
    /// Looks everything up; on failure lists each missing piece.
    ///
    /// # Errors
    /// One line per missing program or file, with how to get it.
    pub fn find() -> Result<Tools, Vec<String>> {
        let package_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let repo_root = package_dir.parent().unwrap_or(&package_dir).to_owned();
        let ui_dir = repo_root.join("agent-ui").join("dist");
        let mut missing = Vec::new();

        let mut program = |name: &str, package: &str| {
            find_program(name).unwrap_or_else(|| {
                missing.push(format!("{name} (Debian package {package})"));
                PathBuf::from(name)
            })
        };
        let kamailio = program("kamailio", "kamailio");
        let sipp = program("sipp", "sip-tester");
        let chromium = program("chromium", "chromium");
        let chromedriver = program("chromedriver", "chromium-driver");
        if !ui_dir.join("index.html").is_file() {
            missing.push(format!(
                "{} (the agent console; build it with scripts/build-ui)",
                ui_dir.join("index.html").display()
            ));
        }

        if missing.is_empty() {
            Ok(Tools {
                kamailio,
                sipp,
                chromium,
                chromedriver,
                ui_dir,
                package_dir,
            })
        } else {
            Err(missing)
        }
    }

    /// Like [`Tools::find`], for callers that always need the tools (the benchmark).
    ///
    /// # Errors
    /// When something is missing, listing all of it.
    pub fn require() -> anyhow::Result<Tools> {
        Tools::find().or_else(|missing| bail!(missing_message(&missing)))
    }

    /// The Kamailio configuration template.
    pub fn kamailio_template(&self) -> PathBuf {
        self.package_dir.join("kamailio").join("kamailio.cfg")
    }

    /// The SIPp scenario file `name` (for example `uac_call.xml`).
    pub fn scenario(&self, name: &str) -> PathBuf {
        self.package_dir.join("sipp").join(name)
    }
}

/// Decides whether the end-to-end test runs.
///
/// Returns the tools when `RINGSIDE_E2E=1` and everything is there, and `None` (after
/// printing why on standard error) when the variable is not set.
///
/// # Errors
/// When `RINGSIDE_E2E=1` but a program or the console build is missing: the message lists
/// each one and how to install it.
pub fn require_tools() -> anyhow::Result<Option<Tools>> {
    let opted_in = std::env::var(OPT_IN_VAR).is_ok_and(|v| v == "1");
    let found = Tools::find();
    if !opted_in {
        let state = match &found {
            Ok(_) => "all tools are present".to_owned(),
            Err(missing) => format!("missing: {}", missing.join("; ")),
        };
        eprintln!(
            "SKIPPED: Ringside end-to-end test (Kamailio + SIPp + Chromium); \
             set {OPT_IN_VAR}=1 to run it ({state})"
        );
        return Ok(None);
    }
    match found {
        Ok(tools) => Ok(Some(tools)),
        Err(missing) => bail!(missing_message(&missing)),
    }
}

fn missing_message(missing: &[String]) -> String {
    format!(
        "{OPT_IN_VAR}=1 but the end-to-end test cannot run; missing:\n  - {}\n\
         Install the programs with `scripts/install-deps --test` \
         (or apt-get install kamailio sip-tester chromium chromium-driver) \
         and build the console with `scripts/build-ui`.",
        missing.join("\n  - ")
    )
}

/// The first executable file called `name` on `PATH` or in `/usr/sbin`, `/usr/local/sbin`
/// or `/sbin`.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_program_every_system_has() {
        assert!(find_program("sh").is_some());
        assert!(find_program("ringside-no-such-program").is_none());
    }

    #[test]
    fn the_missing_message_names_each_piece_and_the_fix() {
        let message = missing_message(&["sipp (Debian package sip-tester)".to_owned()]);
        assert!(message.contains("  - sipp (Debian package sip-tester)"));
        assert!(message.contains("scripts/install-deps --test"));
        assert!(message.contains("scripts/build-ui"));
    }
}
