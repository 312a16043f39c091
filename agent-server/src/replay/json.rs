//! The JSON line printed for each call event, and the one mapping from tracker events to
//! it.
//!
//! Keys, always in this order: `call_id`, `event`, `at`, `from`, `to`, then the keys of
//! the event's kind: `transferred_from` on `ringing` (when the call was transferred in),
//! `target` on `offered`, `answered_by` on `answered` (when known), `transfer_to` and
//! `attended` on `transferred`, `cause`, `hangup_by` and `timed_out` on `ended`. A new event kind or end cause of the tracker is one
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
    /// `ringing`, `offered`, `answered`, `transferred` or `ended`.
    pub event: &'static str,
    /// When, RFC 3339 in UTC with milliseconds, from the capture's clock.
    pub at: String,
    /// The caller, normalised as for lookup, or `withheld`.
    pub from: String,
    /// The called party, normalised as for lookup, or `unknown`.
    pub to: String,
    /// On `ringing`: the Call-ID of the call this one was transferred from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transferred_from: Option<String>,
    /// On `offered`: one more agent a forked call rings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// On `answered`: the agent that answered, when the capture shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answered_by: Option<String>,
    /// On `transferred`: the transfer target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transfer_to: Option<String>,
    /// On `transferred`: whether it was an attended transfer (REFER with Replaces).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attended: Option<bool>,
    /// On `ended`: why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<&'static str>,
    /// On `ended`: `caller`, `callee` or `unknown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hangup_by: Option<&'static str>,
    /// On `ended`: whether a timer ended the call because its end was never seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timed_out: Option<bool>,
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
        let mut line = EventLine {
            call_id: event.call_id.clone(),
            event: "",
            at: rfc3339_ms(event.at_ms),
            from: String::new(),
            to: String::new(),
            transferred_from: None,
            target: None,
            answered_by: None,
            transfer_to: None,
            attended: None,
            cause: None,
            hangup_by: None,
            timed_out: None,
        };
        let who = match &event.kind {
            CallEventKind::Ringing {
                caller,
                called,
                transferred_from,
            } => {
                let who = Parties {
                    from: caller_text(caller, region),
                    to: phone::normalise_or_keep(called, region),
                };
                parties.insert(event.call_id.clone(), who.clone());
                line.event = "ringing";
                line.transferred_from.clone_from(transferred_from);
                who
            }
            CallEventKind::Offered { target } => {
                line.event = "offered";
                line.target = Some(target.clone());
                known(parties)
            }
            CallEventKind::Answered { by } => {
                line.event = "answered";
                line.answered_by.clone_from(by);
                known(parties)
            }
            CallEventKind::Transferred { to, attended } => {
                line.event = "transferred";
                line.transfer_to = Some(to.clone());
                line.attended = Some(*attended);
                known(parties)
            }
            CallEventKind::Ended {
                cause,
                hangup_by,
                timed_out,
            } => {
                let who = known(parties);
                parties.remove(&event.call_id);
                line.event = "ended";
                line.cause = Some(cause_word(*cause));
                line.hangup_by = Some(side_word(*hangup_by));
                line.timed_out = Some(*timed_out);
                who
            }
        };
        line.from = who.from;
        line.to = who.to;
        line
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
        EndCause::AnsweredElsewhere => "answered_elsewhere",
        EndCause::Transferred => "transferred",
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
            transferred_from: None,
        };
        let answered = CallEventKind::Answered {
            by: Some("2001".into()),
        };
        let ended = CallEventKind::Ended {
            cause: EndCause::Completed,
            hangup_by: Some(Side::Callee),
            timed_out: false,
        };

        let lines: Vec<String> = [ringing, answered, ended]
            .into_iter()
            .map(|kind| {
                serde_json::to_string(&EventLine::from_event(&event(kind), &mut book, NL)).unwrap()
            })
            .collect();

        let head = r#"{"call_id":"c1@host","event":"#;
        let tail = r#""at":"2024-05-01T09:30:00.250Z","from":"+31201234567","to":"2001""#;
        assert_eq!(lines[0], format!("{head}\"ringing\",{tail}}}"));
        assert_eq!(
            lines[1],
            format!("{head}\"answered\",{tail},\"answered_by\":\"2001\"}}")
        );
        assert_eq!(
            lines[2],
            format!(
                "{head}\"ended\",{tail},\"cause\":\"completed\",\"hangup_by\":\"callee\",\
                 \"timed_out\":false}}"
            )
        );
        assert!(book.is_empty());
    }

    #[test]
    fn a_transfer_names_its_target_and_the_new_call_its_origin() {
        let mut book = PartyBook::new();
        let transferred = CallEventKind::Transferred {
            to: "2003".into(),
            attended: true,
        };
        let ringing = CallEventKind::Ringing {
            caller: CallerId::Number("+31201234567".into()),
            called: "2003".into(),
            transferred_from: Some("c0@host".into()),
        };

        let transfer = EventLine::from_event(&event(transferred), &mut book, NL);
        let next = EventLine::from_event(&event(ringing), &mut book, NL);

        assert_eq!(transfer.event, "transferred");
        assert_eq!(transfer.transfer_to.as_deref(), Some("2003"));
        assert_eq!(transfer.attended, Some(true));
        assert_eq!(next.transferred_from.as_deref(), Some("c0@host"));
    }

    #[test]
    fn withheld_and_named_users_are_kept_apart_from_numbers() {
        let mut book = PartyBook::new();
        let withheld = CallEventKind::Ringing {
            caller: CallerId::Withheld,
            called: "alice".into(),
            transferred_from: None,
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
            EndCause::AnsweredElsewhere,
            EndCause::Transferred,
        ]
        .map(cause_word);

        assert_eq!(
            words,
            [
                "completed",
                "abandoned",
                "busy",
                "rejected",
                "failed",
                "answered_elsewhere",
                "transferred"
            ]
        );
        assert_eq!(side_word(None), "unknown");
        assert_eq!(side_word(Some(Side::Caller)), "caller");
    }
}
