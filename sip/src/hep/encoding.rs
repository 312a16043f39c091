//! HEPv3 encoding, in the chunk order Kamailio 5.6 uses.

use std::net::{IpAddr, Ipv6Addr};

use super::*;

/// Encodes a packet as one HEPv3 datagram, chunks in the order Kamailio 5.6 sends them.
///
/// Order: 0x0001, 0x0002, source and destination address (0x0003/0x0004 for IPv4,
/// 0x0005/0x0006 for IPv6), 0x0007, 0x0008, 0x0009, 0x000a, 0x000b, 0x000c, 0x000f, then
/// 0x0011 when `correlation_id` is set and 0x0013 when `node_name` is set. The address
/// chunks follow the addresses themselves; `ip_family` is written as given.
///
/// The 16-bit length fields cap a datagram at 65,535 bytes, so correlation id and node name
/// are cut to 1,024 bytes and the payload to what still fits; a SIP message never comes
/// near that.
pub fn encode(p: &HepPacket) -> Vec<u8> {
    let correlation_id = p
        .correlation_id
        .as_deref()
        .map(|s| cut(s.as_bytes(), MAX_LABEL));
    let node_name = p.node_name.as_deref().map(|s| cut(s.as_bytes(), MAX_LABEL));

    let mut out = Vec::with_capacity(128 + p.payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[0, 0]);

    put(&mut out, CHUNK_IP_FAMILY, &[p.ip_family]);
    put(&mut out, CHUNK_IP_PROTO, &[p.transport.to_ip_proto()]);
    match (p.src.ip(), p.dst.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            put(&mut out, CHUNK_IPV4_SRC, &src.octets());
            put(&mut out, CHUNK_IPV4_DST, &dst.octets());
        }
        (src, dst) => {
            put(&mut out, CHUNK_IPV6_SRC, &to_v6(src).octets());
            put(&mut out, CHUNK_IPV6_DST, &to_v6(dst).octets());
        }
    }
    put(&mut out, CHUNK_SRC_PORT, &p.src.port().to_be_bytes());
    put(&mut out, CHUNK_DST_PORT, &p.dst.port().to_be_bytes());
    put(&mut out, CHUNK_TS_SEC, &p.ts_sec.to_be_bytes());
    put(&mut out, CHUNK_TS_USEC, &p.ts_usec.to_be_bytes());
    put(&mut out, CHUNK_PROTO_TYPE, &[p.proto_type]);
    put(&mut out, CHUNK_CAPTURE_ID, &p.capture_id.to_be_bytes());

    let trailer = [correlation_id, node_name]
        .iter()
        .flatten()
        .map(|label| HEADER_LEN + label.len())
        .sum::<usize>();
    let room = MAX_DATAGRAM.saturating_sub(out.len() + HEADER_LEN + trailer);
    put(&mut out, CHUNK_PAYLOAD, cut(&p.payload, room));

    if let Some(label) = correlation_id {
        put(&mut out, CHUNK_CORRELATION_ID, label);
    }
    if let Some(label) = node_name {
        put(&mut out, CHUNK_NODE_NAME, label);
    }

    let total = u16::try_from(out.len()).unwrap_or(u16::MAX);
    out[4..6].copy_from_slice(&total.to_be_bytes());
    out
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

fn cut(bytes: &[u8], max: usize) -> &[u8] {
    &bytes[..bytes.len().min(max)]
}

/// Appends one vendor-0 chunk; callers keep `value` short enough for the u16 length.
fn put(out: &mut Vec<u8>, chunk_type: u16, value: &[u8]) {
    let len = u16::try_from(HEADER_LEN + value.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&chunk_type.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
}
