//! Tracker tests: lab captures, hand-made message sequences, timers and limits.

use super::dialog::CALLER_NUMBER;
use super::*;

mod forks;
mod lab;
mod sequences;
mod timers;
mod transfers;

/// An event without its Call-ID, for compact expectations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seen {
    Ringing(CallerId, String),
    Offered(String),
    Answered,
    Transferred(String),
    Ended(EndCause, Option<Side>),
}

pub(super) fn seen(events: &[CallEvent]) -> Vec<Seen> {
    events
        .iter()
        .map(|event| match &event.kind {
            CallEventKind::Ringing { caller, called, .. } => {
                Seen::Ringing(caller.clone(), called.clone())
            }
            CallEventKind::Offered { target } => Seen::Offered(target.clone()),
            CallEventKind::Answered { .. } => Seen::Answered,
            CallEventKind::Transferred { to, .. } => Seen::Transferred(to.clone()),
            CallEventKind::Ended {
                cause, hangup_by, ..
            } => Seen::Ended(*cause, *hangup_by),
        })
        .collect()
}

pub(super) fn number(n: &str) -> CallerId {
    CallerId::Number(n.to_owned())
}

pub(super) fn ringing(caller: CallerId, called: &str) -> Seen {
    Seen::Ringing(caller, called.to_owned())
}

pub(super) fn feed(tracker: &mut Tracker, messages: &[(SipMessage, i64)]) -> Vec<CallEvent> {
    messages
        .iter()
        .flat_map(|(message, at_ms)| tracker.observe(message, *at_ms))
        .collect()
}

pub(super) fn answered_call(caller: CallerId, called: &str) -> Vec<Seen> {
    vec![
        ringing(caller, called),
        Seen::Answered,
        Seen::Ended(EndCause::Completed, Some(Side::Caller)),
    ]
}
