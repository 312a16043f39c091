//! Telling apart what arrives in one UDP datagram: HEPv3, HEPv2, HEPv1 or a plain SIP
//! message mirrored as is.
//!
//! The decision is made on content, never on the port: a datagram is HEPv3 when it starts
//! with `HEP3`; HEPv1/v2 when its first bytes form a valid v1/v2 header (see
//! [`super::decode_legacy`]) and the payload after it reads as SIP; plain SIP when it starts
//! with a SIP request or status line. Anything else (RTP, DNS, keep-alives) is unknown.

use std::net::{Ipv4Addr, SocketAddr};

use super::{decode, decode_legacy, legacy, HepPacket, Transport, FAMILY_IPV4, PROTO_SIP};
use crate::{Error, Result};

/// Longest first line looked at when checking for a SIP start line, in bytes.
const MAX_START_LINE: usize = 2048;

/// What one datagram holds, by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatagramKind {
    /// A HEPv3 datagram (magic `HEP3`).
    HepV3,
    /// A HEPv2 datagram: fixed header with a capture timestamp.
    HepV2,
    /// A HEPv1 datagram: fixed header without a timestamp.
    HepV1,
    /// A SIP message mirrored without any encapsulation.
    PlainSip,
    /// None of the above.
    Unknown,
}

impl DatagramKind {
    /// Whether datagrams of this kind carry the time the message was captured. For the
    /// others (plain SIP, HEPv1) the receiver's own clock is the best time there is.
    pub fn has_capture_time(self) -> bool {
        matches!(self, Self::HepV3 | Self::HepV2)
    }
}

/// A datagram decoded by [`decode_any`]: what it was, and the packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnyPacket {
    /// What the datagram held; never [`DatagramKind::Unknown`].
    pub kind: DatagramKind,
    /// The decoded packet. For [`DatagramKind::PlainSip`] the addresses are unspecified
    /// (`0.0.0.0:0`: the datagram's own addresses are the receiver's to fill in), the
    /// transport is UDP, the protocol type SIP, and the timestamp 0.
    pub packet: HepPacket,
}

impl AnyPacket {
    /// Capture time in milliseconds since the Unix epoch, or `None` when the datagram
    /// carried none ([`DatagramKind::has_capture_time`]).
    pub fn capture_time_ms(&self) -> Option<i64> {
        self.kind
            .has_capture_time()
            .then(|| self.packet.timestamp_ms())
    }
}

/// Classifies one datagram by content, without copying it.
pub fn classify(datagram: &[u8]) -> DatagramKind {
    if datagram.starts_with(super::MAGIC) {
        return DatagramKind::HepV3;
    }
    if let Some(head) = legacy::header(datagram) {
        if looks_like_sip(&datagram[head.payload_at..]) {
            return if head.version == 2 {
                DatagramKind::HepV2
            } else {
                DatagramKind::HepV1
            };
        }
    }
    if looks_like_sip(datagram) {
        return DatagramKind::PlainSip;
    }
    DatagramKind::Unknown
}

/// Decodes one datagram of any kind [`classify`] knows.
///
/// # Errors
///
/// [`Error::UnknownDatagram`] for a datagram of none of those kinds; any error of
/// [`decode`] or [`decode_legacy`] for a broken HEP datagram.
pub fn decode_any(datagram: &[u8]) -> Result<AnyPacket> {
    let kind = classify(datagram);
    let packet = match kind {
        DatagramKind::HepV3 => decode(datagram)?,
        DatagramKind::HepV2 | DatagramKind::HepV1 => decode_legacy(datagram)?,
        DatagramKind::PlainSip => plain(datagram),
        DatagramKind::Unknown => return Err(Error::UnknownDatagram),
    };
    Ok(AnyPacket { kind, packet })
}

fn plain(datagram: &[u8]) -> HepPacket {
    let nowhere = SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0);
    HepPacket {
        ip_family: FAMILY_IPV4,
        transport: Transport::Udp,
        src: nowhere,
        dst: nowhere,
        ts_sec: 0,
        ts_usec: 0,
        proto_type: PROTO_SIP,
        capture_id: 0,
        correlation_id: None,
        node_name: None,
        payload: datagram.to_vec(),
    }
}

/// Whether `bytes` start (after any CR/LF keep-alive bytes) with a SIP request line
/// (`METHOD SP Request-URI SP SIP/2.0`) or status line (`SIP/2.0 SP 3DIGIT`), RFC 3261
/// §7.1 and §7.2.
pub fn looks_like_sip(bytes: &[u8]) -> bool {
    let start = bytes
        .iter()
        .position(|b| *b != b'\r' && *b != b'\n')
        .unwrap_or(bytes.len());
    let rest = &bytes[start..];
    let window = &rest[..rest.len().min(MAX_START_LINE)];
    let line_end = window.iter().position(|b| *b == b'\n');
    let line = match line_end {
        Some(end) => &window[..end],
        None => window,
    };
    let line = line.strip_suffix(b"\r").unwrap_or(line);

    if let Some(status) = line.strip_prefix(b"SIP/2.0 ") {
        return status.len() >= 3 && status[..3].iter().all(u8::is_ascii_digit);
    }

    // A request line must be complete to be judged, so a lone fragment of a line does not
    // pass.
    if line_end.is_none() {
        return false;
    }
    let Some(method_end) = line.iter().position(|b| *b == b' ') else {
        return false;
    };
    let method = &line[..method_end];
    let is_token = |b: &u8| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(b);
    !method.is_empty()
        && method.iter().all(is_token)
        && line.len() > method_end + 1 + 8
        && line.ends_with(b" SIP/2.0")
}
