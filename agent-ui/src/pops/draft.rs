//! The wrap-up an agent is writing on a pop card, and how it meets updates from the server.
//!
//! *Wrap-up* is the agent's closing work on a call: free notes and a disposition code. The
//! agent may write it while the call rings, during it and after it. The server sends the pop
//! again on every change of the call, carrying the notes saved so far; those must never
//! overwrite what the agent typed and has not saved yet. Each field therefore remembers
//! whether the agent edited it, and only an untouched field follows the server.
//!
//! A field also follows the server only when the server's value *changes*. A pop re-sent
//! unchanged (after a reconnect, or an update that was on its way while the agent saved)
//! then cannot put older notes back over ones the agent has just saved.

use ringside_protocol::WrapUp;

/// The notes and disposition shown in a card's form.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Draft {
    notes: String,
    // The empty string stands for "no disposition", as in the select element.
    disposition: String,
    notes_edited: bool,
    disposition_edited: bool,
    // The values the server sent last, to tell a change from a repeat.
    server_notes: String,
    server_disposition: String,
}

impl Draft {
    /// A draft holding what the server has saved.
    pub fn from_saved(notes: &str, disposition: Option<&str>) -> Self {
        let disposition = disposition.unwrap_or_default();
        Draft {
            notes: notes.to_owned(),
            disposition: disposition.to_owned(),
            notes_edited: false,
            disposition_edited: false,
            server_notes: notes.to_owned(),
            server_disposition: disposition.to_owned(),
        }
    }

    /// The notes as the textarea shows them.
    pub fn notes(&self) -> &str {
        &self.notes
    }

    /// The chosen disposition code, empty for none.
    pub fn disposition(&self) -> &str {
        &self.disposition
    }

    /// Whether the agent changed something that is not saved yet.
    pub fn is_edited(&self) -> bool {
        self.notes_edited || self.disposition_edited
    }

    /// Records the agent's new notes text.
    pub fn edit_notes(&mut self, notes: String) {
        self.notes = notes;
        self.notes_edited = true;
    }

    /// Records the agent's choice of disposition (empty for none).
    pub fn choose_disposition(&mut self, code: String) {
        self.disposition = code;
        self.disposition_edited = true;
    }

    /// Takes the server's saved values where they changed since the server last sent them
    /// and the agent has not edited the field.
    pub fn follow_saved(&mut self, notes: &str, disposition: Option<&str>) {
        if notes != self.server_notes {
            notes.clone_into(&mut self.server_notes);
            if !self.notes_edited {
                notes.clone_into(&mut self.notes);
            }
        }

        let disposition = disposition.unwrap_or_default();
        if disposition != self.server_disposition {
            disposition.clone_into(&mut self.server_disposition);
            if !self.disposition_edited {
                disposition.clone_into(&mut self.disposition);
            }
        }
    }

    /// The body to send to the wrap-up endpoint.
    pub fn to_wrap_up(&self) -> WrapUp {
        let disposition = Some(self.disposition.clone()).filter(|code| !code.is_empty());
        WrapUp {
            notes: self.notes.clone(),
            disposition,
        }
    }

    /// Marks as saved every field that still holds what `saved` sent.
    ///
    /// A field the agent changed again while the request was on its way stays edited, so the
    /// newer text is neither lost nor reported as saved.
    pub fn mark_saved(&mut self, saved: &WrapUp) {
        if self.notes == saved.notes {
            self.notes_edited = false;
        }
        if self.disposition == saved.disposition.as_deref().unwrap_or_default() {
            self.disposition_edited = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_untouched_draft_follows_the_server() {
        let mut draft = Draft::from_saved("", None);

        draft.follow_saved("from another tab", Some("sale"));

        assert_eq!(draft.notes(), "from another tab");
        assert_eq!(draft.disposition(), "sale");
        assert!(!draft.is_edited());
    }

    #[test]
    fn typed_notes_survive_a_pop_update() {
        let mut draft = Draft::from_saved("old", None);
        draft.edit_notes("typed by the agent".into());

        draft.follow_saved("old", Some("sale"));

        assert_eq!(draft.notes(), "typed by the agent");
        assert_eq!(
            draft.disposition(),
            "sale",
            "the untouched field still follows"
        );
        assert!(draft.is_edited());
    }

    #[test]
    fn a_chosen_disposition_survives_a_pop_update() {
        let mut draft = Draft::from_saved("", Some("sale"));
        draft.choose_disposition(String::new());

        draft.follow_saved("", Some("sale"));

        assert_eq!(draft.disposition(), "");
    }

    #[test]
    fn the_wrap_up_sends_no_disposition_for_the_empty_choice() {
        let mut draft = Draft::from_saved("", None);
        draft.edit_notes("hello".into());

        assert_eq!(
            draft.to_wrap_up(),
            WrapUp {
                notes: "hello".into(),
                disposition: None
            }
        );

        draft.choose_disposition("info".into());
        assert_eq!(draft.to_wrap_up().disposition.as_deref(), Some("info"));
    }

    #[test]
    fn saving_clears_the_edited_mark() {
        let mut draft = Draft::from_saved("", None);
        draft.edit_notes("done".into());
        draft.choose_disposition("sale".into());
        let sent = draft.to_wrap_up();

        draft.mark_saved(&sent);

        assert!(!draft.is_edited());
        draft.follow_saved("done", Some("sale"));
        assert_eq!(draft.notes(), "done");
    }

    #[test]
    fn a_stale_resend_does_not_undo_a_save() {
        let mut draft = Draft::from_saved("", None);
        draft.edit_notes("saved text".into());
        draft.choose_disposition("sale".into());
        let sent = draft.to_wrap_up();
        draft.mark_saved(&sent);

        draft.follow_saved("", None);

        assert_eq!(draft.notes(), "saved text");
        assert_eq!(draft.disposition(), "sale");
    }

    #[test]
    fn a_later_change_on_the_server_is_taken_after_a_save() {
        let mut draft = Draft::from_saved("", None);
        draft.edit_notes("mine".into());
        draft.mark_saved(&draft.to_wrap_up());

        draft.follow_saved("mine", None);
        draft.follow_saved("mine, amended elsewhere", None);

        assert_eq!(draft.notes(), "mine, amended elsewhere");
    }

    #[test]
    fn text_typed_while_saving_stays_edited() {
        let mut draft = Draft::from_saved("", None);
        draft.edit_notes("first".into());
        let sent = draft.to_wrap_up();
        draft.edit_notes("first and more".into());

        draft.mark_saved(&sent);
        draft.follow_saved("first", None);

        assert!(draft.is_edited());
        assert_eq!(draft.notes(), "first and more");
    }
}
