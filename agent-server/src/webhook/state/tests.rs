//! Every event order a PBX may produce, against the events the call service gets.

use ringside_sip::identity::CallerId;
use ringside_sip::tracker::{CallEventKind, EndCause};

use super::*;
use crate::webhook::formats::{PbxDirection, PbxEvent, PbxEventKind};

const T0: i64 = 1_800_000_000_000;

fn event(kind: PbxEventKind, call: &str) -> PbxEvent {
    let mut event = match kind {
        PbxEventKind::NewCall => crate::webhook::formats::parse_sipgate(
            format!("event=newCall&from=31201234567&to=31207000000&direction=in&callId={call}")
                .as_bytes(),
        )
        .unwrap(),
        _ => {
            crate::webhook::formats::parse_sipgate(format!("event=answer&callId={call}").as_bytes())
                .unwrap()
        }
    };
    event.kind = kind;
    event
}

fn resolved(event: PbxEvent, agents: &[&str], at_ms: i64) -> ResolvedEvent {
    ResolvedEvent {
        pbx: 1,
        event,
        agent_extensions: agents.iter().map(|a| (*a).to_owned()).collect(),
        answering_extension: None,
        blocked: false,
        received_ms: at_ms,
    }
}

fn new_call(call: &str, agents: &[&str], at_ms: i64) -> ResolvedEvent {
    resolved(event(PbxEventKind::NewCall, call), agents, at_ms)
}

fn answered(call: &str, by: Option<&str>, at_ms: i64) -> ResolvedEvent {
    let mut r = resolved(event(PbxEventKind::Answered, call), &[], at_ms);
    r.answering_extension = by.map(str::to_owned);
    r
}

fn hangup(call: &str, cause: EndCause, at_ms: i64) -> ResolvedEvent {
    resolved(event(PbxEventKind::Ended { cause }, call), &[], at_ms)
}

/// The events as short words, for comparing sequences.
fn words(out: &[WebhookCallEvent]) -> Vec<String> {
    out.iter()
        .map(|m| {
            let unseen = if m.start_unseen { "*" } else { "" };
            let word = match &m.event.kind {
                CallEventKind::Ringing { called, .. } => format!("ringing({called}){unseen}"),
                CallEventKind::Offered { target } => format!("offered({target})"),
                CallEventKind::Answered { by } => {
                    format!("answered({})", by.as_deref().unwrap_or("-"))
                }
                CallEventKind::Transferred { to, .. } => format!("transferred({to})"),
                CallEventKind::Ended {
                    cause, timed_out, ..
                } => format!(
                    "ended({}{})",
                    cause.as_str(),
                    if *timed_out { ",timer" } else { "" }
                ),
            };
            format!("{}:{word}", m.event.call_id)
        })
        .collect()
}

fn calls() -> PbxCalls {
    PbxCalls::new(PbxCallsConfig::default())
}

#[test]
fn the_normal_order_gives_the_trackers_sequence() {
    let mut c = calls();

    let ring = c.apply(new_call("a", &["2001", "2002"], T0));
    let answer = c.apply(answered("a", Some("2002"), T0 + 4_000));
    let end = c.apply(hangup("a", EndCause::Completed, T0 + 30_000));

    assert_eq!(
        words(&ring),
        ["pbx-1:a:ringing(2001)", "pbx-1:a:offered(2002)"]
    );
    assert_eq!(words(&answer), ["pbx-1:a:answered(2002)"]);
    assert_eq!(words(&end), ["pbx-1:a:ended(completed)"]);
    let CallEventKind::Ringing { caller, .. } = &ring[0].event.kind else {
        panic!("ringing first");
    };
    assert_eq!(caller, &CallerId::Number("+31201234567".into()));
    assert_eq!(ring[0].event.at_ms, T0);
    assert_eq!(end[0].event.at_ms, T0 + 30_000);
}

#[test]
fn every_retried_event_changes_nothing() {
    let mut c = calls();
    c.apply(new_call("a", &["2001"], T0));
    c.apply(answered("a", None, T0 + 1_000));
    c.apply(hangup("a", EndCause::Completed, T0 + 2_000));

    let again = [
        c.apply(new_call("a", &["2001"], T0 + 3_000)),
        c.apply(answered("a", None, T0 + 3_000)),
        c.apply(hangup("a", EndCause::Completed, T0 + 3_000)),
    ];

    assert!(again.iter().all(Vec::is_empty), "{again:?}");
}

#[test]
fn a_hangup_before_the_answer_answers_at_the_hangup_and_the_late_answer_is_dropped() {
    let mut c = calls();
    c.apply(new_call("a", &["2001"], T0));

    let end = c.apply(hangup("a", EndCause::Completed, T0 + 9_000));
    let late = c.apply(answered("a", Some("2001"), T0 + 9_500));

    assert_eq!(
        words(&end),
        ["pbx-1:a:answered(-)", "pbx-1:a:ended(completed)"]
    );
    assert!(late.is_empty());
}

#[test]
fn a_cancel_before_any_answer_ends_abandoned_unanswered() {
    let mut c = calls();
    c.apply(new_call("a", &["2001"], T0));

    let end = c.apply(hangup("a", EndCause::Abandoned, T0 + 9_000));

    assert_eq!(words(&end), ["pbx-1:a:ended(abandoned)"]);
}

#[test]
fn an_answer_before_the_new_call_starts_the_call_marked_and_the_new_call_is_dropped() {
    let mut c = calls();

    let answer = c.apply(answered("a", Some("2001"), T0 + 1_000));
    let late_new = c.apply(new_call("a", &["2001"], T0 + 1_200));

    assert_eq!(
        words(&answer),
        [
            "pbx-1:a:ringing(unknown)*",
            "pbx-1:a:offered(2001)",
            "pbx-1:a:answered(2001)"
        ]
    );
    assert!(late_new.is_empty());
}

#[test]
fn a_hangup_for_a_call_never_seen_creates_and_ends_it() {
    let mut c = calls();

    let end = c.apply(hangup("z", EndCause::Busy, T0));

    assert_eq!(
        words(&end),
        ["pbx-1:z:ringing(unknown)*", "pbx-1:z:ended(busy)"]
    );
}

#[test]
fn a_call_whose_hangup_never_comes_ends_by_the_timers() {
    let mut c = PbxCalls::new(PbxCallsConfig {
        ringing_timeout_ms: 60_000,
        max_call_ms: 3_600_000,
        linger_ms: 60_000,
        ..PbxCallsConfig::default()
    });
    c.apply(new_call("ringing", &["2001"], T0));
    c.apply(new_call("talking", &["2002"], T0));
    c.apply(answered("talking", None, T0 + 1_000));

    let early = c.expire(T0 + 59_999);
    let ring_timer = c.expire(T0 + 60_000);
    let call_timer = c.expire(T0 + 3_601_000);
    let forgotten = c.len();

    assert!(early.is_empty());
    assert_eq!(words(&ring_timer), ["pbx-1:ringing:ended(failed,timer)"]);
    assert_eq!(words(&call_timer), ["pbx-1:talking:ended(failed,timer)"]);
    assert_eq!(ring_timer[0].event.at_ms, T0 + 60_000);
    assert_eq!(
        forgotten, 1,
        "the ringing call's linger is over, not the other's"
    );
    assert!(c
        .apply(hangup("talking", EndCause::Completed, T0 + 3_602_000))
        .is_empty());
}

#[test]
fn an_outbound_call_rings_from_the_agent_to_the_number_dialled() {
    let mut c = calls();
    let mut out = event(PbxEventKind::NewCall, "o");
    out.direction = Some(PbxDirection::Outbound);
    out.from = Some("4922147103341".into());
    out.to = Some("00441632960123".into());

    let ring = c.apply(resolved(out, &["2001"], T0));

    let CallEventKind::Ringing { caller, called, .. } = &ring[0].event.kind else {
        panic!("ringing first");
    };
    assert_eq!(caller, &CallerId::Number("2001".into()));
    assert_eq!(called, "00441632960123");
}

#[test]
fn a_forwarded_call_links_the_next_call_from_the_same_caller() {
    let mut c = calls();
    c.apply(new_call("first", &["2001"], T0));
    c.apply(answered("first", None, T0 + 1_000));
    let forwarded = c.apply(hangup("first", EndCause::Transferred, T0 + 5_000));

    let next = c.apply(new_call("second", &["2002"], T0 + 5_500));
    let much_later = c.apply(new_call("third", &["2002"], T0 + 200_000));

    assert_eq!(words(&forwarded), ["pbx-1:first:ended(transferred)"]);
    let CallEventKind::Ringing {
        transferred_from, ..
    } = &next[0].event.kind
    else {
        panic!("ringing first");
    };
    assert_eq!(transferred_from.as_deref(), Some("pbx-1:first"));
    let CallEventKind::Ringing {
        transferred_from, ..
    } = &much_later[0].event.kind
    else {
        panic!("ringing first");
    };
    assert_eq!(transferred_from.as_deref(), None);
}

#[test]
fn a_call_naming_its_original_announces_the_transfer_and_the_original_ends_transferred() {
    let mut c = calls();
    c.apply(new_call("A", &["2001"], T0));
    c.apply(answered("A", Some("2001"), T0 + 1_000));
    let mut second = event(PbxEventKind::NewCall, "B");
    second.transferred_from = Some("A".into());

    let ring = c.apply(resolved(second, &["2002"], T0 + 20_000));
    let end_first = c.apply(hangup("A", EndCause::Completed, T0 + 25_000));

    assert_eq!(
        words(&ring),
        ["pbx-1:A:transferred(2002)", "pbx-1:B:ringing(2002)"]
    );
    assert_eq!(words(&end_first), ["pbx-1:A:ended(transferred)"]);
}

#[test]
fn a_blocked_call_is_remembered_and_never_reaches_the_call_service() {
    let mut c = calls();
    let mut blocked = new_call("spam", &["2001"], T0);
    blocked.blocked = true;

    let ring = c.apply(blocked);
    let end = c.apply(hangup("spam", EndCause::Abandoned, T0 + 1_000));

    assert!(ring.is_empty());
    assert!(end.is_empty());
}

#[test]
fn a_queue_offers_its_agents_once_and_the_sip_call_id_is_kept() {
    let mut c = calls();
    let mut start = event(PbxEventKind::NewCall, "q");
    start.sip_call_id = Some("abc@pbx".into());
    c.apply(resolved(start, &[], T0));

    let queued = c.apply(resolved(
        event(PbxEventKind::Queued, "q"),
        &["2001", "2002"],
        T0 + 1,
    ));
    let again = c.apply(resolved(
        event(PbxEventKind::Queued, "q"),
        &["2002"],
        T0 + 2,
    ));

    assert_eq!(
        words(&queued),
        ["abc@pbx:offered(2001)", "abc@pbx:offered(2002)"]
    );
    assert!(again.is_empty());
}

#[test]
fn an_event_dated_before_the_previous_one_is_dated_after_it() {
    let mut c = calls();
    let mut start = event(PbxEventKind::NewCall, "d");
    start.at_ms = Some(T0 + 10_000);
    c.apply(resolved(start, &["2001"], T0 + 10_000));
    let mut early = event(PbxEventKind::Answered, "d");
    early.at_ms = Some(T0 + 5_000);

    let answer = c.apply(resolved(early, &[], T0 + 11_000));

    assert_eq!(answer[0].event.at_ms, T0 + 10_000);
}

#[test]
fn numbers_become_e164_when_they_are_bare_international_digits() {
    assert_eq!(pbx_number("4930901820"), "+4930901820");
    assert_eq!(pbx_number("00441632960123"), "00441632960123");
    assert_eq!(pbx_number("02214710334"), "02214710334");
    assert_eq!(pbx_number("2001"), "2001");
    assert_eq!(pbx_number("+31201234567"), "+31201234567");
}

/// One step of a random PBX conversation: which call, which event, how far apart.
#[derive(Debug, Clone)]
enum Step {
    New(u8),
    Queue(u8),
    Answer(u8, bool),
    Transfer(u8),
    Hangup(u8, u8),
    Timers,
}

fn step() -> impl proptest::strategy::Strategy<Value = (Step, u16)> {
    use proptest::prelude::*;
    let call = 0u8..4;
    let step = prop_oneof![
        call.clone().prop_map(Step::New),
        call.clone().prop_map(Step::Queue),
        (call.clone(), any::<bool>()).prop_map(|(c, by)| Step::Answer(c, by)),
        call.clone().prop_map(Step::Transfer),
        (call, 0u8..7).prop_map(|(c, cause)| Step::Hangup(c, cause)),
        Just(Step::Timers),
    ];
    (step, 0u16..40_000)
}

proptest::proptest! {
    /// Whatever a PBX sends, in whatever order, each call gives the call service what the
    /// SIP tracker would: Ringing first, at most one Answered, at most one Ended and
    /// nothing after it, Offered only before the answer, and times that never go back.
    #[test]
    fn any_event_order_gives_the_trackers_sequence(
        steps in proptest::collection::vec(step(), 1..60)
    ) {
        let mut c = PbxCalls::new(PbxCallsConfig {
            ringing_timeout_ms: 60_000,
            max_call_ms: 120_000,
            linger_ms: 90_000,
            ..PbxCallsConfig::default()
        });
        let mut now = T0;
        let mut out = Vec::new();
        for (step, gap) in steps {
            now += i64::from(gap);
            let name = |call: u8| format!("c{call}");
            let produced = match step {
                Step::New(call) => c.apply(new_call(&name(call), &["2001", "2002"], now)),
                Step::Queue(call) => c.apply(resolved(
                    event(PbxEventKind::Queued, &name(call)),
                    &["2003"],
                    now,
                )),
                Step::Answer(call, by) => {
                    c.apply(answered(&name(call), by.then_some("2004"), now))
                }
                Step::Transfer(call) => c.apply(resolved(
                    event(
                        PbxEventKind::Transferred { to: "2005".into(), attended: false },
                        &name(call),
                    ),
                    &[],
                    now,
                )),
                Step::Hangup(call, cause) => {
                    let cause = EndCause::ALL[usize::from(cause) % EndCause::ALL.len()];
                    c.apply(hangup(&name(call), cause, now))
                }
                Step::Timers => c.expire(now),
            };
            out.extend(produced);
        }

        let mut seen: std::collections::HashMap<String, (bool, bool, bool, i64)> =
            std::collections::HashMap::new();
        for marked in &out {
            let e = &marked.event;
            let is_ringing = matches!(e.kind, CallEventKind::Ringing { .. });
            let state = seen.entry(e.call_id.clone()).or_insert((false, false, false, i64::MIN));
            let (rang, answered, ended, last) = *state;
            if is_ringing {
                // A call may start again only after its linger: a new call under an old id.
                proptest::prop_assert!(!rang || ended, "second Ringing of a live call");
                *state = (true, false, false, e.at_ms);
                continue;
            }
            proptest::prop_assert!(rang, "{:?} before Ringing", e.kind);
            proptest::prop_assert!(!ended, "{:?} after Ended", e.kind);
            proptest::prop_assert!(e.at_ms >= last, "time went back");
            match &e.kind {
                CallEventKind::Offered { .. } => proptest::prop_assert!(!answered),
                CallEventKind::Answered { .. } => {
                    proptest::prop_assert!(!answered, "answered twice");
                    state.1 = true;
                }
                CallEventKind::Ended { .. } => state.2 = true,
                _ => {}
            }
            state.3 = e.at_ms;
        }
    }
}

#[test]
fn an_event_date_far_enough_to_overflow_is_replaced_by_the_receive_time() {
    for given in [i64::MIN + T0, i64::MIN, i64::MAX] {
        let mut calls = PbxCalls::new(PbxCallsConfig::default());
        let mut start = new_call("far", &["2001"], T0);
        start.event.at_ms = Some(given);

        let out = calls.apply(start);

        assert_eq!(out[0].event.at_ms, T0, "{given}");
    }
}

#[test]
fn the_first_queue_named_goes_out_once_with_the_next_event() {
    let mut calls = PbxCalls::new(PbxCallsConfig::default());
    let ring = calls.apply(new_call("q", &["2001"], T0));
    let mut queued = resolved(event(PbxEventKind::Queued, "q"), &["2002"], T0 + 10);
    queued.event.queue = Some("Billing".into());
    let offered = calls.apply(queued);
    let mut other = answered("q", Some("2002"), T0 + 20);
    other.event.queue = Some("Sales".into());
    let answer = calls.apply(other);

    assert_eq!(ring[0].queue, None);
    assert_eq!(offered[0].queue.as_deref(), Some("Billing"));
    assert!(answer.iter().all(|m| m.queue.is_none()));
}

#[test]
fn a_blocked_caller_never_starts_a_call_whatever_event_comes_first() {
    for first in [
        answered("blk", Some("2001"), T0),
        hangup("blk", EndCause::Completed, T0),
    ] {
        let mut calls = PbxCalls::new(PbxCallsConfig::default());
        let mut first = first;
        first.blocked = true;

        let out = calls.apply(first);
        let later = calls.apply(hangup("blk", EndCause::Completed, T0 + 5));

        assert!(out.is_empty());
        assert!(later.is_empty());
    }
}
