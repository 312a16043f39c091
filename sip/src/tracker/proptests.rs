//! Property: whatever the order, subset, duplication and timing of a call's messages
//! (forks, transfers and correlated legs included), the tracker never panics and a
//! call's events are `Ringing`, `Offered`s, at most one `Answered`, `Transferred`s, then
//! at most one `Ended`, dated in order; after `expire` far in the future every call that
//! rang has ended.

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
        redirect_grace_ms: 1_000,
        transfer_link_ms: 1_000_000_000,
        linger_ms: 1_000_000_000,
        max_calls: 100,
    }
}

const SCENARIOS: usize = 14;

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
        8 => vec![
            d.invite(1),
            d.branch_invite(1, "2001", "b1"),
            d.branch_invite(1, "2002", "b2"),
            d.fork_response(180, 1, "b1", "t1", true),
            d.fork_response(180, 1, "b2", "t2", false),
            d.fork_response(486, 1, "b1", "t1", true),
            d.fork_response(200, 1, "b2", "t2", true),
            d.fork_response(200, 1, "b2", "t2", false),
            d.branch_cancel(1, "b1"),
            d.fork_response(487, 1, "b1", "t1", false),
            d.bye(2, Side::Callee),
        ],
        9 => {
            let mut replacing = Dialog::new(&format!("{call_id}-after")).invite(1);
            replacing.replaces = Some(format!("{call_id}-consult"));
            let consult = Dialog::new(&format!("{call_id}-consult"));
            vec![
                d.invite(1),
                d.response(200, 1, Method::Invite),
                consult.invite(1),
                consult.response(200, 1, Method::Invite),
                d.refer(2, Side::Callee, "2003", Some(&format!("{call_id}-consult"))),
                d.response_to(202, 2, Method::Refer, Side::Callee),
                replacing,
                consult.bye(2, Side::Callee),
                d.bye(3, Side::Caller),
            ]
        }
        10 => {
            let mut next = Dialog::new(&format!("{call_id}-next")).invite(1);
            next.referred_by = Some("sip:2001@pbx".to_owned());
            vec![
                d.invite(1),
                d.response(200, 1, Method::Invite),
                d.refer(2, Side::Callee, "2001", None),
                d.response_to(202, 2, Method::Refer, Side::Callee),
                next,
                d.bye(3, Side::Callee),
            ]
        }
        11 => vec![
            d.invite(1),
            d.response(302, 1, Method::Invite),
            d.ack(1),
            d.invite(2),
            d.response(180, 2, Method::Invite),
            d.request_update(3),
            d.response(200, 2, Method::Invite),
            d.reinvite(4, Side::Callee),
            d.bye(5, Side::Caller),
        ],
        12 => {
            // A B2BUA's two legs, joined by the correlation id (see `correlation_of`).
            let leg = Dialog::new(&format!("{call_id}-leg"));
            vec![
                d.invite(1),
                leg.invite(7),
                leg.response(180, 7, Method::Invite),
                d.response(180, 1, Method::Invite),
                leg.response(200, 7, Method::Invite),
                d.response(200, 1, Method::Invite),
                leg.bye(8, Side::Callee),
                d.bye(2, Side::Callee),
            ]
        }
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

/// One run: the messages shuffled, each with a time jitter, a duplicate flag, an
/// optional expiry tick after it, and whether it is kept (dropped ones test subsets).
type Run = Vec<((SipMessage, i64), (i64, bool, Option<i64>, bool))>;

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
                    proptest::bool::weighted(0.85),
                ),
                n,
            );
            (Just(messages).prop_shuffle(), extras)
        })
        .prop_map(|(messages, extras)| messages.into_iter().zip(extras).collect())
}

/// The correlation id a capture agent would give: shared by a call's `-leg` Call-ID.
fn correlation_of(call_id: &str) -> &str {
    call_id.strip_suffix("-leg").unwrap_or(call_id)
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
            CallEventKind::Offered { .. } => 1,
            CallEventKind::Answered { .. } => 2,
            CallEventKind::Transferred { .. } => 3,
            CallEventKind::Ended { .. } => 4,
        })
        .collect();
    prop_assert_eq!(kinds.first(), Some(&0), "{}: {:?}", call_id, kinds);
    prop_assert!(
        kinds.windows(2).all(|w| w[0] <= w[1]),
        "{call_id}: {kinds:?}"
    );
    for once in [0, 2, 4] {
        let count = kinds.iter().filter(|k| **k == once).count();
        prop_assert!(count <= 1, "{call_id}: {kinds:?}");
    }
    let answered = kinds.contains(&2);
    prop_assert!(!kinds.contains(&3) || answered, "{call_id}: {kinds:?}");
    if finished {
        prop_assert_eq!(kinds.last(), Some(&4), "{}: {:?}", call_id, kinds);
    }
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
        for ((message, at_ms), (jitter, duplicate, tick, kept)) in &run {
            if !kept {
                continue;
            }
            let correlation = Some(correlation_of(&message.call_id));
            events.extend(tracker.observe_correlated(message, at_ms + jitter, correlation));
            if *duplicate {
                let again = tracker.observe_correlated(message, at_ms + jitter + 1, correlation);
                events.extend(again);
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
        prop_assert!(per_call.len() <= calls.len());
        prop_assert_eq!(tracker.active_calls(), 0);
        let stats = tracker.stats();
        prop_assert_eq!(stats.calls_started, stats.calls_ended);
    }
}
