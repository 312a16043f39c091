//! Stand-ins for two `ringside-sip` functions that are being written on another branch:
//! `hep::decode_any` (HEPv3, HEPv2 or a plain SIP datagram) and `hep::StreamDecoder`
//! (HEPv3 frames out of a TCP byte stream).
//!
//! Once the sip crate has them, this module goes: [`decode_any`] becomes
//! `ringside_sip::hep::decode_any` and [`StreamDecoder`] becomes
//! `ringside_sip::hep::StreamDecoder` at their two call sites (`ingest::decode_message`
//! and `ingest::tcp`, plus the hepdump reader in `replay`). Both are deliberately minimal.
//!
//! HEPv2 layout (the format Kamailio's siptrace sends with `hep_version=2`): u8 version
//! (2), u8 header length, u8 address family, u8 IP protocol, u16 source port, u16
//! destination port, source and destination address (4 or 16 bytes each), u32 seconds,
//! u32 microseconds, u16 capture id, u16 padding, then the payload. All in network order.
//! The header-length byte varies between senders (Kamailio writes 8), so it is not
//! checked; the layout follows from the family.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ringside_sip::hep::{self, HepPacket, FAMILY_IPV4, FAMILY_IPV6, PROTO_SIP};
use ringside_sip::{Error as SipError, Transport};

/// Decodes a HEPv3 datagram, a HEPv2 datagram or a plain SIP datagram.
///
/// A plain SIP datagram yields a packet with unspecified addresses and capture time 0;
/// the caller dates it at its receive time.
///
/// # Errors
/// Any error of [`hep::decode`]; [`SipError::HepTooShort`] for a HEPv2 datagram cut
/// inside its header.
pub fn decode_any(datagram: &[u8]) -> ringside_sip::Result<HepPacket> {
    match datagram.first() {
        Some(b'H') => hep::decode(datagram),
        Some(2) => decode_v2(datagram),
        _ => Ok(plain_sip(datagram)),
    }
}

fn plain_sip(datagram: &[u8]) -> HepPacket {
    let nowhere = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
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

fn decode_v2(datagram: &[u8]) -> ringside_sip::Result<HepPacket> {
    let too_short = || SipError::HepTooShort {
        len: datagram.len(),
    };
    let family = *datagram.get(2).ok_or_else(too_short)?;
    let address_len = if family == FAMILY_IPV6 { 16 } else { 4 };
    let header_len = 8 + 2 * address_len + 12;
    let header = datagram.get(..header_len).ok_or_else(too_short)?;

    let u16_at = |at: usize| u16::from_be_bytes([header[at], header[at + 1]]);
    let u32_at = |at: usize| {
        u32::from_be_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let address = |at: usize| -> IpAddr {
        if address_len == 16 {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&header[at..at + 16]);
            IpAddr::V6(Ipv6Addr::from(octets))
        } else {
            IpAddr::V4(Ipv4Addr::from(u32_at(at)))
        }
    };
    let time = 8 + 2 * address_len;

    Ok(HepPacket {
        ip_family: family,
        transport: Transport::from_ip_proto(header[3]),
        src: SocketAddr::new(address(8), u16_at(4)),
        dst: SocketAddr::new(address(8 + address_len), u16_at(6)),
        ts_sec: u32_at(time),
        ts_usec: u32_at(time + 4),
        proto_type: PROTO_SIP,
        capture_id: u32::from(u16_at(time + 8)),
        correlation_id: None,
        node_name: None,
        payload: datagram[header_len..].to_vec(),
    })
}

/// Why a TCP byte stream stopped being a sequence of HEPv3 frames.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The next frame does not start with `HEP3`.
    #[error("frame does not start with the hep3 magic")]
    BadMagic,
    /// The next frame's length field is below the 6-byte header or above the cap.
    #[error("frame length {declared} is outside 6..={max}")]
    BadLength {
        /// Length the frame header declares.
        declared: usize,
        /// Largest frame accepted.
        max: usize,
    },
}

/// Splits a TCP byte stream into HEPv3 frames by their total-length field.
///
/// Holds at most one unfinished frame plus the bytes of the last [`push`](Self::push).
#[derive(Debug)]
pub struct StreamDecoder {
    buffer: Vec<u8>,
    consumed: usize,
    max_frame: usize,
}

impl StreamDecoder {
    /// A decoder refusing frames longer than `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        Self {
            buffer: Vec::new(),
            consumed: 0,
            max_frame,
        }
    }

    /// Appends bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.drain(..self.consumed);
        self.consumed = 0;
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame, `None` when more bytes are needed.
    ///
    /// # Errors
    /// [`FrameError`] when the stream is not HEPv3 framing; the stream cannot be resynced.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FrameError> {
        let rest = &self.buffer[self.consumed..];
        let magic_seen = rest.len().min(4);
        if rest[..magic_seen] != b"HEP3"[..magic_seen] {
            return Err(FrameError::BadMagic);
        }
        let Some(length) = rest.get(4..6) else {
            return Ok(None);
        };
        let declared = usize::from(u16::from_be_bytes([length[0], length[1]]));
        if declared < 6 || declared > self.max_frame {
            return Err(FrameError::BadLength {
                declared,
                max: self.max_frame,
            });
        }
        let Some(frame) = rest.get(..declared) else {
            return Ok(None);
        };
        let frame = frame.to_vec();
        self.consumed += declared;
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_yields_whole_frames_however_it_is_cut() {
        let frame = |n: u8| {
            let mut f = b"HEP3\x00\x08".to_vec();
            f.extend_from_slice(&[n, n]);
            f
        };
        let stream: Vec<u8> = [frame(1), frame(2), frame(3)].concat();
        let mut decoder = StreamDecoder::new(100);
        let mut frames = Vec::new();

        for piece in stream.chunks(5) {
            decoder.push(piece);
            while let Some(f) = decoder.next_frame().unwrap() {
                frames.push(f);
            }
        }

        assert_eq!(frames, vec![frame(1), frame(2), frame(3)]);
    }

    #[test]
    fn garbage_and_oversized_frames_are_errors() {
        let mut garbage = StreamDecoder::new(100);
        garbage.push(b"GET / HTTP/1.1\r\n");
        let mut huge = StreamDecoder::new(100);
        huge.push(b"HEP3\x01\x00");

        assert_eq!(garbage.next_frame(), Err(FrameError::BadMagic));
        assert_eq!(
            huge.next_frame(),
            Err(FrameError::BadLength {
                declared: 256,
                max: 100
            })
        );
    }

    #[test]
    fn hepv2_header_fields_are_read() {
        let mut datagram = vec![2, 8, 2, 17, 0x13, 0xc4, 0x13, 0xc5];
        datagram.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
        datagram.extend_from_slice(&1_700_000_000u32.to_be_bytes());
        datagram.extend_from_slice(&250_000u32.to_be_bytes());
        datagram.extend_from_slice(&[0x07, 0xd1, 0, 0]);
        datagram.extend_from_slice(b"OPTIONS sip:x SIP/2.0\r\n\r\n");

        let packet = decode_any(&datagram).unwrap();

        assert_eq!(packet.src, "10.0.0.1:5060".parse().unwrap());
        assert_eq!(packet.dst, "10.0.0.2:5061".parse().unwrap());
        assert_eq!(packet.timestamp_ms(), 1_700_000_000_250);
        assert_eq!(packet.capture_id, 2001);
        assert_eq!(packet.payload, b"OPTIONS sip:x SIP/2.0\r\n\r\n");
        assert!(decode_any(&datagram[..20]).is_err());
    }
}
