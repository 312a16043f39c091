//! The messages the Ringside server and the agent console exchange.
//!
//! This crate is compiled twice: into `agent-server` for the host and into `agent-ui` for
//! wasm32, so that every message is defined once. It holds plain data and its JSON shape;
//! it knows nothing about sockets, databases or SIP.
//!
//! Two channels carry these types:
//! - the websocket at [`WS_PATH`]: the server sends [`ServerMessage`]s, the console sends
//!   [`ClientMessage`]s, one JSON text frame each;
//! - the REST endpoints under `/api/v1`: [`LoginRequest`], [`Me`], [`WrapUp`] and
//!   [`ApiError`] for every 4xx and 5xx body.
//!
//! Times are milliseconds since the Unix epoch (UTC) in `i64`, which JSON and JavaScript both
//! carry without loss for the next few hundred thousand years.

use std::fmt;

use serde::{Deserialize, Serialize};

mod customers;

pub use customers::{
    Address, Candidate, ChooseCustomer, Colleague, Consent, ConsentState, Consents, Customer,
    CustomerHit, CustomerInput, InteractionPage, MatchReason, Organisation, OrganisationId,
    OrganisationInput, PhoneInput, PhoneKind, PhoneNumber, Trash, UnparseableNumber,
    UnparseablePage,
};

/// Path of the console websocket, relative to the server root.
pub const WS_PATH: &str = "/api/v1/ws";

/// Longest notes text the server accepts on one interaction, in characters.
pub const NOTES_MAX_CHARS: usize = 4000;

/// A call as the SIP Call-ID (or the webhook call id) names it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub String);

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({})", self.0)
    }
}

macro_rules! numeric_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

numeric_id!(
    /// A customer record.
    CustomerId
);
numeric_id!(
    /// A logged call on (or beside) a customer record.
    InteractionId
);
numeric_id!(
    /// A person who logs in: agent, supervisor or admin.
    UserId
);

/// A message from the server to a console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    /// First message on every connection: who the console is logged in as, and every pop
    /// the agent has now. A console that reconnects replaces its list with these (a pop it
    /// shows that is not among them was removed while it was away).
    Hello {
        /// The logged-in user.
        me: Me,
        /// The agent's live pops (ringing, answered, and ended ones still in wrap-up),
        /// oldest first.
        pops: Vec<Pop>,
        /// The server's clock when it sent this, so the console can run its call timers on
        /// server time whatever its own clock says.
        server_time_ms: i64,
    },
    /// A new pop, or a change to one the console already shows (same `call_id`).
    Pop {
        /// The pop in its current state.
        pop: Pop,
    },
    /// The server no longer tracks this pop; the console may drop it.
    PopRemoved {
        /// The call the pop was for.
        call_id: CallId,
    },
}

/// A message from a console to the server.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage {
    /// The agent closed an ended pop; it is not sent again on reconnect.
    Dismiss {
        /// The call whose pop was closed.
        call_id: CallId,
    },
}

/// The screen-pop of one call at one agent's console.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pop {
    /// The call this pop is about.
    pub call_id: CallId,
    /// The interaction that logs this call; notes and disposition are saved on it.
    pub interaction_id: InteractionId,
    /// Inbound (a caller rings the agent) or outbound (the agent calls out).
    pub direction: Direction,
    /// Where the call is now.
    pub state: CallState,
    /// The other party: the caller on inbound calls.
    pub caller: Caller,
    /// The number or extension that was called.
    pub called: String,
    /// When the call started ringing.
    pub ringing_at_ms: i64,
    /// When it was answered, if it was.
    pub answered_at_ms: Option<i64>,
    /// When it ended, if it has.
    pub ended_at_ms: Option<i64>,
    /// The matched customer, or `None` for an unknown caller. When several customers share
    /// the number, this is the one offered first (see `candidates`).
    pub customer: Option<CustomerCard>,
    /// Every customer the number could mean when it is shared (more than one), the one
    /// in `customer` first; empty otherwise. The agent's choice is saved with
    /// `PUT /api/v1/interactions/{id}/customer`.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    /// The colleague calling, when the caller is a user's internal extension.
    #[serde(default)]
    pub colleague: Option<Colleague>,
    /// Notes saved so far on the interaction.
    pub notes: String,
    /// Disposition code saved so far, if any.
    pub disposition: Option<String>,
}

/// Direction of a call, seen from the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Someone calls in.
    Inbound,
    /// The agent calls out.
    Outbound,
}

impl Direction {
    /// The lowercase word stored and shown for this direction.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }

    /// Parses the word [`Direction::as_str`] gives.
    pub fn from_word(word: &str) -> Option<Self> {
        match word {
            "inbound" => Some(Direction::Inbound),
            "outbound" => Some(Direction::Outbound),
            _ => None,
        }
    }
}

/// State of a call as a pop shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", content = "outcome", rename_all = "snake_case")]
pub enum CallState {
    /// The agent's phone is ringing.
    Ringing,
    /// The agent is talking.
    Answered,
    /// The call is over; the agent may still be writing notes (wrap-up).
    Ended(Outcome),
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered, then hung up by either side.
    Completed,
    /// The caller hung up while it rang.
    Abandoned,
    /// The agent's phone answered busy.
    Busy,
    /// The agent (or the network) declined the call.
    Rejected,
    /// Any other failure, including a call whose end was never seen.
    Failed,
    /// The call rang this agent and others; another agent answered it.
    AnsweredElsewhere,
    /// The agent transferred the call to someone else.
    Transferred,
}

impl Outcome {
    /// Every outcome, in display order.
    pub const ALL: [Outcome; 7] = [
        Outcome::Completed,
        Outcome::Abandoned,
        Outcome::Busy,
        Outcome::Rejected,
        Outcome::Failed,
        Outcome::AnsweredElsewhere,
        Outcome::Transferred,
    ];

    /// The lowercase word stored and shown for this outcome.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Abandoned => "abandoned",
            Outcome::Busy => "busy",
            Outcome::Rejected => "rejected",
            Outcome::Failed => "failed",
            Outcome::AnsweredElsewhere => "answered_elsewhere",
            Outcome::Transferred => "transferred",
        }
    }

    /// Parses the word [`Outcome::as_str`] gives.
    pub fn from_word(word: &str) -> Option<Self> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == word)
    }
}

/// The party on the other end, as far as the network lets us know.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "number", rename_all = "snake_case")]
pub enum Caller {
    /// A number, in E.164 when it could be normalised, else as received.
    Number(String),
    /// The caller withheld their number (`Privacy: id` or an anonymous URI).
    Withheld,
}

impl fmt::Debug for Caller {
    // Personal data: only the last two digits, so `?caller` in a log line leaks nothing.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Number(n) => {
                let tail: String = n
                    .chars()
                    .rev()
                    .take(2)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                write!(f, "Number(…{tail})")
            }
            Caller::Withheld => f.write_str("Withheld"),
        }
    }
}

/// What a pop shows of a known customer.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomerCard {
    /// The customer record.
    pub id: CustomerId,
    /// The person's name.
    pub name: String,
    /// The organisation they belong to, if any.
    pub organisation: Option<String>,
    /// Which lookup rule matched the caller's number to this record.
    pub matched_by: MatchReason,
    /// The last interactions on the record, newest first (at most five).
    pub recent: Vec<InteractionSummary>,
}

impl fmt::Debug for CustomerCard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CustomerCard")
            .field("id", &self.id)
            .field("recent", &self.recent.len())
            .finish_non_exhaustive()
    }
}

/// One earlier interaction, as listed on a pop or a record page.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct InteractionSummary {
    /// The interaction.
    pub id: InteractionId,
    /// When the call started ringing.
    pub ringing_at_ms: i64,
    /// Inbound or outbound.
    pub direction: Direction,
    /// How it ended; `None` while the call is still going on.
    pub outcome: Option<Outcome>,
    /// Name of the agent who took it, if any.
    pub agent_name: Option<String>,
    /// Seconds spent talking.
    pub talk_seconds: i64,
    /// Disposition code the agent chose, if any.
    pub disposition: Option<String>,
    /// The agent's notes.
    pub notes: String,
}

impl fmt::Debug for InteractionSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InteractionSummary")
            .field("id", &self.id)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

/// Body of `POST /api/v1/login`.
#[derive(Clone, Serialize, Deserialize)]
pub struct LoginRequest {
    /// The user's login name.
    pub username: String,
    /// The user's password, in clear over the (local or TLS) connection.
    pub password: String,
}

impl fmt::Debug for LoginRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRequest")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The logged-in user, from `GET /api/v1/me`, `POST /api/v1/login` and [`ServerMessage::Hello`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Me {
    /// The user.
    pub id: UserId,
    /// Login name.
    pub username: String,
    /// Name shown in the console.
    pub display_name: String,
    /// The phone extension whose calls pop at this console, if the user takes calls.
    pub extension: Option<String>,
    /// `admin`, `supervisor` or `agent`.
    pub role: String,
    /// The disposition codes an agent may choose from.
    pub dispositions: Vec<Disposition>,
}

/// A disposition code: how the agent classifies a call in wrap-up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Disposition {
    /// Stable code stored on the interaction.
    pub code: String,
    /// Text shown to the agent.
    pub label: String,
}

/// Body of `PUT /api/v1/interactions/{id}/wrap-up`: the agent's notes and disposition.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WrapUp {
    /// Free notes, at most [`NOTES_MAX_CHARS`] characters.
    pub notes: String,
    /// One of the configured disposition codes, or `None` to leave it unset.
    pub disposition: Option<String>,
}

impl fmt::Debug for WrapUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrapUp")
            .field("notes_chars", &self.notes.chars().count())
            .field("disposition", &self.disposition)
            .finish()
    }
}

/// The body of every 4xx and 5xx answer of the REST API.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// A short reason, fit to show to the user.
    pub error: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_pop() -> Pop {
        Pop {
            call_id: CallId("abc@host".into()),
            interaction_id: InteractionId(7),
            direction: Direction::Inbound,
            state: CallState::Ended(Outcome::Abandoned),
            caller: Caller::Number("+31201234567".into()),
            called: "2001".into(),
            ringing_at_ms: 1_700_000_000_000,
            answered_at_ms: None,
            ended_at_ms: Some(1_700_000_004_000),
            customer: None,
            candidates: Vec::new(),
            colleague: None,
            notes: String::new(),
            disposition: None,
        }
    }

    #[test]
    fn pop_message_has_the_documented_json_shape() {
        let json = serde_json::to_value(ServerMessage::Pop { pop: sample_pop() }).unwrap();

        assert_eq!(json["type"], "pop");
        assert_eq!(json["pop"]["call_id"], "abc@host");
        assert_eq!(json["pop"]["state"]["state"], "ended");
        assert_eq!(json["pop"]["state"]["outcome"], "abandoned");
        assert_eq!(json["pop"]["caller"]["kind"], "number");
        assert_eq!(json["pop"]["caller"]["number"], "+31201234567");
        assert_eq!(json["pop"]["interaction_id"], 7);
    }

    #[test]
    fn server_message_round_trips() {
        let msg = ServerMessage::Pop { pop: sample_pop() };
        let text = serde_json::to_string(&msg).unwrap();

        assert_eq!(serde_json::from_str::<ServerMessage>(&text).unwrap(), msg);
    }

    #[test]
    fn withheld_caller_serialises_without_a_number() {
        let json = serde_json::to_value(Caller::Withheld).unwrap();

        assert_eq!(json, serde_json::json!({"kind": "withheld"}));
    }

    #[test]
    fn debug_output_hides_personal_data() {
        let caller = format!("{:?}", Caller::Number("+31201234567".into()));
        let wrap = format!(
            "{:?}",
            WrapUp {
                notes: "secret".into(),
                disposition: None
            }
        );
        let login = format!(
            "{:?}",
            LoginRequest {
                username: "ann".into(),
                password: "hunter2".into()
            }
        );

        assert_eq!(caller, "Number(…67)");
        assert!(!wrap.contains("secret"));
        assert!(!login.contains("hunter2"));
    }

    #[test]
    fn new_outcomes_serialise_as_their_words() {
        let elsewhere = serde_json::to_value(CallState::Ended(Outcome::AnsweredElsewhere)).unwrap();
        let moved = serde_json::to_value(Outcome::Transferred).unwrap();

        assert_eq!(
            elsewhere,
            serde_json::json!({"state": "ended", "outcome": "answered_elsewhere"})
        );
        assert_eq!(moved, "transferred");
    }

    #[test]
    fn outcome_words_round_trip() {
        for outcome in Outcome::ALL {
            assert_eq!(Outcome::from_word(outcome.as_str()), Some(outcome));
        }
        assert_eq!(Outcome::from_word("nonsense"), None);
    }
}
