//! Timers, linger, capacity and what Debug shows.

use super::*;
use crate::message::Method;
use crate::tracker::dialog::Dialog;

#[test]
fn ringing_times_out() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();
    tracker.observe(&d.invite(1), 0);

    assert!(tracker.expire(299_999).is_empty());
    let events = tracker.expire(300_000);

    assert_eq!(seen(&events), vec![Seen::Ended(EndCause::Failed, None)]);
    assert_eq!(events[0].at_ms, 300_000);
    assert_eq!(tracker.active_calls(), 0);
}

#[test]
fn answered_call_times_out_after_max_call() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();
    feed(
        &mut tracker,
        &[(d.invite(1), 0), (d.response(200, 1, Method::Invite), 10)],
    );
    let max = TrackerConfig::default().max_call_ms;

    assert!(tracker.expire(10 + max - 1).is_empty());
    assert_eq!(
        seen(&tracker.expire(10 + max)),
        vec![Seen::Ended(EndCause::Failed, None)]
    );
}

#[test]
fn ended_calls_linger_then_are_forgotten() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();
    feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.response(200, 1, Method::Invite), 10),
            (d.bye(2, Side::Caller), 20),
        ],
    );

    assert!(tracker.expire(1_000).is_empty());
    assert!(tracker.expire(1_000 + 31_999).is_empty());
    assert!(tracker.observe(&d.bye(2, Side::Caller), 31_000).is_empty());
    assert_eq!(
        tracker.stats().duplicates,
        1,
        "still tracked: a retransmission"
    );

    assert!(tracker.expire(1_000 + 32_000).is_empty());
    assert!(tracker.observe(&d.bye(2, Side::Caller), 33_500).is_empty());
    assert_eq!(tracker.stats().ignored, 1, "forgotten: an unknown call");
}

#[test]
fn a_full_tracker_refuses_new_calls() {
    let config = TrackerConfig {
        max_calls: 2,
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(config);
    let (a, b, c) = (Dialog::new("a"), Dialog::new("b"), Dialog::new("c"));

    assert_eq!(tracker.observe(&a.invite(1), 0).len(), 1);
    assert_eq!(tracker.observe(&b.invite(1), 0).len(), 1);
    assert!(tracker.observe(&c.invite(1), 0).is_empty());
    assert!(tracker.observe(&a.bye(2, Side::Caller), 100).len() == 2);
    assert!(
        tracker.observe(&c.invite(1), 200).is_empty(),
        "a lingers and still counts"
    );
    assert_eq!(tracker.stats().calls_refused_full, 2);

    tracker.expire(300);
    tracker.expire(300 + 32_000);
    assert_eq!(tracker.observe(&c.invite(1), 32_400).len(), 1);
    assert_eq!(tracker.active_calls(), 2);
}

#[test]
fn over_long_call_ids_are_ignored() {
    let d = Dialog::new(&"x".repeat(300));
    let mut tracker = Tracker::default();

    assert!(tracker.observe(&d.invite(1), 0).is_empty());
    assert_eq!(tracker.stats().ignored, 1);
}

#[test]
fn debug_output_hides_numbers_and_call_ids() {
    let d = Dialog::new("c1@10.1.2.3");
    let mut tracker = Tracker::default();
    let events = tracker.observe(&d.invite(1), 0);

    let shown = format!("{events:?} {tracker:?}");

    assert!(!shown.contains("+3120123"), "{shown}");
    assert!(!shown.contains("10.1.2.3"), "{shown}");
    assert!(!shown.contains("2001"), "{shown}");
}

#[test]
fn end_causes_have_lowercase_names() {
    let names: Vec<&str> = [
        EndCause::Completed,
        EndCause::Abandoned,
        EndCause::Busy,
        EndCause::Rejected,
        EndCause::Failed,
    ]
    .into_iter()
    .map(EndCause::as_str)
    .collect();

    assert_eq!(
        names,
        ["completed", "abandoned", "busy", "rejected", "failed"]
    );
}
