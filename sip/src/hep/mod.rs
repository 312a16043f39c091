//! HEPv3 ("HEP3 – Homer Encapsulation Protocol v3") datagrams: decoding and encoding.
//!
//! A datagram is the magic `HEP3`, a big-endian u16 total length (the whole datagram), then
//! chunks. Each chunk is a u16 vendor id, a u16 chunk type and a u16 length that counts its
//! own 6-byte header, followed by the value. This module owns that framing and nothing
//! else: what the payload means is [`crate::message`]'s job, and receiving datagrams is
//! the server's.
//!
//! Chunks read (vendor 0): 0x0001 IP family, 0x0002 IP protocol number, 0x0003/0x0004
//! IPv4 source/destination, 0x0005/0x0006 IPv6 source/destination, 0x0007/0x0008 ports,
//! 0x0009/0x000a timestamp seconds/microseconds, 0x000b protocol type (1 = SIP), 0x000c
//! capture agent id, 0x000f payload, 0x0011 correlation id and 0x0013 node name. The auth
//! key 0x000e, every other type and every chunk of a non-zero vendor are skipped.
//!
//! Also here: HEPv1/v2 ([`decode_legacy`]), telling HEP from plain SIP in one datagram
//! ([`classify`], [`decode_any`]) and cutting a TCP stream into HEPv3 frames
//! ([`StreamDecoder`]).
//!
//! Every length field is checked before it is used, so a malformed datagram yields an
//! [`Error`] and never a panic.
//!
//! Limitation: a compressed payload (chunk 0x0010) is refused with
//! [`Error::HepCompressed`] because no inflater is linked in; Kamailio never compresses,
//! so only other capture agents configured for compression are affected, and linking
//! zlib would lift it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{Error, Result};

mod any;
mod dump;
mod encoding;
pub(crate) mod legacy;
#[cfg(test)]
mod other_tests;
mod stream;
#[cfg(test)]
mod tests;

pub use any::{classify, decode_any, looks_like_sip, AnyPacket, DatagramKind};
pub use dump::{dump_records, DumpRecords};
pub use encoding::encode;
pub use legacy::decode_legacy;
pub use stream::StreamDecoder;

/// HEPv3 magic at the start of every datagram.
const MAGIC: &[u8; 4] = b"HEP3";

/// Size of the datagram header and of every chunk header, in bytes.
const HEADER_LEN: usize = 6;

/// Largest datagram the 16-bit total length can describe.
const MAX_DATAGRAM: usize = u16::MAX as usize;

/// Longest correlation id or node name [`encode`] writes, in bytes.
const MAX_LABEL: usize = 1024;

const CHUNK_IP_FAMILY: u16 = 0x0001;
const CHUNK_IP_PROTO: u16 = 0x0002;
const CHUNK_IPV4_SRC: u16 = 0x0003;
const CHUNK_IPV4_DST: u16 = 0x0004;
const CHUNK_IPV6_SRC: u16 = 0x0005;
const CHUNK_IPV6_DST: u16 = 0x0006;
const CHUNK_SRC_PORT: u16 = 0x0007;
const CHUNK_DST_PORT: u16 = 0x0008;
const CHUNK_TS_SEC: u16 = 0x0009;
const CHUNK_TS_USEC: u16 = 0x000a;
const CHUNK_PROTO_TYPE: u16 = 0x000b;
const CHUNK_CAPTURE_ID: u16 = 0x000c;
const CHUNK_PAYLOAD: u16 = 0x000f;
const CHUNK_COMPRESSED: u16 = 0x0010;
const CHUNK_CORRELATION_ID: u16 = 0x0011;
const CHUNK_NODE_NAME: u16 = 0x0013;

/// IP family value for IPv4 in chunk 0x0001 (`AF_INET`).
pub const FAMILY_IPV4: u8 = 2;

/// IP family value for IPv6 in chunk 0x0001 (`AF_INET6` on Linux, as HEPv3 uses it).
pub const FAMILY_IPV6: u8 = 10;

/// HEPv3 protocol type (chunk 0x000b) of a SIP payload.
pub const PROTO_SIP: u8 = 1;

/// Transport the mirrored message travelled on, from the IP protocol number in chunk 0x0002.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP, IP protocol 17.
    Udp,
    /// TCP, IP protocol 6.
    Tcp,
    /// TLS. Never produced by [`decode`]: chunk 0x0002 holds an IP protocol number and TLS
    /// runs over TCP, so it decodes as [`Transport::Tcp`]; [`encode`] writes 6 for it.
    Tls,
    /// SCTP, IP protocol 132.
    Sctp,
    /// Any other IP protocol number.
    Other(u8),
}

impl Transport {
    /// Maps an IP protocol number to a transport.
    pub fn from_ip_proto(number: u8) -> Self {
        match number {
            17 => Self::Udp,
            6 => Self::Tcp,
            132 => Self::Sctp,
            other => Self::Other(other),
        }
    }

    /// IP protocol number written to chunk 0x0002.
    pub fn to_ip_proto(self) -> u8 {
        match self {
            Self::Udp => 17,
            Self::Tcp | Self::Tls => 6,
            Self::Sctp => 132,
            Self::Other(number) => number,
        }
    }
}

/// One decoded HEPv3 datagram.
///
/// The addresses are those of the mirrored message (chunks 0x0003 to 0x0008), not the
/// UDP source of the datagram, which is the capture agent.
#[derive(Clone, PartialEq, Eq)]
pub struct HepPacket {
    /// IP family of the mirrored message: [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub ip_family: u8,
    /// Transport of the mirrored message.
    pub transport: Transport,
    /// Sender of the mirrored message.
    pub src: SocketAddr,
    /// Receiver of the mirrored message.
    pub dst: SocketAddr,
    /// Capture time, seconds since the Unix epoch.
    pub ts_sec: u32,
    /// Capture time, microseconds within the second.
    pub ts_usec: u32,
    /// Payload protocol; [`PROTO_SIP`] for SIP.
    pub proto_type: u8,
    /// Capture agent id (chunk 0x000c); one per capture agent, not per call.
    pub capture_id: u32,
    /// Correlation id (chunk 0x0011), when the agent sent one.
    pub correlation_id: Option<String>,
    /// Capture node name (chunk 0x0013), when the agent sent one.
    pub node_name: Option<String>,
    /// The mirrored message, verbatim.
    pub payload: Vec<u8>,
}

impl HepPacket {
    /// Capture time in milliseconds since the Unix epoch.
    pub fn timestamp_ms(&self) -> i64 {
        i64::from(self.ts_sec) * 1000 + i64::from(self.ts_usec) / 1000
    }
}

impl std::fmt::Debug for HepPacket {
    // Addresses and payload are personal data (IP addresses, numbers, names): show the
    // framing only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HepPacket")
            .field("ip_family", &self.ip_family)
            .field("transport", &self.transport)
            .field("ts_sec", &self.ts_sec)
            .field("ts_usec", &self.ts_usec)
            .field("proto_type", &self.proto_type)
            .field("capture_id", &self.capture_id)
            .field("payload_bytes", &self.payload.len())
            .finish_non_exhaustive()
    }
}

/// Chunk values collected while walking a datagram; later duplicates overwrite earlier ones.
#[derive(Default)]
struct Chunks<'a> {
    ip_family: Option<u8>,
    ip_proto: Option<u8>,
    ipv4_src: Option<Ipv4Addr>,
    ipv4_dst: Option<Ipv4Addr>,
    ipv6_src: Option<Ipv6Addr>,
    ipv6_dst: Option<Ipv6Addr>,
    src_port: Option<u16>,
    dst_port: Option<u16>,
    ts_sec: Option<u32>,
    ts_usec: Option<u32>,
    proto_type: Option<u8>,
    capture_id: Option<u32>,
    payload: Option<&'a [u8]>,
    correlation_id: Option<&'a [u8]>,
    node_name: Option<&'a [u8]>,
}

/// Decodes one HEPv3 datagram.
///
/// # Errors
///
/// [`Error::HepTooShort`], [`Error::HepBadMagic`] and [`Error::HepLengthMismatch`] for a
/// bad header; [`Error::HepChunkHeaderTruncated`], [`Error::HepChunkOverrun`] and
/// [`Error::HepChunkBadLength`] for a bad chunk; [`Error::HepChunkMissing`] when an
/// address, port, timestamp, protocol or payload chunk is absent; [`Error::HepCompressed`]
/// for a compressed payload.
pub fn decode(datagram: &[u8]) -> Result<HepPacket> {
    if datagram.len() < HEADER_LEN {
        return Err(Error::HepTooShort {
            len: datagram.len(),
        });
    }
    if &datagram[..4] != MAGIC {
        return Err(Error::HepBadMagic);
    }

    let declared = usize::from(u16::from_be_bytes([datagram[4], datagram[5]]));
    if declared < HEADER_LEN || declared > datagram.len() {
        return Err(Error::HepLengthMismatch {
            declared,
            actual: datagram.len(),
        });
    }

    let chunks = walk_chunks(&datagram[..declared])?;
    assemble(chunks)
}

fn walk_chunks(packet: &[u8]) -> Result<Chunks<'_>> {
    let mut chunks = Chunks::default();
    let mut offset = HEADER_LEN;

    while offset < packet.len() {
        let Some(header) = packet.get(offset..offset + HEADER_LEN) else {
            return Err(Error::HepChunkHeaderTruncated { offset });
        };
        let vendor = u16::from_be_bytes([header[0], header[1]]);
        let chunk_type = u16::from_be_bytes([header[2], header[3]]);
        let len = u16::from_be_bytes([header[4], header[5]]);

        if usize::from(len) < HEADER_LEN {
            return Err(Error::HepChunkBadLength { chunk_type, len });
        }
        let end = offset + usize::from(len);
        let Some(value) = packet.get(offset + HEADER_LEN..end) else {
            return Err(Error::HepChunkOverrun { chunk_type });
        };

        if vendor == 0 {
            read_chunk(&mut chunks, chunk_type, len, value)?;
        }
        offset = end;
    }

    Ok(chunks)
}

fn read_chunk<'a>(
    chunks: &mut Chunks<'a>,
    chunk_type: u16,
    len: u16,
    value: &'a [u8],
) -> Result<()> {
    let wrong_length = || Error::HepChunkBadLength { chunk_type, len };
    let byte = || fixed(value).map(u8::from_be_bytes).ok_or_else(wrong_length);
    let short = || {
        fixed(value)
            .map(u16::from_be_bytes)
            .ok_or_else(wrong_length)
    };
    let word = || {
        fixed(value)
            .map(u32::from_be_bytes)
            .ok_or_else(wrong_length)
    };
    let ipv6 = || fixed(value).map(Ipv6Addr::from).ok_or_else(wrong_length);

    match chunk_type {
        CHUNK_IP_FAMILY => chunks.ip_family = Some(byte()?),
        CHUNK_IP_PROTO => chunks.ip_proto = Some(byte()?),
        CHUNK_IPV4_SRC => chunks.ipv4_src = Some(Ipv4Addr::from(word()?)),
        CHUNK_IPV4_DST => chunks.ipv4_dst = Some(Ipv4Addr::from(word()?)),
        CHUNK_IPV6_SRC => chunks.ipv6_src = Some(ipv6()?),
        CHUNK_IPV6_DST => chunks.ipv6_dst = Some(ipv6()?),
        CHUNK_SRC_PORT => chunks.src_port = Some(short()?),
        CHUNK_DST_PORT => chunks.dst_port = Some(short()?),
        CHUNK_TS_SEC => chunks.ts_sec = Some(word()?),
        CHUNK_TS_USEC => chunks.ts_usec = Some(word()?),
        CHUNK_PROTO_TYPE => chunks.proto_type = Some(byte()?),
        CHUNK_CAPTURE_ID => chunks.capture_id = Some(word()?),
        CHUNK_PAYLOAD => chunks.payload = Some(value),
        CHUNK_COMPRESSED => return Err(Error::HepCompressed),
        CHUNK_CORRELATION_ID => chunks.correlation_id = Some(value),
        CHUNK_NODE_NAME => chunks.node_name = Some(value),
        // 0x000e auth key and every type this crate has no use for.
        _ => {}
    }
    Ok(())
}

fn fixed<const N: usize>(value: &[u8]) -> Option<[u8; N]> {
    value.try_into().ok()
}

fn assemble(chunks: Chunks<'_>) -> Result<HepPacket> {
    let missing = |chunk_type| Error::HepChunkMissing { chunk_type };

    let only_v6 = chunks.ipv4_src.is_none() && chunks.ipv6_src.is_some();
    let family = chunks
        .ip_family
        .unwrap_or(if only_v6 { FAMILY_IPV6 } else { FAMILY_IPV4 });
    let v4 = || {
        address_pair(
            chunks.ipv4_src,
            chunks.ipv4_dst,
            CHUNK_IPV4_SRC,
            CHUNK_IPV4_DST,
        )
    };
    let v6 = || {
        address_pair(
            chunks.ipv6_src,
            chunks.ipv6_dst,
            CHUNK_IPV6_SRC,
            CHUNK_IPV6_DST,
        )
    };
    // The family chunk decides which pair to read; the other pair is a fallback for
    // agents that label the family loosely. The error names the expected pair.
    let (src_ip, dst_ip) = if family == FAMILY_IPV6 {
        v6().or_else(|err| v4().map_err(|_| err))?
    } else {
        v4().or_else(|err| v6().map_err(|_| err))?
    };
    let src_port = chunks.src_port.ok_or_else(|| missing(CHUNK_SRC_PORT))?;
    let dst_port = chunks.dst_port.ok_or_else(|| missing(CHUNK_DST_PORT))?;

    Ok(HepPacket {
        ip_family: family,
        transport: Transport::from_ip_proto(
            chunks.ip_proto.ok_or_else(|| missing(CHUNK_IP_PROTO))?,
        ),
        src: SocketAddr::new(src_ip, src_port),
        dst: SocketAddr::new(dst_ip, dst_port),
        ts_sec: chunks.ts_sec.ok_or_else(|| missing(CHUNK_TS_SEC))?,
        ts_usec: chunks.ts_usec.unwrap_or(0),
        proto_type: chunks.proto_type.ok_or_else(|| missing(CHUNK_PROTO_TYPE))?,
        capture_id: chunks.capture_id.unwrap_or(0),
        correlation_id: chunks.correlation_id.map(lossy),
        node_name: chunks.node_name.map(lossy),
        payload: chunks
            .payload
            .ok_or_else(|| missing(CHUNK_PAYLOAD))?
            .to_vec(),
    })
}

fn address_pair<A: Into<IpAddr>>(
    src: Option<A>,
    dst: Option<A>,
    src_type: u16,
    dst_type: u16,
) -> Result<(IpAddr, IpAddr)> {
    let src = src.ok_or(Error::HepChunkMissing {
        chunk_type: src_type,
    })?;
    let dst = dst.ok_or(Error::HepChunkMissing {
        chunk_type: dst_type,
    })?;
    Ok((src.into(), dst.into()))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
