//! One frame, layer by layer: link, IP (with fragments and tunnels), then UDP, TCP or
//! SCTP, down to the SIP or HEP inside.

use std::net::IpAddr;

use etherparse::{IpSlice, Ipv6ExtensionSlice, TcpSlice, UdpSlice};

use super::fragments::{FragmentKey, FragmentPool};
use super::tcp::{FlowKey, Segment, StreamItem, TcpFlows};
use super::{Capture, CaptureStats, CapturedMessage};
use crate::hep::{self, DatagramKind, HepPacket, Transport, PROTO_SIP};

/// Most tunnel headers unwrapped around one packet.
const MAX_TUNNEL_DEPTH: u8 = 4;

/// Most VLAN tags read in front of one Ethernet payload.
const MAX_VLAN_TAGS: usize = 4;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: [u16; 3] = [0x8100, 0x88a8, 0x9100];

const IP_IN_IP: u8 = 4;
const IPV6_IN_IP: u8 = 41;
const IP_TCP: u8 = 6;
const IP_UDP: u8 = 17;
const IP_SCTP: u8 = 132;

/// Where a frame is within the capture.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    /// 1-based frame number.
    pub(super) number: u64,
    /// Frame capture time, ms since the Unix epoch.
    pub(super) at_ms: i64,
}

/// What became of one frame, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// It gave or will give something: a message, a HEP packet, stream bytes, a fragment.
    Used,
    /// Nothing for this reader in it.
    Skipped,
    /// It could not be read.
    Malformed,
}

/// The state of one read: output, counters, fragments and TCP flows.
#[derive(Default)]
pub(super) struct Reader {
    pub(super) messages: Vec<CapturedMessage>,
    pub(super) stats: CaptureStats,
    fragments: FragmentPool,
    flows: TcpFlows,
}

impl Reader {
    pub(super) fn finish(mut self) -> Capture {
        self.stats.fragments_dropped = self.fragments.dropped();
        self.stats.tcp_bytes_dropped = self.flows.bytes_dropped();
        self.stats.sip_messages = self.messages.len() as u64;
        Capture {
            messages: self.messages,
            stats: self.stats,
        }
    }

    pub(super) fn link(&mut self, frame: Frame, linktype: i32, data: &[u8]) {
        let outcome = match network_layer(linktype, data) {
            Ok(packet) => self.ip(frame, packet, 0),
            Err(outcome) => outcome,
        };
        match outcome {
            Outcome::Used => {}
            Outcome::Skipped => self.stats.skipped_frames += 1,
            Outcome::Malformed => self.stats.malformed += 1,
        }
    }

    fn ip(&mut self, frame: Frame, bytes: &[u8], depth: u8) -> Outcome {
        let Ok(ip) = IpSlice::from_slice(bytes) else {
            return Outcome::Malformed;
        };
        let src = ip.source_addr();
        let dst = ip.destination_addr();
        let payload = ip.payload();
        let proto = payload.ip_number.0;

        if !payload.fragmented {
            return self.transport(frame, proto, src, dst, payload.payload, depth);
        }

        let Some((id, offset, more)) = fragment_of(&ip) else {
            return Outcome::Malformed;
        };
        let key = FragmentKey {
            src,
            dst,
            id,
            proto,
        };
        match self
            .fragments
            .add(frame.number, key, offset, more, payload.payload)
        {
            Some(whole) => self.transport(frame, proto, src, dst, &whole, depth),
            None => Outcome::Used,
        }
    }

    fn transport(
        &mut self,
        frame: Frame,
        proto: u8,
        src: IpAddr,
        dst: IpAddr,
        bytes: &[u8],
        depth: u8,
    ) -> Outcome {
        match proto {
            IP_IN_IP | IPV6_IN_IP if depth < MAX_TUNNEL_DEPTH => self.ip(frame, bytes, depth + 1),
            IP_UDP => match UdpSlice::from_slice(bytes) {
                Ok(udp) => self.datagram(frame, udp.payload(), Transport::Udp),
                Err(_) => Outcome::Malformed,
            },
            IP_TCP => self.tcp(frame, src, dst, bytes),
            IP_SCTP => self.sctp(frame, bytes),
            _ => Outcome::Skipped,
        }
    }

    /// One UDP datagram or SCTP user message: HEP or plain SIP, by content.
    fn datagram(&mut self, frame: Frame, payload: &[u8], transport: Transport) -> Outcome {
        let kind = hep::classify(payload);
        match kind {
            DatagramKind::HepV3 => match hep::decode(payload) {
                Ok(packet) => self.hep(frame, packet, true),
                Err(_) => Outcome::Malformed,
            },
            DatagramKind::HepV2 | DatagramKind::HepV1 => match hep::decode_legacy(payload) {
                Ok(packet) => self.hep(frame, packet, kind.has_capture_time()),
                Err(_) => Outcome::Malformed,
            },
            DatagramKind::PlainSip => {
                self.push(frame, frame.at_ms, transport, None, payload.to_vec());
                Outcome::Used
            }
            DatagramKind::Unknown => Outcome::Skipped,
        }
    }

    fn hep(&mut self, frame: Frame, packet: HepPacket, has_time: bool) -> Outcome {
        self.stats.hep_packets += 1;
        if packet.proto_type != PROTO_SIP {
            return Outcome::Skipped;
        }
        let at_ms = if has_time {
            packet.timestamp_ms()
        } else {
            frame.at_ms
        };
        self.push(
            frame,
            at_ms,
            packet.transport,
            packet.correlation_id,
            packet.payload,
        );
        Outcome::Used
    }

    fn push(
        &mut self,
        frame: Frame,
        at_ms: i64,
        transport: Transport,
        correlation_id: Option<String>,
        payload: Vec<u8>,
    ) {
        self.messages.push(CapturedMessage {
            frame: frame.number,
            at_ms,
            transport,
            correlation_id,
            payload,
        });
    }

    fn tcp(&mut self, frame: Frame, src: IpAddr, dst: IpAddr, bytes: &[u8]) -> Outcome {
        let Ok(tcp) = TcpSlice::from_slice(bytes) else {
            return Outcome::Malformed;
        };
        let key = FlowKey {
            src,
            dst,
            src_port: tcp.source_port(),
            dst_port: tcp.destination_port(),
        };
        let segment = Segment {
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            payload: tcp.payload(),
        };

        let mut items = Vec::new();
        let accepted = self.flows.segment(frame.number, key, segment, &mut items);

        let mut outcome = if accepted {
            Outcome::Used
        } else {
            Outcome::Skipped
        };
        for item in items {
            match item {
                StreamItem::Sip(message) => {
                    self.push(frame, frame.at_ms, Transport::Tcp, None, message);
                }
                StreamItem::Hep(datagram) => match hep::decode(&datagram) {
                    Ok(packet) => {
                        self.hep(frame, packet, true);
                    }
                    Err(_) => self.stats.malformed += 1,
                },
                StreamItem::Garbage => outcome = Outcome::Malformed,
            }
        }
        outcome
    }

    /// SCTP common header, then chunks (RFC 9260 §3); each complete DATA chunk (type 0,
    /// flags B and E set) is one user message.
    fn sctp(&mut self, frame: Frame, bytes: &[u8]) -> Outcome {
        const COMMON_HEADER: usize = 12;
        const DATA_HEADER: usize = 16;
        const CHUNK_DATA: u8 = 0;
        const FLAGS_WHOLE: u8 = 0b11;

        if bytes.len() < COMMON_HEADER {
            return Outcome::Malformed;
        }
        let mut at = COMMON_HEADER;
        let mut outcome = Outcome::Skipped;
        while let Some(header) = bytes.get(at..at + 4) {
            let chunk_type = header[0];
            let flags = header[1];
            let len = usize::from(u16::from_be_bytes([header[2], header[3]]));
            let Some(chunk) = bytes.get(at..at + len).filter(|_| len >= 4) else {
                return Outcome::Malformed;
            };
            if chunk_type == CHUNK_DATA && len >= DATA_HEADER && flags & FLAGS_WHOLE == FLAGS_WHOLE
            {
                let found = self.datagram(frame, &chunk[DATA_HEADER..], Transport::Sctp);
                if found == Outcome::Used || outcome == Outcome::Skipped {
                    outcome = found;
                }
            }
            // Chunks are padded to a multiple of four bytes.
            at += len.next_multiple_of(4);
        }
        outcome
    }
}

/// Fragment id, byte offset and more-fragments flag of a fragmented packet.
fn fragment_of(ip: &IpSlice<'_>) -> Option<(u32, usize, bool)> {
    match ip {
        IpSlice::Ipv4(v4) => {
            let header = v4.header();
            Some((
                u32::from(header.identification()),
                usize::from(header.fragments_offset().value()) * 8,
                header.more_fragments(),
            ))
        }
        IpSlice::Ipv6(v6) => v6
            .extensions()
            .clone()
            .into_iter()
            .find_map(|ext| match ext {
                Ipv6ExtensionSlice::Fragment(frag) => Some((
                    frag.identification(),
                    usize::from(frag.fragment_offset().value()) * 8,
                    frag.more_fragments(),
                )),
                _ => None,
            }),
    }
}

/// Strips the link layer and returns the IP packet, or what to count the frame as.
fn network_layer(linktype: i32, data: &[u8]) -> Result<&[u8], Outcome> {
    // Link type numbers from the tcpdump.org LINKTYPE registry; 12 and 14 are raw IP as
    // some BSDs wrote it.
    match linktype {
        1 => ethernet(data),
        0 | 108 => loopback(data),
        101 | 228 | 229 | 12 | 14 => Ok(data),
        113 => {
            let ethertype = be16(data, 14).ok_or(Outcome::Malformed)?;
            ip_of(ethertype, &data[16..])
        }
        276 => {
            let ethertype = be16(data, 0).ok_or(Outcome::Malformed)?;
            let rest = data.get(20..).ok_or(Outcome::Malformed)?;
            ip_of(ethertype, rest)
        }
        _ => Err(Outcome::Skipped),
    }
}

fn ethernet(data: &[u8]) -> Result<&[u8], Outcome> {
    let mut ethertype = be16(data, 12).ok_or(Outcome::Malformed)?;
    let mut at = 14;
    for _ in 0..MAX_VLAN_TAGS {
        if !ETHERTYPE_VLAN.contains(&ethertype) {
            break;
        }
        ethertype = be16(data, at + 2).ok_or(Outcome::Malformed)?;
        at += 4;
    }
    ip_of(ethertype, &data[at..])
}

/// BSD loopback: a 4-byte address family in the byte order of the capturing host.
fn loopback(data: &[u8]) -> Result<&[u8], Outcome> {
    let header: [u8; 4] = data
        .get(..4)
        .and_then(|h| h.try_into().ok())
        .ok_or(Outcome::Malformed)?;
    let little = u32::from_le_bytes(header);
    let family = if little < 256 {
        little
    } else {
        u32::from_be_bytes(header)
    };
    // AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
    match family {
        2 | 24 | 28 | 30 => Ok(&data[4..]),
        _ => Err(Outcome::Skipped),
    }
}

fn ip_of(ethertype: u16, rest: &[u8]) -> Result<&[u8], Outcome> {
    match ethertype {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(rest),
        _ => Err(Outcome::Skipped),
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at + 2)?;
    Some(u16::from_be_bytes([bytes[0], bytes[1]]))
}
