//! The three body formats a PBX may post, each read into one [`PbxEvent`].
//!
//! - `ringside`: Ringside's own JSON, version 1 (fields in the README, "PBX webhooks").
//! - `zammad`: Zammad's generic CTI API (docs.zammad.org, "Generic CTI"): `newCall`,
//!   `answer`, `hangup`, form-encoded (`user[]` repeated) or JSON (`user` a string or a
//!   list).
//! - `sipgate`: sipgate.io push events (developer.sipgate.io, "Push API"), form-encoded;
//!   the same three events, plus `origCallId` linking a transferred call to its first leg.
//!
//! Parsing checks shape only (which event, required fields present, lengths bounded);
//! it knows nothing of users or calls. Error texts name the field, never its value.

use ringside_sip::tracker::EndCause;
use serde::Deserialize;

/// Longest call id taken (Zammad allows 250 characters).
pub const MAX_CALL_ID_CHARS: usize = 250;
/// Longest number, name or queue taken.
const MAX_FIELD_CHARS: usize = 256;
/// Most agents one event may name.
pub const MAX_AGENTS: usize = 8;

/// What went wrong reading a body; the text is the 4xx answer's reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The body is not UTF-8 text.
    #[error("the body is not UTF-8 text")]
    NotText,
    /// The body is not JSON of the expected shape.
    #[error("the body is not valid JSON for this format")]
    BadJson,
    /// A required field is absent or empty.
    #[error("missing field: {0}")]
    MissingField(&'static str),
    /// A field has a value this format does not define.
    #[error("unknown value in field: {0}")]
    UnknownValue(&'static str),
    /// A field is longer than Ringside takes.
    #[error("field too long: {0}")]
    TooLong(&'static str),
    /// A `version` this server does not know.
    #[error("unsupported version: this server reads version 1")]
    Version,
}

/// The direction of a call, as the PBX states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PbxDirection {
    /// Someone calls in.
    Inbound,
    /// An agent calls out.
    Outbound,
}

/// What happened, in any format's terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PbxEventKind {
    /// A new call rings (Zammad and sipgate `newCall`, Ringside `new_call`).
    NewCall,
    /// The call waits in a queue and rings the named agents (Ringside `queued`).
    Queued,
    /// Someone answered.
    Answered,
    /// The call moves to `to` (Ringside `transferred`).
    Transferred {
        /// The extension, user or number it moves to.
        to: String,
        /// Whether the transfer was attended (announced).
        attended: bool,
    },
    /// The call is over.
    Ended {
        /// Why.
        cause: EndCause,
    },
}

/// One webhook, read but not yet resolved against users and calls.
#[derive(Clone, PartialEq, Eq)]
pub struct PbxEvent {
    /// What happened.
    pub kind: PbxEventKind,
    /// The PBX's id of the call.
    pub call_id: String,
    /// The calling party as sent (`anonymous` and empty mean withheld).
    pub from: Option<String>,
    /// The called party as sent.
    pub to: Option<String>,
    /// The direction, when given.
    pub direction: Option<PbxDirection>,
    /// Agents the call rings (inbound) or who call (outbound), by extension, login,
    /// e-mail or display name.
    pub agents: Vec<String>,
    /// Who answered, best guess first (`answeringNumber`, then `user`).
    pub answering: Vec<String>,
    /// The queue, when named.
    pub queue: Option<String>,
    /// The SIP Call-ID of the call, when the PBX gives it (Ringside format only).
    pub sip_call_id: Option<String>,
    /// The PBX's id of the call this one continues (sipgate `origCallId`, Ringside
    /// `transferred_from`).
    pub transferred_from: Option<String>,
    /// When it happened (Ringside `at_ms`), epoch milliseconds.
    pub at_ms: Option<i64>,
}

impl std::fmt::Debug for PbxEvent {
    // Numbers and names are personal data: kind and sizes only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PbxEvent")
            .field("kind", &self.kind)
            .field("agents", &self.agents.len())
            .field("direction", &self.direction)
            .finish_non_exhaustive()
    }
}

impl PbxEvent {
    fn new(kind: PbxEventKind, call_id: String) -> PbxEvent {
        PbxEvent {
            kind,
            call_id,
            from: None,
            to: None,
            direction: None,
            agents: Vec::new(),
            answering: Vec::new(),
            queue: None,
            sip_call_id: None,
            transferred_from: None,
            at_ms: None,
        }
    }
}

fn bounded(value: Option<String>, field: &'static str) -> Result<Option<String>, FormatError> {
    let value = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match value {
        Some(v) if v.chars().count() > MAX_FIELD_CHARS => Err(FormatError::TooLong(field)),
        other => Ok(other),
    }
}

fn call_id_of(value: Option<String>, field: &'static str) -> Result<String, FormatError> {
    let id = value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or(FormatError::MissingField(field))?;
    if id.chars().count() > MAX_CALL_ID_CHARS {
        return Err(FormatError::TooLong(field));
    }
    Ok(id)
}

/// The agents an event names: the first [`MAX_AGENTS`], the rest ignored (a large ring
/// group still pops its first members rather than being refused whole).
/// Whether `id` has the form Ringside gives webhook calls (`pbx-{token id}:{call id}`):
/// a `sip_call_id` may name a SIP call, never another PBX's webhook call.
fn is_webhook_call_id(id: &str) -> bool {
    id.trim()
        .strip_prefix("pbx-")
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(token, _)| !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit()))
}

fn names(values: Vec<String>, field: &'static str) -> Result<Vec<String>, FormatError> {
    let mut out = Vec::new();
    for value in values {
        if out.len() == MAX_AGENTS {
            break;
        }
        if let Some(v) = bounded(Some(value), field)? {
            out.push(v);
        }
    }
    Ok(out)
}

/// A new call must name both parties and its direction; the field names are the
/// format's own.
fn require_start(
    event: &PbxEvent,
    from: &'static str,
    to: &'static str,
    direction: &'static str,
) -> Result<(), FormatError> {
    if event.from.is_none() {
        return Err(FormatError::MissingField(from));
    }
    if event.to.is_none() {
        return Err(FormatError::MissingField(to));
    }
    if event.direction.is_none() {
        return Err(FormatError::MissingField(direction));
    }
    Ok(())
}

/// The cause words of Zammad and sipgate hangups. `noAnswer` (nobody took it, or the
/// phone refused it, as a SIP 480) is `Failed`, as the SIP side logs a 480.
fn cti_cause(word: &str) -> Result<EndCause, FormatError> {
    Ok(match word {
        "normalClearing" => EndCause::Completed,
        "busy" => EndCause::Busy,
        "cancel" => EndCause::Abandoned,
        "noAnswer" | "congestion" | "notFound" => EndCause::Failed,
        "forwarded" => EndCause::Transferred,
        _ => return Err(FormatError::UnknownValue("cause")),
    })
}

fn cti_direction(word: Option<String>) -> Result<Option<PbxDirection>, FormatError> {
    match word.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("in") => Ok(Some(PbxDirection::Inbound)),
        Some("out") => Ok(Some(PbxDirection::Outbound)),
        Some(_) => Err(FormatError::UnknownValue("direction")),
    }
}

/// The fields of a Zammad or sipgate event, however they were encoded.
#[derive(Debug, Default, Deserialize)]
struct CtiFields {
    event: Option<String>,
    #[serde(rename = "callId")]
    call_id: Option<String>,
    #[serde(rename = "origCallId")]
    orig_call_id: Option<String>,
    from: Option<String>,
    to: Option<String>,
    direction: Option<String>,
    #[serde(default)]
    user: OneOrMany,
    queue: Option<String>,
    cause: Option<String>,
    #[serde(rename = "answeringNumber")]
    answering_number: Option<String>,
}

/// Zammad's JSON `user`: one name or a list.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    #[default]
    None,
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::None => Vec::new(),
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}

fn form_fields(body: &str) -> CtiFields {
    let mut fields = CtiFields::default();
    let mut users = Vec::new();
    for (key, value) in form_urlencoded::parse(body.as_bytes()) {
        let value = value.into_owned();
        match key.as_ref() {
            "event" => fields.event = Some(value),
            "callId" => fields.call_id = Some(value),
            "origCallId" => fields.orig_call_id = Some(value),
            "from" => fields.from = Some(value),
            "to" => fields.to = Some(value),
            "direction" => fields.direction = Some(value),
            "user[]" | "user" => users.push(value),
            "queue" => fields.queue = Some(value),
            "cause" => fields.cause = Some(value),
            "answeringNumber" => fields.answering_number = Some(value),
            // Other documented fields (userId[], fullUserId[], xcid, diversion) and
            // unknown ones are not needed; PBXs add fields over time.
            _ => {}
        }
    }
    fields.user = OneOrMany::Many(users);
    fields
}

fn cti_event(fields: CtiFields) -> Result<PbxEvent, FormatError> {
    let word = fields
        .event
        .filter(|e| !e.trim().is_empty())
        .ok_or(FormatError::MissingField("event"))?;
    let call_id = call_id_of(fields.call_id, "callId")?;
    let users = names(fields.user.into_vec(), "user")?;
    let answering_number = bounded(fields.answering_number, "answeringNumber")?;
    let kind = match word.trim() {
        "newCall" => PbxEventKind::NewCall,
        "answer" => PbxEventKind::Answered,
        "hangup" => {
            let cause = fields
                .cause
                .filter(|c| !c.trim().is_empty())
                .ok_or(FormatError::MissingField("cause"))?;
            PbxEventKind::Ended {
                cause: cti_cause(cause.trim())?,
            }
        }
        _ => return Err(FormatError::UnknownValue("event")),
    };
    let mut event = PbxEvent::new(kind, call_id);
    event.from = bounded(fields.from, "from")?;
    event.to = bounded(fields.to, "to")?;
    event.direction = cti_direction(fields.direction)?;
    event.queue = bounded(fields.queue, "queue")?;
    event.transferred_from = match bounded(fields.orig_call_id, "origCallId")? {
        Some(orig) if orig != event.call_id => Some(orig),
        _ => None,
    };
    if event.kind == PbxEventKind::NewCall {
        require_start(&event, "from", "to", "direction")?;
        event.agents = users;
    } else {
        event.answering = answering_number.into_iter().chain(users).collect();
    }
    Ok(event)
}

/// Reads a Zammad generic CTI body: JSON when `json` (the request said
/// `application/json`), else form-encoded.
///
/// # Errors
/// [`FormatError`] naming the missing or bad field.
pub fn parse_zammad(body: &[u8], json: bool) -> Result<PbxEvent, FormatError> {
    let text = std::str::from_utf8(body).map_err(|_| FormatError::NotText)?;
    let fields = if json {
        serde_json::from_str(text).map_err(|_| FormatError::BadJson)?
    } else {
        form_fields(text)
    };
    cti_event(fields)
}

/// Reads a sipgate.io push body (form-encoded).
///
/// # Errors
/// [`FormatError`] naming the missing or bad field.
pub fn parse_sipgate(body: &[u8]) -> Result<PbxEvent, FormatError> {
    let text = std::str::from_utf8(body).map_err(|_| FormatError::NotText)?;
    cti_event(form_fields(text))
}

/// Ringside's own format, version 1.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RingsideBody {
    version: u32,
    event: String,
    call_id: Option<String>,
    at_ms: Option<i64>,
    from: Option<String>,
    to: Option<String>,
    direction: Option<String>,
    #[serde(default)]
    agents: Vec<String>,
    agent: Option<String>,
    queue: Option<String>,
    sip_call_id: Option<String>,
    transferred_from: Option<String>,
    transfer_to: Option<String>,
    #[serde(default)]
    attended: bool,
    cause: Option<String>,
}

fn ringside_cause(word: &str) -> Result<EndCause, FormatError> {
    Ok(match word {
        "completed" => EndCause::Completed,
        "abandoned" => EndCause::Abandoned,
        "busy" => EndCause::Busy,
        "rejected" => EndCause::Rejected,
        "failed" => EndCause::Failed,
        "transferred" => EndCause::Transferred,
        _ => return Err(FormatError::UnknownValue("cause")),
    })
}

/// Reads a body of Ringside's own JSON format.
///
/// # Errors
/// [`FormatError`] naming the missing or bad field.
pub fn parse_ringside(body: &[u8]) -> Result<PbxEvent, FormatError> {
    let text = std::str::from_utf8(body).map_err(|_| FormatError::NotText)?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| FormatError::BadJson)?;
    match value.get("version") {
        None => return Err(FormatError::MissingField("version")),
        Some(v) if v.as_u64() != Some(1) => return Err(FormatError::Version),
        Some(_) => {}
    }
    let body: RingsideBody = serde_json::from_value(value).map_err(|err| {
        // serde names an unknown field in its message, never a value.
        if err.to_string().starts_with("unknown field") {
            FormatError::UnknownValue("field name")
        } else {
            FormatError::BadJson
        }
    })?;
    debug_assert_eq!(body.version, 1);
    let call_id = call_id_of(body.call_id, "call_id")?;
    let kind = match body.event.as_str() {
        "new_call" => PbxEventKind::NewCall,
        "queued" => PbxEventKind::Queued,
        "answered" => PbxEventKind::Answered,
        "transferred" => PbxEventKind::Transferred {
            to: bounded(body.transfer_to, "transfer_to")?
                .ok_or(FormatError::MissingField("transfer_to"))?,
            attended: body.attended,
        },
        "ended" => PbxEventKind::Ended {
            cause: ringside_cause(
                body.cause
                    .as_deref()
                    .ok_or(FormatError::MissingField("cause"))?,
            )?,
        },
        _ => return Err(FormatError::UnknownValue("event")),
    };
    let mut event = PbxEvent::new(kind, call_id);
    event.direction = match body.direction.as_deref() {
        None => None,
        Some("inbound") => Some(PbxDirection::Inbound),
        Some("outbound") => Some(PbxDirection::Outbound),
        Some(_) => return Err(FormatError::UnknownValue("direction")),
    };
    event.from = bounded(body.from, "from")?;
    event.to = bounded(body.to, "to")?;
    event.agents = names(body.agents, "agents")?;
    event.answering = bounded(body.agent, "agent")?.into_iter().collect();
    event.queue = bounded(body.queue, "queue")?;
    event.sip_call_id = match body.sip_call_id {
        Some(id) if is_webhook_call_id(&id) => {
            return Err(FormatError::UnknownValue("sip_call_id"));
        }
        Some(id) => Some(call_id_of(Some(id), "sip_call_id")?),
        None => None,
    };
    event.transferred_from = match body.transferred_from {
        Some(id) => Some(call_id_of(Some(id), "transferred_from")?),
        None => None,
    };
    event.at_ms = body.at_ms;
    if event.kind == PbxEventKind::NewCall {
        require_start(&event, "from", "to", "direction")?;
    }
    if event.kind == PbxEventKind::Queued && event.agents.is_empty() && event.queue.is_none() {
        return Err(FormatError::MissingField("queue"));
    }
    Ok(event)
}

#[cfg(test)]
mod tests;
