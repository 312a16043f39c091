//! The pops a console shows: their order, and the pure rules behind each card.
//!
//! A *pop* (screen-pop) is the card that appears at an agent's console when a call for their
//! extension rings, and stays while the agent writes the wrap-up. The server sends a pop again
//! each time its call changes; the console matches it to the card it has by `call_id`.
//!
//! This module keeps the list ordering ([`place`]) apart from the reactive state of the
//! console, so the rules run as plain host tests. The submodules hold the call timer
//! ([`timer`]), the text a card shows ([`display`]) and the agent's unsaved wrap-up
//! ([`draft`]).

pub mod display;
pub mod draft;
pub mod timer;

use ringside_protocol::CallId;

/// An entry of a pop list: anything that knows its call and when that call started ringing.
pub trait Listed {
    /// The call the entry is for.
    fn call_id(&self) -> &CallId;

    /// When the call started ringing, in milliseconds since the Unix epoch.
    fn ringing_at_ms(&self) -> i64;
}

/// Where an incoming pop goes in a list ordered newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// The list already holds this call at this index: update that entry in place.
    Update(usize),
    /// The call is new: insert it at this index.
    Insert(usize),
}

/// Finds the place of the pop for `call_id` in `list`, which is ordered newest first.
///
/// A known call keeps its place, so a card never jumps while the agent types in it. A new
/// call goes before every entry that started ringing at the same time or earlier, which keeps
/// the list newest first, also when a reconnect delivers older pops after newer ones.
pub fn place<T: Listed>(list: &[T], call_id: &CallId, ringing_at_ms: i64) -> Placement {
    if let Some(index) = list.iter().position(|entry| entry.call_id() == call_id) {
        return Placement::Update(index);
    }

    let index = list
        .iter()
        .position(|entry| entry.ringing_at_ms() <= ringing_at_ms)
        .unwrap_or(list.len());
    Placement::Insert(index)
}

/// Whether the call of `pop` is over (the card is in wrap-up).
pub fn is_ended(pop: &ringside_protocol::Pop) -> bool {
    matches!(pop.state, ringside_protocol::CallState::Ended(_))
}

/// Index of the entry for `call_id`, if the list holds one.
pub fn position<T: Listed>(list: &[T], call_id: &CallId) -> Option<usize> {
    list.iter().position(|entry| entry.call_id() == call_id)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ringside_protocol::{CallState, Caller, Direction, InteractionId, Pop};

    /// A pop with the given call id, ringing time and state; the rest is plain filler.
    pub(crate) fn pop(call_id: &str, ringing_at_ms: i64, state: CallState) -> Pop {
        Pop {
            call_id: CallId(call_id.into()),
            interaction_id: InteractionId(1),
            direction: Direction::Inbound,
            state,
            caller: Caller::Number("+15550100".into()),
            called: "2001".into(),
            ringing_at_ms,
            answered_at_ms: None,
            ended_at_ms: None,
            customer: None,
            candidates: Vec::new(),
            colleague: None,
            notes: String::new(),
            disposition: None,
        }
    }

    impl Listed for Pop {
        fn call_id(&self) -> &CallId {
            &self.call_id
        }

        fn ringing_at_ms(&self) -> i64 {
            self.ringing_at_ms
        }
    }

    /// Merges `incoming` into `list` the way the console does.
    fn merge(list: &mut Vec<Pop>, incoming: Pop) {
        match place(list, &incoming.call_id, incoming.ringing_at_ms) {
            Placement::Update(i) => list[i] = incoming,
            Placement::Insert(i) => list.insert(i, incoming),
        }
    }

    fn ids(list: &[Pop]) -> Vec<&str> {
        list.iter().map(|p| p.call_id.0.as_str()).collect()
    }

    #[test]
    fn only_ended_pops_count_as_ended() {
        assert!(!is_ended(&pop("a", 1, CallState::Ringing)));
        assert!(!is_ended(&pop("a", 1, CallState::Answered)));
        assert!(is_ended(&pop(
            "a",
            1,
            CallState::Ended(ringside_protocol::Outcome::Busy)
        )));
    }

    #[test]
    fn new_calls_go_on_top() {
        let mut list = Vec::new();

        merge(&mut list, pop("a", 1_000, CallState::Ringing));
        merge(&mut list, pop("b", 2_000, CallState::Ringing));
        merge(&mut list, pop("c", 3_000, CallState::Ringing));

        assert_eq!(ids(&list), ["c", "b", "a"]);
    }

    #[test]
    fn an_update_replaces_the_entry_in_place() {
        let mut list = Vec::new();
        merge(&mut list, pop("a", 1_000, CallState::Ringing));
        merge(&mut list, pop("b", 2_000, CallState::Ringing));

        merge(&mut list, pop("a", 1_000, CallState::Answered));

        assert_eq!(ids(&list), ["b", "a"]);
        assert_eq!(list[1].state, CallState::Answered);
        assert_eq!(list.len(), 2);
    }

    #[test]
    fn older_pops_resent_after_a_reconnect_keep_the_order() {
        let mut list = vec![pop("c", 3_000, CallState::Ringing)];

        merge(&mut list, pop("a", 1_000, CallState::Answered));
        merge(&mut list, pop("b", 2_000, CallState::Ringing));
        merge(&mut list, pop("c", 3_000, CallState::Answered));

        assert_eq!(ids(&list), ["c", "b", "a"]);
    }

    #[test]
    fn of_two_calls_ringing_at_once_the_later_message_goes_first() {
        let mut list = vec![pop("a", 1_000, CallState::Ringing)];

        merge(&mut list, pop("b", 1_000, CallState::Ringing));

        assert_eq!(ids(&list), ["b", "a"]);
    }

    #[test]
    fn position_finds_only_known_calls() {
        let list = vec![
            pop("a", 1_000, CallState::Ringing),
            pop("b", 500, CallState::Ringing),
        ];

        assert_eq!(position(&list, &CallId("b".into())), Some(1));
        assert_eq!(position(&list, &CallId("z".into())), None);
    }
}
