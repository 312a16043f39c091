//! Reading SIP out of capture files (pcap and pcapng), for replay and tests.
//!
//! [`read`] walks every frame of a capture in file order and returns each SIP message
//! found, whatever carried it:
//!
//! - **Link layers**: Ethernet (with 802.1Q / 802.1ad VLAN tags), Linux cooked capture
//!   v1 (SLL) and v2 (SLL2), raw IP (`LINKTYPE_RAW`, `LINKTYPE_IPV4`, `LINKTYPE_IPV6`) and
//!   BSD loopback (`LINKTYPE_NULL`, `LINKTYPE_LOOP`).
//! - **IP**: IPv4 and IPv6, with fragments reassembled (IPv4 fragments, and the IPv6
//!   Fragment extension header, RFC 8200 §4.5); IP-in-IP (protocol 4) and IPv6-in-IP
//!   (protocol 41) tunnels are unwrapped.
//! - **UDP on any port**: each datagram is HEPv3, HEPv2/v1 or plain SIP, decided by
//!   content ([`crate::hep::classify`]); anything else (RTP, DNS) is skipped and counted.
//! - **TCP on any port**: each direction of a connection is put back in sequence order and
//!   cut into SIP messages by their Content-Length (RFC 3261 §18.3), or into HEPv3 frames
//!   by their length field when the stream starts with `HEP3`.
//! - **SCTP**: each complete DATA chunk is one message (RFC 4168 §5), SIP or HEP.
//!
//! Messages come out in the order their last byte was captured. That is frame order, not
//! timestamp order: capture timestamps can be wrong (years apart in one file), and the
//! frame order is the order the capture point saw. Each message is dated with its frame's
//! capture time, or with the HEP timestamp when it came inside HEP.
//!
//! Nothing in a file makes [`read`] panic: broken headers, truncated records and corrupt
//! blocks are counted in [`CaptureStats`], and a file cut short yields what was read
//! before the cut. Memory is bounded per file: pending IP fragments and buffered TCP
//! bytes are capped (see the limits in the submodules), beyond the input and the output.
//!
//! This module finds messages and leaves them as bytes; parsing them is
//! [`crate::message`]'s job, and tracking calls [`crate::tracker`]'s.
//!
//! Limitation: fragmented SCTP user messages (DATA chunks without both the B and E flags)
//! and I-DATA chunks are skipped and counted, so a SIP message larger than the SCTP path
//! MTU is lost; reassembling by TSN would lift it.
//!
//! Limitation: TLS and WebSocket streams are not decrypted or unframed, so SIP over TLS or
//! WebSocket in a capture is skipped; only HEP from a proxy sees those messages.

use std::fmt;

use pcap_parser::pcap::{
    parse_pcap_frame, parse_pcap_frame_be, parse_pcap_frame_modified, parse_pcap_header,
};
use pcap_parser::pcapng::{parse_block_be, parse_block_le, Block};
use pcap_parser::traits::PcapNGPacketBlock;

use crate::hep::Transport;
use crate::message::CallIdDigest;
use crate::{Error, Result};

mod fragments;
mod packet;
mod sip_stream;
mod tcp;
#[cfg(test)]
mod tests;

use packet::{Frame, Reader};

/// pcapng Section Header Block type, also the file's first four bytes.
const PCAPNG_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// The SIP messages of one capture file and what was counted on the way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capture {
    /// Every SIP message found, in frame order.
    pub messages: Vec<CapturedMessage>,
    /// Counters of the read.
    pub stats: CaptureStats,
}

/// One SIP message found in a capture.
#[derive(Clone, PartialEq, Eq)]
pub struct CapturedMessage {
    /// 1-based number of the frame the message completed in (the frame holding its last
    /// byte).
    pub frame: u64,
    /// Capture time in milliseconds since the Unix epoch: the frame's time, or the HEP
    /// timestamp when the message came inside HEPv3 or HEPv2.
    pub at_ms: i64,
    /// Transport of the SIP message itself: the transport named inside HEP for HEP, else
    /// the one it was found on.
    pub transport: Transport,
    /// HEPv3 correlation id (chunk 0x0011), when the message came in HEP that had one.
    pub correlation_id: Option<String>,
    /// Exactly one SIP message, verbatim.
    pub payload: Vec<u8>,
}

impl fmt::Debug for CapturedMessage {
    // The payload holds numbers and names: show its size only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapturedMessage")
            .field("frame", &self.frame)
            .field("at_ms", &self.at_ms)
            .field("transport", &self.transport)
            .field(
                "correlation",
                &self.correlation_id.as_deref().map(CallIdDigest),
            )
            .field("payload_bytes", &self.payload.len())
            .finish()
    }
}

/// Counters of one [`read`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureStats {
    /// Packet records read (pcap records, pcapng Enhanced and Simple Packet Blocks).
    pub frames: u64,
    /// SIP messages returned.
    pub sip_messages: u64,
    /// HEP packets decoded (v3 over UDP, TCP or SCTP, and v2/v1), whatever they carried.
    pub hep_packets: u64,
    /// Frames with nothing for this reader: another link or network protocol, another
    /// transport, UDP that is neither HEP nor SIP (RTP, DNS), HEP carrying another
    /// protocol than SIP, TCP of a stream that is not SIP or HEP, fragmented SCTP.
    pub skipped_frames: u64,
    /// Frames or stream parts that could not be read: broken link, IP, UDP, TCP or SCTP
    /// headers, broken HEP, and SIP in a TCP stream that could not be framed.
    pub malformed: u64,
    /// IP fragments thrown away: too old, over the pending cap, or beyond 64 KiB.
    pub fragments_dropped: u64,
    /// TCP stream bytes given up: across a gap that never filled, over a flow's buffer
    /// cap, or after garbage.
    pub tcp_bytes_dropped: u64,
    /// 1 when reading stopped early at a truncated record or corrupt block, else 0.
    pub file_errors: u64,
}

/// Reads a pcap or pcapng capture held in memory and returns its SIP messages.
///
/// Both byte orders and both pcap time resolutions (micro- and nanoseconds) are read,
/// and pcapng interfaces with their own link types and time resolutions.
///
/// # Errors
///
/// [`Error::CaptureFormat`] when the bytes start with neither a pcap header nor a pcapng
/// Section Header Block. Damage later in the file is not an error: reading stops there and
/// [`CaptureStats::file_errors`] says so.
pub fn read(bytes: &[u8]) -> Result<Capture> {
    let mut reader = Reader::default();
    if bytes.starts_with(&PCAPNG_MAGIC) {
        read_pcapng(bytes, &mut reader);
    } else {
        read_pcap(bytes, &mut reader)?;
    }
    Ok(reader.finish())
}

fn read_pcap(bytes: &[u8], reader: &mut Reader) -> Result<()> {
    let (mut rest, header) = parse_pcap_header(bytes).map_err(|_| Error::CaptureFormat)?;
    let linktype = header.network.0;
    let units_per_ms: i64 = if header.is_nanosecond_precision() {
        1_000_000
    } else {
        1_000
    };
    let modified = header.is_modified_format();
    let big_endian = header.is_bigendian();

    while !rest.is_empty() {
        let parsed = if modified {
            parse_pcap_frame_modified(rest)
        } else if big_endian {
            parse_pcap_frame_be(rest)
        } else {
            parse_pcap_frame(rest)
        };
        let Ok((next, record)) = parsed else {
            reader.stats.file_errors = 1;
            break;
        };
        rest = next;
        let at_ms = i64::from(record.ts_sec) * 1000 + i64::from(record.ts_usec) / units_per_ms;
        reader.frame(at_ms, linktype, record.data);
    }
    Ok(())
}

/// Link type and time base of one pcapng interface.
struct Interface {
    linktype: i32,
    /// Timestamp units per second.
    resolution: u64,
    /// Seconds to add to every timestamp (`if_tsoffset`).
    offset_s: i64,
}

fn read_pcapng(bytes: &[u8], reader: &mut Reader) {
    let mut rest = bytes;
    let mut big_endian = false;
    let mut interfaces: Vec<Interface> = Vec::new();
    let mut last_ms = 0;

    while !rest.is_empty() {
        // A Section Header Block says its own byte order, so it is read with both.
        let parsed = if rest.starts_with(&PCAPNG_MAGIC) {
            parse_block_le(rest).or_else(|_| parse_block_be(rest))
        } else if big_endian {
            parse_block_be(rest)
        } else {
            parse_block_le(rest)
        };
        let Ok((next, block)) = parsed else {
            reader.stats.file_errors = 1;
            break;
        };
        rest = next;

        match block {
            Block::SectionHeader(shb) => {
                big_endian = shb.big_endian();
                interfaces.clear();
            }
            Block::InterfaceDescription(idb) => interfaces.push(Interface {
                linktype: idb.linktype.0,
                resolution: idb.ts_resolution().unwrap_or(1_000_000),
                offset_s: idb.ts_offset(),
            }),
            Block::EnhancedPacket(epb) => {
                let Some(interface) = usize::try_from(epb.if_id)
                    .ok()
                    .and_then(|i| interfaces.get(i))
                else {
                    reader.stats.frames += 1;
                    reader.stats.malformed += 1;
                    continue;
                };
                let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                let ms = u128::from(ticks) * 1000 / u128::from(interface.resolution.max(1));
                let ms = i64::try_from(ms).unwrap_or(i64::MAX);
                last_ms = ms.saturating_add(interface.offset_s.saturating_mul(1000));
                reader.frame(last_ms, interface.linktype, epb.packet_data());
            }
            Block::SimplePacket(spb) => {
                // A Simple Packet Block has no timestamp and belongs to interface 0; it is
                // dated like the packet before it.
                let Some(interface) = interfaces.first() else {
                    reader.stats.frames += 1;
                    reader.stats.malformed += 1;
                    continue;
                };
                reader.frame(last_ms, interface.linktype, spb.packet_data());
            }
            _ => {}
        }
    }
}

impl Reader {
    fn frame(&mut self, at_ms: i64, linktype: i32, data: &[u8]) {
        self.stats.frames += 1;
        let frame = Frame {
            number: self.stats.frames,
            at_ms,
        };
        self.link(frame, linktype, data);
    }
}
