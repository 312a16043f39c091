//! Link layers, IP (fragments, tunnels), UDP datagrams and damaged files.

use super::*;

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
fn big_endian_nanosecond_pcap_is_read() {
    let invite = sip("INVITE", "");
    let frame = ipv4_udp(&invite, 5060);
    let len = u32::try_from(frame.len()).unwrap();
    let mut file = Vec::new();
    file.extend_from_slice(&0xa1b2_3c4d_u32.to_be_bytes());
    file.extend_from_slice(&2u16.to_be_bytes());
    file.extend_from_slice(&4u16.to_be_bytes());
    file.extend_from_slice(&[0; 8]);
    file.extend_from_slice(&65535u32.to_be_bytes());
    file.extend_from_slice(&LINK_RAW.to_be_bytes());
    file.extend_from_slice(&TS_SEC.to_be_bytes());
    file.extend_from_slice(&(TS_USEC * 1000 + 999).to_be_bytes());
    file.extend_from_slice(&len.to_be_bytes());
    file.extend_from_slice(&len.to_be_bytes());
    file.extend_from_slice(&frame);

    let capture = read(&file).unwrap();

    assert_eq!(payloads(&capture), vec![invite]);
    assert_eq!(capture.messages[0].at_ms, AT_MS);
}
