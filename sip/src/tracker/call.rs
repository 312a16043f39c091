//! The state of one call and its transitions; the rules are in the parent module's docs.

use crate::identity::{caller_from, caller_of};
use crate::message::{fnv1a, Method, SipMessage, StartLine};
use crate::tracker::{CallEventKind, EndCause, Side, TrackerConfig};

/// Most transaction keys remembered per call for duplicate counting; a call has few
/// transactions, and past this only the counter loses precision.
const MAX_SEEN: usize = 16;

/// Longest called number or extension kept.
const MAX_CALLED_CHARS: usize = 64;

/// An event before it is given its Call-ID.
#[derive(Debug)]
pub(super) struct Step {
    pub at_ms: i64,
    pub kind: CallEventKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Answered { at_ms: i64 },
    Ended,
}

/// One tracked call. Holds no personal data: tags are kept as hashes.
#[derive(Debug)]
pub(super) struct Call {
    phase: Phase,
    started_ms: i64,
    /// Time of the last event emitted; later events are never dated before it.
    last_event_ms: i64,
    /// CSeq of the current initial INVITE (raised by a challenged caller's retry).
    invite_cseq: u32,
    /// Hash of the INVITE's From-tag: the caller's tag.
    caller_tag: Option<u64>,
    cancel_ms: Option<i64>,
    challenge_ms: Option<i64>,
    /// Server time of the first expiry pass that saw the call ended; the linger counts
    /// from there, so a capture clock that lags the server cannot cut it short.
    linger_from_ms: Option<i64>,
    seen: Vec<u64>,
}

impl Call {
    /// Starts a call from a message for an unknown Call-ID, pushing its Ringing step;
    /// `None` when the message cannot start a call (rule 1).
    pub(super) fn start(msg: &SipMessage, at_ms: i64, steps: &mut Vec<Step>) -> Option<Self> {
        let (caller, called) = match &msg.start {
            StartLine::Request {
                method: Method::Invite,
                uri_user,
            } if msg.to.tag.is_none() => {
                let called = uri_user.clone().or_else(|| msg.to.user.clone());
                (caller_of(msg), called)
            }
            StartLine::Response { .. } if msg.cseq_method == Method::Invite => {
                (caller_from(&msg.from), msg.to.user.clone())
            }
            _ => return None,
        };

        // A called number or extension longer than any dial plan uses is kept as
        // "unknown": it cannot name an agent and would only bloat the call's state.
        let called = called
            .map(|user| user.split(';').next().unwrap_or_default().to_owned())
            .filter(|user| !user.is_empty() && user.len() <= MAX_CALLED_CHARS)
            .filter(|user| !user.chars().any(char::is_control))
            .unwrap_or_else(|| "unknown".to_owned());
        steps.push(Step {
            at_ms,
            kind: CallEventKind::Ringing { caller, called },
        });

        Some(Self {
            phase: Phase::Ringing,
            started_ms: at_ms,
            last_event_ms: at_ms,
            invite_cseq: msg.cseq,
            caller_tag: msg.from.tag.as_deref().map(hash_str),
            cancel_ms: None,
            challenge_ms: None,
            linger_from_ms: None,
            seen: Vec::new(),
        })
    }

    /// Records the message's transaction key; `true` if it was seen before.
    pub(super) fn remember(&mut self, msg: &SipMessage) -> bool {
        let status = msg.status().unwrap_or(0);
        let method = msg.method().map_or("", |m| m.as_str());
        let key = format!("{status} {method} {} {}", msg.cseq, msg.cseq_method);
        let key = fnv1a(key.as_bytes());

        if self.seen.contains(&key) {
            return true;
        }
        if self.seen.len() < MAX_SEEN {
            self.seen.push(key);
        }
        false
    }

    /// Applies one message of this call (rules 2 to 6).
    pub(super) fn apply(&mut self, msg: &SipMessage, at_ms: i64, steps: &mut Vec<Step>) {
        if self.phase == Phase::Ended {
            return;
        }

        match (&msg.start, &msg.cseq_method) {
            (StartLine::Request { method, .. }, _) => match method {
                Method::Invite if msg.to.tag.is_none() => self.on_new_invite(msg.cseq),
                Method::Cancel => self.on_cancel(msg.cseq, at_ms),
                Method::Bye => self.on_bye(msg.from.tag.as_deref(), at_ms, steps),
                _ => {}
            },
            (StartLine::Response { status }, Method::Invite) => {
                self.on_invite_response(*status, msg.cseq, at_ms, steps);
            }
            (StartLine::Response { status }, Method::Bye) if *status >= 200 => {
                self.on_bye(msg.from.tag.as_deref(), at_ms, steps);
            }
            _ => {}
        }
    }

    fn on_new_invite(&mut self, cseq: u32) {
        if self.phase == Phase::Ringing && cseq > self.invite_cseq {
            self.adopt_invite(cseq);
        }
    }

    /// A newer initial INVITE (a retry after a challenge) replaces the current one.
    fn adopt_invite(&mut self, cseq: u32) {
        self.invite_cseq = cseq;
        self.challenge_ms = None;
        self.cancel_ms = None;
    }

    fn on_cancel(&mut self, cseq: u32, at_ms: i64) {
        if self.phase != Phase::Ringing || cseq < self.invite_cseq {
            return;
        }
        if cseq > self.invite_cseq {
            self.adopt_invite(cseq);
        }
        self.cancel_ms.get_or_insert(at_ms);
    }

    fn on_invite_response(&mut self, status: u16, cseq: u32, at_ms: i64, steps: &mut Vec<Step>) {
        if self.phase != Phase::Ringing || cseq < self.invite_cseq || status < 200 {
            return;
        }
        if cseq > self.invite_cseq {
            self.adopt_invite(cseq);
        }

        if status < 300 {
            self.answer(at_ms, steps);
            return;
        }
        if let Some(cancel_ms) = self.cancel_ms {
            self.end(EndCause::Abandoned, None, cancel_ms, steps);
            return;
        }
        let cause = match status {
            401 | 407 => {
                self.challenge_ms.get_or_insert(at_ms);
                return;
            }
            486 | 600 => EndCause::Busy,
            403 | 603 => EndCause::Rejected,
            487 => EndCause::Abandoned,
            _ => EndCause::Failed,
        };
        self.end(cause, None, at_ms, steps);
    }

    fn on_bye(&mut self, from_tag: Option<&str>, at_ms: i64, steps: &mut Vec<Step>) {
        if self.phase == Phase::Ringing {
            self.answer(at_ms, steps);
        }
        let hangup_by = match (self.caller_tag, from_tag) {
            (Some(caller), Some(tag)) if caller == hash_str(tag) => Some(Side::Caller),
            (Some(_), Some(_)) => Some(Side::Callee),
            _ => None,
        };
        self.end(EndCause::Completed, hangup_by, at_ms, steps);
    }

    /// Runs the timers of rule 7 (forgetting is [`Call::is_forgettable`]).
    pub(super) fn expire(&mut self, now_ms: i64, config: &TrackerConfig, steps: &mut Vec<Step>) {
        let waited = |since: i64, limit: i64| now_ms.saturating_sub(since) >= limit;
        let cause = match self.phase {
            Phase::Ringing => {
                let cancelled = self
                    .cancel_ms
                    .is_some_and(|at| waited(at, config.cancel_grace_ms));
                let challenged = self
                    .challenge_ms
                    .is_some_and(|at| waited(at, config.auth_retry_grace_ms));
                if cancelled {
                    EndCause::Abandoned
                } else if challenged || waited(self.started_ms, config.ringing_timeout_ms) {
                    EndCause::Failed
                } else {
                    return;
                }
            }
            Phase::Answered { at_ms } if waited(at_ms, config.max_call_ms) => EndCause::Failed,
            Phase::Answered { .. } | Phase::Ended => return,
        };
        self.end(cause, None, now_ms, steps);
    }

    /// Whether an ended call has lingered long enough to be forgotten; the first pass
    /// after the end starts the linger.
    pub(super) fn is_forgettable(&mut self, now_ms: i64, config: &TrackerConfig) -> bool {
        if self.phase != Phase::Ended {
            return false;
        }
        let from = *self.linger_from_ms.get_or_insert(now_ms);
        now_ms.saturating_sub(from) >= config.linger_ms
    }

    fn answer(&mut self, at_ms: i64, steps: &mut Vec<Step>) {
        let at_ms = self.date(at_ms);
        self.phase = Phase::Answered { at_ms };
        self.cancel_ms = None;
        self.challenge_ms = None;
        steps.push(Step {
            at_ms,
            kind: CallEventKind::Answered,
        });
    }

    fn end(&mut self, cause: EndCause, hangup_by: Option<Side>, at_ms: i64, steps: &mut Vec<Step>) {
        let at_ms = self.date(at_ms);
        self.phase = Phase::Ended;
        steps.push(Step {
            at_ms,
            kind: CallEventKind::Ended { cause, hangup_by },
        });
    }

    /// Dates an event no earlier than the previous one (rule 2).
    fn date(&mut self, at_ms: i64) -> i64 {
        self.last_event_ms = self.last_event_ms.max(at_ms);
        self.last_event_ms
    }
}

fn hash_str(text: &str) -> u64 {
    fnv1a(text.as_bytes())
}
