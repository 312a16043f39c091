//! Frames synthesised layer by layer, written as pcap and pcapng, read back: link and IP
//! layers and datagrams in `layers`, TCP and SCTP streams and the no-panic properties
//! in `streams`.

mod layers;
mod streams;

use etherparse::{
    IpFragOffset, IpNumber, Ipv4Header, Ipv6FragmentHeader, Ipv6Header, PacketBuilder,
};
use proptest::prelude::*;

use super::*;
use crate::hep::{self, HepPacket, FAMILY_IPV4, PROTO_SIP};

const SRC4: [u8; 4] = [10, 0, 0, 1];
const DST4: [u8; 4] = [10, 0, 0, 2];
const SRC6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// Frame time of every synthesised record: 2024-01-02 03:04:05.678901 UTC.
const TS_SEC: u32 = 1_704_164_645;
const TS_USEC: u32 = 678_901;
const AT_MS: i64 = 1_704_164_645_678;

const LINK_ETHERNET: u32 = 1;
const LINK_RAW: u32 = 101;

fn sip(method: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} sip:200@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.1\r\n\
         Call-ID: c-{method}@test\r\nCSeq: 1 {method}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn ipv4_udp(payload: &[u8], dst_port: u16) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv4(SRC4, DST4, 64)
        .udp(40000, dst_port)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn ipv6_udp(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ipv6(SRC6, DST6, 64)
        .udp(5060, 5060)
        .write(&mut out, payload)
        .unwrap();
    out
}

fn ipv4_tcp(payload: &[u8], seq: u32, syn: bool) -> Vec<u8> {
    let builder = PacketBuilder::ipv4(SRC4, DST4, 64).tcp(40000, 5060, seq, 1024);
    let builder = if syn { builder.syn() } else { builder };
    let mut out = Vec::new();
    builder.write(&mut out, payload).unwrap();
    out
}

fn ethernet(ip: &[u8]) -> Vec<u8> {
    let ethertype: &[u8] = if ip[0] >> 4 == 6 {
        &[0x86, 0xdd]
    } else {
        &[0x08, 0x00]
    };
    let mut out = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    out.extend_from_slice(ethertype);
    out.extend_from_slice(ip);
    out
}

/// A pcap file, little-endian, microseconds, every record at the same time.
fn pcap(linktype: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&65535u32.to_le_bytes());
    out.extend_from_slice(&linktype.to_le_bytes());
    for frame in frames {
        let len = u32::try_from(frame.len()).unwrap();
        out.extend_from_slice(&TS_SEC.to_le_bytes());
        out.extend_from_slice(&TS_USEC.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

fn pcapng_block(out: &mut Vec<u8>, block_type: u32, body: &[u8]) {
    let padded = body.len().next_multiple_of(4);
    let total = u32::try_from(12 + padded).unwrap();
    out.extend_from_slice(&block_type.to_le_bytes());
    out.extend_from_slice(&total.to_le_bytes());
    out.extend_from_slice(body);
    out.extend(std::iter::repeat_n(0, padded - body.len()));
    out.extend_from_slice(&total.to_le_bytes());
}

/// A pcapng file with one interface (default microsecond resolution) and one EPB per frame.
fn pcapng(linktype: u16, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4d_u32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes());
    pcapng_block(&mut out, 0x0a0d_0d0a, &shb);

    let mut idb = Vec::new();
    idb.extend_from_slice(&linktype.to_le_bytes());
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes());
    pcapng_block(&mut out, 1, &idb);

    let ticks = u64::from(TS_SEC) * 1_000_000 + u64::from(TS_USEC);
    for frame in frames {
        let len = u32::try_from(frame.len()).unwrap();
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes());
        epb.extend_from_slice(&u32::try_from(ticks >> 32).unwrap().to_le_bytes());
        epb.extend_from_slice(&u32::try_from(ticks & 0xffff_ffff).unwrap().to_le_bytes());
        epb.extend_from_slice(&len.to_le_bytes());
        epb.extend_from_slice(&len.to_le_bytes());
        epb.extend_from_slice(frame);
        pcapng_block(&mut out, 6, &epb);
    }
    out
}

fn payloads(capture: &Capture) -> Vec<Vec<u8>> {
    capture.messages.iter().map(|m| m.payload.clone()).collect()
}

fn hep_packet(payload: Vec<u8>) -> HepPacket {
    HepPacket {
        ip_family: FAMILY_IPV4,
        transport: Transport::Tcp,
        src: "192.0.2.1:5060".parse().unwrap(),
        dst: "192.0.2.2:5060".parse().unwrap(),
        ts_sec: 1_600_000_000,
        ts_usec: 250_000,
        proto_type: PROTO_SIP,
        capture_id: 7,
        correlation_id: Some("leg-a".to_owned()),
        node_name: None,
        payload,
    }
}

/// Splits a whole IPv4 packet into fragments of `chunk` payload bytes (a multiple of 8).
fn ipv4_fragments(packet: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let (header, payload) = Ipv4Header::from_slice(packet).unwrap();
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(index, piece)| {
            let mut fragment = header.clone();
            fragment.identification = 0x4242;
            fragment.more_fragments = (index + 1) * chunk < payload.len();
            fragment.fragment_offset =
                IpFragOffset::try_new(u16::try_from(index * chunk / 8).unwrap()).unwrap();
            fragment.set_payload_len(piece.len()).unwrap();
            fragment.header_checksum = fragment.calc_header_checksum();
            let mut out = Vec::new();
            fragment.write(&mut out).unwrap();
            out.extend_from_slice(piece);
            out
        })
        .collect()
}

/// Splits a whole IPv6 packet (no extension headers) into fragments with a Fragment
/// header.
fn ipv6_fragments(packet: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let (header, payload) = Ipv6Header::from_slice(packet).unwrap();
    payload
        .chunks(chunk)
        .enumerate()
        .map(|(index, piece)| {
            let offset = IpFragOffset::try_new(u16::try_from(index * chunk / 8).unwrap()).unwrap();
            let more = (index + 1) * chunk < payload.len();
            let frag = Ipv6FragmentHeader::new(header.next_header, offset, more, 0x0101_0101);
            let mut outer = header.clone();
            outer.next_header = IpNumber::IPV6_FRAGMENTATION_HEADER;
            outer.payload_length = u16::try_from(8 + piece.len()).unwrap();
            let mut out = Vec::new();
            outer.write(&mut out).unwrap();
            frag.write(&mut out).unwrap();
            out.extend_from_slice(piece);
            out
        })
        .collect()
}

fn sctp_packet(chunks: &[(u8, &[u8])]) -> Vec<u8> {
    let mut sctp = vec![0x13, 0xc4, 0x13, 0xc4, 0, 0, 0, 1, 0, 0, 0, 0];
    for (flags, data) in chunks {
        let len = u16::try_from(16 + data.len()).unwrap();
        sctp.extend_from_slice(&[0, *flags]);
        sctp.extend_from_slice(&len.to_be_bytes());
        sctp.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
        sctp.extend_from_slice(data);
        sctp.extend(std::iter::repeat_n(
            0,
            data.len().next_multiple_of(4) - data.len(),
        ));
    }
    let mut out = Vec::new();
    PacketBuilder::ipv4(SRC4, DST4, 64)
        .write(&mut out, IpNumber::SCTP, &sctp)
        .unwrap();
    out
}
