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
fn a_full_tracker_evicts_the_least_recently_active_call() {
    let config = TrackerConfig {
        max_calls: 2,
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(config);
    let (a, b, c) = (Dialog::new("a"), Dialog::new("b"), Dialog::new("c"));
    tracker.observe(&a.invite(1), 0);
    tracker.observe(&b.invite(1), 10);
    // a is active again, so b is now the oldest idle call.
    tracker.observe(&a.response(180, 1, Method::Invite), 20);

    let events = tracker.observe(&c.invite(1), 30);

    let ids: Vec<&str> = events.iter().map(|e| e.call_id.as_str()).collect();
    assert_eq!(ids, ["b", "c"]);
    assert_eq!(
        events[0].kind,
        CallEventKind::Ended {
            cause: EndCause::Failed,
            hangup_by: None,
            timed_out: true
        }
    );
    assert_eq!(events[0].at_ms, 30);
    assert_eq!(tracker.stats().calls_evicted, 1);
    assert_eq!(tracker.tracked_calls(), 2);
    assert_eq!(tracker.active_calls(), 2);
    assert!(
        tracker.observe(&b.bye(2, Side::Caller), 40).is_empty(),
        "b is forgotten"
    );
}

#[test]
fn an_ended_call_in_its_linger_is_evicted_without_a_second_end() {
    let config = TrackerConfig {
        max_calls: 1,
        ..TrackerConfig::default()
    };
    let mut tracker = Tracker::new(config);
    let (a, b) = (Dialog::new("a"), Dialog::new("b"));
    feed(
        &mut tracker,
        &[(a.invite(1), 0), (a.response(486, 1, Method::Invite), 5)],
    );

    let events = tracker.observe(&b.invite(1), 10);

    assert_eq!(seen(&events), vec![ringing(number(CALLER_NUMBER), "2001")]);
    assert_eq!(tracker.stats().calls_evicted, 1);
    assert_eq!(
        tracker.stats().calls_started,
        tracker.stats().calls_ended + 1
    );
}

#[test]
fn timer_ends_say_they_timed_out() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();
    tracker.observe(&d.invite(1), 0);

    let events = tracker.expire(300_000);

    assert!(matches!(
        events[0].kind,
        CallEventKind::Ended {
            timed_out: true,
            ..
        }
    ));
}

#[test]
fn an_unrefreshed_session_timer_ends_the_call() {
    let d = Dialog::new("c1");
    let mut ok = d.response(200, 1, Method::Invite);
    ok.session_expires_s = Some(90);
    let mut tracker = Tracker::default();
    feed(&mut tracker, &[(d.invite(1), 0), (ok, 1_000)]);
    let limit = 1_000 + 90_000 + call::SESSION_SLACK_MS;

    assert!(tracker.expire(limit - 1).is_empty());
    let events = tracker.expire(limit);

    assert_eq!(
        events[0].kind,
        CallEventKind::Ended {
            cause: EndCause::Failed,
            hangup_by: None,
            timed_out: true
        }
    );
}

#[test]
fn refreshes_keep_a_session_timer_call_alive() {
    let d = Dialog::new("c1");
    let mut invite = d.invite(1);
    invite.session_expires_s = Some(90);
    let mut refresh = d.reinvite(2, Side::Caller);
    refresh.session_expires_s = Some(90);
    let mut update = d.request_update(3);
    update.session_expires_s = Some(120);
    let mut tracker = Tracker::default();
    feed(
        &mut tracker,
        &[
            (invite, 0),
            (d.response(200, 1, Method::Invite), 1_000),
            (refresh, 50_000),
            (d.response(200, 2, Method::Invite), 50_010),
            (update, 100_000),
        ],
    );

    assert!(tracker
        .expire(50_010 + 90_000 + call::SESSION_SLACK_MS)
        .is_empty());
    assert!(tracker
        .expire(100_000 + 120_000 + call::SESSION_SLACK_MS - 1)
        .is_empty());
    assert_eq!(
        tracker
            .expire(100_000 + 120_000 + call::SESSION_SLACK_MS)
            .len(),
        1
    );
}

#[test]
fn a_redirect_without_a_new_invite_fails_after_the_grace() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();
    let events = feed(
        &mut tracker,
        &[(d.invite(1), 0), (d.response(302, 1, Method::Invite), 100)],
    );
    assert_eq!(seen(&events), vec![ringing(number(CALLER_NUMBER), "2001")]);

    assert!(tracker.expire(100 + 31_999).is_empty());
    assert_eq!(
        seen(&tracker.expire(100 + 32_000)),
        vec![Seen::Ended(EndCause::Failed, None)]
    );
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
    let names: Vec<&str> = EndCause::ALL.into_iter().map(EndCause::as_str).collect();

    assert_eq!(
        names,
        [
            "completed",
            "abandoned",
            "busy",
            "rejected",
            "failed",
            "answered_elsewhere",
            "transferred"
        ]
    );
}

#[test]
fn per_call_state_stays_small() {
    // The fixed part of a call; its lists are bounded (16 keys, 8 branches of at most
    // 64-byte targets, 8 offers), so the worst case stays under 2 KiB with the Call-ID.
    let fixed = std::mem::size_of::<call::Call>();
    assert!(fixed <= 256, "{fixed} bytes");
}
