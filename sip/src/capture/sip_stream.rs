//! Cutting a SIP byte stream (TCP) into messages: a head up to its blank line, then as
//! many body bytes as its Content-Length says (RFC 3261 §18.3; the compact name `l`,
//! §7.3.3). CR/LF keep-alives between messages (RFC 5626 §3.5.1) are skipped.
//!
//! Limitation: a message without a readable Content-Length is taken to have no body, as
//! RFC 3261 §18.3 requires the header on streams; a sender that omits it and sends a body
//! anyway loses that message's body, and the next message is found again at its start
//! line.

use super::tcp::MAX_FLOW_BYTES;
use crate::hep::looks_like_sip;

/// Longest SIP head (start line and headers) looked for before giving up on a stream.
pub(super) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Offset of the first line that starts a SIP message.
pub(super) fn find_sip_start(buffer: &[u8]) -> Option<usize> {
    let mut at = 0;
    loop {
        let rest = &buffer[at..];
        let line_end = rest.iter().position(|b| *b == b'\n')?;
        if looks_like_sip(rest) {
            return Some(at);
        }
        at += line_end + 1;
    }
}

/// What the front of a SIP stream buffer holds.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Split {
    /// A whole message of this many bytes.
    Message(usize),
    /// This many CR/LF keep-alive bytes (RFC 5626 §3.5.1).
    Skip(usize),
    /// This many bytes that cannot be framed.
    Garbage(usize),
    /// The message is not complete yet.
    NeedMore,
}

pub(super) fn split_sip(buffer: &[u8]) -> Split {
    let crlf = buffer
        .iter()
        .take_while(|b| **b == b'\r' || **b == b'\n')
        .count();
    if crlf > 0 {
        return Split::Skip(crlf);
    }

    let Some(head_len) = head_end(buffer) else {
        if buffer.len() > MAX_HEAD_BYTES {
            return Split::Garbage(buffer.len());
        }
        return Split::NeedMore;
    };
    let head = &buffer[..head_len];
    if !looks_like_sip(head) {
        // Drop up to the next line that starts a message.
        let next = find_sip_start(&buffer[1..]).map_or(head_len, |at| at + 1);
        return Split::Garbage(next);
    }

    let body_len = match content_length(head) {
        Some(Ok(len)) => len,
        // See the limitation in the module docs.
        Some(Err(())) | None => 0,
    };
    if body_len > MAX_FLOW_BYTES {
        return Split::Garbage(head_len);
    }
    let total = head_len + body_len;
    if buffer.len() < total {
        return Split::NeedMore;
    }
    Split::Message(total)
}

/// Length of the head including the blank line that ends it.
fn head_end(buffer: &[u8]) -> Option<usize> {
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4);
    let lf = buffer
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|at| at + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Content-Length of a head, by its long or compact name `l` (RFC 3261 §7.3.3, §20.14).
pub(super) fn content_length(head: &[u8]) -> Option<Result<usize, ()>> {
    head.split(|b| *b == b'\n').skip(1).find_map(|line| {
        let colon = line.iter().position(|b| *b == b':')?;
        let name = line[..colon].trim_ascii();
        let is_length =
            name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l");
        if !is_length {
            return None;
        }
        let value = line[colon + 1..].trim_ascii();
        let parsed = std::str::from_utf8(value)
            .ok()
            .and_then(|text| text.parse::<usize>().ok())
            .ok_or(());
        Some(parsed)
    })
}
