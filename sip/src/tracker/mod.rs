//! Call tracking: turning mirrored SIP messages into ringing, answered and ended events.
//!
//! The tracker keeps one small state per Call-ID and sees every message the proxy mirrors,
//! in the order the mirror delivers them. That order is not the wire order and every
//! proxied message comes twice (once per leg), so each rule below is written to be
//! idempotent and order-tolerant. Terms used here and by the server:
//!
//! - *ringing*: an initial INVITE reached the proxy; the call waits for an answer.
//! - *answered*: a 2xx final response to that INVITE was seen.
//! - *abandoned*: the caller gave up while it was still ringing (CANCEL, or a 487).
//! - *ended*: the call is over, with an [`EndCause`].
//!
//! # Rules
//!
//! 1. **Start.** An INVITE without a To-tag (an initial INVITE, RFC 3261 §12.1, §13.2.1)
//!    for an unknown Call-ID starts a call and emits [`CallEventKind::Ringing`] at that
//!    INVITE's time, with the caller from [`crate::identity::caller_of`] and the called
//!    party from the Request-URI user, else the To user, else `unknown`. An INVITE with a
//!    To-tag is a re-INVITE (RFC 3261 §14) and never starts a call. A response to an INVITE
//!    for an unknown Call-ID starts the call too, since the mirror may deliver a reply
//!    before its request; the caller then comes from From alone
//!    ([`crate::identity::caller_from`]). Any other message for an unknown Call-ID (a late
//!    ACK, a BYE after the linger, OPTIONS, REGISTER) is ignored.
//! 2. **Once.** Every transition fires at most once per call, so retransmissions
//!    (RFC 3261 §17) and the mirror's second copy change nothing. Events of one call are
//!    always `Ringing`, then at most one `Answered`, then at most one `Ended`, and their
//!    `at_ms` never decreases: an event is never dated before the call's previous one.
//! 3. **Answer.** A 2xx to the call's INVITE (CSeq method INVITE, the call's INVITE CSeq)
//!    emits `Answered`, even after a CANCEL: CANCEL and 200 cross on the wire and the 200
//!    wins (RFC 3261 §9.1).
//! 4. **Failure before answer.** A final response of 300 or more to the INVITE ends the
//!    call, except 401 and 407: those are challenges (RFC 3261 §22.2, §22.3), and the
//!    caller retries with the same Call-ID and a higher CSeq (§8.1.3.5), which is the same
//!    call. Without a new INVITE within `auth_retry_grace_ms` the call ends `Failed`.
//!    Causes: 486 and 600 are `Busy`; 403 and 603 `Rejected`; 487 `Abandoned`; any final
//!    after a CANCEL `Abandoned`, the caller having given up first; anything else
//!    `Failed`. The end is dated at the final response, except `Abandoned` with a CANCEL,
//!    which is dated at the CANCEL. Finals to an older CSeq than the call's INVITE are
//!    ignored; a newer CSeq before answer means the retried INVITE was mirrored late and
//!    becomes the call's INVITE.
//! 5. **Cancel.** A CANCEL before answer is remembered (its CSeq equals the INVITE's,
//!    RFC 3261 §9.1). If no final response follows within `cancel_grace_ms`, the call ends
//!    `Abandoned`.
//! 6. **Hang-up.** A BYE (RFC 3261 §15), or a final response to a BYE (which may be
//!    mirrored before its BYE; the BYE ends the session whatever the answer, §15.1.1), ends
//!    the call `Completed`. The side that hung up is the caller when the BYE's From-tag is
//!    the INVITE's From-tag, else the callee (§12.2.1.1: each side sends with its own tag
//!    in From). A response carries its request's From, so the rule holds for it too. When
//!    either tag is missing the side is left unknown. A BYE for a call not yet answered
//!    first emits `Answered` at the BYE's time.
//! 7. **Timers** ([`Tracker::expire`], events dated `now_ms`): ringing longer than
//!    `ringing_timeout_ms`, or answered longer than `max_call_ms`, ends `Failed`; pending
//!    cancel and challenge grace as above. An ended call is kept for `linger_ms` to absorb
//!    late retransmissions (64·T1 = 32 s, RFC 3261 §17.1.1.2), counted on the server's
//!    clock from the first `expire` after its end, then forgotten.
//! 8. **Capacity.** At most `max_calls` Call-IDs are tracked, ended ones in their linger
//!    included; a new call beyond that is refused and counted, without an event. Call-IDs
//!    longer than 256 bytes are ignored, and per-call state is a few fixed-size fields, so
//!    memory stays bounded whatever the traffic.
//!
//! Times are milliseconds since the Unix epoch: `at_ms` from the capture agent, `now_ms`
//! from the server. The ringing, answered, cancel and challenge timers compare the two,
//! so they assume both clocks agree to within a second or so; a replay of old captures
//! should be fed its receive times rather than the recorded ones.
//!
//! Limitation: the tracker sees messages without the leg they were mirrored on, so with a
//! forking proxy (one INVITE ringing several phones at once) a busy or decline from one
//! branch, mirrored on that phone's leg, ends the call while the other branches still ring.
//! Keeping only finals on the caller's leg (the copy with one Via fewer) would lift it.
//!
//! Limitation: a response to a re-INVITE (for example a session-timer refresh, RFC 4028)
//! for a Call-ID the tracker does not know looks like a reordered answer and starts a new
//! call. That happens after a server restart during calls, or after a call outlived
//! `max_call_ms` and its linger; remembering forgotten Call-IDs longer would lift it.
//!
//! Limitation: a call that is refused because the tracker is full may still be started by
//! one of its later responses once room is free, and then rings from that response's time.

use std::collections::HashMap;
use std::fmt;

use crate::identity::{CallerId, Masked};
use crate::message::{CallIdDigest, SipMessage};

mod call;
#[cfg(test)]
mod dialog;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use call::{Call, Step};

/// Longest Call-ID tracked, in bytes; longer ones are ignored to bound memory.
const MAX_CALL_ID_BYTES: usize = 256;

/// Timers and limits of a [`Tracker`], in milliseconds where they are durations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerConfig {
    /// How long a call may ring before it ends `Failed`. Default 300,000 (5 min).
    pub ringing_timeout_ms: i64,
    /// How long an answered call may last before it ends `Failed`. Default 4 h.
    pub max_call_ms: i64,
    /// How long a CANCEL waits for its final response before the call ends `Abandoned`.
    /// Default 32,000 (64·T1).
    pub cancel_grace_ms: i64,
    /// How long a 401/407 challenge waits for the retried INVITE before the call ends
    /// `Failed`. Default 32,000.
    pub auth_retry_grace_ms: i64,
    /// How long an ended call is kept to absorb retransmissions. Default 32,000.
    pub linger_ms: i64,
    /// Most Call-IDs tracked at once, lingering ones included. Default 100,000.
    pub max_calls: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            ringing_timeout_ms: 300_000,
            max_call_ms: 4 * 60 * 60 * 1000,
            cancel_grace_ms: 32_000,
            auth_retry_grace_ms: 32_000,
            linger_ms: 32_000,
            max_calls: 100_000,
        }
    }
}

/// Something that happened to a call.
#[derive(Clone, PartialEq, Eq)]
pub struct CallEvent {
    /// The call's SIP Call-ID.
    pub call_id: String,
    /// When it happened, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// What happened.
    pub kind: CallEventKind,
}

impl fmt::Debug for CallEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallEvent")
            .field("call", &CallIdDigest(&self.call_id))
            .field("at_ms", &self.at_ms)
            .field("kind", &self.kind)
            .finish()
    }
}

/// The kinds of [`CallEvent`].
#[derive(Clone, PartialEq, Eq)]
pub enum CallEventKind {
    /// A new call is ringing.
    Ringing {
        /// Who calls.
        caller: CallerId,
        /// The dialled user or extension, or `unknown`.
        called: String,
    },
    /// The call was answered.
    Answered,
    /// The call is over.
    Ended {
        /// Why it ended.
        cause: EndCause,
        /// Who hung up, for calls ended by a BYE whose sender is known.
        hangup_by: Option<Side>,
    },
}

impl fmt::Debug for CallEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ringing { caller, called } => f
                .debug_struct("Ringing")
                .field("caller", caller)
                .field("called", &Masked(called))
                .finish(),
            Self::Answered => f.write_str("Answered"),
            Self::Ended { cause, hangup_by } => f
                .debug_struct("Ended")
                .field("cause", cause)
                .field("hangup_by", hangup_by)
                .finish(),
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndCause {
    /// Answered, then hung up by either side.
    Completed,
    /// The caller gave up before an answer (CANCEL or 487).
    Abandoned,
    /// The callee was busy (486, 600).
    Busy,
    /// The callee declined or the call was forbidden (603, 403).
    Rejected,
    /// Any other failure, including timeouts.
    Failed,
}

impl EndCause {
    /// Lowercase name, as stored and shown: `completed`, `abandoned`, `busy`, `rejected`,
    /// `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Abandoned => "abandoned",
            Self::Busy => "busy",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
        }
    }
}

/// One side of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The party that sent the INVITE.
    Caller,
    /// The party the INVITE was sent to (the agent).
    Callee,
}

/// Counters since the tracker was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackerStats {
    /// Messages observed.
    pub messages: u64,
    /// Calls started (Ringing events).
    pub calls_started: u64,
    /// Calls ended (Ended events).
    pub calls_ended: u64,
    /// Messages of a tracked call repeating a request or response already seen in it
    /// (same CSeq, method and status): retransmissions and the mirror's second copy.
    pub duplicates: u64,
    /// Messages for no tracked call that cannot start one, and over-long Call-IDs.
    pub ignored: u64,
    /// New calls refused because `max_calls` Call-IDs were tracked.
    pub calls_refused_full: u64,
}

/// The per-Call-ID state machine described in the module docs.
pub struct Tracker {
    config: TrackerConfig,
    calls: HashMap<String, Call>,
    live: usize,
    stats: TrackerStats,
}

impl Tracker {
    /// Makes an empty tracker.
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            calls: HashMap::new(),
            live: 0,
            stats: TrackerStats::default(),
        }
    }

    /// Feeds one message captured at `at_ms`; returns the events it causes, in order.
    pub fn observe(&mut self, msg: &SipMessage, at_ms: i64) -> Vec<CallEvent> {
        self.stats.messages += 1;
        if msg.call_id.len() > MAX_CALL_ID_BYTES {
            self.stats.ignored += 1;
            return Vec::new();
        }

        let mut steps = Vec::new();
        if let Some(call) = self.calls.get_mut(&msg.call_id) {
            if call.remember(msg) {
                self.stats.duplicates += 1;
            }
            call.apply(msg, at_ms, &mut steps);
        } else {
            let Some(mut call) = Call::start(msg, at_ms, &mut steps) else {
                self.stats.ignored += 1;
                return Vec::new();
            };
            if self.calls.len() >= self.config.max_calls {
                self.stats.calls_refused_full += 1;
                tracing::debug!(
                    call.digest = %msg.call_id_digest(),
                    max_calls = self.config.max_calls,
                    "call refused, tracker full"
                );
                return Vec::new();
            }
            call.remember(msg);
            call.apply(msg, at_ms, &mut steps);
            self.calls.insert(msg.call_id.clone(), call);
        }

        self.emit(&msg.call_id, steps)
    }

    /// Runs the timers at `now_ms`: timeouts, pending cancel and challenge grace, and
    /// forgetting ended calls after their linger. Call it about once a second.
    pub fn expire(&mut self, now_ms: i64) -> Vec<CallEvent> {
        let config = &self.config;
        let mut ended = Vec::new();
        self.calls.retain(|call_id, call| {
            if call.is_forgettable(now_ms, config) {
                return false;
            }
            let mut steps = Vec::new();
            call.expire(now_ms, config, &mut steps);
            if !steps.is_empty() {
                ended.push((call_id.clone(), steps));
            }
            true
        });

        // Sorted so that expiry reports calls in a stable order.
        ended.sort_by(|a, b| a.0.cmp(&b.0));
        ended
            .into_iter()
            .flat_map(|(call_id, steps)| self.emit(&call_id, steps))
            .collect()
    }

    /// Calls ringing or answered now (ended calls in their linger not counted).
    pub fn active_calls(&self) -> usize {
        self.live
    }

    /// The counters so far.
    pub fn stats(&self) -> TrackerStats {
        self.stats
    }

    fn emit(&mut self, call_id: &str, steps: Vec<Step>) -> Vec<CallEvent> {
        let digest = CallIdDigest(call_id);
        steps
            .into_iter()
            .map(|Step { at_ms, kind }| {
                match &kind {
                    CallEventKind::Ringing { caller, called } => {
                        self.stats.calls_started += 1;
                        self.live += 1;
                        tracing::debug!(
                            call.digest = %digest, at_ms, ?caller, called = %Masked(called),
                            "call ringing"
                        );
                    }
                    CallEventKind::Answered => {
                        tracing::debug!(call.digest = %digest, at_ms, "call answered");
                    }
                    CallEventKind::Ended { cause, hangup_by } => {
                        self.stats.calls_ended += 1;
                        self.live = self.live.saturating_sub(1);
                        tracing::debug!(
                            call.digest = %digest, at_ms, cause = cause.as_str(), ?hangup_by,
                            "call ended"
                        );
                    }
                }
                CallEvent {
                    call_id: call_id.to_owned(),
                    at_ms,
                    kind,
                }
            })
            .collect()
    }
}

impl fmt::Debug for Tracker {
    // Call-IDs may embed addresses, so only sizes are shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracker")
            .field("config", &self.config)
            .field("tracked", &self.calls.len())
            .field("active", &self.live)
            .field("stats", &self.stats)
            .finish()
    }
}

impl Default for Tracker {
    fn default() -> Self {
        Self::new(TrackerConfig::default())
    }
}
