//! Synthetic calls: the SIP text a proxy would mirror for a demo call, and its HEP framing.
//!
//! The flows follow what Kamailio mirrors in the lab (`shared/lab/README.md`): caller
//! (trunk) `127.0.0.1:5080`, proxy `127.0.0.1:5060`, agent phone `127.0.0.1:5070`. Every
//! proxied message appears on both legs; the proxy's own `100 trying`, `200 canceling`
//! and hop-by-hop ACK for a failed INVITE (RFC 3261 §17.1.1.3) appear once. The proxy
//! record-routes, so the ACK for a 2xx and the BYE pass through it as well. Via branches,
//! tags, CSeq and Content-Length are consistent, lines end in CRLF, and everything is
//! derived from the Call-ID, so a script is deterministic.
//!
//! This module only writes text; sending it anywhere is the caller's business.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use crate::hep::{self, HepPacket, Transport};
use crate::message::fnv1a;

mod flows;
#[cfg(test)]
mod tests;

/// The caller (trunk) side in every script.
pub const CALLER_ADDR: SocketAddr = addr(5080);
/// The proxy in every script.
pub const PROXY_ADDR: SocketAddr = addr(5060);
/// The agent phone in every script.
pub const PHONE_ADDR: SocketAddr = addr(5070);

const fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), port)
}

/// How a synthetic call goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallShape {
    /// Rings, is answered, the caller hangs up after the talk time.
    Answered,
    /// Rings, the caller cancels after the ring time (CANCEL, 487).
    Abandoned,
    /// The phone answers 486 Busy Here after the ring time, without ringing.
    Busy,
    /// Rings, the phone declines with 603 after the ring time.
    Rejected,
    /// As `Answered`, but the caller asks for privacy: anonymous From, `Privacy: id`, and
    /// the real number only in P-Asserted-Identity.
    Withheld,
}

impl CallShape {
    /// Every shape, for demos that cycle through them.
    pub const ALL: [CallShape; 5] = [
        CallShape::Answered,
        CallShape::Abandoned,
        CallShape::Busy,
        CallShape::Rejected,
        CallShape::Withheld,
    ];
}

/// One message of a script: when, from where to where, and the SIP text.
#[derive(Clone, PartialEq, Eq)]
pub struct ScriptedMessage {
    /// Time since the first message of the call, in milliseconds.
    pub offset_ms: u64,
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// The SIP message, CRLF line ends.
    pub text: String,
}

impl fmt::Debug for ScriptedMessage {
    // The text holds the caller's number and name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedMessage")
            .field("offset_ms", &self.offset_ms)
            .field("src_port", &self.src.port())
            .field("dst_port", &self.dst.port())
            .field("size_bytes", &self.text.len())
            .finish()
    }
}

/// Writes the messages of one call, in the order the mirror would deliver them.
///
/// `caller` is the number as the trunk sends it (`+31201234567`, `0201234567`),
/// `caller_name` its display name, `extension` the dialled agent extension. `ring_ms` is
/// how long the phone rings before the answer, cancel, busy or decline; `talk_ms` how long
/// an answered call lasts. Quotes and backslashes in the name are escaped; the number and
/// extension are written as given, so they should be plain SIP user characters.
pub fn call_messages(
    shape: CallShape,
    call_id: &str,
    caller: &str,
    caller_name: Option<&str>,
    extension: &str,
    ring_ms: u64,
    talk_ms: u64,
) -> Vec<ScriptedMessage> {
    let script = flows::Script::new(call_id, caller, caller_name, extension, shape);
    match shape {
        CallShape::Answered | CallShape::Withheld => script.answered(ring_ms, talk_ms),
        CallShape::Abandoned => script.abandoned(ring_ms),
        CallShape::Busy => script.failed(ring_ms, "486 Busy Here", false),
        CallShape::Rejected => script.failed(ring_ms, "603 Decline", true),
    }
}

/// Frames one scripted message as a HEPv3 datagram captured at `ts_ms` (milliseconds
/// since the Unix epoch; times before 1970 are written as 0) by agent `capture_id`.
pub fn to_hep(msg: &ScriptedMessage, ts_ms: i64, capture_id: u32) -> Vec<u8> {
    let ip_family = match msg.src.ip() {
        IpAddr::V4(_) => hep::FAMILY_IPV4,
        IpAddr::V6(_) => hep::FAMILY_IPV6,
    };
    let ts_ms = ts_ms.max(0);
    let ts_sec = u32::try_from(ts_ms / 1000).unwrap_or(u32::MAX);
    let ts_usec = u32::try_from(ts_ms % 1000).unwrap_or(0) * 1000;

    hep::encode(&HepPacket {
        ip_family,
        transport: Transport::Udp,
        src: msg.src,
        dst: msg.dst,
        ts_sec,
        ts_usec,
        proto_type: hep::PROTO_SIP,
        capture_id,
        correlation_id: None,
        node_name: None,
        payload: msg.text.clone().into_bytes(),
    })
}

/// A short, stable token derived from the Call-ID, for branches and tags.
fn token(call_id: &str) -> String {
    format!("{:08x}", fnv1a(call_id.as_bytes()) & 0xffff_ffff)
}
