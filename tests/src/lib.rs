//! Harness for Ringside's end-to-end test: real SIP through Kamailio, real HEP into the
//! server, and a real agent console in headless Chromium.
//!
//! # Layout
//! - [`tools`]: finds Kamailio, SIPp, Chromium, chromedriver and the built console, and
//!   decides whether the test runs or is skipped ([`tools::require_tools`]).
//! - [`ports`]: free loopback ports, and whether a UDP port is taken.
//! - [`process`]: a child process in its own process group, ended with its whole group.
//! - [`kamailio`]: the proxy, started from `tests/kamailio/kamailio.cfg` with the ports
//!   filled in.
//! - [`sipp`]: the agent phone (a SIPp UAS) and callers (one SIPp UAC run per call), from
//!   the scenarios in `tests/sipp/`.
//! - [`browser`]: chromedriver plus a fantoccini session, logging in and reading pop cards
//!   through the console's stable hooks.
//! - [`stack`]: the server in-process plus Kamailio and the agent phone, wired together.
//! - [`latency`]: order statistics for the pop-latency benchmark.
//! - [`wait`]: bounded polling.
//!
//! # Running
//! The test is opt-in because it needs system tools:
//!
//! ```text
//! scripts/install-deps --test && scripts/build-ui
//! RINGSIDE_E2E=1 cargo test -p ringside-e2e --test e2e
//! cargo run -p ringside-e2e --bin pop-latency --release
//! ```
//!
//! Without `RINGSIDE_E2E=1` the test prints why it is skipped and passes; with it, a
//! missing tool or console build fails the test.
//!
//! Everything listens on 127.0.0.1 on ports picked at run time, so the test never needs
//! 5060 and can run beside a SIP lab.

pub mod browser;
pub mod kamailio;
pub mod latency;
pub mod ports;
pub mod process;
pub mod sipp;
pub mod stack;
pub mod tools;
pub mod wait;

pub use tools::{require_tools, Tools};

/// Sends the server's log lines to the test output: `RUST_LOG` when set, else warnings.
///
/// Safe to call more than once; only the first call installs the subscriber.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // A second call (another test, or the subscriber set elsewhere) is not an error.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}
