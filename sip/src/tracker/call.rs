//! The state of one call and its transitions; the rules are in the parent module's docs.

use crate::identity::{caller_from, caller_of};
use crate::message::{fnv1a, Method, SipMessage, StartLine};
use crate::tracker::{CallEventKind, EndCause, Side, TrackerConfig};

/// Most transaction keys remembered per call for duplicate counting; a call has few
/// transactions, and past this only the counter loses precision.
const MAX_SEEN: usize = 16;

/// Most branches (forked INVITE copies and ringing To-tags) and offered targets kept per
/// call; a fork rings a handful of phones, and past this new ones are not tracked.
pub(super) const MAX_BRANCHES: usize = 8;

/// Longest called number, extension or transfer target kept.
const MAX_TARGET_CHARS: usize = 64;

/// Slack added to a negotiated session interval before an unrefreshed call is ended: the
/// refresh may be mirrored late, and RFC 4028 §10 lets the far side wait up to 32 s past
/// half the interval before it gives up.
pub(super) const SESSION_SLACK_MS: i64 = 32_000;

/// An event before it is given its Call-ID.
#[derive(Debug)]
pub(super) struct Step {
    pub at_ms: i64,
    pub kind: CallEventKind,
}

/// Which dialog of the call a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Leg {
    /// The call's own Call-ID.
    Own,
    /// Another Call-ID joined to the call by a HEP correlation id (a B2BUA's other leg).
    Correlated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Answered { at_ms: i64 },
    Ended,
}

/// Why a call that got a final failure still waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// 401/407: the caller retries with credentials.
    Challenge,
    /// 3xx: the caller re-INVITEs the new target.
    Redirect,
    /// A branch failed: another branch, or the caller-leg final, may follow.
    Branches,
    /// The caller's leg got its final while other branches still seemed to ring: the
    /// proxy sends it only once every branch has failed (RFC 3261 §16.7), so their
    /// finals were mirrored late and the last of them ends the call.
    CallerFinal,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    at_ms: i64,
    cause: EndCause,
    wait: Wait,
}

/// One forked copy of the INVITE, or one early dialog (To-tag) of a response.
#[derive(Debug)]
struct Branch {
    /// Hash of the top Via branch of the INVITE copy (or of a branch-leg response).
    via: Option<u64>,
    /// Hash of the To-tag its responses carry.
    tag: Option<u64>,
    /// Request-URI user of the INVITE copy: the phone or extension it rang.
    target: Option<Box<str>>,
    /// Via count of the INVITE copy.
    vias: u8,
    rang: bool,
    failed: bool,
}

#[derive(Debug)]
enum Transfer {
    None,
    /// A REFER was seen; its 2xx not yet.
    Requested {
        cseq: u32,
        to: Box<str>,
        attended: bool,
    },
    /// A 2xx to a REFER came before the REFER itself.
    AcceptedEarly {
        cseq: u32,
    },
    /// `Transferred` was emitted.
    Announced,
}

/// One tracked call. Holds no personal data but the short target names it must report:
/// tags and Via branches are kept as hashes.
#[derive(Debug)]
pub(super) struct Call {
    phase: Phase,
    started_ms: i64,
    /// Time of the last event emitted; later events are never dated before it.
    last_event_ms: i64,
    /// Capture time of the latest answer, refresh re-INVITE or UPDATE.
    last_refresh_ms: i64,
    /// Negotiated session interval (RFC 4028), once known.
    session_ms: Option<i64>,
    /// CSeq of the current initial INVITE (raised by a challenged or redirected retry).
    invite_cseq: u32,
    /// Hash of the INVITE's From-tag: the caller's tag.
    caller_tag: Option<u64>,
    /// Fewest Vias seen on the INVITE transaction: the caller's leg. 0 while unknown.
    leg_vias: u8,
    cancel_ms: Option<i64>,
    /// The caller-leg CANCEL said the call was answered elsewhere (RFC 3326 Reason).
    cancel_elsewhere: bool,
    pending: Option<Pending>,
    branches: Vec<Branch>,
    /// Hashes of the targets announced (the called user, then each `Offered`).
    offered: Vec<u64>,
    transfer: Transfer,
    /// Server time of the first expiry pass that saw the call ended; the linger counts
    /// from there, so a capture clock that lags the server cannot cut it short.
    linger_from_ms: Option<i64>,
    seen: Vec<u64>,
}

/// A user part fit to name a target: parameters cut, bounded, printable.
pub(super) fn clean_user(user: Option<&str>) -> Option<String> {
    user.map(|user| user.split(';').next().unwrap_or_default())
        .filter(|user| !user.is_empty() && user.len() <= MAX_TARGET_CHARS)
        .filter(|user| !user.chars().any(char::is_control))
        .map(str::to_owned)
}

/// Whether a message is an initial INVITE (no To-tag).
pub(super) fn is_initial_invite(msg: &SipMessage) -> bool {
    msg.method() == Some(&Method::Invite) && msg.to.tag.is_none()
}

impl Call {
    /// Starts a call from a message for an unknown Call-ID, pushing its Ringing step;
    /// `None` when the message cannot start a call (rule 1).
    pub(super) fn start(
        msg: &SipMessage,
        at_ms: i64,
        transferred_from: Option<String>,
        steps: &mut Vec<Step>,
    ) -> Option<Self> {
        let (caller, called) = match &msg.start {
            StartLine::Request { uri_user, .. } if is_initial_invite(msg) => {
                let called = uri_user.as_deref().or(msg.to.user.as_deref());
                (caller_of(msg), called)
            }
            StartLine::Response { .. } if msg.cseq_method == Method::Invite => {
                (caller_from(&msg.from), msg.to.user.as_deref())
            }
            _ => return None,
        };

        // A called number or extension longer than any dial plan uses is kept as
        // "unknown": it cannot name an agent and would only bloat the call's state.
        let called = clean_user(called);
        let offered = called.iter().map(|c| hash_str(c)).collect();
        steps.push(Step {
            at_ms,
            kind: CallEventKind::Ringing {
                caller,
                called: called.unwrap_or_else(|| "unknown".to_owned()),
                transferred_from,
            },
        });

        Some(Self {
            phase: Phase::Ringing,
            started_ms: at_ms,
            last_event_ms: at_ms,
            last_refresh_ms: at_ms,
            session_ms: None,
            invite_cseq: msg.cseq,
            caller_tag: msg.from.tag.as_deref().map(hash_str),
            leg_vias: 0,
            cancel_ms: None,
            cancel_elsewhere: false,
            pending: None,
            branches: Vec::new(),
            offered,
            transfer: Transfer::None,
            linger_from_ms: None,
            seen: Vec::new(),
        })
    }

    /// Records the message's transaction key; `true` if it was seen before.
    pub(super) fn remember(&mut self, msg: &SipMessage) -> bool {
        let status = msg.status().unwrap_or(0);
        let method = msg.method().map_or("", |m| m.as_str());
        let key = format!(
            "{status} {method} {} {} {}",
            msg.cseq, msg.cseq_method, msg.call_id
        );
        let key = fnv1a(key.as_bytes());

        if self.seen.contains(&key) {
            return true;
        }
        if self.seen.len() < MAX_SEEN {
            self.seen.push(key);
        }
        false
    }

    /// Applies one message of this call (rules 2 to 9).
    pub(super) fn apply(&mut self, msg: &SipMessage, at_ms: i64, leg: Leg, steps: &mut Vec<Step>) {
        if self.phase == Phase::Ended {
            return;
        }
        let fewer_vias = self.leg_vias == 0 || msg.via_count < self.leg_vias;
        if leg == Leg::Own && msg.via_count > 0 && fewer_vias && on_invite_transaction(msg) {
            self.leg_vias = msg.via_count;
        }

        match (&msg.start, &msg.cseq_method) {
            (StartLine::Request { method, uri_user }, _) => match method {
                Method::Invite if msg.to.tag.is_none() => {
                    self.on_initial_invite(msg, uri_user.as_deref(), at_ms, leg, steps);
                }
                Method::Invite | Method::Update => self.refresh(msg, at_ms),
                Method::Cancel => self.on_cancel(msg, at_ms, leg),
                Method::Bye => self.on_bye(msg.from.tag.as_deref(), at_ms, leg, steps),
                Method::Refer => self.on_refer(msg, at_ms, steps),
                _ => {}
            },
            (StartLine::Response { status }, Method::Invite) => {
                self.on_invite_response(msg, *status, at_ms, leg, steps);
            }
            (StartLine::Response { status }, Method::Update) if (200..300).contains(status) => {
                self.refresh(msg, at_ms);
            }
            (StartLine::Response { status }, Method::Bye) if *status >= 200 => {
                self.on_bye(msg.from.tag.as_deref(), at_ms, leg, steps);
            }
            (StartLine::Response { status }, Method::Refer) => {
                self.on_refer_response(*status, msg.cseq, at_ms, steps);
            }
            _ => {}
        }
    }

    /// Whether a message travelled on a forked branch rather than the caller's leg.
    fn on_branch_leg(&self, msg: &SipMessage, leg: Leg) -> bool {
        leg == Leg::Correlated || (self.leg_vias > 0 && msg.via_count > self.leg_vias)
    }

    fn on_initial_invite(
        &mut self,
        msg: &SipMessage,
        uri_user: Option<&str>,
        at_ms: i64,
        leg: Leg,
        steps: &mut Vec<Step>,
    ) {
        let target = clean_user(uri_user.or(msg.to.user.as_deref()));
        let via = msg.via_branch.as_deref().map(hash_str);
        let known = via.is_some() && self.branches.iter().any(|b| b.via == via);
        if !known && self.branches.len() < MAX_BRANCHES {
            self.branches.push(Branch {
                via,
                tag: None,
                target: target.as_deref().map(Box::from),
                vias: msg.via_count,
                rang: false,
                failed: false,
            });
            // A new branch after every earlier one failed: a serial fork goes on.
            if self.pending.is_some_and(|p| p.wait == Wait::Branches) {
                self.pending = None;
            }
        }
        if let Some(seconds) = msg.session_expires_s {
            self.session_ms.get_or_insert(i64::from(seconds) * 1000);
        }
        if self.phase != Phase::Ringing {
            return;
        }
        if leg == Leg::Own && msg.cseq > self.invite_cseq {
            self.adopt_invite(msg.cseq);
        }
        if let Some(target) = target {
            self.offer(target, at_ms, steps);
        }
    }

    /// Emits `Offered` for a target not announced before.
    fn offer(&mut self, target: String, at_ms: i64, steps: &mut Vec<Step>) {
        let hash = hash_str(&target);
        if self.offered.contains(&hash) || self.offered.len() >= MAX_BRANCHES {
            return;
        }
        self.offered.push(hash);
        let at_ms = self.date(at_ms);
        steps.push(Step {
            at_ms,
            kind: CallEventKind::Offered { target },
        });
    }

    /// A newer initial INVITE (a retry after a challenge or redirect) replaces the
    /// current one.
    fn adopt_invite(&mut self, cseq: u32) {
        self.invite_cseq = cseq;
        self.pending = None;
        self.cancel_ms = None;
        self.cancel_elsewhere = false;
    }

    fn on_cancel(&mut self, msg: &SipMessage, at_ms: i64, leg: Leg) {
        if self.phase != Phase::Ringing {
            return;
        }
        if self.on_branch_leg(msg, leg) {
            // The proxy cancels one branch (a serial fork moving on): that phone stops.
            let via = msg.via_branch.as_deref().map(hash_str);
            for branch in self
                .branches
                .iter_mut()
                .filter(|b| via.is_some() && b.via == via)
            {
                branch.failed = true;
            }
            return;
        }
        if msg.cseq < self.invite_cseq {
            return;
        }
        if msg.cseq > self.invite_cseq {
            self.adopt_invite(msg.cseq);
        }
        self.cancel_ms.get_or_insert(at_ms);
        if msg.reason.as_deref().is_some_and(completed_elsewhere) {
            self.cancel_elsewhere = true;
        }
    }

    /// How a cancelled call ends: `Abandoned`, or `AnsweredElsewhere` when the CANCEL
    /// said another phone took the call.
    fn cancel_cause(&self) -> EndCause {
        if self.cancel_elsewhere {
            EndCause::AnsweredElsewhere
        } else {
            EndCause::Abandoned
        }
    }

    fn on_invite_response(
        &mut self,
        msg: &SipMessage,
        status: u16,
        at_ms: i64,
        leg: Leg,
        steps: &mut Vec<Step>,
    ) {
        if matches!(self.phase, Phase::Answered { .. }) && (200..300).contains(&status) {
            self.refresh(msg, at_ms);
        }
        if self.phase != Phase::Ringing || status < 101 {
            return;
        }
        let branch_leg = self.on_branch_leg(msg, leg);
        let via = branch_leg
            .then(|| msg.via_branch.as_deref().map(hash_str))
            .flatten();
        let tag = msg.to.tag.as_deref().map(hash_str);
        if status < 200 {
            self.mark_branch(via, tag, |b| b.rang = true);
            return;
        }
        if leg == Leg::Own && !branch_leg {
            if msg.cseq < self.invite_cseq {
                return;
            }
            if msg.cseq > self.invite_cseq {
                self.adopt_invite(msg.cseq);
            }
        }

        if status < 300 {
            let by = self
                .target_of(via, tag)
                .or_else(|| clean_user(msg.contact_user.as_deref()));
            if let Some(seconds) = msg.session_expires_s {
                self.session_ms = Some(i64::from(seconds) * 1000);
            }
            self.answer(at_ms, by, steps);
            return;
        }

        self.mark_branch(via, tag, |b| b.failed = true);
        let cause = match status {
            486 | 600 => EndCause::Busy,
            403 | 603 => EndCause::Rejected,
            487 => EndCause::Abandoned,
            _ => EndCause::Failed,
        };
        if branch_leg {
            match self.pending {
                Some(held) if held.wait == Wait::CallerFinal => {
                    if !self.rings_elsewhere(None) {
                        let at_ms = held.at_ms.max(at_ms);
                        self.end(held.cause, None, false, at_ms, steps);
                    }
                }
                _ => self.hold(Wait::Branches, cause, at_ms),
            }
            return;
        }
        if let Some(cancel_ms) = self.cancel_ms {
            self.end(self.cancel_cause(), None, false, cancel_ms, steps);
            return;
        }
        match status {
            401 | 407 => self.hold(Wait::Challenge, EndCause::Failed, at_ms),
            300..=399 => self.hold(Wait::Redirect, EndCause::Failed, at_ms),
            _ if self.rings_elsewhere(tag) => self.hold(Wait::CallerFinal, cause, at_ms),
            _ => self.end(cause, None, false, at_ms, steps),
        }
    }

    /// Whether a branch that rang (an early dialog other than `except`) has no final yet.
    fn rings_elsewhere(&self, except: Option<u64>) -> bool {
        self.branches
            .iter()
            .any(|b| b.rang && !b.failed && b.tag.is_some() && b.tag != except)
    }

    /// Applies `change` to every branch with this Via branch or To-tag; records a new
    /// branch when none matches. Entries it matches are one branch seen from both legs:
    /// they learn each other's Via branch and To-tag, and a final on any of them is
    /// final for all (a provisional mirrored after its branch's final revives nothing).
    fn mark_branch(&mut self, via: Option<u64>, tag: Option<u64>, change: impl Fn(&mut Branch)) {
        let mut matched = false;
        let mut failed = false;
        for branch in &mut self.branches {
            let by_via = via.is_some() && branch.via == via;
            let by_tag = tag.is_some() && branch.tag == tag;
            if by_via || by_tag {
                if branch.tag.is_none() {
                    branch.tag = tag;
                }
                if branch.via.is_none() {
                    branch.via = via;
                }
                change(branch);
                matched = true;
                failed |= branch.failed;
            }
        }
        if failed {
            for branch in &mut self.branches {
                let by_via = via.is_some() && branch.via == via;
                let by_tag = tag.is_some() && branch.tag == tag;
                if by_via || by_tag {
                    branch.failed = true;
                }
            }
        }
        if !matched && (via.is_some() || tag.is_some()) && self.branches.len() < MAX_BRANCHES {
            let mut branch = Branch {
                via,
                tag,
                target: None,
                vias: 0,
                rang: false,
                failed: false,
            };
            change(&mut branch);
            self.branches.push(branch);
        }
    }

    /// The target a response with this Via branch or To-tag came from; failing a match,
    /// the one target every forked copy rang, if they all rang the same; with no fork,
    /// the latest INVITE's target.
    fn target_of(&self, via: Option<u64>, tag: Option<u64>) -> Option<String> {
        let matched = self.branches.iter().find_map(|b| {
            let hit = (via.is_some() && b.via == via) || (tag.is_some() && b.tag == tag);
            if hit {
                b.target.as_deref()
            } else {
                None
            }
        });
        if let Some(target) = matched {
            return Some(target.to_owned());
        }
        let forked: Vec<&str> = self
            .branches
            .iter()
            .filter(|b| b.vias > self.leg_vias)
            .filter_map(|b| b.target.as_deref())
            .collect();
        match forked.first() {
            Some(first) => forked
                .iter()
                .all(|t| t == first)
                .then(|| (*first).to_owned()),
            // No fork seen: the latest INVITE's target (a redirect's retry is the latest).
            None => self
                .branches
                .iter()
                .rev()
                .find_map(|b| b.target.as_deref())
                .map(str::to_owned),
        }
    }

    fn hold(&mut self, wait: Wait, cause: EndCause, at_ms: i64) {
        self.pending = Some(Pending { at_ms, cause, wait });
    }

    fn refresh(&mut self, msg: &SipMessage, at_ms: i64) {
        if !matches!(self.phase, Phase::Answered { .. }) {
            return;
        }
        self.last_refresh_ms = self.last_refresh_ms.max(at_ms);
        if let Some(seconds) = msg.session_expires_s {
            self.session_ms = Some(i64::from(seconds) * 1000);
        }
    }

    fn on_bye(&mut self, from_tag: Option<&str>, at_ms: i64, leg: Leg, steps: &mut Vec<Step>) {
        if self.phase == Phase::Ringing {
            let by = self.target_of(None, None);
            self.answer(at_ms, by, steps);
        }
        let hangup_by = match (leg, self.caller_tag, from_tag) {
            (Leg::Own, Some(caller), Some(tag)) if caller == hash_str(tag) => Some(Side::Caller),
            (Leg::Own, Some(_), Some(_)) => Some(Side::Callee),
            _ => None,
        };
        let cause = match self.transfer {
            Transfer::None | Transfer::AcceptedEarly { .. } => EndCause::Completed,
            Transfer::Requested { .. } => {
                self.announce(at_ms, steps);
                EndCause::Transferred
            }
            Transfer::Announced => EndCause::Transferred,
        };
        self.end(cause, hangup_by, false, at_ms, steps);
    }

    fn on_refer(&mut self, msg: &SipMessage, at_ms: i64, steps: &mut Vec<Step>) {
        let Some(refer_to) = &msg.refer_to else {
            return;
        };
        if !matches!(self.phase, Phase::Answered { .. }) {
            return;
        }
        let to = clean_user(refer_to.user.as_deref()).unwrap_or_else(|| "unknown".to_owned());
        let requested = Transfer::Requested {
            cseq: msg.cseq,
            to: to.into(),
            attended: refer_to.replaces.is_some(),
        };
        match self.transfer {
            Transfer::None => self.transfer = requested,
            Transfer::AcceptedEarly { cseq } if cseq == msg.cseq => {
                self.transfer = requested;
                self.announce(at_ms, steps);
            }
            Transfer::AcceptedEarly { .. } => self.transfer = requested,
            Transfer::Requested { .. } | Transfer::Announced => {}
        }
    }

    fn on_refer_response(&mut self, status: u16, cseq: u32, at_ms: i64, steps: &mut Vec<Step>) {
        if status < 200 || !matches!(self.phase, Phase::Answered { .. }) {
            return;
        }
        let accepted = status < 300;
        match self.transfer {
            Transfer::Requested { cseq: refer, .. } if refer == cseq => {
                if accepted {
                    self.announce(at_ms, steps);
                } else {
                    self.transfer = Transfer::None;
                }
            }
            Transfer::None if accepted => self.transfer = Transfer::AcceptedEarly { cseq },
            _ => {}
        }
    }

    /// Emits `Transferred` for a requested transfer.
    fn announce(&mut self, at_ms: i64, steps: &mut Vec<Step>) {
        let Transfer::Requested { to, attended, .. } =
            std::mem::replace(&mut self.transfer, Transfer::Announced)
        else {
            return;
        };
        let at_ms = self.date(at_ms);
        steps.push(Step {
            at_ms,
            kind: CallEventKind::Transferred {
                to: to.into(),
                attended,
            },
        });
    }

    /// This call is being replaced (RFC 3891) by a new call to `to`: an attended transfer
    /// whose REFER was not seen here. Emits `Transferred` if the call was answered and
    /// has not announced a transfer yet.
    pub(super) fn replaced_by(&mut self, to: &str, at_ms: i64, steps: &mut Vec<Step>) {
        let answered = matches!(self.phase, Phase::Answered { .. });
        if !answered || matches!(self.transfer, Transfer::Announced) {
            return;
        }
        self.transfer = Transfer::Requested {
            cseq: 0,
            to: to.into(),
            attended: true,
        };
        self.announce(at_ms, steps);
    }

    /// Runs the timers of rule 10 (forgetting is [`Call::is_forgettable`]).
    pub(super) fn expire(&mut self, now_ms: i64, config: &TrackerConfig, steps: &mut Vec<Step>) {
        let waited = |since: i64, limit: i64| now_ms.saturating_sub(since) >= limit;
        let cause = match self.phase {
            Phase::Ringing => {
                let cancelled = self
                    .cancel_ms
                    .is_some_and(|at| waited(at, config.cancel_grace_ms));
                let gave_up = self.pending.filter(|p| {
                    let grace = match p.wait {
                        Wait::Challenge => config.auth_retry_grace_ms,
                        Wait::Redirect | Wait::Branches | Wait::CallerFinal => {
                            config.redirect_grace_ms
                        }
                    };
                    waited(p.at_ms, grace)
                });
                if cancelled {
                    self.cancel_cause()
                } else if let Some(pending) = gave_up {
                    pending.cause
                } else if waited(self.started_ms, config.ringing_timeout_ms) {
                    EndCause::Failed
                } else {
                    return;
                }
            }
            Phase::Answered { at_ms } => {
                let session_over = self.session_ms.is_some_and(|session| {
                    waited(
                        self.last_refresh_ms,
                        session.saturating_add(SESSION_SLACK_MS),
                    )
                });
                if waited(at_ms, config.max_call_ms) || session_over {
                    EndCause::Failed
                } else {
                    return;
                }
            }
            Phase::Ended => return,
        };
        self.end(cause, None, true, now_ms, steps);
    }

    /// Ends a call the tracker drops for room (rule 11), if it had not ended.
    pub(super) fn evict(&mut self, at_ms: i64, steps: &mut Vec<Step>) {
        if self.phase != Phase::Ended {
            self.end(EndCause::Failed, None, true, at_ms, steps);
        }
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

    fn answer(&mut self, at_ms: i64, by: Option<String>, steps: &mut Vec<Step>) {
        let at_ms = self.date(at_ms);
        self.phase = Phase::Answered { at_ms };
        self.last_refresh_ms = at_ms;
        self.cancel_ms = None;
        self.cancel_elsewhere = false;
        self.pending = None;
        steps.push(Step {
            at_ms,
            kind: CallEventKind::Answered { by },
        });
    }

    fn end(
        &mut self,
        cause: EndCause,
        hangup_by: Option<Side>,
        timed_out: bool,
        at_ms: i64,
        steps: &mut Vec<Step>,
    ) {
        let at_ms = self.date(at_ms);
        self.phase = Phase::Ended;
        steps.push(Step {
            at_ms,
            kind: CallEventKind::Ended {
                cause,
                hangup_by,
                timed_out,
            },
        });
    }

    /// Dates an event no earlier than the previous one (rule 2).
    fn date(&mut self, at_ms: i64) -> i64 {
        self.last_event_ms = self.last_event_ms.max(at_ms);
        self.last_event_ms
    }
}

/// Whether a message belongs to the INVITE transaction (the INVITE, its CANCEL, and their
/// responses), whose Via count tells the caller's leg from a branch.
fn on_invite_transaction(msg: &SipMessage) -> bool {
    match msg.method() {
        Some(Method::Invite) => msg.to.tag.is_none(),
        Some(Method::Cancel) => true,
        Some(_) => false,
        None => matches!(msg.cseq_method, Method::Invite | Method::Cancel),
    }
}

pub(super) fn hash_str(text: &str) -> u64 {
    fnv1a(text.as_bytes())
}

/// Whether a Reason header value (RFC 3326) says the call was answered by another phone:
/// `SIP;cause=200` ("Call completed elsewhere", which PBXs put on the CANCELs of the
/// phones a ring group or queue rang in vain) or `Q.850;cause=26` (non-selected user
/// clearing). Each comma-separated value is read.
fn completed_elsewhere(reason: &str) -> bool {
    reason.split(',').any(|value| {
        let mut parts = value.split(';').map(str::trim);
        let protocol = parts.next().unwrap_or_default();
        let cause = parts
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("cause"))
            .map(|(_, cause)| cause.trim().trim_matches('"'));
        match cause {
            Some("200") => protocol.eq_ignore_ascii_case("SIP"),
            Some("26") => protocol.eq_ignore_ascii_case("Q.850"),
            _ => false,
        }
    })
}
