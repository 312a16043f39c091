//! Hand-made message sequences: reordering, retransmission, challenges, CANCEL races.

use super::*;
use crate::message::Method;
use crate::tracker::dialog::{Dialog, EXTENSION};

#[test]
fn bye_response_before_bye_ends_the_call_once() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();

    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.response(180, 1, Method::Invite), 5),
            (d.response(200, 1, Method::Invite), 1000),
            (d.ack(1), 1001),
            (d.bye_ok(1, Side::Callee), 5000),
            (d.bye(1, Side::Callee), 5001),
            (d.bye(1, Side::Callee), 5002),
        ],
    );

    assert_eq!(
        seen(&events),
        vec![
            ringing(number(CALLER_NUMBER), EXTENSION),
            Seen::Answered,
            Seen::Ended(EndCause::Completed, Some(Side::Callee)),
        ]
    );
    assert_eq!(events[2].at_ms, 5000);
}

#[test]
fn retransmissions_fire_nothing_new() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();

    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.invite(1), 500),
            (d.response(180, 1, Method::Invite), 10),
            (d.invite(1), 1500),
            (d.response(180, 1, Method::Invite), 20),
            (d.response(200, 1, Method::Invite), 3000),
            (d.response(200, 1, Method::Invite), 3500),
            (d.response(200, 1, Method::Invite), 4500),
        ],
    );

    assert_eq!(
        seen(&events),
        vec![ringing(number(CALLER_NUMBER), EXTENSION), Seen::Answered]
    );
    assert_eq!(events[1].at_ms, 3000);
    assert_eq!(tracker.stats().duplicates, 5);
    assert_eq!(tracker.active_calls(), 1);
}

#[test]
fn challenge_then_authenticated_retry_is_one_call() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();

    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.response(407, 1, Method::Invite), 10),
            (d.ack(1), 11),
            (d.invite(2), 20),
            // The second mirrored copy of the 407 arrives late and is stale.
            (d.response(407, 1, Method::Invite), 21),
            (d.response(180, 2, Method::Invite), 30),
            (d.response(200, 2, Method::Invite), 2000),
        ],
    );
    let later = tracker.expire(40_000);

    assert_eq!(
        seen(&events),
        vec![ringing(number(CALLER_NUMBER), EXTENSION), Seen::Answered]
    );
    assert!(later.is_empty());
}

#[test]
fn challenge_without_retry_fails_after_the_grace() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();
    feed(
        &mut tracker,
        &[(d.invite(1), 0), (d.response(401, 1, Method::Invite), 10)],
    );

    assert!(tracker.expire(10 + 119_999).is_empty());
    let events = tracker.expire(10 + 120_000);

    assert_eq!(seen(&events), vec![Seen::Ended(EndCause::Failed, None)]);
    assert_eq!(events[0].at_ms, 120_010);
}

#[test]
fn a_challenge_answered_by_a_person_typing_a_password_is_one_call() {
    // The shared corpus's softphone retried 32.5 s and 51 s after its 407s.
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();
    feed(
        &mut tracker,
        &[(d.invite(1), 0), (d.response(407, 1, Method::Invite), 10)],
    );

    assert!(tracker.expire(51_000).is_empty());
    let events = feed(
        &mut tracker,
        &[
            (d.invite(2), 51_100),
            (d.response(403, 2, Method::Invite), 51_300),
        ],
    );

    assert_eq!(seen(&events), vec![Seen::Ended(EndCause::Rejected, None)]);
}

#[test]
fn answer_wins_a_race_with_cancel() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();

    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.response(180, 1, Method::Invite), 5),
            (d.cancel(1), 1500),
            (d.response(200, 1, Method::Cancel), 1501),
            (d.response(200, 1, Method::Invite), 1502),
            (d.bye(2, Side::Caller), 1600),
        ],
    );
    let later = tracker.expire(1500 + 40_000);

    assert_eq!(
        seen(&events),
        answered_call(number(CALLER_NUMBER), EXTENSION)
    );
    assert!(later.is_empty());
}

#[test]
fn cancel_then_final_is_abandoned_at_the_cancel() {
    for status in [487, 486, 500] {
        let d = Dialog::new("c1");
        let mut tracker = Tracker::default();

        let events = feed(
            &mut tracker,
            &[
                (d.invite(1), 0),
                (d.cancel(1), 1500),
                (d.response(status, 1, Method::Invite), 1510),
            ],
        );

        assert_eq!(
            seen(&events)[1],
            Seen::Ended(EndCause::Abandoned, None),
            "{status}"
        );
        assert_eq!(events[1].at_ms, 1500, "{status}");
    }
}

#[test]
fn cancel_without_final_is_abandoned_after_the_grace() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();
    feed(&mut tracker, &[(d.invite(1), 0), (d.cancel(1), 1500)]);

    assert!(tracker.expire(1500 + 31_999).is_empty());
    let events = tracker.expire(1500 + 32_000);

    assert_eq!(seen(&events), vec![Seen::Ended(EndCause::Abandoned, None)]);
}

#[test]
fn a_cancel_that_says_completed_elsewhere_ends_answered_elsewhere() {
    let reasons = [
        "SIP;cause=200;text=\"Call completed elsewhere\"",
        "sip ; cause=200",
        "Q.850;cause=16, SIP;cause=200;text=\"Call completed elsewhere\"",
        "Q.850;cause=26;text=\"NON_SELECTED_USER_CLEARING\"",
    ];
    for reason in reasons {
        let d = Dialog::new("leg-2001");
        let mut cancel = d.cancel(1);
        cancel.reason = Some(reason.to_owned());
        let mut tracker = Tracker::default();

        let events = feed(
            &mut tracker,
            &[
                (d.invite(1), 0),
                (d.response(180, 1, Method::Invite), 5),
                (cancel, 4000),
                (d.response(487, 1, Method::Invite), 4010),
            ],
        );

        assert_eq!(
            seen(&events)[1],
            Seen::Ended(EndCause::AnsweredElsewhere, None),
            "{reason}"
        );
        assert_eq!(events[1].at_ms, 4000, "{reason}");
    }
}

#[test]
fn a_cancel_with_another_reason_is_still_abandoned() {
    for reason in [
        "SIP;cause=487;text=\"Request Terminated\"",
        "Q.850;cause=16",
        "SIP;text=\"cause=200\"",
        "X.200;cause=200",
    ] {
        let d = Dialog::new("leg-2001");
        let mut cancel = d.cancel(1);
        cancel.reason = Some(reason.to_owned());
        let mut tracker = Tracker::default();
        feed(&mut tracker, &[(d.invite(1), 0), (cancel, 1500)]);

        let events = tracker.expire(1500 + 32_000);

        assert_eq!(
            seen(&events),
            vec![Seen::Ended(EndCause::Abandoned, None)],
            "{reason}"
        );
    }
}

#[test]
fn a_completed_elsewhere_cancel_without_a_final_ends_answered_elsewhere_after_the_grace() {
    let d = Dialog::new("leg-2001");
    let mut cancel = d.cancel(1);
    cancel.reason = Some("SIP;cause=200".to_owned());
    let mut tracker = Tracker::default();
    feed(&mut tracker, &[(d.invite(1), 0), (cancel, 1500)]);

    let events = tracker.expire(1500 + 32_000);

    assert_eq!(
        seen(&events),
        vec![Seen::Ended(EndCause::AnsweredElsewhere, None)]
    );
}

#[test]
fn final_statuses_map_to_causes() {
    let table = [
        (486, EndCause::Busy),
        (600, EndCause::Busy),
        (403, EndCause::Rejected),
        (603, EndCause::Rejected),
        (487, EndCause::Abandoned),
        (404, EndCause::Failed),
        (480, EndCause::Failed),
        (503, EndCause::Failed),
    ];
    for (status, cause) in table {
        let d = Dialog::new("c1");
        let mut tracker = Tracker::default();

        let events = feed(
            &mut tracker,
            &[
                (d.invite(1), 0),
                (d.response(status, 1, Method::Invite), 700),
            ],
        );

        assert_eq!(seen(&events)[1..], [Seen::Ended(cause, None)], "{status}");
        assert_eq!(events[1].at_ms, 700);
    }
}

#[test]
fn re_invite_during_the_call_changes_nothing() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();

    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 0),
            (d.response(200, 1, Method::Invite), 100),
            (d.reinvite(2, Side::Callee), 5000),
            (d.response_to(491, 2, Method::Invite, Side::Callee), 5001),
            (d.reinvite(3, Side::Caller), 6000),
            (d.response(200, 3, Method::Invite), 6001),
            (d.bye(4, Side::Caller), 9000),
        ],
    );

    assert_eq!(
        seen(&events),
        answered_call(number(CALLER_NUMBER), EXTENSION)
    );
    assert_eq!(events[2].at_ms, 9000);
}

#[test]
fn re_invite_for_an_unknown_call_starts_nothing() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();

    let events = feed(
        &mut tracker,
        &[
            (d.reinvite(2, Side::Caller), 0),
            (d.ack(1), 1),
            (d.bye(3, Side::Caller), 2),
            (d.bye_ok(3, Side::Caller), 3),
            (d.response(200, 1, Method::Cancel), 4),
        ],
    );

    assert!(events.is_empty());
    assert_eq!(tracker.stats().ignored, 5);
    assert_eq!(tracker.active_calls(), 0);
}

#[test]
fn response_before_invite_starts_the_call_from_from() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();

    let events = feed(
        &mut tracker,
        &[
            (d.response(180, 1, Method::Invite), 3),
            (d.invite(1), 4),
            (d.response(200, 1, Method::Invite), 900),
        ],
    );

    assert_eq!(
        seen(&events),
        vec![ringing(number(CALLER_NUMBER), EXTENSION), Seen::Answered]
    );
    assert_eq!(events[0].at_ms, 3);
}

#[test]
fn bye_before_answer_answers_first() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();

    let events = feed(
        &mut tracker,
        &[(d.invite(1), 0), (d.bye(2, Side::Caller), 800)],
    );

    assert_eq!(
        seen(&events),
        answered_call(number(CALLER_NUMBER), EXTENSION)
    );
    assert_eq!((events[1].at_ms, events[2].at_ms), (800, 800));
}

#[test]
fn events_are_never_dated_before_the_previous_one() {
    let d = Dialog::new("c1");
    let mut tracker = Tracker::default();

    let events = feed(
        &mut tracker,
        &[
            (d.invite(1), 1000),
            (d.response(200, 1, Method::Invite), 990),
            (d.bye_ok(2, Side::Caller), 980),
        ],
    );

    let times: Vec<i64> = events.iter().map(|e| e.at_ms).collect();
    assert_eq!(times, vec![1000, 1000, 1000]);
}
