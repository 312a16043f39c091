//! HEPv1 and HEPv2, the fixed-header predecessors of HEPv3.
//!
//! Layout, as Kamailio's `siptrace` writes it (`trace_send_hep2_duplicate` in
//! `src/modules/siptrace/siptrace_hep.c`) and its `sipcapture` reads it (`hepv2_received`
//! with the structs of `src/modules/sipcapture/hep.h`):
//!
//! | offset | size | field |
//! | --- | --- | --- |
//! | 0 | 1 | version, 1 or 2 |
//! | 1 | 1 | header length: Kamailio writes 8 (`sizeof(struct hep_hdr)`, the fixed part only); 16 or 40 (fixed part plus addresses) is accepted too |
//! | 2 | 1 | address family: 2 (`AF_INET`) or 10 (`AF_INET6` on Linux) |
//! | 3 | 1 | IP protocol number of the mirrored message (17, 6, 132) |
//! | 4 | 2 | source port, network byte order |
//! | 6 | 2 | destination port, network byte order |
//! | 8 | 8 or 32 | source then destination address, network byte order |
//! | then, v2 only | 12 | seconds (u32), microseconds (u32), capture id (u16), 2 bytes padding |
//! | then | rest | the SIP message |
//!
//! Byte order of the v2 time header: the fields are not converted to network order.
//! `siptrace` passes seconds and microseconds through `to_le` and copies the capture id as
//! a host-order `u16`, and `sipcapture` copies all three back without conversion, so on
//! the little-endian hosts every known sender runs on they are little-endian; this module
//! reads them so. The header is the C struct `hep_timehdr` copied with `sizeof`, which is
//! 12 bytes (10 of fields plus alignment padding) on those hosts, and the receiver skips
//! the same 12.
//!
//! Limitation: a HEPv2 sender on a big-endian host would write its timestamp and capture
//! id big-endian, which this reader takes for a far-off time and a wrong id; no such
//! sender is known, and guessing the order from the value would lift it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{HepPacket, Transport, FAMILY_IPV4, FAMILY_IPV6, PROTO_SIP};
use crate::{Error, Result};

/// Fixed part of the header before the addresses.
const FIXED_LEN: usize = 8;

/// Size of the v2 time header as senders copy it (`sizeof(struct hep_timehdr)`).
const TIME_LEN: usize = 12;

/// Header fields of a HEPv1/v2 datagram, read without copying the payload.
pub(crate) struct LegacyHeader {
    /// 1 or 2.
    pub(crate) version: u8,
    /// Offset of the payload.
    pub(crate) payload_at: usize,
}

/// Reads and checks the header; `None` when the bytes are not a HEPv1/v2 header.
pub(crate) fn header(datagram: &[u8]) -> Option<LegacyHeader> {
    let version = *datagram.first()?;
    let declared = usize::from(*datagram.get(1)?);
    let family = *datagram.get(2)?;
    if version != 1 && version != 2 {
        return None;
    }

    let addresses = match family {
        FAMILY_IPV4 => 8,
        FAMILY_IPV6 => 32,
        _ => return None,
    };
    // The byte is informational: Kamailio writes the size of the fixed part alone, and
    // the layout follows from the family either way.
    if declared != FIXED_LEN && declared != FIXED_LEN + addresses {
        return None;
    }

    let time = if version == 2 { TIME_LEN } else { 0 };
    let payload_at = FIXED_LEN + addresses + time;
    (datagram.len() >= payload_at).then_some(LegacyHeader {
        version,
        payload_at,
    })
}

/// Decodes one HEPv1 or HEPv2 datagram into a [`HepPacket`].
///
/// The result has `proto_type` [`PROTO_SIP`] (v1 and v2 carry no protocol type and were
/// only ever used for SIP), `capture_id` from the v2 time header (0 for v1), and for v1,
/// which has no time header, a timestamp of 0: the caller must use its own receive time.
/// No correlation id or node name exists in these versions.
///
/// # Errors
///
/// [`Error::HepV2Malformed`] when the version, family or header length is wrong or the
/// datagram ends inside the header.
pub fn decode_legacy(datagram: &[u8]) -> Result<HepPacket> {
    let head = header(datagram).ok_or(Error::HepV2Malformed)?;
    let family = datagram[2];
    let transport = Transport::from_ip_proto(datagram[3]);
    let src_port = u16::from_be_bytes([datagram[4], datagram[5]]);
    let dst_port = u16::from_be_bytes([datagram[6], datagram[7]]);

    let (src, dst) = if family == FAMILY_IPV4 {
        let src: [u8; 4] = bytes_at(datagram, FIXED_LEN)?;
        let dst: [u8; 4] = bytes_at(datagram, FIXED_LEN + 4)?;
        (
            IpAddr::from(Ipv4Addr::from(src)),
            IpAddr::from(Ipv4Addr::from(dst)),
        )
    } else {
        let src: [u8; 16] = bytes_at(datagram, FIXED_LEN)?;
        let dst: [u8; 16] = bytes_at(datagram, FIXED_LEN + 16)?;
        (
            IpAddr::from(Ipv6Addr::from(src)),
            IpAddr::from(Ipv6Addr::from(dst)),
        )
    };

    let (ts_sec, ts_usec, capture_id) = if head.version == 2 {
        let time_at = head.payload_at - TIME_LEN;
        let sec: [u8; 4] = bytes_at(datagram, time_at)?;
        let usec: [u8; 4] = bytes_at(datagram, time_at + 4)?;
        let id: [u8; 2] = bytes_at(datagram, time_at + 8)?;
        (
            u32::from_le_bytes(sec),
            u32::from_le_bytes(usec),
            u32::from(u16::from_le_bytes(id)),
        )
    } else {
        (0, 0, 0)
    };

    Ok(HepPacket {
        ip_family: family,
        transport,
        src: SocketAddr::new(src, src_port),
        dst: SocketAddr::new(dst, dst_port),
        ts_sec,
        ts_usec,
        proto_type: PROTO_SIP,
        capture_id,
        correlation_id: None,
        node_name: None,
        payload: datagram[head.payload_at..].to_vec(),
    })
}

fn bytes_at<const N: usize>(datagram: &[u8], at: usize) -> Result<[u8; N]> {
    datagram
        .get(at..at + N)
        .and_then(|slice| slice.try_into().ok())
        .ok_or(Error::HepV2Malformed)
}

/// Encodes a HEPv2 datagram in the layout above; for tests and the capture reader's tests.
#[cfg(test)]
pub(crate) fn encode_v2(p: &HepPacket) -> Vec<u8> {
    let mut out = vec![2, 0, p.ip_family, p.transport.to_ip_proto()];
    out.extend_from_slice(&p.src.port().to_be_bytes());
    out.extend_from_slice(&p.dst.port().to_be_bytes());
    match (p.src.ip(), p.dst.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            out.extend_from_slice(&src.octets());
            out.extend_from_slice(&dst.octets());
        }
        _ => {}
    }
    out[1] = u8::try_from(out.len()).unwrap_or(0);
    out.extend_from_slice(&p.ts_sec.to_le_bytes());
    out.extend_from_slice(&p.ts_usec.to_le_bytes());
    out.extend_from_slice(&u16::try_from(p.capture_id).unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&p.payload);
    out
}
