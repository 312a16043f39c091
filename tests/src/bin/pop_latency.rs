//! Benchmark: how long after a call starts ringing its pop appears at the agent's console.
//!
//! Sets up the end-to-end stack (server, Kamailio, SIPp agent phone, headless Chromium
//! logged in as an agent), places answered calls one after the other, and for each reads
//! the card's `data-shown-at` (the browser's clock when the card was first rendered) minus
//! `data-ringing-at` (the HEP capture time of the INVITE as Kamailio received it from
//! SIPp). The difference covers Kamailio's mirror, HEP decoding, call tracking, the
//! customer lookup, the database write, the websocket push and the console's render. It
//! prints count, median, p90 and worst; it asserts nothing about speed.
//!
//! ```text
//! cargo run -p ringside-e2e --bin pop-latency --release [-- CALLS]
//! ```
//!
//! Needs the same tools as the end-to-end test, always (no opt-in variable).

use std::io::Write;
use std::time::Duration;

use anyhow::Context;
use ringside_e2e::browser::Browser;
use ringside_e2e::latency::Summary;
use ringside_e2e::sipp::{CallerScenario, CallerSpec, PhoneScenario};
use ringside_e2e::stack::Stack;
use ringside_e2e::Tools;

/// Calls placed unless the first argument says otherwise.
const DEFAULT_CALLS: usize = 20;

/// Ring and talk time of each call: short, but long enough to see each state.
const RING: Duration = Duration::from_millis(300);
const TALK: Duration = Duration::from_millis(200);

/// Bound on each wait for a card.
const POP_TIMEOUT: Duration = Duration::from_secs(10);

/// Bound on SIPp finishing a call.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

const PASSWORD: &str = "a-long-password-123";

#[tokio::main(flavor = "multi_thread")]
async fn main() -> anyhow::Result<()> {
    let calls = match std::env::args().nth(1) {
        Some(arg) => arg
            .parse()
            .with_context(|| format!("CALLS is not a number: {arg:?}"))?,
        None => DEFAULT_CALLS,
    };
    let tools = Tools::require()?;
    ringside_e2e::init_logging();

    let mut stack = Stack::start(tools.clone()).await?;
    stack
        .add_agent("ann", "Ann Agent", "2001", PASSWORD)
        .await?;
    stack
        .add_customer(
            "Jan Jansen",
            Some("Jansen BV"),
            "+31201234567",
            "020 123 4567",
        )
        .await?;
    stack.use_agent_phone(PhoneScenario::Answer, RING).await?;

    let browser = Browser::start(&tools).await?;
    let measured = measure(&stack, &browser, calls).await;
    let closed = browser.close().await;
    stack.stop().await;
    let samples = measured?;
    closed?;

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "pop latency (data-shown-at - data-ringing-at), {calls} answered calls"
    )?;
    writeln!(
        out,
        "ring {} ms, talk {} ms each",
        RING.as_millis(),
        TALK.as_millis()
    )?;
    writeln!(out, "samples ms: {samples:?}")?;
    match Summary::from_samples(&samples) {
        Some(summary) => writeln!(out, "all calls:        {summary}")?,
        None => writeln!(out, "no samples")?,
    }
    // The first pop after start also pays for whatever the server initialises lazily.
    if let Some(summary) = samples.get(1..).and_then(Summary::from_samples) {
        writeln!(out, "without the first: {summary}")?;
    }
    Ok(())
}

/// Logs in and places `calls` calls, returning each call's pop latency in ms.
async fn measure(stack: &Stack, browser: &Browser, calls: usize) -> anyhow::Result<Vec<i64>> {
    browser
        .log_in(&stack.console_url()?, "ann", PASSWORD)
        .await?;
    let jan = CallerSpec {
        from: "0201234567",
        display_name: "Jan Jansen",
        extension: "2001",
        asserted: Some("+31201234567"),
    };

    let mut samples = Vec::with_capacity(calls);
    for _ in 0..calls {
        let caller = stack.dial(CallerScenario::TalkThenHangUp, &jan, TALK)?;
        let call_id = caller.call_id().to_owned();
        let shown = browser
            .wait_for_pop(&call_id, "any state", POP_TIMEOUT, |_| true)
            .await?;
        samples.push(shown.pop_latency_ms()?);
        // One call at a time: the next starts once this one is over everywhere.
        browser
            .wait_for_state(&call_id, "ended", POP_TIMEOUT)
            .await?;
        caller.finish(CALL_TIMEOUT).await?;
    }
    Ok(samples)
}
