//! Call tracking: turning mirrored SIP messages into ringing, answered and ended events.
//!
//! The tracker keeps one small state per call and sees every message the proxy mirrors,
//! in the order the mirror delivers them. That order is not the wire order and every
//! proxied message comes twice (once per leg), so each rule below is written to be
//! idempotent and order-tolerant. Terms used here and by the server:
//!
//! - *ringing*: an initial INVITE reached the proxy; the call waits for an answer.
//! - *offered*: a forked copy of the INVITE rang one more target (phone or extension).
//! - *answered*: a 2xx final response to that INVITE was seen.
//! - *abandoned*: the caller gave up while it was still ringing (CANCEL, or a 487).
//! - *answered elsewhere*: one target answered a call that also rang others. Within one
//!   forked call the server uses it for the other targets' pops; the tracker ends a call
//!   with it only when the call is one phone's own leg, cancelled with a Reason saying so
//!   (rule 6), as a PBX ringing a group or queue does.
//! - *transferred*: the call moved to another target by REFER (RFC 3515) or Replaces
//!   (RFC 3891); the transferring dialog ends `Transferred` and the new call links back.
//! - *ended*: the call is over, with an [`EndCause`].
//!
//! # Events
//!
//! Events of one call always come as `Ringing`, then any number of `Offered`, at most one
//! `Answered`, any `Transferred`, then at most one `Ended`, and their `at_ms` never
//! decreases: an event is never dated before the call's previous one. `Offered` comes
//! only before `Answered`; `Transferred` only after it. Every call that rang ends, by a
//! message or by a timer, so `expire` far enough in the future ends them all.
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
//!    (RFC 3261 §17) and the mirror's second copy change nothing.
//! 3. **Forks** (RFC 3261 §16.6, §16.7). The caller's leg is the INVITE transaction's copy
//!    with the fewest Vias; a copy with more Vias travelled on a branch the proxy made.
//!    Each initial INVITE copy with a new top Via branch is a branch: its Request-URI user
//!    is its target, and a target not announced before (the Ringing's called party
//!    counts as announced) emits [`CallEventKind::Offered`]. Responses are matched to
//!    branches by their top Via branch (branch-leg copies) or To-tag (a branch's early
//!    dialog). Up to 8 branches and targets are kept per call.
//! 4. **Answer.** A 2xx to the call's INVITE (CSeq method INVITE, the call's INVITE CSeq
//!    on the caller's leg) emits `Answered { by }`, even after a CANCEL: CANCEL and 200
//!    cross on the wire and the 200 wins (RFC 3261 §9.1). `by` is the target of the
//!    branch the 2xx matches, else the one target every forked copy rang (with no fork,
//!    the latest INVITE's target), else the 2xx's Contact user, else `None`.
//! 5. **Failure before answer.** A final response of 300 or more to the INVITE ends the
//!    call, with these exceptions, each of which holds the failure for a grace instead:
//!    - 401 and 407 are challenges (RFC 3261 §22.2, §22.3), and 3xx redirects
//!      (§8.1.3.4): the caller retries with the same Call-ID and a higher CSeq
//!      (§8.1.3.5), which is the same call and may offer a new target. Without a new
//!      INVITE within `auth_retry_grace_ms` (challenge) or `redirect_grace_ms`
//!      (redirect), the call ends `Failed`.
//!    - A final on a branch leg (more Vias than the caller's leg), or one on the
//!      caller's leg while another branch that rang (18x with another To-tag) has no
//!      final yet: one busy or declining phone does not end a call that still rings
//!      elsewhere. The call ends when the caller-leg final comes with no branch left
//!      ringing, or when the last branch still ringing fails after it (the proxy sends
//!      the caller its final only once every branch has one, RFC 3261 §16.7, so those
//!      finals were mirrored late), with the caller-leg final's cause; else
//!      `redirect_grace_ms` after the last failure if nothing follows (a new branch
//!      INVITE cancels that wait, unless the caller-leg final came), with the last
//!      failure's cause. A branch is known by its Via branch and its To-tag alike, and
//!      once it has a final a provisional mirrored late does not make it ring again.
//!
//!    Causes: 486 and 600 are `Busy`; 403 and 603 `Rejected`; 487 `Abandoned`; any final
//!    after a CANCEL `Abandoned`, the caller having given up first (or `AnsweredElsewhere`,
//!    rule 6); anything else
//!    `Failed`. The end is dated at the final response, except `Abandoned` with a CANCEL,
//!    which is dated at the CANCEL. Finals to an older CSeq than the call's INVITE are
//!    ignored; a newer CSeq before answer means the retried INVITE was mirrored late and
//!    becomes the call's INVITE.
//! 6. **Cancel.** A CANCEL on the caller's leg before answer is remembered (its CSeq
//!    equals the INVITE's, RFC 3261 §9.1). If no final response follows within
//!    `cancel_grace_ms`, the call ends `Abandoned`. A CANCEL whose Reason (RFC 3326) is
//!    `SIP;cause=200` ("Call completed elsewhere") or `Q.850;cause=26` (non-selected user
//!    clearing) ends it `AnsweredElsewhere` instead: a PBX that rings a group or queue
//!    gives each phone its own dialog and cancels the ones not answered that way. A
//!    CANCEL on a branch leg (the proxy stopping one phone) only closes that branch.
//! 7. **Mid-call requests.** re-INVITE and UPDATE (RFC 3311), for hold, resume or a
//!    session refresh, never start or end a call; once answered they and their 2xx
//!    refresh the session timer (rule 10).
//! 8. **Hang-up.** A BYE (RFC 3261 §15), or a final response to a BYE (which may be
//!    mirrored before its BYE; the BYE ends the session whatever the answer, §15.1.1), ends
//!    the call `Completed`, or `Transferred` after a transfer (rule 9). The side that
//!    hung up is the caller when the BYE's From-tag is the INVITE's From-tag, else the
//!    callee (§12.2.1.1: each side sends with its own tag in From). A response carries
//!    its request's From, so the rule holds for it too. When either tag is missing, or
//!    the BYE came on a correlated leg (rule 12), the side is left unknown. A BYE for a
//!    call not yet answered first emits `Answered` at the BYE's time.
//! 9. **Transfer.** An in-dialog REFER with a Refer-To, on an answered call, whose 2xx
//!    (202) is seen, emits [`CallEventKind::Transferred`] with the Refer-To user as `to`
//!    (`attended` when the Refer-To embeds `?Replaces=`); a REFER refused with 300 or
//!    more is forgotten, and one whose answer is never seen is announced at the BYE. The
//!    BYE that follows ends the call `Transferred`. The tracker then links, for
//!    `transfer_link_ms`, the Refer-To user (blind) and the embedded Replaces Call-ID
//!    (attended) to the call. A new call whose initial INVITE carries a `Replaces`
//!    header naming a linked or tracked Call-ID, or a `Referred-By` header and a
//!    Request-URI user that a REFER named, gets that call's Call-ID as
//!    `transferred_from` on its `Ringing`. An answered tracked call named by `Replaces`
//!    that has not announced a transfer (the consultation call of an attended transfer, or the
//!    original when its REFER was not mirrored) emits `Transferred` to the new call's
//!    called party, and ends `Transferred` at its BYE.
//! 10. **Timers** ([`Tracker::expire`], events dated `now_ms`, every end with
//!     `timed_out: true`): ringing longer than `ringing_timeout_ms` ends `Failed`;
//!     pending cancel, challenge, redirect and branch waits as above. An answered call
//!     ends `Failed` after `max_call_ms`, or earlier when a session interval was
//!     negotiated (`Session-Expires`, RFC 4028 §4: the 2xx's value, else the INVITE's,
//!     updated by each refresh) and no refresh (rule 7) came within the interval plus
//!     32 s of slack. No rule needs an ACK, which a capture point behind an SBC may
//!     never see. An ended call is kept for `linger_ms` to absorb late retransmissions
//!     (64·T1 = 32 s, RFC 3261 §17.1.1.2), counted on the server's clock from the first
//!     `expire` after its end, then forgotten.
//! 11. **Capacity.** At most `max_calls` calls are tracked, ended ones in their linger
//!     included. A new call beyond that evicts the call with the least recent activity
//!     (the message order, not capture times, decides), counted in
//!     [`TrackerStats::calls_evicted`]; an evicted call that had not ended emits
//!     `Ended { cause: Failed, timed_out: true }` first. Finding it costs O(log n).
//!     Call-IDs longer than 256 bytes are ignored, and per-call state is a few fixed-size
//!     fields and bounded lists, so memory stays bounded whatever the traffic.
//! 12. **Correlated legs.** [`Tracker::observe_correlated`] joins the legs of one call
//!     through a back-to-back user agent: a message with an unknown Call-ID and a HEP
//!     correlation id already seen on a tracked call belongs to that call, and its events
//!     carry that call's Call-ID. Such a leg is treated like a branch: its INVITE offers
//!     its target, its 2xx answers, its failures and CANCELs never end the call alone,
//!     its BYE ends it. Up to 4 other Call-IDs join one call.
//!
//! Times are milliseconds since the Unix epoch: `at_ms` from the capture agent, `now_ms`
//! from the server. The timers compare the two, so they assume both clocks agree to
//! within a second or so; a replay of old captures should be fed its receive times
//! rather than the recorded ones.
//!
//! Limitation: when a branch's failure is mirrored before every message of the caller's
//! leg (the first of the call, or after only other branch-leg copies, whose Via count
//! then passes for the caller's), the tracker cannot tell the branch from the caller's
//! leg and ends the call at once (a forked call cancelled elsewhere then ends
//! `Abandoned` unanswered); remembering such a final for a moment before acting would
//! lift it.
//!
//! Limitation: a response to a re-INVITE (for example a session-timer refresh, RFC 4028)
//! for a Call-ID the tracker does not know looks like a reordered answer and starts a new
//! call. That happens after a server restart during calls, or after a call outlived
//! `max_call_ms` and its linger; remembering forgotten Call-IDs longer would lift it.
//!
//! Limitation: a transferred call started by a reordered response (its INVITE mirrored
//! late) carries no `transferred_from`, since only the INVITE names Replaces or
//! Referred-By; the chain is then not recorded.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::Arc;

use crate::identity::{CallerId, Masked};
use crate::message::{CallIdDigest, SipMessage};

mod call;
#[cfg(test)]
mod dialog;
#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use call::{clean_user, hash_str, is_initial_invite, Call, Leg, Step};

/// Longest Call-ID (and correlation id) tracked, in bytes; longer ones are ignored to
/// bound memory.
const MAX_CALL_ID_BYTES: usize = 256;

/// Most other Call-IDs joined to one call by a correlation id.
const MAX_ALIASES: usize = 4;

/// Most transfer links kept at once; the oldest goes first.
const MAX_LINKS: usize = 256;

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
    /// `Failed`. Default 120,000: a softphone that asks its user for the password
    /// retries only once it is typed (the shared corpus has retries after 32 s and 51 s).
    pub auth_retry_grace_ms: i64,
    /// How long a 3xx redirect waits for the INVITE to the new target, and a failed
    /// branch for the next branch or the caller-leg final. Default 32,000.
    pub redirect_grace_ms: i64,
    /// How long after a REFER a new call may link back to the transferred call.
    /// Default 64,000.
    pub transfer_link_ms: i64,
    /// How long an ended call is kept to absorb retransmissions. Default 32,000.
    pub linger_ms: i64,
    /// Most calls tracked at once, lingering ones included. Default 100,000.
    pub max_calls: usize,
}

impl Default for TrackerConfig {
    fn default() -> Self {
        Self {
            ringing_timeout_ms: 300_000,
            max_call_ms: 4 * 60 * 60 * 1000,
            cancel_grace_ms: 32_000,
            auth_retry_grace_ms: 120_000,
            redirect_grace_ms: 32_000,
            transfer_link_ms: 64_000,
            linger_ms: 32_000,
            max_calls: 100_000,
        }
    }
}

/// Something that happened to a call.
#[derive(Clone, PartialEq, Eq)]
pub struct CallEvent {
    /// The call's SIP Call-ID (for correlated legs, the Call-ID the call was first seen
    /// with).
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

/// The kinds of [`CallEvent`]; their order within a call is given in the module docs.
#[derive(Clone, PartialEq, Eq)]
pub enum CallEventKind {
    /// A new call is ringing.
    Ringing {
        /// Who calls.
        caller: CallerId,
        /// The dialled user or extension, or `unknown`.
        called: String,
        /// The Call-ID of the call this one continues after a transfer (rule 9).
        transferred_from: Option<String>,
    },
    /// A forked copy of the INVITE rings one more target (rule 3).
    Offered {
        /// The Request-URI user of that copy: the extension or phone it rings.
        target: String,
    },
    /// The call was answered.
    Answered {
        /// The target that answered, when known (rule 4); every other target rang in vain.
        by: Option<String>,
    },
    /// The call is moving to another target (rule 9).
    Transferred {
        /// The user (extension or number) the call moves to, or `unknown`.
        to: String,
        /// Whether the transfer replaces a consultation call (attended transfer).
        attended: bool,
    },
    /// The call is over.
    Ended {
        /// Why it ended.
        cause: EndCause,
        /// Who hung up, for calls ended by a BYE whose sender is known.
        hangup_by: Option<Side>,
        /// Whether a timer ended it because an expected message never came (rule 10),
        /// or the tracker evicted it for room (rule 11).
        timed_out: bool,
    },
}

impl fmt::Debug for CallEventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ringing {
                caller,
                called,
                transferred_from,
            } => f
                .debug_struct("Ringing")
                .field("caller", caller)
                .field("called", &Masked(called))
                .field(
                    "transferred_from",
                    &transferred_from.as_deref().map(CallIdDigest),
                )
                .finish(),
            Self::Offered { target } => f
                .debug_struct("Offered")
                .field("target", &Masked(target))
                .finish(),
            Self::Answered { by } => f
                .debug_struct("Answered")
                .field("by", &by.as_deref().map(Masked))
                .finish(),
            Self::Transferred { to, attended } => f
                .debug_struct("Transferred")
                .field("to", &Masked(to))
                .field("attended", attended)
                .finish(),
            Self::Ended {
                cause,
                hangup_by,
                timed_out,
            } => f
                .debug_struct("Ended")
                .field("cause", cause)
                .field("hangup_by", hangup_by)
                .field("timed_out", timed_out)
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
    /// Another target answered this call: the server ends the pops of a forked call's
    /// other targets with it, and the tracker ends a phone's own leg with it when its
    /// CANCEL says the call was completed elsewhere (rule 6).
    AnsweredElsewhere,
    /// The call moved to another target (REFER or Replaces); this dialog is over.
    Transferred,
}

impl EndCause {
    /// Every cause, in documentation order.
    pub const ALL: [EndCause; 7] = [
        EndCause::Completed,
        EndCause::Abandoned,
        EndCause::Busy,
        EndCause::Rejected,
        EndCause::Failed,
        EndCause::AnsweredElsewhere,
        EndCause::Transferred,
    ];

    /// Lowercase name, as stored and shown: `completed`, `abandoned`, `busy`, `rejected`,
    /// `failed`, `answered_elsewhere`, `transferred`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Abandoned => "abandoned",
            Self::Busy => "busy",
            Self::Rejected => "rejected",
            Self::Failed => "failed",
            Self::AnsweredElsewhere => "answered_elsewhere",
            Self::Transferred => "transferred",
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

impl Side {
    /// Lowercase name: `caller` or `callee`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Caller => "caller",
            Self::Callee => "callee",
        }
    }
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
    /// Calls dropped, least recently active first, to make room for new ones (rule 11).
    pub calls_evicted: u64,
}

/// One tracked call with its bookkeeping.
struct Entry {
    call: Call,
    /// Position in the activity order (`Tracker::by_activity`).
    tick: u64,
    correlation: Option<u64>,
    aliases: Vec<Arc<str>>,
}

/// A REFER's promise that a new call may continue a tracked one (rule 9).
struct Link {
    key: u64,
    call: Arc<str>,
    at_ms: i64,
}

/// The call state machine described in the module docs.
pub struct Tracker {
    config: TrackerConfig,
    calls: HashMap<Arc<str>, Entry>,
    /// Calls by last activity, oldest first, for eviction.
    by_activity: BTreeMap<u64, Arc<str>>,
    next_tick: u64,
    /// Hash of a correlation id to the call it joins.
    correlations: HashMap<u64, Arc<str>>,
    /// Other Call-IDs of correlated calls, to the call they belong to.
    aliases: HashMap<Arc<str>, Arc<str>>,
    links: VecDeque<Link>,
    live: usize,
    stats: TrackerStats,
}

impl Tracker {
    /// Makes an empty tracker.
    pub fn new(config: TrackerConfig) -> Self {
        Self {
            config,
            calls: HashMap::new(),
            by_activity: BTreeMap::new(),
            next_tick: 0,
            correlations: HashMap::new(),
            aliases: HashMap::new(),
            links: VecDeque::new(),
            live: 0,
            stats: TrackerStats::default(),
        }
    }

    /// Feeds one message captured at `at_ms`; returns the events it causes, in order.
    pub fn observe(&mut self, msg: &SipMessage, at_ms: i64) -> Vec<CallEvent> {
        self.observe_correlated(msg, at_ms, None)
    }

    /// Feeds one message captured at `at_ms` with the capture agent's correlation id (HEP
    /// chunk 0x0011), which joins the legs of one call through a back-to-back user agent
    /// (rule 12); returns the events it causes, in order, for any call.
    pub fn observe_correlated(
        &mut self,
        msg: &SipMessage,
        at_ms: i64,
        correlation_id: Option<&str>,
    ) -> Vec<CallEvent> {
        self.stats.messages += 1;
        if msg.call_id.len() > MAX_CALL_ID_BYTES {
            self.stats.ignored += 1;
            return Vec::new();
        }
        let correlation = correlation_id
            .filter(|id| !id.is_empty() && id.len() <= MAX_CALL_ID_BYTES)
            .map(hash_str);

        let mut out = Vec::new();
        let (key, leg) = match self.resolve(&msg.call_id, correlation) {
            Some(found) => found,
            None => match self.start(msg, at_ms, correlation, &mut out) {
                Some(key) => (key, Leg::Own),
                None => {
                    self.stats.ignored += 1;
                    return out;
                }
            },
        };

        let mut steps = Vec::new();
        if let Some(entry) = self.calls.get_mut(&key) {
            if entry.call.remember(msg) {
                self.stats.duplicates += 1;
            }
            entry.call.apply(msg, at_ms, leg, &mut steps);
        }
        self.touch(&key);
        if msg.method() == Some(&crate::Method::Refer) {
            self.link_refer(msg, &key, at_ms);
        }
        out.extend(self.emit(&key, steps));
        out
    }

    /// The tracked call a message belongs to, joining a new correlated leg if needed.
    fn resolve(&mut self, call_id: &str, correlation: Option<u64>) -> Option<(Arc<str>, Leg)> {
        if let Some((key, _)) = self.calls.get_key_value(call_id) {
            return Some((key.clone(), Leg::Own));
        }
        if let Some(primary) = self.aliases.get(call_id) {
            return Some((primary.clone(), Leg::Correlated));
        }
        let primary = self.correlations.get(&correlation?)?.clone();
        let entry = self.calls.get_mut(&primary)?;
        if entry.aliases.len() >= MAX_ALIASES {
            return None;
        }
        let alias: Arc<str> = Arc::from(call_id);
        entry.aliases.push(alias.clone());
        self.aliases.insert(alias, primary.clone());
        Some((primary, Leg::Correlated))
    }

    /// Starts a call for an unknown Call-ID (rule 1), making room if full (rule 11);
    /// pushes the events of evicted and replaced calls and the new Ringing to `out`.
    fn start(
        &mut self,
        msg: &SipMessage,
        at_ms: i64,
        correlation: Option<u64>,
        out: &mut Vec<CallEvent>,
    ) -> Option<Arc<str>> {
        let (origin, replaced) = self.transfer_origin(msg);
        let mut steps = Vec::new();
        let call = Call::start(msg, at_ms, origin.map(|o| o.to_string()), &mut steps)?;

        while self.calls.len() >= self.config.max_calls.max(1) {
            let Some((_, oldest)) = self.by_activity.pop_first() else {
                break;
            };
            let mut evicted = Vec::new();
            if let Some(entry) = self.calls.get_mut(&oldest) {
                entry.call.evict(at_ms, &mut evicted);
            }
            self.stats.calls_evicted += 1;
            tracing::debug!(
                call.digest = %CallIdDigest(&oldest),
                max_calls = self.config.max_calls,
                "call evicted, tracker full"
            );
            out.extend(self.emit(&oldest, evicted));
            self.forget(&oldest);
        }

        if let Some(replaced) = replaced {
            let to = match &steps.first().map(|s| &s.kind) {
                Some(CallEventKind::Ringing { called, .. }) => called.clone(),
                _ => "unknown".to_owned(),
            };
            let mut replaced_steps = Vec::new();
            if let Some(entry) = self.calls.get_mut(&replaced) {
                entry.call.replaced_by(&to, at_ms, &mut replaced_steps);
            }
            out.extend(self.emit(&replaced, replaced_steps));
        }

        let key: Arc<str> = Arc::from(msg.call_id.as_str());
        if let Some(correlation) = correlation {
            self.correlations.entry(correlation).or_insert(key.clone());
        }
        self.calls.insert(
            key.clone(),
            Entry {
                call,
                tick: 0,
                correlation,
                aliases: Vec::new(),
            },
        );
        out.extend(self.emit(&key, steps));
        Some(key)
    }

    /// For an initial INVITE: the call it continues after a transfer, and the tracked
    /// call it replaces (rule 9).
    fn transfer_origin(&self, msg: &SipMessage) -> (Option<Arc<str>>, Option<Arc<str>>) {
        if !is_initial_invite(msg) {
            return (None, None);
        }
        if let Some(replaced) = &msg.replaces {
            let tracked = self
                .calls
                .get_key_value(replaced.as_str())
                .map(|(key, _)| key.clone());
            let linked = self.linked(&link_key("replaces", replaced));
            return (linked.or_else(|| tracked.clone()), tracked);
        }
        if msg.referred_by.is_some() {
            let target = match &msg.start {
                crate::StartLine::Request { uri_user, .. } => clean_user(uri_user.as_deref()),
                crate::StartLine::Response { .. } => None,
            };
            let linked = target.and_then(|t| self.linked(&link_key("target", &t)));
            return (linked, None);
        }
        (None, None)
    }

    fn linked(&self, key: &u64) -> Option<Arc<str>> {
        self.links
            .iter()
            .rev()
            .find(|link| link.key == *key)
            .map(|link| link.call.clone())
    }

    /// Remembers what a REFER promises: its target and embedded Replaces (rule 9).
    fn link_refer(&mut self, msg: &SipMessage, call: &Arc<str>, at_ms: i64) {
        let Some(refer_to) = &msg.refer_to else {
            return;
        };
        let keys = [
            clean_user(refer_to.user.as_deref()).map(|t| link_key("target", &t)),
            refer_to
                .replaces
                .as_deref()
                .map(|r| link_key("replaces", r)),
        ];
        for key in keys.into_iter().flatten() {
            if self.links.len() >= MAX_LINKS {
                self.links.pop_front();
            }
            self.links.push_back(Link {
                key,
                call: call.clone(),
                at_ms,
            });
        }
    }

    /// Moves a call to the most recent end of the activity order.
    fn touch(&mut self, key: &Arc<str>) {
        let Some(entry) = self.calls.get_mut(key) else {
            return;
        };
        self.by_activity.remove(&entry.tick);
        self.next_tick += 1;
        entry.tick = self.next_tick;
        self.by_activity.insert(entry.tick, key.clone());
    }

    /// Drops a call and everything that points to it.
    fn forget(&mut self, key: &str) {
        let Some(entry) = self.calls.remove(key) else {
            return;
        };
        self.by_activity.remove(&entry.tick);
        if let Some(correlation) = entry.correlation {
            if self
                .correlations
                .get(&correlation)
                .is_some_and(|c| &**c == key)
            {
                self.correlations.remove(&correlation);
            }
        }
        for alias in &entry.aliases {
            self.aliases.remove(alias);
        }
    }

    /// Runs the timers at `now_ms`: timeouts, pending cancel, challenge, redirect and
    /// branch waits, and forgetting ended calls after their linger. Call it about once a
    /// second; it visits every tracked call.
    pub fn expire(&mut self, now_ms: i64) -> Vec<CallEvent> {
        let config = &self.config;
        let mut ended = Vec::new();
        let mut forgotten = Vec::new();
        for (call_id, entry) in &mut self.calls {
            if entry.call.is_forgettable(now_ms, config) {
                forgotten.push(call_id.clone());
                continue;
            }
            let mut steps = Vec::new();
            entry.call.expire(now_ms, config, &mut steps);
            if !steps.is_empty() {
                ended.push((call_id.clone(), steps));
            }
        }
        for call_id in forgotten {
            self.forget(&call_id);
        }
        let link_ms = self.config.transfer_link_ms;
        self.links
            .retain(|link| now_ms.saturating_sub(link.at_ms) < link_ms);

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

    /// Calls tracked now, lingering ones included: at most `max_calls`.
    pub fn tracked_calls(&self) -> usize {
        self.calls.len()
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
                    CallEventKind::Ringing { caller, called, .. } => {
                        self.stats.calls_started += 1;
                        self.live += 1;
                        tracing::debug!(
                            call.digest = %digest, at_ms, ?caller, called = %Masked(called),
                            "call ringing"
                        );
                    }
                    CallEventKind::Offered { target } => {
                        tracing::debug!(
                            call.digest = %digest, at_ms, target = %Masked(target),
                            "call offered to another target"
                        );
                    }
                    CallEventKind::Answered { .. } => {
                        tracing::debug!(call.digest = %digest, at_ms, "call answered");
                    }
                    CallEventKind::Transferred { attended, .. } => {
                        tracing::debug!(call.digest = %digest, at_ms, attended, "call transferred");
                    }
                    CallEventKind::Ended {
                        cause,
                        hangup_by,
                        timed_out,
                    } => {
                        self.stats.calls_ended += 1;
                        self.live = self.live.saturating_sub(1);
                        tracing::debug!(
                            call.digest = %digest, at_ms, cause = cause.as_str(), ?hangup_by,
                            timed_out, "call ended"
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

fn link_key(kind: &str, value: &str) -> u64 {
    hash_str(&format!("{kind}\n{value}"))
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
