//! TCP streams, SCTP chunks, and arbitrary input.

use super::*;

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
fn content_length_reads_long_and_compact_names() {
    use super::sip_stream::content_length;
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
