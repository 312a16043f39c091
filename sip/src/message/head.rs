//! Preparing a message head for rsip, and collecting the header fields the crate uses.

use crate::message::{addr, Method, ReferTo, RemoteParty, SipMessage, StartLine};
use crate::{Error, Result};

/// A message ready for rsip, plus the Request-URI as written.
pub(super) struct Prepared {
    /// Head with CRLF line ends and no folded lines, then the blank line and the body.
    pub bytes: Vec<u8>,
    /// Second token of a request line; `None` for a status line.
    pub request_uri: Option<String>,
}

/// Normalises line ends and unfolds header lines (RFC 3261 §7.3.1), leaving the body alone.
///
/// Empty lines before the start line are dropped, as RFC 3261 §7.5 allows.
pub(super) fn prepare(bytes: &[u8]) -> Result<Prepared> {
    let start = bytes
        .iter()
        .position(|byte| !matches!(byte, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let (head, body) = split_head(&bytes[start..]);
    let head = std::str::from_utf8(head).map_err(|_| Error::PayloadNotUtf8)?;

    let mut lines: Vec<String> = Vec::new();
    for line in head.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let folded = line.starts_with([' ', '\t']);
        match lines.last_mut() {
            Some(previous) if folded => {
                previous.push(' ');
                previous.push_str(line.trim());
            }
            _ => lines.push(line.to_owned()),
        }
    }

    let request_uri = lines
        .first()
        .filter(|start| !start.starts_with("SIP/"))
        .and_then(|start| start.split_whitespace().nth(1))
        .map(str::to_owned);

    // rsip 0.4 cannot parse an IPv6 literal in a Request-URI (`sip:x@[fd17::1]`) and
    // refuses the whole message. The crate reads the Request-URI itself from
    // `request_uri`, so rsip is given a placeholder of the same scheme instead.
    if let (Some(uri), Some(start)) = (&request_uri, lines.first_mut()) {
        if uri.contains('[') {
            let scheme = uri.split(':').next().unwrap_or("sip");
            let placeholder = format!("{scheme}:placeholder.invalid");
            *start = start.replacen(uri.as_str(), &placeholder, 1);
        }
    }

    let mut out = Vec::with_capacity(bytes.len() + lines.len() + 4);
    for line in &lines {
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);

    Ok(Prepared {
        bytes: out,
        request_uri,
    })
}

/// Splits at the first empty line (CRLF CRLF, or LF LF from sloppy senders).
fn split_head(bytes: &[u8]) -> (&[u8], &[u8]) {
    let crlf = find(bytes, b"\r\n\r\n").map(|at| (at, 4));
    let lf = find(bytes, b"\n\n").map(|at| (at, 2));
    let first = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match first {
        Some((at, len)) => (&bytes[..at], &bytes[at + len..]),
        None => (bytes, &[]),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The header values the crate uses, in arrival order.
#[derive(Default)]
pub(super) struct Fields {
    call_id: Option<String>,
    cseq: Option<String>,
    from: Option<String>,
    to: Option<String>,
    asserted: Vec<String>,
    privacy: Vec<String>,
    reason: Option<String>,
    via_count: u8,
    via_branch: Option<String>,
    contact: Option<String>,
    refer_to: Option<String>,
    referred_by: Option<String>,
    replaces: Option<String>,
    session_expires: Option<String>,
    remote_party: Vec<RemoteParty>,
}

/// Most Remote-Party-ID entries kept; a caller has one, a few at most.
const MAX_REMOTE_PARTIES: usize = 4;

impl Fields {
    /// Records one header line; single-valued headers keep their first occurrence.
    pub(super) fn add(&mut self, name: &str, value: &str) {
        let slot = match canonical_name(name).as_str() {
            "call-id" => &mut self.call_id,
            "cseq" => &mut self.cseq,
            "from" => &mut self.from,
            "to" => &mut self.to,
            "reason" => &mut self.reason,
            "contact" => &mut self.contact,
            "refer-to" => &mut self.refer_to,
            "referred-by" => &mut self.referred_by,
            "replaces" => &mut self.replaces,
            "session-expires" => &mut self.session_expires,
            "via" => {
                self.add_via(value);
                return;
            }
            "remote-party-id" => {
                let room = MAX_REMOTE_PARTIES.saturating_sub(self.remote_party.len());
                let entries = addr::split_address_list(value)
                    .into_iter()
                    .filter_map(addr::parse_remote_party)
                    .take(room);
                self.remote_party.extend(entries);
                return;
            }
            "p-asserted-identity" => {
                let uris = addr::split_address_list(value)
                    .into_iter()
                    .filter_map(addr::parse_party)
                    .map(|party| party.uri);
                self.asserted.extend(uris);
                return;
            }
            "privacy" => {
                let values = value
                    .split([';', ','])
                    .map(|v| v.trim().to_ascii_lowercase())
                    .filter(|v| !v.is_empty());
                self.privacy.extend(values);
                return;
            }
            _ => return,
        };
        if slot.is_none() {
            *slot = Some(value.to_owned());
        }
    }

    /// Counts the values of one Via line; the first value of the first line is the top Via.
    fn add_via(&mut self, value: &str) {
        let values: Vec<&str> = value.split(',').map(str::trim).collect();
        if self.via_count == 0 {
            self.via_branch = values.first().and_then(|top| addr::param(top, "branch"));
        }
        let count = u8::try_from(values.len()).unwrap_or(u8::MAX);
        self.via_count = self.via_count.saturating_add(count);
    }

    /// Builds the message, checking the headers every SIP message must have
    /// (RFC 3261 §8.1.1).
    pub(super) fn into_message(self, start: StartLine) -> Result<SipMessage> {
        let call_id = self
            .call_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| Error::sip_header("Call-ID", "missing"))?;
        // RFC 3261 §25.1: a Call-ID is a word of printable characters.
        if call_id.chars().any(char::is_control) {
            return Err(Error::sip_header("Call-ID", "control character"));
        }
        let (cseq, cseq_method) = parse_cseq(self.cseq.as_deref())?;
        let from = party("From", self.from.as_deref())?;
        let to = party("To", self.to.as_deref())?;

        Ok(SipMessage {
            start,
            call_id,
            cseq,
            cseq_method,
            from,
            to,
            asserted: self.asserted,
            privacy: self.privacy,
            reason: self.reason,
            via_count: self.via_count,
            via_branch: self.via_branch,
            contact_user: self
                .contact
                .as_deref()
                .and_then(|value| addr::split_address_list(value).first().copied())
                .and_then(addr::parse_party)
                .and_then(|party| party.user),
            refer_to: self.refer_to.as_deref().and_then(refer_to),
            referred_by: self
                .referred_by
                .as_deref()
                .and_then(addr::parse_party)
                .map(|party| party.uri),
            replaces: self.replaces.as_deref().and_then(replaced_call_id),
            session_expires_s: self
                .session_expires
                .as_deref()
                .and_then(|value| value.split(';').next())
                .and_then(|secs| secs.trim().parse().ok()),
            remote_party: self.remote_party,
        })
    }
}

/// Lowercased long header name; compact forms (RFC 3261 §7.3.3) mapped to theirs.
fn canonical_name(name: &str) -> String {
    let long = match name {
        "i" | "I" => "call-id",
        "f" | "F" => "from",
        "t" | "T" => "to",
        "m" | "M" => "contact",
        "v" | "V" => "via",
        "l" | "L" => "content-length",
        "c" | "C" => "content-type",
        "e" | "E" => "content-encoding",
        "s" | "S" => "subject",
        "k" | "K" => "supported",
        "r" | "R" => "refer-to",
        "b" | "B" => "referred-by",
        "x" | "X" => "session-expires",
        other => return other.to_ascii_lowercase(),
    };
    long.to_owned()
}

fn parse_cseq(value: Option<&str>) -> Result<(u32, Method)> {
    let value = value.ok_or_else(|| Error::sip_header("CSeq", "missing"))?;
    let mut tokens = value.split_whitespace();
    let number = tokens
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .ok_or_else(|| Error::sip_header("CSeq", "bad sequence number"))?;
    let method = tokens
        .next()
        .ok_or_else(|| Error::sip_header("CSeq", "missing method"))?;
    if tokens.next().is_some() {
        return Err(Error::sip_header("CSeq", "trailing text"));
    }
    Ok((number, Method::from_token(method)))
}

fn party(header: &str, value: Option<&str>) -> Result<crate::message::Party> {
    let value = value.ok_or_else(|| Error::sip_header(header, "missing"))?;
    addr::parse_party(value).ok_or_else(|| Error::sip_header(header, "malformed address"))
}

/// The target of a Refer-To value, with the Call-ID of an embedded Replaces.
fn refer_to(value: &str) -> Option<ReferTo> {
    let party = addr::parse_party(value)?;
    let replaces = addr::uri_header(&party.uri, "replaces")
        .map(|replaces| addr::percent_decode(&replaces))
        .and_then(|replaces| replaced_call_id(&replaces));
    Some(ReferTo {
        user: party.user,
        replaces,
    })
}

/// The Call-ID of a Replaces value `call-id;to-tag=..;from-tag=..` (RFC 3891 §6.1).
fn replaced_call_id(value: &str) -> Option<String> {
    let call_id = value.split(';').next().unwrap_or_default().trim();
    let valid = !call_id.is_empty() && !call_id.chars().any(char::is_control);
    valid.then(|| call_id.to_owned())
}
