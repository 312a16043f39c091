//! Blind and attended transfers, as hand-made message sequences.

use super::*;
use crate::message::{Method, StartLine};
use crate::tracker::dialog::Dialog;

fn answered(d: &Dialog) -> Vec<(SipMessage, i64)> {
    vec![
        (d.invite(1), 0),
        (d.response(200, 1, Method::Invite), 1_000),
    ]
}

fn invite_to(d: &Dialog, target: &str) -> SipMessage {
    let mut invite = d.invite(1);
    invite.start = StartLine::Request {
        method: Method::Invite,
        uri_user: Some(target.to_owned()),
    };
    invite
}

fn of<'a>(events: &'a [CallEvent], call: &str) -> Vec<&'a CallEvent> {
    events.iter().filter(|e| e.call_id == call).collect()
}

fn transferred_from(event: &CallEvent) -> Option<&str> {
    match &event.kind {
        CallEventKind::Ringing {
            transferred_from, ..
        } => transferred_from.as_deref(),
        _ => None,
    }
}

#[test]
fn blind_transfer_moves_the_call_and_links_the_new_one() {
    let orig = Dialog::new("orig");
    let next = Dialog::new("next");
    let mut new_invite = invite_to(&next, "2003");
    new_invite.referred_by = Some("sip:2001@pbx.example".to_owned());
    let mut messages = answered(&orig);
    messages.extend([
        (orig.refer(2, Side::Callee, "2003", None), 5_000),
        (orig.response_to(202, 2, Method::Refer, Side::Callee), 5_010),
        (new_invite, 5_100),
        (orig.bye(3, Side::Caller), 5_200),
        (next.response(200, 1, Method::Invite), 9_000),
    ]);
    let mut tracker = Tracker::default();

    let events = feed(&mut tracker, &messages);

    let first: Vec<CallEvent> = of(&events, "orig").into_iter().cloned().collect();
    assert_eq!(
        seen(&first),
        vec![
            ringing(number(CALLER_NUMBER), "2001"),
            Seen::Answered,
            Seen::Transferred("2003".into()),
            Seen::Ended(EndCause::Transferred, Some(Side::Caller)),
        ]
    );
    assert_eq!(first[2].at_ms, 5_010);
    assert_eq!(
        first[2].kind,
        CallEventKind::Transferred {
            to: "2003".into(),
            attended: false
        }
    );
    let second = of(&events, "next");
    assert_eq!(transferred_from(second[0]), Some("orig"));
    assert_eq!(second.len(), 2);
}

#[test]
fn attended_transfer_links_through_the_refer_and_ends_the_consultation() {
    let orig = Dialog::new("orig");
    let consult = Dialog::new("consult");
    let after = Dialog::new("after");
    let mut replacing = invite_to(&after, "2003");
    replacing.replaces = Some("consult".to_owned());
    let mut messages = answered(&orig);
    messages.extend([
        (orig.reinvite(2, Side::Callee), 2_000),
        (invite_to(&consult, "2003"), 3_000),
        (consult.response(200, 1, Method::Invite), 4_000),
        (orig.refer(3, Side::Callee, "2003", Some("consult")), 10_000),
        (
            orig.response_to(202, 3, Method::Refer, Side::Callee),
            10_010,
        ),
        (replacing, 10_100),
        (consult.bye(2, Side::Callee), 10_200),
        (orig.bye(4, Side::Callee), 10_300),
    ]);
    let mut tracker = Tracker::default();

    let events = feed(&mut tracker, &messages);

    let first: Vec<CallEvent> = of(&events, "orig").into_iter().cloned().collect();
    assert_eq!(
        seen(&first)[2..],
        [
            Seen::Transferred("2003".into()),
            Seen::Ended(EndCause::Transferred, Some(Side::Callee)),
        ]
    );
    assert!(matches!(
        first[2].kind,
        CallEventKind::Transferred { attended: true, .. }
    ));
    let consultation: Vec<CallEvent> = of(&events, "consult").into_iter().cloned().collect();
    assert_eq!(
        seen(&consultation)[2..],
        [
            Seen::Transferred("2003".into()),
            Seen::Ended(EndCause::Transferred, Some(Side::Callee)),
        ]
    );
    assert_eq!(transferred_from(of(&events, "after")[0]), Some("orig"));
}

#[test]
fn replaces_alone_links_to_the_replaced_call() {
    let consult = Dialog::new("consult");
    let after = Dialog::new("after");
    let mut replacing = invite_to(&after, "2003");
    replacing.replaces = Some("consult".to_owned());
    let mut messages = answered(&consult);
    messages.extend([(replacing, 5_000), (consult.bye(2, Side::Callee), 5_100)]);
    let mut tracker = Tracker::default();

    let events = feed(&mut tracker, &messages);

    assert_eq!(
        seen(
            &of(&events, "consult")
                .into_iter()
                .cloned()
                .collect::<Vec<_>>()
        )[2..],
        [
            Seen::Transferred("2003".into()),
            Seen::Ended(EndCause::Transferred, Some(Side::Callee)),
        ]
    );
    assert_eq!(transferred_from(of(&events, "after")[0]), Some("consult"));
}

#[test]
fn a_refused_refer_leaves_a_normal_call() {
    let orig = Dialog::new("orig");
    let mut messages = answered(&orig);
    messages.extend([
        (orig.refer(2, Side::Callee, "2003", None), 5_000),
        (orig.response_to(403, 2, Method::Refer, Side::Callee), 5_010),
        (orig.bye(3, Side::Caller), 6_000),
    ]);
    let mut tracker = Tracker::default();

    let events = feed(&mut tracker, &messages);

    assert_eq!(seen(&events), answered_call(number(CALLER_NUMBER), "2001"));
}

#[test]
fn a_refer_whose_answer_is_not_seen_is_announced_at_the_bye() {
    let orig = Dialog::new("orig");
    let mut messages = answered(&orig);
    messages.extend([
        (orig.bye(3, Side::Caller), 6_000),
        (orig.refer(2, Side::Callee, "2003", None), 5_000),
    ]);
    messages.swap(2, 3);
    let mut tracker = Tracker::default();

    let events = feed(&mut tracker, &messages);

    assert_eq!(
        seen(&events)[2..],
        [
            Seen::Transferred("2003".into()),
            Seen::Ended(EndCause::Transferred, Some(Side::Caller)),
        ]
    );
}

#[test]
fn an_invite_with_referred_by_but_no_matching_refer_is_a_plain_call() {
    let next = Dialog::new("next");
    let mut invite = invite_to(&next, "2003");
    invite.referred_by = Some("sip:2001@pbx.example".to_owned());
    let mut tracker = Tracker::default();

    let events = tracker.observe(&invite, 0);

    assert_eq!(transferred_from(&events[0]), None);
}
