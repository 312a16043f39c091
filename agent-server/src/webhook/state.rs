//! The calls PBX webhooks report, turned into the tracker's call events.
//!
//! A PBX posts what it likes, in the order its network delivers, and retries what it
//! thinks was lost. [`PbxCalls`] keeps one small state per call (keyed by the PBX's token
//! and its call id) so that the call service downstream sees exactly what the SIP
//! tracker would give it: `Ringing`, any `Offered`, at most one `Answered`, any
//! `Transferred`, at most one `Ended`, dates never going back. The rules:
//!
//! 1. **Once.** Each transition happens once; a retried event, or one about a call that
//!    has already moved past it (an answer after the hangup), changes nothing. Ended calls
//!    are remembered for `linger_ms` so late retries stay harmless.
//! 2. **Any order.** An answer, transfer or hangup for a call never seen starting starts
//!    it first (marked `start_unseen`, so the interaction log shows it), from whatever
//!    the event carries. A hangup with a normal clearing for a call not yet answered
//!    answers it first, at the hangup's time, as a SIP BYE does; a `newCall` arriving
//!    after its call's answer or end is a late retry and changes nothing.
//! 3. **Agents.** The handler resolves the agents an event names to extensions; the
//!    first rings as the called party (inbound) or calls (outbound), others are offered
//!    the call as forks are. An answering agent the call never rang is offered it first,
//!    so the call service can give it to them.
//! 4. **Transfers.** A Ringside `transferred` event announces a transfer; the call then
//!    ends `transferred`. A new call naming the call it continues (sipgate `origCallId`,
//!    Ringside `transferred_from`) links to it, and the old call ends `transferred` too.
//!    Zammad has no transfer event: its first call hangs up `forwarded`, and a new call
//!    from the same caller on the same PBX within `transfer_link_ms` links back to it.
//! 5. **Timers** ([`PbxCalls::expire`]): a call still ringing after `ringing_timeout_ms`,
//!    or answered for longer than `max_call_ms`, ends `failed` with `timed_out`, so a PBX
//!    that never sends the hangup leaves nothing ringing.
//! 6. **Capacity.** At most `max_calls` calls are remembered; a new call beyond that is
//!    dropped and counted.
//!
//! Event times: Ringside's format may date an event (`at_ms`); a date more than
//! [`crate::ingest::MAX_CLOCK_SKEW_MS`] from the server's clock, and every event of the
//! other formats, is dated when it was received.
//!
//! Limitation: this state lives in memory only. After a restart (which closes the calls
//! left open as `failed`), a later answer or hangup of a call that started before it
//! creates a new call marked `start_unseen`; keeping the webhook calls in the database
//! would lift it.
//!
//! 7. **Queues.** The first queue an event names is kept on the call and sent with the
//!    call's next call event, so the interaction row records it; a later event naming
//!    another queue does not move the call.
//!
//! Limitation: when a hangup overtakes its answer, the call is answered at the hangup's
//! time and the late answer is dropped, so its talk time is logged as zero; holding a
//! hangup back for a moment would lift it, at the cost of a later end on the pop.

use std::collections::HashMap;

use ringside_sip::identity::CallerId;
use ringside_sip::tracker::{CallEvent, CallEventKind, EndCause};

use super::formats::{PbxDirection, PbxEvent, PbxEventKind};
use crate::calls::WebhookCallEvent;
use crate::ingest::MAX_CLOCK_SKEW_MS;

/// One webhook, read and checked, its agents resolved to extensions.
#[derive(Debug, Clone)]
pub struct ResolvedEvent {
    /// The token (PBX) it came with.
    pub pbx: i64,
    /// The event as read.
    pub event: PbxEvent,
    /// The extensions of the agents `event.agents` names, in order; unknown ones left
    /// out.
    pub agent_extensions: Vec<String>,
    /// The extension of the answering agent, when the event names a known one.
    pub answering_extension: Option<String>,
    /// A `newCall` from a blocked number: refused, remembered, never popped.
    pub blocked: bool,
    /// When it was received, epoch milliseconds.
    pub received_ms: i64,
}

/// Timers and limits of [`PbxCalls`], in milliseconds where they are durations.
#[derive(Debug, Clone)]
pub struct PbxCallsConfig {
    /// A call ringing this long ends `failed`.
    pub ringing_timeout_ms: i64,
    /// An answered call lasting this long ends `failed`.
    pub max_call_ms: i64,
    /// How long an ended call is remembered, to absorb retries.
    pub linger_ms: i64,
    /// How long after a `forwarded` hangup a new call from the same caller links to it.
    pub transfer_link_ms: i64,
    /// Most calls remembered at once.
    pub max_calls: usize,
}

impl Default for PbxCallsConfig {
    fn default() -> Self {
        PbxCallsConfig {
            ringing_timeout_ms: 300_000,
            max_call_ms: 4 * 3_600_000,
            linger_ms: 600_000,
            transfer_link_ms: 60_000,
            max_calls: 100_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Ringing,
    Answered,
    Ended,
    Blocked,
}

struct PbxCall {
    /// The call id the call service knows it by.
    id: String,
    phase: Phase,
    /// Server time of the last change, for the timers.
    changed_ms: i64,
    /// Latest event time given to the call service; later events are never dated before.
    last_at_ms: i64,
    /// Extensions the call rang (called party included).
    rang: Vec<String>,
    /// Where it was transferred to, once announced.
    transferred_to: Option<String>,
    /// The calling party as the PBX sent it, to link a forwarded call's successor.
    from: Option<String>,
    /// The queue the call waits in, once an event named one.
    queue: Option<String>,
    /// Whether `queue` went out with a call event.
    queue_sent: bool,
}

/// The webhook calls in progress and recently ended; see the module documentation.
pub struct PbxCalls {
    config: PbxCallsConfig,
    calls: HashMap<(i64, String), PbxCall>,
    /// Calls that ended `forwarded`, by PBX and calling party: (call id, server time).
    forwarded: HashMap<(i64, String), (String, i64)>,
    refused: u64,
}

/// Whether a PBX's calling party means "withheld".
fn is_withheld(from: Option<&str>) -> bool {
    match from.map(str::trim) {
        None => true,
        Some(from) => {
            let lower = from.to_ascii_lowercase();
            lower.is_empty()
                || [
                    "anonymous",
                    "unknown",
                    "restricted",
                    "unavailable",
                    "withheld",
                ]
                .contains(&lower.as_str())
        }
    }
}

/// A PBX number as the lookup should read it. Zammad and sipgate send international
/// numbers as bare digits (`4930901820`); with a `+` they read as E.164 instead of as a
/// national number of the default region. Numbers starting `0` (national or `00`
/// international), short ones (extensions) and anything else are kept as sent.
pub fn pbx_number(raw: &str) -> String {
    let raw = raw.trim();
    let digits_only = raw.chars().all(|c| c.is_ascii_digit());
    if digits_only && raw.len() >= 8 && !raw.starts_with('0') {
        format!("+{raw}")
    } else {
        raw.to_owned()
    }
}

impl PbxCalls {
    /// No calls yet.
    pub fn new(config: PbxCallsConfig) -> PbxCalls {
        PbxCalls {
            config,
            calls: HashMap::new(),
            forwarded: HashMap::new(),
            refused: 0,
        }
    }

    /// Calls remembered now, ended ones in their linger included.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether no call is remembered.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// New calls dropped because `max_calls` were remembered.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    /// Applies one webhook; returns the call events it causes, in order.
    pub fn apply(&mut self, resolved: ResolvedEvent) -> Vec<WebhookCallEvent> {
        let key = (resolved.pbx, resolved.event.call_id.clone());
        let given = resolved.event.at_ms.unwrap_or(resolved.received_ms);
        let at_ms = if given.abs_diff(resolved.received_ms) > MAX_CLOCK_SKEW_MS.unsigned_abs() {
            resolved.received_ms
        } else {
            given
        };
        let mut out = Vec::new();
        let known = self.calls.contains_key(&key);

        if !known {
            if self.calls.len() >= self.config.max_calls {
                self.refused += 1;
                return out;
            }
            if resolved.blocked {
                self.calls.insert(
                    key,
                    PbxCall {
                        id: String::new(),
                        phase: Phase::Blocked,
                        changed_ms: resolved.received_ms,
                        last_at_ms: at_ms,
                        rang: Vec::new(),
                        transferred_to: None,
                        from: None,
                        queue: None,
                        queue_sent: false,
                    },
                );
                return out;
            }
            let unseen = resolved.event.kind != PbxEventKind::NewCall;
            self.start(&key, &resolved, at_ms, unseen, &mut out);
        }
        let Some(call) = self.calls.get_mut(&key) else {
            return out;
        };
        let at_ms = at_ms.max(call.last_at_ms);
        let now = resolved.received_ms;
        match (&resolved.event.kind, call.phase) {
            (_, Phase::Ended | Phase::Blocked) | (PbxEventKind::NewCall, _) => {}
            (PbxEventKind::Queued, Phase::Ringing) => {
                for extension in &resolved.agent_extensions {
                    offer(call, extension, at_ms, &mut out);
                }
            }
            (PbxEventKind::Queued, _) => {}
            (PbxEventKind::Answered, Phase::Ringing) => {
                answer(
                    call,
                    resolved.answering_extension.clone(),
                    at_ms,
                    now,
                    &mut out,
                );
            }
            (PbxEventKind::Answered, _) => {}
            (PbxEventKind::Transferred { to, attended }, phase) => {
                if phase == Phase::Ringing {
                    answer(
                        call,
                        resolved.answering_extension.clone(),
                        at_ms,
                        now,
                        &mut out,
                    );
                }
                if call.transferred_to.as_deref() != Some(to.as_str()) {
                    call.transferred_to = Some(to.clone());
                    call.last_at_ms = at_ms;
                    out.push(marked(
                        &call.id,
                        at_ms,
                        CallEventKind::Transferred {
                            to: to.clone(),
                            attended: *attended,
                        },
                    ));
                }
            }
            (PbxEventKind::Ended { cause }, phase) => {
                let mut cause = *cause;
                if phase == Phase::Ringing && cause == EndCause::Completed {
                    answer(
                        call,
                        resolved.answering_extension.clone(),
                        at_ms,
                        now,
                        &mut out,
                    );
                }
                if call.transferred_to.is_some() && cause == EndCause::Completed {
                    cause = EndCause::Transferred;
                }
                end(call, cause, false, at_ms, now, &mut out);
                if cause == EndCause::Transferred {
                    if let Some(from) = call.from.clone() {
                        self.forwarded
                            .insert((resolved.pbx, from), (call.id.clone(), now));
                    }
                }
            }
        }
        if let Some(call) = self.calls.get_mut(&key) {
            note_queue(call, resolved.event.queue.as_deref(), &mut out);
        }
        out
    }

    /// Starts the call `key` from what `resolved` carries (rules 2 to 4).
    fn start(
        &mut self,
        key: &(i64, String),
        resolved: &ResolvedEvent,
        at_ms: i64,
        unseen: bool,
        out: &mut Vec<WebhookCallEvent>,
    ) {
        let event = &resolved.event;
        let id = event
            .sip_call_id
            .clone()
            .unwrap_or_else(|| format!("pbx-{}:{}", key.0, key.1));
        let direction = event.direction.unwrap_or(PbxDirection::Inbound);
        let first_agent = resolved.agent_extensions.first().cloned();
        let to = event.to.as_deref().map(pbx_number);
        let (caller, called) = match direction {
            PbxDirection::Inbound => {
                let caller = if is_withheld(event.from.as_deref()) {
                    CallerId::Withheld
                } else {
                    CallerId::Number(pbx_number(event.from.as_deref().unwrap_or_default()))
                };
                (caller, first_agent.or(to))
            }
            PbxDirection::Outbound => {
                let from = event.from.as_deref().map(pbx_number);
                let agent = first_agent.or(from).unwrap_or_else(|| "unknown".into());
                (CallerId::Number(agent), to)
            }
        };
        let called = called.unwrap_or_else(|| "unknown".into());

        let transferred_from = self.predecessor(resolved, &called, at_ms, out);
        out.push(WebhookCallEvent {
            event: CallEvent {
                call_id: id.clone(),
                at_ms,
                kind: CallEventKind::Ringing {
                    caller,
                    called: called.clone(),
                    transferred_from,
                },
            },
            start_unseen: unseen,
            queue: None,
        });
        let mut call = PbxCall {
            id,
            phase: Phase::Ringing,
            changed_ms: resolved.received_ms,
            last_at_ms: at_ms,
            rang: vec![called],
            transferred_to: None,
            from: event.from.clone(),
            queue: None,
            queue_sent: false,
        };
        for extension in &resolved.agent_extensions {
            offer(&mut call, extension, at_ms, out);
        }
        self.calls.insert(key.clone(), call);
    }

    /// The call id of the call a new one continues, if any (rule 4); announces the
    /// transfer on that call when it is still in progress.
    fn predecessor(
        &mut self,
        resolved: &ResolvedEvent,
        called: &str,
        at_ms: i64,
        out: &mut Vec<WebhookCallEvent>,
    ) -> Option<String> {
        if let Some(orig) = &resolved.event.transferred_from {
            let earlier = self.calls.get_mut(&(resolved.pbx, orig.clone()))?;
            if earlier.phase == Phase::Answered && earlier.transferred_to.is_none() {
                earlier.transferred_to = Some(called.to_owned());
                let at = at_ms.max(earlier.last_at_ms);
                earlier.last_at_ms = at;
                out.push(marked(
                    &earlier.id,
                    at,
                    CallEventKind::Transferred {
                        to: called.to_owned(),
                        attended: false,
                    },
                ));
            }
            return (earlier.phase != Phase::Blocked).then(|| earlier.id.clone());
        }
        let from = resolved.event.from.clone()?;
        let (id, ended_ms) = self.forwarded.get(&(resolved.pbx, from))?;
        (resolved.received_ms - ended_ms <= self.config.transfer_link_ms).then(|| id.clone())
    }

    /// Ends calls whose end never came (rule 5) and forgets ended ones past their
    /// linger; returns the events, dated `now_ms`.
    pub fn expire(&mut self, now_ms: i64) -> Vec<WebhookCallEvent> {
        let mut out = Vec::new();
        let config = &self.config;
        self.calls.retain(|_, call| match call.phase {
            Phase::Ringing if now_ms - call.changed_ms >= config.ringing_timeout_ms => {
                end(call, EndCause::Failed, true, now_ms, now_ms, &mut out);
                true
            }
            Phase::Answered if now_ms - call.changed_ms >= config.max_call_ms => {
                end(call, EndCause::Failed, true, now_ms, now_ms, &mut out);
                true
            }
            Phase::Ended | Phase::Blocked => now_ms - call.changed_ms < config.linger_ms,
            _ => true,
        });
        let link = self.config.transfer_link_ms;
        self.forwarded
            .retain(|_, (_, ended_ms)| now_ms - *ended_ms <= link);
        out
    }
}

fn marked(id: &str, at_ms: i64, kind: CallEventKind) -> WebhookCallEvent {
    WebhookCallEvent {
        event: CallEvent {
            call_id: id.to_owned(),
            at_ms,
            kind,
        },
        start_unseen: false,
        queue: None,
    }
}

/// Keeps the first queue named for a call and sends it with the call's first event that
/// goes out from then on (rule 7).
fn note_queue(call: &mut PbxCall, named: Option<&str>, out: &mut [WebhookCallEvent]) {
    if call.queue.is_none() && call.phase != Phase::Blocked {
        call.queue = named.map(str::to_owned);
    }
    if call.queue_sent {
        return;
    }
    if let (Some(queue), Some(first)) = (&call.queue, out.first_mut()) {
        first.queue = Some(queue.clone());
        call.queue_sent = true;
    }
}

fn offer(call: &mut PbxCall, extension: &str, at_ms: i64, out: &mut Vec<WebhookCallEvent>) {
    if call.rang.iter().any(|e| e == extension) || call.rang.len() > super::formats::MAX_AGENTS {
        return;
    }
    call.rang.push(extension.to_owned());
    out.push(marked(
        &call.id,
        at_ms,
        CallEventKind::Offered {
            target: extension.to_owned(),
        },
    ));
}

fn answer(
    call: &mut PbxCall,
    by: Option<String>,
    at_ms: i64,
    now_ms: i64,
    out: &mut Vec<WebhookCallEvent>,
) {
    if let Some(extension) = &by {
        offer(call, extension, at_ms, out);
    }
    call.phase = Phase::Answered;
    call.changed_ms = now_ms;
    call.last_at_ms = at_ms;
    out.push(marked(&call.id, at_ms, CallEventKind::Answered { by }));
}

fn end(
    call: &mut PbxCall,
    cause: EndCause,
    timed_out: bool,
    at_ms: i64,
    now_ms: i64,
    out: &mut Vec<WebhookCallEvent>,
) {
    call.phase = Phase::Ended;
    call.changed_ms = now_ms;
    call.last_at_ms = at_ms;
    out.push(marked(
        &call.id,
        at_ms,
        CallEventKind::Ended {
            cause,
            hangup_by: None,
            timed_out,
        },
    ));
}

#[cfg(test)]
mod tests;
