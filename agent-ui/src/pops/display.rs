//! The words a pop card shows for the states and values of a call.
//!
//! Kept free of the DOM so the wording can be checked by host tests. The hooks the end-to-end
//! test reads (`data-state`, `data-outcome`) come from here too, so their spelling lives in
//! one place.

use ringside_protocol::{
    CallState, Caller, Candidate, Disposition, InteractionSummary, MatchReason, Outcome,
};

/// The longest first line of notes shown in a recent-interaction row, in characters.
pub const NOTES_PREVIEW_CHARS: usize = 80;

/// The badge text of a card: `Ringing`, `On call`, `Answered elsewhere`, `Transferred`
/// or `Ended: <outcome>`.
pub fn badge_text(state: CallState) -> String {
    match state {
        CallState::Ringing => "Ringing".to_owned(),
        CallState::Answered => "On call".to_owned(),
        CallState::Ended(Outcome::AnsweredElsewhere) => "Answered elsewhere".to_owned(),
        CallState::Ended(Outcome::Transferred) => "Transferred".to_owned(),
        CallState::Ended(outcome) => format!("Ended: {}", outcome.as_str()),
    }
}

/// Why the card names this customer, as the card says it.
pub fn match_text(reason: MatchReason) -> &'static str {
    match reason {
        MatchReason::Exact => "Matched by number",
        MatchReason::NationalForm => "Matched by number (national form)",
        MatchReason::TrailingDigits => "Matched by the last digits of the number",
        MatchReason::Chosen => "Chosen by an agent",
    }
}

/// How a candidate of a shared number is listed: organisation first.
pub fn candidate_text(candidate: &Candidate) -> String {
    match &candidate.organisation {
        Some(organisation) => format!("{organisation}: {}", candidate.name),
        None => candidate.name.clone(),
    }
}

/// The `data-state` word of a card: `ringing`, `answered` or `ended`.
pub fn state_word(state: CallState) -> &'static str {
    match state {
        CallState::Ringing => "ringing",
        CallState::Answered => "answered",
        CallState::Ended(_) => "ended",
    }
}

/// The `data-outcome` word of a card, present only once the call has ended.
pub fn outcome_word(state: CallState) -> Option<&'static str> {
    match state {
        CallState::Ended(outcome) => Some(outcome.as_str()),
        CallState::Ringing | CallState::Answered => None,
    }
}

/// The caller's number, or `Number withheld`.
pub fn caller_text(caller: &Caller) -> &str {
    match caller {
        Caller::Number(number) => number,
        Caller::Withheld => "Number withheld",
    }
}

/// How an earlier interaction ended, or `ongoing` for one still in progress.
pub fn summary_outcome(summary: &InteractionSummary) -> &'static str {
    summary
        .outcome
        .map_or("ongoing", |outcome| outcome.as_str())
}

/// The first non-blank line of `notes`, cut to [`NOTES_PREVIEW_CHARS`] with an ellipsis.
pub fn notes_preview(notes: &str) -> String {
    let line = notes
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut preview: String = line.chars().take(NOTES_PREVIEW_CHARS).collect();
    if line.chars().nth(NOTES_PREVIEW_CHARS).is_some() {
        preview.push('…');
    }
    preview
}

/// A local date and time as `YYYY-MM-DD HH:MM`, the same in every browser locale.
///
/// `month` counts from 1. The caller reads the parts from the browser's clock in its time
/// zone, so the console shows the agent's local time.
pub fn format_local_time(year: u32, month: u32, day: u32, hour: u32, minute: u32) -> String {
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}")
}

/// One choice of the disposition select: the code sent to the server and the text shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispositionChoice {
    /// The code; empty for "no disposition".
    pub code: String,
    /// The text shown in the select.
    pub label: String,
}

/// The text shown for a saved disposition code: its configured label, or the code itself
/// when it is no longer configured.
pub fn disposition_label(configured: &[Disposition], code: &str) -> String {
    configured
        .iter()
        .find(|d| d.code == code)
        .map_or_else(|| code.to_owned(), |d| d.label.clone())
}

/// The choices of the disposition select: an empty one, then the configured codes.
///
/// A code saved earlier that is no longer configured is kept as an extra choice labelled with
/// the code itself, so that saving the notes does not silently clear it.
pub fn disposition_choices(
    configured: &[Disposition],
    current: Option<&str>,
) -> Vec<DispositionChoice> {
    let mut choices = vec![DispositionChoice {
        code: String::new(),
        label: "—".to_owned(),
    }];
    choices.extend(configured.iter().map(|d| DispositionChoice {
        code: d.code.clone(),
        label: d.label.clone(),
    }));

    if let Some(code) = current.filter(|c| !c.is_empty()) {
        if !configured.iter().any(|d| d.code == code) {
            choices.push(DispositionChoice {
                code: code.to_owned(),
                label: code.to_owned(),
            });
        }
    }
    choices
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringside_protocol::{Direction, InteractionId};

    #[test]
    fn matches_and_candidates_read_as_sentences() {
        let in_org = Candidate {
            id: ringside_protocol::CustomerId(1),
            name: "Jan Jansen".into(),
            organisation: Some("Jansen BV".into()),
        };
        let alone = Candidate {
            organisation: None,
            ..in_org.clone()
        };

        assert_eq!(
            match_text(MatchReason::NationalForm),
            "Matched by number (national form)"
        );
        assert_eq!(match_text(MatchReason::Chosen), "Chosen by an agent");
        assert_eq!(candidate_text(&in_org), "Jansen BV: Jan Jansen");
        assert_eq!(candidate_text(&alone), "Jan Jansen");
    }

    #[test]
    fn badges_name_the_state_and_the_outcome() {
        assert_eq!(badge_text(CallState::Ringing), "Ringing");
        assert_eq!(badge_text(CallState::Answered), "On call");
        assert_eq!(
            badge_text(CallState::Ended(Outcome::Abandoned)),
            "Ended: abandoned"
        );
        assert_eq!(
            badge_text(CallState::Ended(Outcome::Completed)),
            "Ended: completed"
        );
        assert_eq!(
            badge_text(CallState::Ended(Outcome::AnsweredElsewhere)),
            "Answered elsewhere"
        );
        assert_eq!(
            badge_text(CallState::Ended(Outcome::Transferred)),
            "Transferred"
        );
        assert_eq!(
            outcome_word(CallState::Ended(Outcome::AnsweredElsewhere)),
            Some("answered_elsewhere")
        );
    }

    #[test]
    fn state_hooks_use_the_documented_words() {
        assert_eq!(state_word(CallState::Ringing), "ringing");
        assert_eq!(state_word(CallState::Answered), "answered");
        assert_eq!(state_word(CallState::Ended(Outcome::Busy)), "ended");
        assert_eq!(outcome_word(CallState::Answered), None);
        assert_eq!(
            outcome_word(CallState::Ended(Outcome::Rejected)),
            Some("rejected")
        );
    }

    #[test]
    fn a_withheld_number_says_so() {
        assert_eq!(caller_text(&Caller::Withheld), "Number withheld");
        assert_eq!(caller_text(&Caller::Number("+3120".into())), "+3120");
    }

    #[test]
    fn notes_preview_takes_the_first_filled_line() {
        assert_eq!(
            notes_preview("\n  \n  Called about invoice  \nsecond"),
            "Called about invoice"
        );
        assert_eq!(notes_preview(""), "");
    }

    #[test]
    fn long_first_lines_are_cut_with_an_ellipsis() {
        let long = "é".repeat(NOTES_PREVIEW_CHARS + 5);
        let preview = notes_preview(&long);

        assert_eq!(preview.chars().count(), NOTES_PREVIEW_CHARS + 1);
        assert!(preview.ends_with('…'));
        assert_eq!(
            notes_preview(&"x".repeat(NOTES_PREVIEW_CHARS))
                .chars()
                .count(),
            80
        );
    }

    #[test]
    fn local_times_are_zero_padded() {
        assert_eq!(format_local_time(2026, 3, 4, 9, 5), "2026-03-04 09:05");
        assert_eq!(format_local_time(2026, 12, 31, 23, 59), "2026-12-31 23:59");
    }

    #[test]
    fn an_interaction_without_outcome_is_ongoing() {
        let mut summary = InteractionSummary {
            id: InteractionId(3),
            ringing_at_ms: 0,
            direction: Direction::Inbound,
            outcome: None,
            agent_name: None,
            talk_seconds: 0,
            disposition: None,
            notes: String::new(),
        };
        assert_eq!(summary_outcome(&summary), "ongoing");

        summary.outcome = Some(Outcome::Completed);
        assert_eq!(summary_outcome(&summary), "completed");
    }

    fn configured() -> Vec<Disposition> {
        vec![
            Disposition {
                code: "sale".into(),
                label: "Sale".into(),
            },
            Disposition {
                code: "info".into(),
                label: "Information".into(),
            },
        ]
    }

    #[test]
    fn choices_start_empty_then_follow_the_configuration() {
        let codes: Vec<_> = disposition_choices(&configured(), Some("info"))
            .into_iter()
            .map(|c| c.code)
            .collect();

        assert_eq!(codes, ["", "sale", "info"]);
    }

    #[test]
    fn a_saved_code_that_is_no_longer_configured_is_kept() {
        let choices = disposition_choices(&configured(), Some("retired"));

        assert_eq!(choices.len(), 4);
        assert_eq!(
            choices[3],
            DispositionChoice {
                code: "retired".into(),
                label: "retired".into()
            }
        );
    }

    #[test]
    fn a_saved_code_shows_its_label_or_itself() {
        let configured = vec![Disposition {
            code: "callback".into(),
            label: "Call back".into(),
        }];

        assert_eq!(disposition_label(&configured, "callback"), "Call back");
        assert_eq!(disposition_label(&configured, "retired"), "retired");
    }
}
