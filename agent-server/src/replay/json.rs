//! The JSON line printed for each call event, and the one mapping from tracker events to
//! it.
//!
//! Keys, always in this order: `call_id`, `event`, `at`, `from`, `to`, then `cause` and
//! `hangup_by` on `ended` lines only. A new event kind or end cause of the tracker is one
//! arm in [`EventLine::from_event`] or [`cause_word`].

use std::collections::HashMap;

use ringside_sip::identity::CallerId;
use ringside_sip::tracker::{CallEvent, CallEventKind, EndCause, Side};
use serde::Serialize;

use crate::phone;

/// Shown for a caller who withheld their number.
pub const WITHHELD: &str = "withheld";

/// Shown for a party the capture never named.
pub const UNKNOWN: &str = "unknown";

/// One output line. Field order is the key order of the JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventLine {
    /// The SIP Call-ID.
    pub call_id: String,
    /// `ringing`, `answered`, `ended` or `transferred`.
    pub event: &'static str,
    /// When, RFC 3339 in UTC with milliseconds, from the capture's clock.
    pub at: String,
    /// The caller, normalised as for lookup, or `withheld`.
    pub from: String,
    /// The called party, normalised as for lookup, or `unknown`.
    pub to: String,
    /// On `ended`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'static str>,
    /// On `ended`: `caller`, `callee` or `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hangup_by: Option<&'static str>,
}

/// The two parties of a call, remembered from its `ringing` event for its later lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parties {
    /// Printed as `from`.
    pub from: String,
    /// Printed as `to`.
    pub to: String,
}

/// Calls seen ringing and not yet ended, by Call-ID.
pub type PartyBook = HashMap<String, Parties>;

impl EventLine {
    /// The line for `event`; `parties` learns the parties on `ringing` and forgets them
    /// on `ended`. Numbers are normalised with `region` as the caller lookup does.
    pub fn from_event(
        event: &CallEvent,
        parties: &mut PartyBook,
        region: phonenumber::country::Id,
    ) -> EventLine {
        let known = |parties: &PartyBook| {
            parties.get(&event.call_id).cloned().unwrap_or(Parties {
                from: UNKNOWN.to_owned(),
                to: UNKNOWN.to_owned(),
            })
        };
        let (word, who, cause, hangup_by) = match &event.kind {
            CallEventKind::Ringing { caller, called } => {
                let who = Parties {
                    from: caller_text(caller, region),
                    to: phone::normalise_or_keep(called, region),
                };
                parties.insert(event.call_id.clone(), who.clone());
                ("ringing", who, None, None)
            }
            CallEventKind::Answered => ("answered", known(parties), None, None),
            CallEventKind::Ended { cause, hangup_by } => {
                let who = known(parties);
                parties.remove(&event.call_id);
                (
                    "ended",
                    who,
                    Some(cause_word(*cause)),
                    Some(side_word(*hangup_by)),
                )
            }
        };
        EventLine {
            call_id: event.call_id.clone(),
            event: word,
            at: rfc3339_ms(event.at_ms),
            from: who.from,
            to: who.to,
            cause,
            hangup_by,
        }
    }
}

/// The `cause` word of an end cause.
pub fn cause_word(cause: EndCause) -> &'static str {
    match cause {
        EndCause::Completed => "completed",
        EndCause::Abandoned => "abandoned",
        EndCause::Busy => "busy",
        EndCause::Rejected => "rejected",
        EndCause::Failed => "failed",
    }
}

/// The `hangup_by` word.
pub fn side_word(side: Option<Side>) -> &'static str {
    match side {
        Some(Side::Caller) => "caller",
        Some(Side::Callee) => "callee",
        None => UNKNOWN,
    }
}

fn caller_text(caller: &CallerId, region: phonenumber::country::Id) -> String {
    match caller {
        CallerId::Number(number) => phone::normalise_or_keep(number, region),
        CallerId::Withheld => WITHHELD.to_owned(),
    }
}

/// Formats epoch milliseconds as RFC 3339 in UTC with milliseconds,
/// `2024-05-01T09:30:00.250Z`. A time outside years 0 to 9999 (no capture format can
/// hold one) prints as the Unix epoch.
pub fn rfc3339_ms(at_ms: i64) -> String {
    let nanos = i128::from(at_ms) * 1_000_000;
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .filter(|at| (0..=9999).contains(&at.year()))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let year = at.year();
    format!(
        "{year:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.millisecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NL: phonenumber::country::Id = phonenumber::country::Id::NL;

    fn event(kind: CallEventKind) -> CallEvent {
        CallEvent {
            call_id: "c1@host".into(),
            at_ms: 1_714_555_800_250,
            kind,
        }
    }

    #[test]
    fn times_are_utc_with_milliseconds() {
        assert_eq!(rfc3339_ms(1_714_555_800_250), "2024-05-01T09:30:00.250Z");
        assert_eq!(rfc3339_ms(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_ms(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn a_call_prints_its_parties_on_every_line_and_keys_in_order() {
        let mut book = PartyBook::new();
        let ringing = CallEventKind::Ringing {
            caller: CallerId::Number("020 123 4567".into()),
            called: "2001".into(),
        };
        let ended = CallEventKind::Ended {
            cause: EndCause::Completed,
            hangup_by: Some(Side::Callee),
        };

        let lines: Vec<String> = [ringing, CallEventKind::Answered, ended]
            .into_iter()
            .map(|kind| {
                serde_json::to_string(&EventLine::from_event(&event(kind), &mut book, NL)).unwrap()
            })
            .collect();

        let head = r#"{"call_id":"c1@host","event":"#;
        let tail = r#""at":"2024-05-01T09:30:00.250Z","from":"+31201234567","to":"2001""#;
        assert_eq!(lines[0], format!("{head}\"ringing\",{tail}}}"));
        assert_eq!(lines[1], format!("{head}\"answered\",{tail}}}"));
        assert_eq!(
            lines[2],
            format!("{head}\"ended\",{tail},\"cause\":\"completed\",\"hangup_by\":\"callee\"}}")
        );
        assert!(book.is_empty());
    }

    #[test]
    fn withheld_and_named_users_are_kept_apart_from_numbers() {
        let mut book = PartyBook::new();
        let withheld = CallEventKind::Ringing {
            caller: CallerId::Withheld,
            called: "alice".into(),
        };

        let line = EventLine::from_event(&event(withheld), &mut book, NL);

        assert_eq!(line.from, "withheld");
        assert_eq!(line.to, "alice");
        assert_eq!(line.cause, None);
    }

    #[test]
    fn every_cause_has_its_word() {
        let words = [
            EndCause::Completed,
            EndCause::Abandoned,
            EndCause::Busy,
            EndCause::Rejected,
            EndCause::Failed,
        ]
        .map(cause_word);

        assert_eq!(
            words,
            ["completed", "abandoned", "busy", "rejected", "failed"]
        );
        assert_eq!(side_word(None), "unknown");
        assert_eq!(side_word(Some(Side::Caller)), "caller");
    }
}
