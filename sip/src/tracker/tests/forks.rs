//! Forked calls, redirects and correlated legs, as hand-made message sequences.

use super::*;
use crate::message::{Method, StartLine};
use crate::tracker::dialog::Dialog;

fn answered_by(events: &[CallEvent]) -> Vec<Option<String>> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            CallEventKind::Answered { by } => Some(by.clone()),
            _ => None,
        })
        .collect()
}

/// A hunt group `600` forked to 2001 and 2002: both ring, 2002 answers, 2001 is
/// cancelled with 487. Messages in wire order, each mirrored on both legs where the
/// proxy forwards it.
fn forked_answered(d: &Dialog) -> Vec<(SipMessage, i64)> {
    let mut invite = d.invite(1);
    invite.start = StartLine::Request {
        method: Method::Invite,
        uri_user: Some("600".to_owned()),
    };
    vec![
        (invite, 0),
        (d.branch_invite(1, "2001", "b1"), 5),
        (d.branch_invite(1, "2002", "b2"), 6),
        (d.fork_response(180, 1, "b1", "t1", true), 100),
        (d.fork_response(180, 1, "b1", "t1", false), 101),
        (d.fork_response(180, 1, "b2", "t2", true), 110),
        (d.fork_response(180, 1, "b2", "t2", false), 111),
        (d.fork_response(200, 1, "b2", "t2", true), 3_000),
        (d.fork_response(200, 1, "b2", "t2", false), 3_001),
        (d.branch_cancel(1, "b1"), 3_002),
        (d.fork_response(487, 1, "b1", "t1", true), 3_010),
        (d.bye(2, Side::Caller), 60_000),
    ]
}

#[test]
fn a_forked_call_is_one_call_answered_by_one_target() {
    let d = Dialog::new("fork");
    let mut tracker = Tracker::default();

    let events = feed(&mut tracker, &forked_answered(&d));

    assert_eq!(
        seen(&events),
        vec![
            ringing(number(CALLER_NUMBER), "600"),
            Seen::Offered("2001".into()),
            Seen::Offered("2002".into()),
            Seen::Answered,
            Seen::Ended(EndCause::Completed, Some(Side::Caller)),
        ]
    );
    assert_eq!(answered_by(&events), vec![Some("2002".to_owned())]);
    assert_eq!(events[3].at_ms, 3_000);
    assert_eq!(tracker.stats().calls_started, 1);
}

#[test]
fn the_caller_leg_answer_alone_is_matched_by_to_tag() {
    let d = Dialog::new("fork");
    let mut tracker = Tracker::default();
    let messages: Vec<(SipMessage, i64)> = forked_answered(&d)
        .into_iter()
        .filter(|(m, _)| !(m.status() == Some(200) && m.via_count == 2))
        .collect();

    let events = feed(&mut tracker, &messages);

    assert_eq!(answered_by(&events), vec![Some("2002".to_owned())]);
}

#[test]
fn fork_order_does_not_matter() {
    let d = Dialog::new("fork");
    let mut messages = forked_answered(&d);
    messages.reverse();
    let mut tracker = Tracker::default();

    let events = feed(&mut tracker, &messages);
    events.iter().for_each(|e| assert_eq!(e.call_id, "fork"));
    let kinds = seen(&events);

    assert!(matches!(kinds[0], Seen::Ringing(..)), "{kinds:?}");
    assert_eq!(
        kinds
            .iter()
            .filter(|k| matches!(k, Seen::Ended(..)))
            .count(),
        1
    );
    assert_eq!(tracker.stats().calls_started, 1);
}

#[test]
fn a_busy_branch_does_not_end_a_call_that_rings_elsewhere() {
    let d = Dialog::new("fork");
    let mut tracker = Tracker::default();
    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.branch_invite(1, "2001", "b1"), 1),
            (d.branch_invite(1, "2002", "b2"), 2),
            (d.fork_response(180, 1, "b1", "t1", true), 10),
            (d.fork_response(180, 1, "b2", "t2", true), 11),
            (d.fork_response(486, 1, "b1", "t1", true), 500),
            // A mirror that strips the proxy's Via shows the branch's busy like this.
            (d.fork_response(603, 1, "b1", "t1", false), 501),
            (d.fork_response(200, 1, "b2", "t2", true), 4_000),
        ],
    );

    assert_eq!(
        seen(&events),
        vec![
            ringing(number(CALLER_NUMBER), "2001"),
            Seen::Offered("2002".into()),
            Seen::Answered
        ]
    );
    assert_eq!(answered_by(&events), vec![Some("2002".to_owned())]);
}

#[test]
fn when_every_branch_fails_the_caller_leg_final_ends_the_call() {
    let d = Dialog::new("fork");
    let mut tracker = Tracker::default();
    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.branch_invite(1, "2001", "b1"), 1),
            (d.branch_invite(1, "2002", "b2"), 2),
            (d.fork_response(180, 1, "b1", "t1", true), 10),
            (d.fork_response(180, 1, "b2", "t2", true), 11),
            (d.fork_response(486, 1, "b1", "t1", true), 500),
            (d.fork_response(486, 1, "b2", "t2", true), 700),
            (d.fork_response(486, 1, "b2", "t2", false), 701),
        ],
    );

    assert_eq!(
        seen(&events).last(),
        Some(&Seen::Ended(EndCause::Busy, None))
    );
    assert_eq!(events.last().unwrap().at_ms, 701);
}

#[test]
fn a_caller_leg_final_mirrored_before_the_branch_finals_ends_the_call_at_the_last() {
    let d = Dialog::new("fork");
    let mut tracker = Tracker::default();
    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.branch_invite(1, "2001", "b1"), 1),
            (d.fork_response(180, 1, "b1", "t1", false), 10),
            (d.fork_response(180, 1, "b2", "t2", false), 11),
            // The proxy's 486 to the caller, then the branches' own finals, late; 2002's
            // 180 on its branch comes after its 486 and must not make it ring again.
            (d.fork_response(486, 1, "b2", "t2", false), 702),
            (d.fork_response(486, 1, "b2", "t2", true), 700),
            (d.fork_response(180, 1, "b2", "t2", true), 12),
            (d.branch_invite(1, "2002", "b2"), 2),
        ],
    );
    assert_eq!(
        seen(&events),
        vec![
            ringing(number(CALLER_NUMBER), "2001"),
            Seen::Offered("2002".into())
        ],
        "2001's branch still rings"
    );

    let events = tracker.observe(&d.fork_response(486, 1, "b1", "t1", true), 500);

    assert_eq!(seen(&events), vec![Seen::Ended(EndCause::Busy, None)]);
    assert_eq!(events[0].at_ms, 702);
}

#[test]
fn when_every_branch_fails_and_the_caller_final_is_not_seen_the_grace_ends_it() {
    let d = Dialog::new("fork");
    let mut tracker = Tracker::default();
    feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.branch_invite(1, "2001", "b1"), 1),
            (d.fork_response(603, 1, "b1", "t1", true), 500),
        ],
    );

    assert!(tracker.expire(500 + 31_999).is_empty());
    assert_eq!(
        seen(&tracker.expire(500 + 32_000)),
        vec![Seen::Ended(EndCause::Rejected, None)]
    );
}

#[test]
fn a_serial_fork_moves_on_after_a_branch_is_cancelled() {
    let d = Dialog::new("hunt");
    let mut tracker = Tracker::default();
    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.branch_invite(1, "2001", "b1"), 1),
            (d.fork_response(180, 1, "b1", "t1", true), 10),
            (d.branch_cancel(1, "b1"), 20_000),
            (d.fork_response(487, 1, "b1", "t1", true), 20_010),
            (d.branch_invite(1, "2002", "b2"), 20_020),
            (d.fork_response(200, 1, "b2", "t2", true), 25_000),
        ],
    );
    assert!(tracker.expire(20_010 + 40_000).is_empty());

    assert_eq!(
        seen(&events),
        vec![
            ringing(number(CALLER_NUMBER), "2001"),
            Seen::Offered("2002".into()),
            Seen::Answered
        ]
    );
    assert_eq!(answered_by(&events), vec![Some("2002".to_owned())]);
}

#[test]
fn cancel_racing_the_answer_of_a_fork_is_an_answered_call() {
    let d = Dialog::new("race");
    let mut tracker = Tracker::default();
    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.branch_invite(1, "2001", "b1"), 1),
            (d.branch_invite(1, "2002", "b2"), 2),
            (d.cancel(1), 5_000),
            (d.fork_response(200, 1, "b1", "t1", true), 5_001),
            (d.fork_response(200, 1, "b1", "t1", false), 5_002),
            (d.fork_response(487, 1, "b2", "t2", true), 5_003),
            (d.fork_response(487, 1, "b2", "t2", false), 5_004),
            (d.bye(2, Side::Caller), 5_100),
        ],
    );

    assert_eq!(
        seen(&events),
        vec![
            ringing(number(CALLER_NUMBER), "2001"),
            Seen::Offered("2002".into()),
            Seen::Answered,
            Seen::Ended(EndCause::Completed, Some(Side::Caller)),
        ]
    );
    assert_eq!(answered_by(&events), vec![Some("2001".to_owned())]);
}

#[test]
fn a_redirect_followed_by_a_new_invite_rings_the_new_target() {
    let d = Dialog::new("moved");
    let mut retry = d.invite(2);
    retry.start = StartLine::Request {
        method: Method::Invite,
        uri_user: Some("2003".to_owned()),
    };
    let mut tracker = Tracker::default();
    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.response(302, 1, Method::Invite), 100),
            (d.ack(1), 101),
            (retry, 200),
            (d.response(200, 2, Method::Invite), 3_000),
        ],
    );
    assert!(tracker.expire(100 + 40_000).is_empty());

    assert_eq!(
        seen(&events),
        vec![
            ringing(number(CALLER_NUMBER), "2001"),
            Seen::Offered("2003".into()),
            Seen::Answered
        ]
    );
    assert_eq!(answered_by(&events), vec![Some("2003".to_owned())]);
}

#[test]
fn hold_resume_and_update_neither_start_nor_end_a_call() {
    let d = Dialog::new("hold");
    let mut tracker = Tracker::default();
    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.response(200, 1, Method::Invite), 10),
            (d.reinvite(2, Side::Callee), 1_000),
            (d.response_to(200, 2, Method::Invite, Side::Callee), 1_010),
            (d.request_update(3), 2_000),
            (d.response(200, 3, Method::Update), 2_010),
            (d.reinvite(4, Side::Callee), 3_000),
            (d.response_to(491, 4, Method::Invite, Side::Callee), 3_010),
        ],
    );

    assert_eq!(
        seen(&events),
        vec![ringing(number(CALLER_NUMBER), "2001"), Seen::Answered]
    );
    assert_eq!(tracker.active_calls(), 1);
}

#[test]
fn legs_joined_by_a_correlation_id_are_one_call() {
    let a = Dialog::new("leg-a");
    let b = Dialog::new("leg-b");
    let mut b_invite = b.invite(101);
    b_invite.start = StartLine::Request {
        method: Method::Invite,
        uri_user: Some("2002".to_owned()),
    };
    let mut tracker = Tracker::default();
    let corr = Some("corr-1");
    let mut events = Vec::new();
    for (message, at_ms) in [
        (a.invite(1), 0),
        (b_invite, 5),
        (b.response(180, 101, Method::Invite), 50),
        (a.response(180, 1, Method::Invite), 51),
        (b.response(486, 101, Method::Invite), 60),
        (b.response(200, 101, Method::Invite), 2_000),
        (a.response(200, 1, Method::Invite), 2_001),
        (b.bye(102, Side::Callee), 9_000),
        (a.bye(2, Side::Callee), 9_001),
    ] {
        events.extend(tracker.observe_correlated(&message, at_ms, corr));
    }

    assert_eq!(
        seen(&events),
        vec![
            ringing(number(CALLER_NUMBER), "2001"),
            Seen::Offered("2002".into()),
            Seen::Answered,
            Seen::Ended(EndCause::Completed, None),
        ]
    );
    assert!(events.iter().all(|e| e.call_id == "leg-a"));
    assert_eq!(tracker.stats().calls_started, 1);
}

#[test]
fn without_a_correlation_id_legs_stay_separate_calls() {
    let (a, b) = (Dialog::new("leg-a"), Dialog::new("leg-b"));
    let mut tracker = Tracker::default();

    tracker.observe_correlated(&a.invite(1), 0, None);
    tracker.observe_correlated(&b.invite(1), 5, Some("other"));

    assert_eq!(tracker.stats().calls_started, 2);
}

#[test]
fn a_correlated_call_forgets_its_legs_with_it() {
    let (a, b) = (Dialog::new("leg-a"), Dialog::new("leg-b"));
    let mut tracker = Tracker::default();
    tracker.observe_correlated(&a.invite(1), 0, Some("c"));
    tracker.observe_correlated(&b.invite(1), 1, Some("c"));
    tracker.observe_correlated(&a.bye(2, Side::Caller), 2, Some("c"));
    tracker.expire(10);
    tracker.expire(10 + 32_000);

    let again = tracker.observe_correlated(&b.invite(1), 50_000, Some("c"));

    assert_eq!(again.len(), 1, "leg-b starts a call of its own now");
    assert_eq!(again[0].call_id, "leg-b");
}
