//! Property: whatever the order, duplication and timing of a call's messages, its events
//! are `Ringing`, at most one `Answered`, then one `Ended`, dated in order.

use std::collections::{HashMap, HashSet};

use proptest::prelude::*;

use super::dialog::Dialog;
use super::*;
use crate::message::{self, Method};
use crate::synth::{call_messages, CallShape};

/// Timers short enough for random expiry ticks to hit them, and a linger long enough
/// that no call is forgotten (and restarted by a late response) during a run.
fn config() -> TrackerConfig {
    TrackerConfig {
        ringing_timeout_ms: 5_000,
        max_call_ms: 20_000,
        cancel_grace_ms: 1_000,
        auth_retry_grace_ms: 1_000,
        linger_ms: 1_000_000_000,
        max_calls: 100,
    }
}

const SCENARIOS: usize = 9;

/// The messages of one call with their nominal capture times.
fn scenario(kind: usize, call_id: &str, ring_ms: u64, talk_ms: u64) -> Vec<(SipMessage, i64)> {
    if let Some(shape) = CallShape::ALL.get(kind) {
        return call_messages(
            *shape,
            call_id,
            "+31201234567",
            Some("Jan"),
            "2001",
            ring_ms,
            talk_ms,
        )
        .into_iter()
        .map(|m| {
            let parsed = message::parse(m.text.as_bytes()).expect("synthetic messages parse");
            (parsed, i64::try_from(m.offset_ms).unwrap_or(i64::MAX))
        })
        .collect();
    }

    let d = Dialog::new(call_id);
    let messages = match kind {
        5 => vec![
            d.invite(1),
            d.response(407, 1, Method::Invite),
            d.ack(1),
            d.invite(2),
            d.response(180, 2, Method::Invite),
            d.response(200, 2, Method::Invite),
            d.ack(2),
            d.bye(3, Side::Caller),
            d.bye_ok(3, Side::Caller),
        ],
        6 => vec![
            d.invite(1),
            d.response(180, 1, Method::Invite),
            d.cancel(1),
            d.response(200, 1, Method::Cancel),
            d.response(200, 1, Method::Invite),
            d.ack(1),
            d.bye(1, Side::Callee),
            d.bye_ok(1, Side::Callee),
        ],
        7 => vec![
            d.invite(1),
            d.response(200, 1, Method::Invite),
            d.ack(1),
            d.reinvite(1, Side::Callee),
            d.response_to(200, 1, Method::Invite, Side::Callee),
            d.reinvite(2, Side::Caller),
            d.response(491, 2, Method::Invite),
            d.bye(3, Side::Caller),
        ],
        _ => vec![
            d.invite(1),
            d.response(180, 1, Method::Invite),
            d.bye(2, Side::Caller),
        ],
    };
    let step = i64::try_from(ring_ms.max(1)).unwrap_or(1);
    (0..)
        .map(|i| i * step)
        .zip(messages)
        .map(|(at, message)| (message, at))
        .collect()
}

/// One run: the messages shuffled, each with a time jitter, a duplicate flag and an
/// optional expiry tick after it.
type Run = Vec<((SipMessage, i64), (i64, bool, Option<i64>))>;

fn run_strategy() -> impl Strategy<Value = Run> {
    proptest::collection::vec((0..SCENARIOS, 0u64..3_000, 0u64..10_000), 1..4)
        .prop_map(|calls| {
            calls
                .iter()
                .enumerate()
                .flat_map(|(i, (kind, ring, talk))| {
                    scenario(*kind, &format!("call-{i}"), *ring, *talk)
                })
                .collect::<Vec<_>>()
        })
        .prop_flat_map(|messages| {
            let n = messages.len();
            let extras = proptest::collection::vec(
                (
                    -500i64..500,
                    any::<bool>(),
                    proptest::option::weighted(0.2, 0i64..30_000),
                ),
                n,
            );
            (Just(messages).prop_shuffle(), extras)
        })
        .prop_map(|(messages, extras)| messages.into_iter().zip(extras).collect())
}

fn by_call(events: &[CallEvent]) -> HashMap<&str, Vec<CallEvent>> {
    let mut per_call: HashMap<&str, Vec<CallEvent>> = HashMap::new();
    for event in events {
        per_call
            .entry(&event.call_id)
            .or_default()
            .push(event.clone());
    }
    per_call
}

fn check_order(call_id: &str, events: &[CallEvent], finished: bool) -> Result<(), TestCaseError> {
    let kinds: Vec<u8> = events
        .iter()
        .map(|e| match e.kind {
            CallEventKind::Ringing { .. } => 0,
            CallEventKind::Answered => 1,
            CallEventKind::Ended { .. } => 2,
        })
        .collect();
    let allowed: &[&[u8]] = if finished {
        &[&[0, 2], &[0, 1, 2]]
    } else {
        &[&[0], &[0, 1], &[0, 2], &[0, 1, 2]]
    };
    prop_assert!(allowed.contains(&kinds.as_slice()), "{call_id}: {kinds:?}");
    prop_assert!(
        events.windows(2).all(|w| w[0].at_ms <= w[1].at_ms),
        "{call_id}: times out of order"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn event_order_holds_whatever_the_message_order(run in run_strategy()) {
        let mut tracker = Tracker::new(config());
        let mut events = Vec::new();
        for ((message, at_ms), (jitter, duplicate, tick)) in &run {
            events.extend(tracker.observe(message, at_ms + jitter));
            if *duplicate {
                events.extend(tracker.observe(message, at_ms + jitter + 1));
            }
            if let Some(now_ms) = tick {
                events.extend(tracker.expire(*now_ms));
            }
        }

        for (call_id, list) in &by_call(&events) {
            check_order(call_id, list, false)?;
        }

        // Past every timer, each call has ended exactly once.
        events.extend(tracker.expire(1_000_000));
        let per_call = by_call(&events);
        for (call_id, list) in &per_call {
            check_order(call_id, list, true)?;
        }
        let calls: HashSet<&String> = run.iter().map(|((m, _), _)| &m.call_id).collect();
        prop_assert_eq!(per_call.len(), calls.len());
        prop_assert_eq!(tracker.active_calls(), 0);
        let stats = tracker.stats();
        prop_assert_eq!(stats.calls_started, stats.calls_ended);
    }
}
