//! One call reported by both a SIP mirror and a PBX webhook stays one call.
//!
//! The call service's dispatcher passes every event through one [`Correlator`] before
//! it picks a worker. A webhook that names the call's SIP Call-ID (Ringside format,
//! `sip_call_id`) needs nothing from here: both sources already use the same id. For the
//! others the correlator pairs the two reports of a call at their `Ringing`:
//!
//! - each `Ringing` is indexed under the E.164 numbers it names (caller and called party;
//!   extensions and withheld callers name none);
//! - a `Ringing` from one source that shares a number with an unpaired `Ringing` from the
//!   other source, dated within `window_ms` of it, is the same call: its call id becomes
//!   an alias of the first one's, and every later event under the alias is passed on
//!   under the first id. The call service then sees one call, two reports of each step,
//!   and handles each step once;
//! - once the first id's call has ended, events under its aliases, and events of the
//!   other source under its own id, are dropped, so a late report from the slower source
//!   cannot open a second interaction.
//!
//! Limitation: pairing needs a number both sides name in E.164 form; a withheld caller,
//! or a PBX that names only extensions, is not paired, and such a call reported by both
//! sources is logged twice. Two calls from one number starting within `window_ms` of
//! each other on both sources may be paired crosswise, which swaps their logs; giving
//! the SIP Call-ID in the webhook (Ringside format) avoids both.

use std::collections::HashMap;

use ringside_sip::identity::CallerId;
use ringside_sip::tracker::{CallEvent, CallEventKind};

use crate::phone;

/// How long an alias of a call not seen ending is kept: longer than the longest call
/// either source lets live (`max_call_hours`, 4 by default).
const ALIAS_MAX_MS: i64 = 12 * 3_600_000;

/// Where an event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The SIP tracker (HEP mirror).
    Sip,
    /// A PBX webhook.
    Webhook,
}

struct Entry {
    call_id: String,
    source: Source,
    at_ms: i64,
    seen_ms: i64,
}

/// Pairs the SIP and webhook reports of one call; see the module documentation.
pub struct Correlator {
    region: phonenumber::country::Id,
    window_ms: i64,
    linger_ms: i64,
    by_number: HashMap<String, Vec<Entry>>,
    /// Alias call id to (first call id, server time paired).
    aliases: HashMap<String, (String, i64)>,
    /// First call ids that ended, with the server time they ended and the source that
    /// ended them.
    ended: HashMap<String, (i64, Source)>,
}

/// The E.164 numbers a ringing call names.
fn numbers_of(kind: &CallEventKind, region: phonenumber::country::Id) -> Vec<String> {
    let CallEventKind::Ringing { caller, called, .. } = kind else {
        return Vec::new();
    };
    let caller = match caller {
        CallerId::Number(number) => Some(number.as_str()),
        CallerId::Withheld => None,
    };
    caller
        .into_iter()
        .chain(std::iter::once(called.as_str()))
        .map(|raw| phone::normalise_or_keep(raw, region))
        .filter(|n| n.starts_with('+') && n.len() >= 9)
        .collect()
}

impl Correlator {
    /// A correlator pairing reports dated within `window_ms`; ended calls' aliases are
    /// kept `linger_ms`.
    pub fn new(region: phonenumber::country::Id, window_ms: i64, linger_ms: i64) -> Correlator {
        Correlator {
            region,
            window_ms,
            linger_ms,
            by_number: HashMap::new(),
            aliases: HashMap::new(),
            ended: HashMap::new(),
        }
    }

    /// The event to hand on, its call id made the pair's first, or `None` to drop it.
    pub fn route(
        &mut self,
        source: Source,
        mut event: CallEvent,
        now_ms: i64,
    ) -> Option<CallEvent> {
        if let CallEventKind::Ringing {
            transferred_from: Some(from),
            ..
        } = &mut event.kind
        {
            if let Some((first, _)) = self.aliases.get(from.as_str()) {
                *from = first.clone();
            }
        }
        if let Some((first, _)) = self.aliases.get(&event.call_id) {
            if self.ended.contains_key(first) {
                return None;
            }
            event.call_id = first.clone();
            return Some(event);
        }
        // Both sources may name a call by the same id (a webhook giving the SIP Call-ID):
        // once one source ended it, the other's reports are late.
        if let Some((_, ended_by)) = self.ended.get(&event.call_id) {
            if *ended_by != source {
                return None;
            }
        }
        if matches!(event.kind, CallEventKind::Ended { .. }) {
            self.ended.insert(event.call_id.clone(), (now_ms, source));
        }
        let numbers = numbers_of(&event.kind, self.region);
        if numbers.is_empty() {
            return Some(event);
        }

        let window = self.window_ms;
        let mut partner = None;
        for number in &numbers {
            let Some(entries) = self.by_number.get(number) else {
                continue;
            };
            partner = entries.iter().find_map(|entry| {
                let fits = entry.source != source
                    && entry.call_id != event.call_id
                    && entry.at_ms.abs_diff(event.at_ms) <= window.unsigned_abs();
                fits.then(|| entry.call_id.clone())
            });
            if partner.is_some() {
                break;
            }
        }
        match partner {
            Some(first) => {
                for entries in self.by_number.values_mut() {
                    entries.retain(|e| e.call_id != first && e.call_id != event.call_id);
                }
                self.by_number.retain(|_, entries| !entries.is_empty());
                self.aliases
                    .insert(event.call_id.clone(), (first.clone(), now_ms));
                if self.ended.contains_key(&first) {
                    return None;
                }
                tracing::debug!(
                    call.r#ref = %crate::calls::call_ref(&ringside_protocol::CallId(first.clone())),
                    "SIP and webhook reports of one call paired"
                );
                event.call_id = first;
                Some(event)
            }
            None => {
                for number in numbers {
                    let entries = self.by_number.entry(number).or_default();
                    if !entries.iter().any(|e| e.call_id == event.call_id) {
                        entries.push(Entry {
                            call_id: event.call_id.clone(),
                            source,
                            at_ms: event.at_ms,
                            seen_ms: now_ms,
                        });
                    }
                }
                Some(event)
            }
        }
    }

    /// Forgets index entries older than twice the window and aliases of calls ended
    /// more than `linger_ms` ago.
    pub fn expire(&mut self, now_ms: i64) {
        let keep = 2 * self.window_ms;
        for entries in self.by_number.values_mut() {
            entries.retain(|e| now_ms - e.seen_ms <= keep);
        }
        self.by_number.retain(|_, entries| !entries.is_empty());
        let linger = self.linger_ms;
        self.ended.retain(|_, (ended, _)| now_ms - *ended <= linger);
        let ended = &self.ended;
        self.aliases.retain(|_, (first, paired)| {
            ended.contains_key(first) || now_ms - *paired <= ALIAS_MAX_MS
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringside_sip::tracker::EndCause;

    fn ringing(id: &str, caller: &str, called: &str, at_ms: i64) -> CallEvent {
        CallEvent {
            call_id: id.into(),
            at_ms,
            kind: CallEventKind::Ringing {
                caller: CallerId::Number(caller.into()),
                called: called.into(),
                transferred_from: None,
            },
        }
    }

    fn ended(id: &str, at_ms: i64) -> CallEvent {
        CallEvent {
            call_id: id.into(),
            at_ms,
            kind: CallEventKind::Ended {
                cause: EndCause::Completed,
                hangup_by: None,
                timed_out: false,
            },
        }
    }

    fn correlator() -> Correlator {
        Correlator::new(phonenumber::country::Id::NL, 10_000, 60_000)
    }

    #[test]
    fn the_second_report_of_a_call_takes_the_first_ones_id() {
        let mut c = correlator();

        let sip = c.route(
            Source::Sip,
            ringing("sip-1", "0201234567", "2001", 1_000),
            1_000,
        );
        let hook = c.route(
            Source::Webhook,
            ringing("pbx-1:a", "+31201234567", "+31207000000", 3_000),
            3_000,
        );
        let answer = CallEvent {
            call_id: "pbx-1:a".into(),
            at_ms: 4_000,
            kind: CallEventKind::Answered { by: None },
        };
        let answer = c.route(Source::Webhook, answer, 4_000);

        assert_eq!(sip.unwrap().call_id, "sip-1");
        assert_eq!(hook.unwrap().call_id, "sip-1");
        assert_eq!(answer.unwrap().call_id, "sip-1");
    }

    #[test]
    fn once_the_call_ended_the_late_reports_are_dropped() {
        let mut c = correlator();
        c.route(
            Source::Webhook,
            ringing("pbx-1:a", "+31201234567", "2001", 1_000),
            1_000,
        );
        c.route(Source::Webhook, ended("pbx-1:a", 2_000), 2_000);

        let late_sip = c.route(
            Source::Sip,
            ringing("sip-1", "+31201234567", "2001", 1_500),
            5_000,
        );
        let late_end = c.route(Source::Sip, ended("sip-1", 6_000), 6_000);

        assert_eq!(late_sip, None);
        assert_eq!(late_end, None);
    }

    #[test]
    fn a_call_both_sources_name_by_one_id_ends_once() {
        let mut c = correlator();
        c.route(
            Source::Sip,
            ringing("same@pbx", "+31201234567", "2001", 1_000),
            1_000,
        );
        c.route(Source::Sip, ended("same@pbx", 2_000), 2_000);

        let late = c.route(
            Source::Webhook,
            ringing("same@pbx", "+31201234567", "2001", 1_000),
            3_000,
        );
        let reused = c.route(
            Source::Sip,
            ringing("same@pbx", "+31201234567", "2001", 9_000),
            9_000,
        );

        assert_eq!(late, None);
        assert_eq!(reused.unwrap().call_id, "same@pbx");
    }

    #[test]
    fn calls_from_one_source_or_far_apart_or_withheld_stay_apart() {
        let mut c = correlator();
        c.route(
            Source::Sip,
            ringing("sip-1", "+31201234567", "2001", 1_000),
            1_000,
        );

        let same_source = c.route(
            Source::Sip,
            ringing("sip-2", "+31201234567", "2002", 2_000),
            2_000,
        );
        let far = c.route(
            Source::Webhook,
            ringing("pbx-1:a", "+31201234567", "2001", 30_000),
            30_000,
        );
        let withheld = CallEvent {
            call_id: "pbx-1:b".into(),
            at_ms: 1_000,
            kind: CallEventKind::Ringing {
                caller: CallerId::Withheld,
                called: "2001".into(),
                transferred_from: None,
            },
        };
        let withheld = c.route(Source::Webhook, withheld, 1_000);

        assert_eq!(same_source.unwrap().call_id, "sip-2");
        assert_eq!(far.unwrap().call_id, "pbx-1:a");
        assert_eq!(withheld.unwrap().call_id, "pbx-1:b");
    }

    #[test]
    fn an_outbound_call_pairs_by_the_number_dialled() {
        let mut c = correlator();
        c.route(
            Source::Sip,
            ringing("sip-9", "2001", "0612345678", 1_000),
            1_000,
        );

        let hook = c.route(
            Source::Webhook,
            ringing("pbx-1:o", "2001", "+31612345678", 1_200),
            1_200,
        );

        assert_eq!(hook.unwrap().call_id, "sip-9");
    }
}
