//! The lab captures, fed in the order the mirror delivered them.

use super::*;
use crate::message::{self, Method};
use crate::test_support::packets;

/// Feeds a lab capture in arrival order, then runs the timers just after its last message.
fn replay(name: &str) -> (Tracker, Vec<CallEvent>, Vec<(SipMessage, i64)>) {
    let messages: Vec<(SipMessage, i64)> = packets(name)
        .iter()
        .map(|p| (message::parse(&p.payload).unwrap(), p.timestamp_ms()))
        .collect();
    let mut tracker = Tracker::default();
    let mut events = feed(&mut tracker, &messages);
    let last = messages.iter().map(|(_, at)| *at).max().unwrap();
    events.extend(tracker.expire(last + 1000));
    (tracker, events, messages)
}

#[test]
fn lab_fixtures_give_the_expected_calls() {
    let withheld = || answered_call(CallerId::Withheld, "2001");
    let table: Vec<(&str, Vec<Seen>)> = vec![
        ("answered", answered_call(number(CALLER_NUMBER), "2001")),
        (
            "abandoned",
            vec![
                ringing(number(CALLER_NUMBER), "2001"),
                Seen::Ended(EndCause::Abandoned, None),
            ],
        ),
        (
            "busy",
            vec![
                ringing(number(CALLER_NUMBER), "2001"),
                Seen::Ended(EndCause::Busy, None),
            ],
        ),
        (
            "rejected",
            vec![
                ringing(number(CALLER_NUMBER), "2001"),
                Seen::Ended(EndCause::Rejected, None),
            ],
        ),
        ("anonymous", withheld()),
        ("anonymous-pai", withheld()),
        ("pai", answered_call(number(CALLER_NUMBER), "2002")),
    ];

    for (name, expected) in table {
        let (tracker, events, _) = replay(name);
        assert_eq!(seen(&events), expected, "{name}");
        assert_eq!(tracker.active_calls(), 0, "{name}");
    }
}

#[test]
fn intl_fixture_has_three_calls_with_the_number_as_sent() {
    let (tracker, events, _) = replay("intl");

    let mut by_call: Vec<(String, Vec<CallEvent>)> = Vec::new();
    for event in events {
        match by_call.iter_mut().find(|(id, _)| *id == event.call_id) {
            Some((_, list)) => list.push(event),
            None => by_call.push((event.call_id.clone(), vec![event])),
        }
    }

    let expected = [
        ("+31201234567", "2003"),
        ("0031201234567", "2004"),
        ("0201234567", "2005"),
    ];
    assert_eq!(by_call.len(), 3);
    for ((_, events), (caller, called)) in by_call.iter().zip(expected) {
        assert_eq!(seen(events), answered_call(number(caller), called));
    }
    assert_eq!(tracker.stats().calls_started, 3);
}

#[test]
fn answered_fixture_times_and_counters() {
    let (tracker, events, messages) = replay("answered");

    let invite_at = messages[0].1;
    let ok_at = messages[6].1;
    let bye_at = messages[10].1;
    let times: Vec<i64> = events.iter().map(|e| e.at_ms).collect();
    assert_eq!(times, vec![invite_at, ok_at, bye_at]);

    let stats = tracker.stats();
    assert_eq!(stats.messages, 14);
    assert_eq!((stats.calls_started, stats.calls_ended), (1, 1));
    assert_eq!(
        stats.duplicates, 7,
        "each of the 7 proxied messages comes twice"
    );
    assert_eq!((stats.ignored, stats.calls_evicted), (0, 0));
}

#[test]
fn abandoned_fixture_ends_at_the_cancel() {
    let (_, events, messages) = replay("abandoned");

    let cancel_at = messages[6].1;
    assert_eq!(messages[6].0.method(), Some(&Method::Cancel));
    assert_eq!(events.last().map(|e| e.at_ms), Some(cancel_at));
}
