//! Splitting a message head into unfolded lines, and collecting the header fields the
//! crate uses.
//!
//! Everything here borrows from the message: a header line is copied only when it was
//! folded over several physical lines, and a header the crate does not use is skipped
//! after its name is read, before anything is allocated.

use std::borrow::Cow;

use crate::message::{addr, Method, ReferTo, RemoteParty, SipMessage, StartLine};
use crate::{Error, Result};

/// The head of a message as text: the start line and header lines, without the empty
/// line that ends them and without the body.
///
/// Empty lines before the start line are dropped, as RFC 3261 §7.5 allows. The head ends
/// at the first CRLF CRLF, or LF LF from sloppy senders; the body is never looked at.
/// The start line must be UTF-8; header bytes that are not (a Latin-1 display name or
/// User-Agent from an older phone) become U+FFFD, so one odd byte in a header the
/// crate may not even read never costs the message.
pub(super) fn head(bytes: &[u8]) -> Result<Cow<'_, str>> {
    let start = bytes
        .iter()
        .position(|byte| !matches!(byte, b'\r' | b'\n'))
        .unwrap_or(bytes.len());
    let bytes = &bytes[start..];
    let head = &bytes[..head_end(bytes)];
    if let Ok(text) = std::str::from_utf8(head) {
        return Ok(Cow::Borrowed(text));
    }
    let start_line_end = head.iter().position(|b| *b == b'\n').unwrap_or(head.len());
    std::str::from_utf8(&head[..start_line_end]).map_err(|_| Error::PayloadNotUtf8)?;
    Ok(String::from_utf8_lossy(head))
}

/// Where the first CRLF CRLF or LF LF starts; the length when there is none.
fn head_end(bytes: &[u8]) -> usize {
    let mut from = 0;
    while let Some(offset) = bytes[from..].iter().position(|byte| *byte == b'\n') {
        let at = from + offset;
        match bytes.get(at + 1) {
            Some(b'\n') => return at,
            Some(b'\r')
                if at > 0 && bytes[at - 1] == b'\r' && bytes.get(at + 2) == Some(&b'\n') =>
            {
                return at - 1;
            }
            _ => {}
        }
        from = at + 1;
    }
    bytes.len()
}

/// The logical lines of a head (RFC 3261 §7.3.1): bare LF ends a line as CRLF does, and a
/// line starting with a space or tab continues the one before it, joined by one space.
///
/// An empty line ends the head, so lines after it are never returned.
pub(super) struct Lines<'a> {
    /// Physical lines not yet read.
    rest: Option<&'a str>,
    /// A physical line read ahead to see whether it continues the current one.
    ahead: Option<&'a str>,
}

impl<'a> Lines<'a> {
    /// The lines of `head`, the start line first.
    pub(super) fn new(head: &'a str) -> Self {
        Self {
            rest: Some(head),
            ahead: None,
        }
    }

    fn physical(&mut self) -> Option<&'a str> {
        if let Some(line) = self.ahead.take() {
            return Some(line);
        }
        let rest = self.rest?;
        let line = match rest.split_once('\n') {
            Some((line, rest)) => {
                self.rest = Some(rest);
                line
            }
            None => {
                self.rest = None;
                rest
            }
        };
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = Cow<'a, str>;

    fn next(&mut self) -> Option<Cow<'a, str>> {
        let first = self.physical()?;
        if first.is_empty() {
            self.rest = None;
            return None;
        }
        let mut line = Cow::Borrowed(first);
        while let Some(next) = self.physical() {
            if !next.starts_with([' ', '\t']) {
                self.ahead = Some(next);
                break;
            }
            let joined = line.to_mut();
            joined.push(' ');
            joined.push_str(next.trim());
        }
        Some(line)
    }
}

/// Splits a header line into name and trimmed value.
///
/// The name must be a token (RFC 3261 §25.1) directly followed by the colon, as rsip 0.4
/// required when it framed whole messages; any other line makes the message malformed.
fn split_header(line: &str) -> Result<(&str, &str)> {
    let colon = line
        .bytes()
        .position(|byte| !is_token(byte))
        .filter(|at| *at > 0 && line.as_bytes()[*at] == b':')
        .ok_or_else(|| Error::SipParse {
            header: None,
            kind: "malformed message".to_owned(),
        })?;
    Ok((&line[..colon], line[colon + 1..].trim()))
}

/// A token character (RFC 3261 §25.1).
fn is_token(byte: u8) -> bool {
    matches!(
        byte,
        b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'!'
            | b'%'
            | b'*'
            | b'_'
            | b'+'
            | b'`'
            | b'\''
            | b'~'
    )
}

/// The headers the crate reads, by their long names.
#[derive(Clone, Copy)]
enum Name {
    CallId,
    CSeq,
    From,
    To,
    Reason,
    Contact,
    ReferTo,
    ReferredBy,
    Replaces,
    SessionExpires,
    Via,
    RemotePartyId,
    PAssertedIdentity,
    Privacy,
}

impl Name {
    /// The header a name stands for, without case; compact forms (RFC 3261 §7.3.3) mapped
    /// to their long names. `None` for headers the crate does not read.
    fn of(name: &str) -> Option<Self> {
        if let [letter] = name.as_bytes() {
            return match letter.to_ascii_lowercase() {
                b'i' => Some(Self::CallId),
                b'f' => Some(Self::From),
                b't' => Some(Self::To),
                b'm' => Some(Self::Contact),
                b'v' => Some(Self::Via),
                b'r' => Some(Self::ReferTo),
                b'b' => Some(Self::ReferredBy),
                b'x' => Some(Self::SessionExpires),
                _ => None,
            };
        }
        const LONG: [(&str, Name); 14] = [
            ("call-id", Name::CallId),
            ("cseq", Name::CSeq),
            ("from", Name::From),
            ("to", Name::To),
            ("reason", Name::Reason),
            ("contact", Name::Contact),
            ("refer-to", Name::ReferTo),
            ("referred-by", Name::ReferredBy),
            ("replaces", Name::Replaces),
            ("session-expires", Name::SessionExpires),
            ("via", Name::Via),
            ("remote-party-id", Name::RemotePartyId),
            ("p-asserted-identity", Name::PAssertedIdentity),
            ("privacy", Name::Privacy),
        ];
        LONG.iter()
            .find(|(long, _)| long.len() == name.len() && long.eq_ignore_ascii_case(name))
            .map(|(_, kind)| *kind)
    }
}

/// The header values the crate uses, in arrival order.
#[derive(Default)]
pub(super) struct Fields<'a> {
    call_id: Option<Cow<'a, str>>,
    cseq: Option<Cow<'a, str>>,
    from: Option<Cow<'a, str>>,
    to: Option<Cow<'a, str>>,
    asserted: Vec<String>,
    privacy: Vec<String>,
    reason: Option<Cow<'a, str>>,
    via_count: u8,
    via_branch: Option<String>,
    contact: Option<Cow<'a, str>>,
    refer_to: Option<Cow<'a, str>>,
    referred_by: Option<Cow<'a, str>>,
    replaces: Option<Cow<'a, str>>,
    session_expires: Option<Cow<'a, str>>,
    remote_party: Vec<RemoteParty>,
}

/// Most Remote-Party-ID entries kept; a caller has one, a few at most.
const MAX_REMOTE_PARTIES: usize = 4;

impl<'a> Fields<'a> {
    /// Records one header line; single-valued headers keep their first occurrence.
    ///
    /// # Errors
    ///
    /// [`Error::SipParse`] when the line is not `name: value`.
    pub(super) fn add_line(&mut self, line: Cow<'a, str>) -> Result<()> {
        match line {
            Cow::Borrowed(line) => {
                let (name, value) = split_header(line)?;
                self.add(name, value, || Cow::Borrowed(value));
            }
            Cow::Owned(line) => {
                let (name, value) = split_header(&line)?;
                self.add(name, value, || Cow::Owned(value.to_owned()));
            }
        }
        Ok(())
    }

    /// Records one header; `keep` gives the value to store for a single-valued header.
    fn add(&mut self, name: &str, value: &str, keep: impl FnOnce() -> Cow<'a, str>) {
        let Some(name) = Name::of(name) else {
            return;
        };
        let slot = match name {
            Name::CallId => &mut self.call_id,
            Name::CSeq => &mut self.cseq,
            Name::From => &mut self.from,
            Name::To => &mut self.to,
            Name::Reason => &mut self.reason,
            Name::Contact => &mut self.contact,
            Name::ReferTo => &mut self.refer_to,
            Name::ReferredBy => &mut self.referred_by,
            Name::Replaces => &mut self.replaces,
            Name::SessionExpires => &mut self.session_expires,
            Name::Via => {
                self.add_via(value);
                return;
            }
            Name::RemotePartyId => {
                let room = MAX_REMOTE_PARTIES.saturating_sub(self.remote_party.len());
                let entries = addr::split_address_list(value)
                    .into_iter()
                    .filter_map(addr::parse_remote_party)
                    .take(room);
                self.remote_party.extend(entries);
                return;
            }
            Name::PAssertedIdentity => {
                let uris = addr::split_address_list(value)
                    .into_iter()
                    .filter_map(addr::parse_party)
                    .map(|party| party.uri);
                self.asserted.extend(uris);
                return;
            }
            Name::Privacy => {
                let values = value
                    .split([';', ','])
                    .map(|v| v.trim().to_ascii_lowercase())
                    .filter(|v| !v.is_empty());
                self.privacy.extend(values);
                return;
            }
        };
        if slot.is_none() {
            *slot = Some(keep());
        }
    }

    /// Counts the values of one Via line; the first value of the first line is the top Via.
    fn add_via(&mut self, value: &str) {
        if self.via_count == 0 {
            let top = value.split(',').next().unwrap_or_default().trim();
            self.via_branch = addr::param(top, "branch");
        }
        let count = u8::try_from(value.split(',').count()).unwrap_or(u8::MAX);
        self.via_count = self.via_count.saturating_add(count);
    }

    /// Builds the message, checking the headers every SIP message must have
    /// (RFC 3261 §8.1.1).
    pub(super) fn into_message(self, start: StartLine) -> Result<SipMessage> {
        let call_id = self
            .call_id
            .map(Cow::into_owned)
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
            reason: self.reason.map(Cow::into_owned),
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
