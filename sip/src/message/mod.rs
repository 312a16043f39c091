//! SIP messages reduced to what call tracking needs.
//!
//! [`parse`] keeps the start line, Call-ID, CSeq, From, To, P-Asserted-Identity
//! (RFC 3325 §9.1), Privacy (RFC 3323 §4.2), Reason (RFC 3326), the Via count and top
//! branch (RFC 3261 §8.1.1.7), the Contact user (§8.1.1.8), Refer-To (RFC 3515 §2.1),
//! Referred-By (RFC 3892), Replaces (RFC 3891), Session-Expires (RFC 4028 §4) and
//! Remote-Party-ID (the pre-standard draft-ietf-sip-privacy-04 header many trunks still
//! send). Bodies are ignored. Who the caller is, is [`crate::identity`]'s question; what
//! the message does to a call is [`crate::tracker`]'s.
//!
//! How the work is split with rsip 0.4: reading the header section for call tracking is
//! this crate's own job, and is done here (the private `head` module): the head is cut at
//! the first empty line, bare LF line ends are read as CRLF and folded lines are unfolded
//! (RFC 3261 §7.3.1), each header line must be a token name directly followed by a colon
//! (the rule rsip applied when it framed whole messages), and only the headers listed above
//! are kept, borrowed from the message rather than copied. rsip still checks the start
//! line: the method, the Request-URI grammar and the `SIP/x.y` version of a request line,
//! or the version and three-digit status of a status line. Handing rsip the whole message
//! made it tokenise and copy every header and the body, which the crate then turned back
//! into text, and that was most of the cost of a parse. rsip does not know the compact
//! header names of RFC 3261 §7.3.3 (`i`, `f`, `t`, `m`, `v`, `l`, ...); they are mapped to
//! their long names here.
//!
//! Limitation: rsip 0.4 rejects a request whose method is not in its fixed list (it knows
//! the RFC 3261 methods plus INFO, MESSAGE, NOTIFY, PRACK, PUBLISH, REFER, SUBSCRIBE and
//! UPDATE), so such a request fails to parse and is dropped; none of those can start or
//! end a call, so tracking loses nothing, and a parser with an open method set would lift
//! it. The same extension methods do parse inside CSeq, as [`Method::Other`].
//!
//! Personal data: users, display names and URIs never appear in `Debug` output; a message
//! shows its method or status, CSeq and a digest of its Call-ID ([`CallIdDigest`]).

use std::fmt;

use crate::{Error, Result};

mod addr;
mod head;
#[cfg(test)]
mod tests;

pub(crate) use addr::{parse_uri, percent_decode};

/// A SIP method.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE (RFC 3261 §13).
    Invite,
    /// ACK (RFC 3261 §13.2.2.4, §17.1.1.3).
    Ack,
    /// BYE (RFC 3261 §15).
    Bye,
    /// CANCEL (RFC 3261 §9).
    Cancel,
    /// OPTIONS (RFC 3261 §11).
    Options,
    /// REGISTER (RFC 3261 §10).
    Register,
    /// PRACK (RFC 3262).
    Prack,
    /// UPDATE (RFC 3311).
    Update,
    /// INFO (RFC 6086).
    Info,
    /// REFER (RFC 3515).
    Refer,
    /// MESSAGE (RFC 3428).
    Message,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other method, as written (methods are case-sensitive, RFC 3261 §25.1).
    Other(String),
}

impl Method {
    /// Reads a method token; unknown tokens become [`Method::Other`].
    pub fn from_token(token: &str) -> Self {
        match token {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "OPTIONS" => Self::Options,
            "REGISTER" => Self::Register,
            "PRACK" => Self::Prack,
            "UPDATE" => Self::Update,
            "INFO" => Self::Info,
            "REFER" => Self::Refer,
            "MESSAGE" => Self::Message,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "PUBLISH" => Self::Publish,
            other => Self::Other(other.to_owned()),
        }
    }

    /// The method token as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Options => "OPTIONS",
            Self::Register => "REGISTER",
            Self::Prack => "PRACK",
            Self::Update => "UPDATE",
            Self::Info => "INFO",
            Self::Refer => "REFER",
            Self::Message => "MESSAGE",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Publish => "PUBLISH",
            Self::Other(token) => token,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// First line of a message.
#[derive(Clone, PartialEq, Eq)]
pub enum StartLine {
    /// A request line.
    Request {
        /// The request method.
        method: Method,
        /// User part of the Request-URI (the dialled number or extension), if any.
        uri_user: Option<String>,
    },
    /// A status line.
    Response {
        /// The status code, 100 to 699.
        status: u16,
    },
}

impl fmt::Debug for StartLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request { method, .. } => write!(f, "Request({method})"),
            Self::Response { status } => write!(f, "Response({status})"),
        }
    }
}

/// One end of a dialog as a From, To or P-Asserted-Identity header names it.
#[derive(Clone, PartialEq, Eq)]
pub struct Party {
    /// Display name, unquoted.
    pub display_name: Option<String>,
    /// The URI as written, without angle brackets.
    pub uri: String,
    /// User part of a `sip:`/`sips:` URI, or the number of a `tel:` URI.
    pub user: Option<String>,
    /// Host of the URI, lowercased, without port; empty for `tel:` URIs.
    pub host: String,
    /// The `tag` header parameter (RFC 3261 §19.3).
    pub tag: Option<String>,
}

impl fmt::Debug for Party {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Party")
            .field("has_display_name", &self.display_name.is_some())
            .field("has_user", &self.user.is_some())
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

/// A parsed SIP message, reduced to what call tracking uses.
#[derive(Clone, PartialEq, Eq)]
pub struct SipMessage {
    /// Request or status line.
    pub start: StartLine,
    /// The Call-ID header.
    pub call_id: String,
    /// Sequence number of the CSeq header.
    pub cseq: u32,
    /// Method of the CSeq header; for a response, the method of the request it answers.
    pub cseq_method: Method,
    /// The From header.
    pub from: Party,
    /// The To header.
    pub to: Party,
    /// P-Asserted-Identity URIs, one per header line and comma-separated value, in order.
    pub asserted: Vec<String>,
    /// Privacy values, lowercased (`id`, `header`, `user`, `none`, ...).
    pub privacy: Vec<String>,
    /// The Reason header value, when present.
    pub reason: Option<String>,
    /// How many Via values the message carries (one per hop it crossed), at most 255.
    pub via_count: u8,
    /// The `branch` parameter of the top Via: the transaction on the last hop.
    pub via_branch: Option<String>,
    /// User part of the first Contact URI.
    pub contact_user: Option<String>,
    /// The Refer-To header of a REFER.
    pub refer_to: Option<ReferTo>,
    /// The Referred-By URI as written, when present.
    pub referred_by: Option<String>,
    /// The Call-ID a Replaces header names, when present.
    pub replaces: Option<String>,
    /// The session interval of a Session-Expires header, in seconds.
    pub session_expires_s: Option<u32>,
    /// Remote-Party-ID entries, in order.
    pub remote_party: Vec<RemoteParty>,
}

/// The transfer target of a REFER (RFC 3515 §2.1).
#[derive(Clone, PartialEq, Eq)]
pub struct ReferTo {
    /// User part of the Refer-To URI: the extension or number the call moves to.
    pub user: Option<String>,
    /// The Call-ID inside an embedded `?Replaces=` (RFC 3891 §7.1), URL-decoded: the
    /// consultation call of an attended transfer.
    pub replaces: Option<String>,
}

impl fmt::Debug for ReferTo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReferTo")
            .field("has_user", &self.user.is_some())
            .field("replaces", &self.replaces.as_deref().map(CallIdDigest))
            .finish()
    }
}

/// One Remote-Party-ID entry: `[name] <uri>;party=calling;privacy=full;screen=yes`.
#[derive(Clone, PartialEq, Eq)]
pub struct RemoteParty {
    /// The URI as written, without angle brackets.
    pub uri: String,
    /// The `party` parameter, lowercased (`calling`, `called`), when present.
    pub party: Option<String>,
    /// The `privacy` parameter, lowercased (`full`, `name`, `uri`, `off`), when present.
    pub privacy: Option<String>,
    /// The `screen` parameter, lowercased (`yes`, `no`), when present.
    pub screen: Option<String>,
}

impl fmt::Debug for RemoteParty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteParty")
            .field("party", &self.party)
            .field("privacy", &self.privacy)
            .field("screen", &self.screen)
            .finish_non_exhaustive()
    }
}

impl SipMessage {
    /// The method of a request; `None` for a response.
    pub fn method(&self) -> Option<&Method> {
        match &self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code of a response; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Request { .. } => None,
            StartLine::Response { status } => Some(status),
        }
    }

    /// A digest of the Call-ID, safe to log.
    pub fn call_id_digest(&self) -> CallIdDigest<'_> {
        CallIdDigest(&self.call_id)
    }
}

impl fmt::Debug for SipMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SipMessage")
            .field("start", &self.start)
            .field("call", &format_args!("{}", self.call_id_digest()))
            .field("cseq", &format_args!("{} {}", self.cseq, self.cseq_method))
            .field("from", &self.from)
            .field("to", &self.to)
            .field("asserted", &self.asserted.len())
            .field("privacy", &self.privacy)
            .field("has_reason", &self.reason.is_some())
            .field("via_count", &self.via_count)
            .field("refer_to", &self.refer_to)
            .field("has_referred_by", &self.referred_by.is_some())
            .field("replaces", &self.replaces.as_deref().map(CallIdDigest))
            .field("session_expires_s", &self.session_expires_s)
            .field("remote_party", &self.remote_party)
            .finish()
    }
}

/// Shows a Call-ID as a 16-hex-digit FNV-1a digest, for logs.
///
/// Call-IDs often embed the caller's IP address or host name (RFC 3261 §8.1.1.4), so they
/// are not logged as they are. The digest is stable across runs and processes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CallIdDigest<'a>(pub &'a str);

impl CallIdDigest<'_> {
    /// The 64-bit FNV-1a hash of the Call-ID bytes.
    pub fn value(&self) -> u64 {
        fnv1a(self.0.as_bytes())
    }
}

impl fmt::Display for CallIdDigest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.value())
    }
}

impl fmt::Debug for CallIdDigest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// 64-bit FNV-1a, used for log digests and compact per-call keys.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Parses one SIP message (RFC 3261 §7).
///
/// # Errors
///
/// [`Error::PayloadNotUtf8`] when the start line is not UTF-8 (header bytes that are not
/// become U+FFFD);
/// [`Error::SipParse`] when the start line is not a request or status line rsip accepts, a
/// header line is not `name: value`, or Call-ID, CSeq, From or To is missing or
/// malformed. Malformed P-Asserted-Identity entries are skipped, not fatal.
pub fn parse(bytes: &[u8]) -> Result<SipMessage> {
    let head = head::head(bytes)?;
    tracing::trace!(
        target: "ringside::raw",
        size_bytes = bytes.len(),
        message = %String::from_utf8_lossy(bytes),
        "sip message received"
    );

    let mut lines = head::Lines::new(&head);
    let start_line = lines.next().unwrap_or_default();
    let start = start_line_of(&start_line)?;
    let mut fields = head::Fields::default();
    for line in lines {
        fields.add_line(line)?;
    }
    fields.into_message(start)
}

/// Reads the start line, which rsip checks on its own.
fn start_line_of(line: &str) -> Result<StartLine> {
    let request_uri = (!line.starts_with("SIP/"))
        .then(|| line.split_whitespace().nth(1))
        .flatten();

    let mut framed = Vec::with_capacity(line.len() + 4);
    match request_uri {
        // rsip 0.4 cannot parse an IPv6 literal in a Request-URI (`sip:x@[fd17::1]`), nor
        // the unbracketed form some old phones send (`sip:x@fec0:0:0:0:216:d3ff:fe0d:22c`,
        // against RFC 3261 §25.1 but seen in real captures). The crate reads the
        // Request-URI itself, so rsip is given a placeholder of the same scheme instead.
        Some(uri) if has_ipv6_host(uri) => {
            let scheme = uri.split(':').next().unwrap_or("sip");
            let placeholder = format!("{scheme}:placeholder.invalid");
            framed.extend_from_slice(line.replacen(uri, &placeholder, 1).as_bytes());
        }
        _ => framed.extend_from_slice(line.as_bytes()),
    }
    framed.extend_from_slice(b"\r\n\r\n");

    // A line that starts with `SIP/` can only be a status line and any other only a request
    // line, so the one rsip parser that can succeed is asked directly (asking
    // `rsip::SipMessage` tries the status line first and pays for a failure on every request).
    if line.starts_with("SIP/") {
        let response =
            rsip::Response::try_from(framed.as_slice()).map_err(|err| Error::from_rsip(&err))?;
        return Ok(StartLine::Response {
            status: response.status_code.code(),
        });
    }
    let request =
        rsip::Request::try_from(framed.as_slice()).map_err(|err| Error::from_rsip(&err))?;
    Ok(StartLine::Request {
        method: method_of(request.method),
        uri_user: request_uri
            .and_then(addr::parse_uri)
            .and_then(|uri| uri.user),
    })
}

/// Whether a Request-URI's host is an IPv6 address, bracketed or not: a `[`, or a host
/// part (after the `@`, before any parameter) with two or more colons, which a host name
/// and port cannot have.
fn has_ipv6_host(uri: &str) -> bool {
    let host_part = uri.rsplit('@').next().unwrap_or(uri);
    let host_port = host_part.split(';').next().unwrap_or_default();
    uri.contains('[') || (uri.contains('@') && host_port.matches(':').count() >= 2)
}

/// The crate's name for a method rsip accepted.
fn method_of(method: rsip::Method) -> Method {
    match method {
        rsip::Method::Ack => Method::Ack,
        rsip::Method::Bye => Method::Bye,
        rsip::Method::Cancel => Method::Cancel,
        rsip::Method::Info => Method::Info,
        rsip::Method::Invite => Method::Invite,
        rsip::Method::Message => Method::Message,
        rsip::Method::Notify => Method::Notify,
        rsip::Method::Options => Method::Options,
        rsip::Method::PRack => Method::Prack,
        rsip::Method::Publish => Method::Publish,
        rsip::Method::Refer => Method::Refer,
        rsip::Method::Register => Method::Register,
        rsip::Method::Subscribe => Method::Subscribe,
        rsip::Method::Update => Method::Update,
    }
}
