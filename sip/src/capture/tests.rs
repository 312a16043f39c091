//! Frames synthesised layer by layer, written as pcap and pcapng, read back.

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

#[test]
fn plain_sip_over_udp_in_ethernet() {
    let invite = sip("INVITE", "");
    let file = pcap(LINK_ETHERNET, &[ethernet(&ipv4_udp(&invite, 5060))]);

    let capture = read(&file).unwrap();

    assert_eq!(payloads(&capture), vec![invite]);
    let message = &capture.messages[0];
    assert_eq!(message.frame, 1);
    assert_eq!(message.at_ms, AT_MS);
    assert_eq!(message.transport, Transport::Udp);
    assert_eq!(message.correlation_id, None);
    assert_eq!(capture.stats.frames, 1);
    assert_eq!(capture.stats.sip_messages, 1);
}

#[test]
fn every_link_layer_is_stripped() {
    let invite = sip("INVITE", "");
    let ip = ipv4_udp(&invite, 5062);

    let mut vlan = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x64];
    vlan.extend_from_slice(&[0x88, 0xa8, 0x00, 0x65, 0x08, 0x00]);
    vlan.extend_from_slice(&ip);
    let mut sll = vec![0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00];
    sll.extend_from_slice(&ip);
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    sll2.extend_from_slice(&ip);
    let mut null_le = 2u32.to_le_bytes().to_vec();
    null_le.extend_from_slice(&ip);
    let mut loop_be = 2u32.to_be_bytes().to_vec();
    loop_be.extend_from_slice(&ip);
    let mut null_v6 = 30u32.to_le_bytes().to_vec();
    null_v6.extend_from_slice(&ipv6_udp(&invite));

    let cases: [(&str, u32, Vec<u8>); 9] = [
        ("ethernet", LINK_ETHERNET, ethernet(&ip)),
        ("vlan", LINK_ETHERNET, vlan),
        ("sll", 113, sll),
        ("sll2", 276, sll2),
        ("raw", LINK_RAW, ip.clone()),
        ("ipv4", 228, ip.clone()),
        ("ipv6", 229, ipv6_udp(&invite)),
        ("null", 0, null_le),
        ("null v6", 0, null_v6),
    ];
    for (name, linktype, frame) in cases {
        let capture = read(&pcap(linktype, &[frame])).unwrap();
        assert_eq!(payloads(&capture), vec![invite.clone()], "{name}");
    }
    let capture = read(&pcap(108, &[loop_be])).unwrap();
    assert_eq!(capture.messages.len(), 1, "loop");
}

#[test]
fn pcapng_is_read_with_its_interface_time_base() {
    let invite = sip("INVITE", "");
    let bye = sip("BYE", "");
    let frames = [
        ethernet(&ipv4_udp(&invite, 5060)),
        ethernet(&ipv4_udp(&bye, 5060)),
    ];

    let capture = read(&pcapng(1, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![invite, bye]);
    assert_eq!(capture.messages[1].frame, 2);
    assert_eq!(capture.messages[1].at_ms, AT_MS);
    assert_eq!(capture.stats.file_errors, 0);
}

#[test]
fn non_sip_udp_is_skipped_and_counted() {
    let rtp = [0x80, 0x00, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 2, 0xff, 0xfe];
    let dns = [0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let frames = [
        ethernet(&ipv4_udp(&rtp, 10000)),
        ethernet(&ipv4_udp(&dns, 53)),
        ethernet(&ipv4_udp(&sip("OPTIONS", ""), 5070)),
    ];

    let capture = read(&pcap(LINK_ETHERNET, &frames)).unwrap();

    assert_eq!(capture.messages.len(), 1);
    assert_eq!(capture.messages[0].frame, 3);
    assert_eq!(capture.stats.skipped_frames, 2);
    assert_eq!(capture.stats.malformed, 0);
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

#[test]
fn hep3_and_hep2_in_udp_carry_their_own_time() {
    let invite = sip("INVITE", "");
    let v3 = hep::encode(&hep_packet(invite.clone()));
    let mut v2_packet = hep_packet(invite.clone());
    v2_packet.transport = Transport::Udp;
    let v2 = hep::legacy::encode_v2(&v2_packet);
    let frames = [
        ethernet(&ipv4_udp(&v3, 9060)),
        ethernet(&ipv4_udp(&v2, 12345)),
    ];

    let capture = read(&pcap(LINK_ETHERNET, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![invite.clone(), invite]);
    let [first, second] = &capture.messages[..] else {
        panic!("two messages expected");
    };
    assert_eq!(first.at_ms, 1_600_000_000_250);
    assert_eq!(first.transport, Transport::Tcp);
    assert_eq!(first.correlation_id.as_deref(), Some("leg-a"));
    assert_eq!(second.at_ms, 1_600_000_000_250);
    assert_eq!(second.transport, Transport::Udp);
    assert_eq!(second.correlation_id, None);
    assert_eq!(capture.stats.hep_packets, 2);
}

#[test]
fn hep_of_another_protocol_is_skipped() {
    let mut packet = hep_packet(b"{\"rtcp\":1}".to_vec());
    packet.proto_type = 5;
    let file = pcap(LINK_RAW, &[ipv4_udp(&hep::encode(&packet), 9060)]);

    let capture = read(&file).unwrap();

    assert!(capture.messages.is_empty());
    assert_eq!(capture.stats.hep_packets, 1);
    assert_eq!(capture.stats.skipped_frames, 1);
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

#[test]
fn ipv4_fragments_are_reassembled_in_any_order() {
    let invite = sip("INVITE", &"v=0\r\n".repeat(120));
    let mut fragments = ipv4_fragments(&ipv4_udp(&invite, 5060), 256);
    assert!(fragments.len() >= 3);
    fragments.swap(0, 2);

    let frames: Vec<_> = fragments.iter().map(|f| ethernet(f)).collect();
    let capture = read(&pcap(LINK_ETHERNET, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![invite]);
    assert_eq!(capture.messages[0].frame, frames.len() as u64);
    assert_eq!(capture.stats.malformed, 0);
}

#[test]
fn ipv6_fragments_are_reassembled() {
    let invite = sip("INVITE", &"v=0\r\n".repeat(120));
    let mut fragments = ipv6_fragments(&ipv6_udp(&invite), 200);
    fragments.reverse();

    let capture = read(&pcap(LINK_RAW, &fragments)).unwrap();

    assert_eq!(payloads(&capture), vec![invite]);
}

#[test]
fn unfinished_fragments_are_bounded_and_counted() {
    let invite = sip("INVITE", &"v=0\r\n".repeat(120));
    let first = ipv4_fragments(&ipv4_udp(&invite, 5060), 256).remove(0);
    let frames: Vec<Vec<u8>> = (0..300u16)
        .map(|id| {
            let mut fragment = first.clone();
            fragment[4..6].copy_from_slice(&id.to_be_bytes());
            fragment
        })
        .collect();

    let capture = read(&pcap(LINK_RAW, &frames)).unwrap();

    assert!(capture.messages.is_empty());
    // Checksums are not verified, so the edited id is read as is; 300 datagrams wait and
    // the pool holds 256 of them.
    assert_eq!(capture.stats.fragments_dropped, 300 - 256);
}

#[test]
fn ip_in_ip_tunnels_are_unwrapped() {
    let invite = sip("INVITE", "");
    let inner4 = ipv4_udp(&invite, 5090);
    let inner6 = ipv6_udp(&invite);

    let mut outer4 = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .write(&mut outer4, IpNumber::IPV4, &inner4)
        .unwrap();
    let mut outer6 = Vec::new();
    PacketBuilder::ipv4([192, 0, 2, 1], [192, 0, 2, 2], 64)
        .write(&mut outer6, IpNumber::IPV6, &inner6)
        .unwrap();

    let capture = read(&pcap(
        LINK_ETHERNET,
        &[ethernet(&outer4), ethernet(&outer6)],
    ))
    .unwrap();

    assert_eq!(payloads(&capture), vec![invite.clone(), invite]);
}

#[test]
fn tcp_segment_with_two_messages_gives_both() {
    let invite = sip("INVITE", "v=0\r\n");
    let ack = sip("ACK", "");
    let both = [invite.clone(), ack.clone()].concat();
    let frames = [
        ethernet(&ipv4_tcp(&[], 999, true)),
        ethernet(&ipv4_tcp(&both, 1000, false)),
    ];

    let capture = read(&pcap(LINK_ETHERNET, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![invite, ack]);
    assert!(capture.messages.iter().all(|m| m.frame == 2));
    assert!(capture
        .messages
        .iter()
        .all(|m| m.transport == Transport::Tcp));
}

#[test]
fn tcp_message_over_three_segments_completes_in_the_last() {
    let invite = sip("INVITE", &"a=sendrecv\r\n".repeat(20));
    let parts: Vec<&[u8]> = vec![&invite[..30], &invite[30..200], &invite[200..]];
    let mut seq = 5000u32;
    let mut frames = Vec::new();
    for part in &parts {
        frames.push(ethernet(&ipv4_tcp(part, seq, false)));
        seq += u32::try_from(part.len()).unwrap();
    }

    let capture = read(&pcap(LINK_ETHERNET, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![invite]);
    assert_eq!(capture.messages[0].frame, 3);
}

#[test]
fn tcp_out_of_order_and_retransmitted_segments_are_put_in_order() {
    let invite = sip("INVITE", &"a=sendrecv\r\n".repeat(20));
    let bye = sip("BYE", "");
    let stream = [invite.clone(), bye.clone()].concat();
    let cut = [0, 100, 220, stream.len()];
    let segment = |i: usize| ipv4_tcp(&stream[cut[i]..cut[i + 1]], 1000 + cut[i] as u32, false);
    // SYN, then the third part, the first, the first again, the second.
    let frames = [
        ipv4_tcp(&[], 999, true),
        segment(2),
        segment(0),
        segment(0),
        segment(1),
    ];

    let capture = read(&pcap(LINK_RAW, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![invite, bye]);
    assert_eq!(capture.messages[0].frame, 5);
}

#[test]
fn tcp_capture_starting_between_reordered_segments_keeps_both() {
    let invite = sip("INVITE", "");
    let frames = [
        ipv4_tcp(&invite[40..], 1040, false),
        ipv4_tcp(&invite[..40], 1000, false),
    ];

    let capture = read(&pcap(LINK_RAW, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![invite]);
}

#[test]
fn tcp_compact_content_length_and_keepalives() {
    let message = b"MESSAGE sip:a@b SIP/2.0\r\ni: x@y\r\nl: 5\r\n\r\nhello".to_vec();
    let stream = [b"\r\n\r\n".to_vec(), message.clone(), b"\r\n".to_vec()].concat();
    let frames = [ipv4_tcp(&stream, 1, false)];

    let capture = read(&pcap(LINK_RAW, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![message]);
}

#[test]
fn tcp_capture_starting_mid_message_resumes_at_the_next() {
    let invite = sip("INVITE", "v=0\r\n");
    let bye = sip("BYE", "");
    let stream = [invite[50..].to_vec(), bye.clone()].concat();

    let capture = read(&pcap(LINK_RAW, &[ipv4_tcp(&stream, 1, false)])).unwrap();

    assert_eq!(payloads(&capture), vec![bye]);
}

#[test]
fn hep3_frames_over_tcp_are_split_by_length() {
    let invite = sip("INVITE", "");
    let bye = sip("BYE", "");
    let stream = [
        hep::encode(&hep_packet(invite.clone())),
        hep::encode(&hep_packet(bye.clone())),
    ]
    .concat();
    let frames = [
        ipv4_tcp(&stream[..10], 1, false),
        ipv4_tcp(&stream[10..], 11, false),
    ];

    let capture = read(&pcap(LINK_RAW, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![invite, bye]);
    assert_eq!(capture.messages[0].at_ms, 1_600_000_000_250);
    assert_eq!(capture.stats.hep_packets, 2);
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

#[test]
fn sctp_data_chunks_are_messages() {
    let invite = sip("INVITE", "x");
    let trying = b"SIP/2.0 100 Trying\r\nContent-Length: 0\r\n\r\n".to_vec();
    let whole = 0b11;
    let frames = [
        sctp_packet(&[(whole, &invite), (whole, &trying)]),
        sctp_packet(&[(0b10, &invite[..20])]),
    ];

    let capture = read(&pcap(LINK_RAW, &frames)).unwrap();

    assert_eq!(payloads(&capture), vec![invite, trying]);
    assert!(capture
        .messages
        .iter()
        .all(|m| m.transport == Transport::Sctp));
    assert_eq!(capture.stats.skipped_frames, 1);
}

#[test]
fn a_truncated_file_keeps_what_came_before_the_cut() {
    let invite = sip("INVITE", "");
    let file = pcap(
        LINK_ETHERNET,
        &[
            ethernet(&ipv4_udp(&invite, 5060)),
            ethernet(&ipv4_udp(&sip("BYE", ""), 5060)),
        ],
    );

    let capture = read(&file[..file.len() - 30]).unwrap();

    assert_eq!(payloads(&capture), vec![invite]);
    assert_eq!(capture.stats.file_errors, 1);
}

#[test]
fn a_corrupt_ip_header_is_counted() {
    let mut ip = ipv4_udp(&sip("INVITE", ""), 5060);
    ip[0] = 0x41;

    let capture = read(&pcap(LINK_RAW, &[ip])).unwrap();

    assert!(capture.messages.is_empty());
    assert_eq!(capture.stats.malformed, 1);
}

#[test]
fn other_files_are_refused() {
    assert_eq!(read(b"not a capture").unwrap_err(), Error::CaptureFormat);
    assert_eq!(read(&[]).unwrap_err(), Error::CaptureFormat);
}

#[test]
fn content_length_reads_long_and_compact_names() {
    use super::tcp::content_length;
    assert_eq!(
        content_length(b"INVITE x SIP/2.0\r\nContent-Length:  12 \r\n\r\n"),
        Some(Ok(12))
    );
    assert_eq!(
        content_length(b"INVITE x SIP/2.0\r\nl:3\r\n\r\n"),
        Some(Ok(3))
    );
    assert_eq!(
        content_length(b"INVITE x SIP/2.0\r\ncontent-length: x\r\n\r\n"),
        Some(Err(()))
    );
    assert_eq!(content_length(b"INVITE x SIP/2.0\r\nVia: a\r\n\r\n"), None);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = read(&bytes);
    }

    #[test]
    fn arbitrary_frames_never_panic(
        linktype in prop::sample::select(vec![0u32, 1, 101, 113, 228, 229, 276]),
        frames in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..8),
    ) {
        let capture = read(&pcap(linktype, &frames)).unwrap();
        prop_assert_eq!(capture.stats.frames, frames.len() as u64);
    }

    #[test]
    fn mangled_valid_captures_never_panic(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let invite = sip("INVITE", "v=0\r\n");
        let mut frames: Vec<Vec<u8>> = ipv4_fragments(&ipv4_udp(&invite, 5060), 64);
        frames.push(ipv4_tcp(&invite, 1, false));
        frames.push(sctp_packet(&[(0b11, &invite)]));
        let mut file = pcapng(101, &frames);
        for (index, value) in flips {
            let at = index.index(file.len());
            file[at] = value;
        }
        let _ = read(&file);
    }
}
