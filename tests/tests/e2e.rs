//! End to end: calls placed with SIPp through Kamailio reach the server as HEPv3, pop at
//! the agent's console in headless Chromium, and are logged as interactions.
//!
//! One test runs three calls in a row on one server, one proxy and one browser, to keep
//! it fast: a known customer (with a wrap-up saved during the call), an unknown caller,
//! and a caller who hangs up while it rings. What the browser showed is collected first;
//! the browser is closed before anything is asserted.
//!
//! Opt-in: set `RINGSIDE_E2E=1` (see the `ringside_e2e` crate docs).

use std::time::{Duration, Instant};

use anyhow::Context;
use ringside_e2e::browser::{AgentHeader, Browser, PopView};
use ringside_e2e::sipp::{CallerScenario, CallerSpec, PhoneScenario};
use ringside_e2e::stack::Stack;
use ringside_protocol::{CallId, Direction, InteractionId, Outcome};

/// Agent ann's password.
const PASSWORD: &str = "a-long-password-123";

/// How long a pop may take to appear, or to reach the next state the call is known to be in.
const POP_TIMEOUT: Duration = Duration::from_secs(10);

/// How long SIPp may take to finish a call whose pop has already ended.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// The agent phone rings this long before it answers.
const RING: Duration = Duration::from_secs(2);

/// The caller of the first call talks this long before hanging up.
const TALK: Duration = Duration::from_secs(3);

const NOTES: &str = "Asked about invoice 42";
const DISPOSITION: &str = "callback";

/// What the browser showed for one call.
#[derive(Debug)]
struct CallSeen {
    call_id: String,
    ringing: PopView,
    ended: PopView,
}

/// What the browser showed during the whole run.
#[derive(Debug)]
struct Seen {
    header: AgentHeader,
    known: CallSeen,
    /// The known caller's card right after `Saved` appeared.
    known_when_saved: PopView,
    /// Whether the known caller's card was seen in state `answered`.
    known_answered: bool,
    unknown: CallSeen,
    abandoned: CallSeen,
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_pop_at_the_console_and_are_logged() -> anyhow::Result<()> {
    let Some(tools) = ringside_e2e::require_tools()? else {
        return Ok(());
    };
    ringside_e2e::init_logging();
    let started = Instant::now();

    let mut stack = Stack::start(tools.clone()).await?;
    let ann = stack
        .add_agent("ann", "Ann Agent", "2001", PASSWORD)
        .await?;
    let jan = stack
        .add_customer(
            "Jan Jansen",
            Some("Jansen BV"),
            "+31201234567",
            "020 123 4567",
        )
        .await?;

    let browser = Browser::start(&tools).await?;
    let seen = place_calls(&mut stack, &browser).await;
    let closed = browser.close().await;
    let seen = match seen {
        Ok(seen) => seen,
        Err(err) => {
            let mut phone_errors = stack.agent_phone_errors();
            if phone_errors.trim().is_empty() {
                phone_errors = "(none)".to_owned();
            }
            let context = format!(
                "placing the calls failed\n--- SIPp agent phone errors ---\n{}\n\
                 --- end of Kamailio's log ---\n{}",
                phone_errors.trim_end(),
                stack.kamailio_log_tail().trim_end()
            );
            stack.stop().await;
            return Err(err.context(context));
        }
    };
    closed?;

    let store = stack.store()?;
    let row = |view: &PopView| {
        let id = view.interaction();
        async move {
            let id = InteractionId(id?);
            store
                .interaction(id)
                .await?
                .with_context(|| format!("no interaction row {}", id.0))
        }
    };
    let known = row(&seen.known.ended).await?;
    let unknown = row(&seen.unknown.ended).await?;
    let abandoned = row(&seen.abandoned.ended).await?;
    let by_call = store
        .interaction_by_call(&CallId(seen.known.call_id.clone()))
        .await?
        .map(|r| r.id);
    stack.stop().await;
    eprintln!(
        "e2e: three calls checked in {} ms",
        started.elapsed().as_millis()
    );

    // The console.
    assert_eq!(seen.header.name, "Ann Agent");
    assert_eq!(seen.header.extension, "2001");

    // a. A known customer: the card while ringing, the wrap-up during the call, the row.
    let ringing = &seen.known.ringing;
    assert_eq!(ringing.state, "ringing");
    assert_eq!(ringing.customer_name.as_deref(), Some("Jan Jansen"));
    assert_eq!(ringing.organisation.as_deref(), Some("Jansen BV"));
    assert_eq!(ringing.caller_number.as_deref(), Some("+31201234567"));
    assert!(!ringing.unknown);
    assert_ne!(
        seen.known_when_saved.state, "ended",
        "the wrap-up was saved after the call"
    );
    assert!(
        seen.known_answered,
        "the card never showed the answered call"
    );
    assert_eq!(seen.known.ended.state, "ended");
    assert_eq!(seen.known.ended.outcome.as_deref(), Some("completed"));

    assert_eq!(by_call, Some(known.id));
    assert_eq!(known.call_id.0, seen.known.call_id);
    assert_eq!(known.direction, Direction::Inbound);
    assert_eq!(known.caller_number.as_deref(), Some("+31201234567"));
    assert_eq!(known.called_number, "2001");
    assert_eq!(known.agent, Some(ann));
    assert_eq!(known.customer, Some(jan));
    let answered_at = known
        .answered_at_ms
        .context("the known call has no answer time")?;
    let ended_at = known
        .ended_at_ms
        .context("the known call has no end time")?;
    assert!(answered_at > known.ringing_at_ms, "{known:?}");
    assert!(ended_at > answered_at, "{known:?}");
    let talk = known.talk_seconds.context("no talk time")?;
    let wait = known.wait_seconds.context("no wait time")?;
    assert!(
        (2..=5).contains(&talk),
        "talk {talk} s for a {TALK:?} conversation"
    );
    assert!(
        (1..=4).contains(&wait),
        "wait {wait} s for {RING:?} of ringing"
    );
    assert_eq!(known.outcome, Some(Outcome::Completed));
    assert_eq!(known.notes, NOTES);
    assert_eq!(known.disposition.as_deref(), Some(DISPOSITION));

    // b. An unknown caller: no customer, the number shown and logged.
    let ringing = &seen.unknown.ringing;
    assert!(ringing.unknown, "{ringing:?}");
    assert_eq!(ringing.customer_name, None);
    assert_eq!(ringing.caller_number.as_deref(), Some("+31612345678"));
    assert_eq!(seen.unknown.ended.outcome.as_deref(), Some("completed"));
    assert_eq!(unknown.call_id.0, seen.unknown.call_id);
    assert_eq!(unknown.customer, None);
    assert_eq!(unknown.agent, Some(ann));
    assert_eq!(unknown.caller_number.as_deref(), Some("+31612345678"));
    assert_eq!(unknown.outcome, Some(Outcome::Completed));

    // c. The caller hangs up while it rings: abandoned, never answered.
    let ringing = &seen.abandoned.ringing;
    assert_eq!(ringing.customer_name.as_deref(), Some("Jan Jansen"));
    assert!(
        ringing.recent_count >= 1,
        "Jan's first call is not among the recent ones"
    );
    assert_eq!(seen.abandoned.ended.outcome.as_deref(), Some("abandoned"));
    assert_eq!(abandoned.call_id.0, seen.abandoned.call_id);
    assert_eq!(abandoned.customer, Some(jan));
    assert_eq!(abandoned.outcome, Some(Outcome::Abandoned));
    assert_eq!(abandoned.answered_at_ms, None);
    assert_eq!(abandoned.talk_seconds, Some(0));
    assert!(abandoned
        .ended_at_ms
        .is_some_and(|end| end > abandoned.ringing_at_ms));
    Ok(())
}

/// Logs in as ann and places the three calls, recording what the console showed.
async fn place_calls(stack: &mut Stack, browser: &Browser) -> anyhow::Result<Seen> {
    let header = browser
        .log_in(&stack.console_url()?, "ann", PASSWORD)
        .await?;

    // a. Jan calls from his office line. The trunk shows the national form in From and
    // asserts the E.164 number, which must win.
    stack.use_agent_phone(PhoneScenario::Answer, RING).await?;
    let jan = CallerSpec {
        from: "0201234567",
        display_name: "Jan Jansen",
        extension: "2001",
        asserted: Some("+31201234567"),
    };
    let caller = stack.dial(CallerScenario::TalkThenHangUp, &jan, TALK)?;
    let call_id = caller.call_id().to_owned();
    let ringing = browser
        .wait_for_state(&call_id, "ringing", POP_TIMEOUT)
        .await?;
    browser.save_wrap_up(&call_id, NOTES, DISPOSITION).await?;
    let known_when_saved = browser.pop(&call_id).await?.context("the card went away")?;
    let known_answered = browser
        .wait_for_pop(&call_id, "state answered or ended", POP_TIMEOUT, |p| {
            p.state == "answered" || p.state == "ended"
        })
        .await?
        .state
        == "answered";
    let ended = browser
        .wait_for_state(&call_id, "ended", POP_TIMEOUT)
        .await?;
    caller.finish(CALL_TIMEOUT).await?;
    let known = CallSeen {
        call_id,
        ringing,
        ended,
    };

    // b. A mobile number nobody knows, presented in From only.
    let stranger = CallerSpec {
        from: "+31612345678",
        display_name: "Mobile Caller",
        extension: "2001",
        asserted: None,
    };
    let unknown = answered_call(stack, browser, &stranger, Duration::from_secs(1)).await?;

    // c. Jan calls again and gives up after two seconds of ringing.
    stack
        .use_agent_phone(PhoneScenario::RingUntilCancelled, Duration::ZERO)
        .await?;
    let jan_again = CallerSpec {
        from: "+31201234567",
        display_name: "Jan Jansen",
        extension: "2001",
        asserted: None,
    };
    let caller = stack.dial(CallerScenario::CancelWhileRinging, &jan_again, RING)?;
    let call_id = caller.call_id().to_owned();
    let ringing = browser
        .wait_for_state(&call_id, "ringing", POP_TIMEOUT)
        .await?;
    let ended = browser
        .wait_for_state(&call_id, "ended", POP_TIMEOUT)
        .await?;
    caller.finish(CALL_TIMEOUT).await?;
    let abandoned = CallSeen {
        call_id,
        ringing,
        ended,
    };

    Ok(Seen {
        header,
        known,
        known_when_saved,
        known_answered,
        unknown,
        abandoned,
    })
}

/// Places a call the agent phone answers, and waits for its card to ring and to end.
async fn answered_call(
    stack: &Stack,
    browser: &Browser,
    spec: &CallerSpec<'_>,
    talk: Duration,
) -> anyhow::Result<CallSeen> {
    let caller = stack.dial(CallerScenario::TalkThenHangUp, spec, talk)?;
    let call_id = caller.call_id().to_owned();
    let ringing = browser
        .wait_for_state(&call_id, "ringing", POP_TIMEOUT)
        .await?;
    let ended = browser
        .wait_for_state(&call_id, "ended", POP_TIMEOUT)
        .await?;
    caller.finish(CALL_TIMEOUT).await?;
    Ok(CallSeen {
        call_id,
        ringing,
        ended,
    })
}
