//! Tests of HEPv1/v2, datagram classification and the HEPv3 stream decoder.

use proptest::prelude::*;

use super::legacy::encode_v2;
use super::*;

fn sample(payload: &[u8]) -> HepPacket {
    HepPacket {
        ip_family: FAMILY_IPV4,
        transport: Transport::Udp,
        src: "10.1.2.3:5080".parse().unwrap(),
        dst: "10.1.2.4:5060".parse().unwrap(),
        ts_sec: 1_700_000_000,
        ts_usec: 123_456,
        proto_type: PROTO_SIP,
        capture_id: 2001,
        correlation_id: None,
        node_name: None,
        payload: payload.to_vec(),
    }
}

const INVITE: &[u8] = b"INVITE sip:200@pbx SIP/2.0\r\nCall-ID: a\r\n\r\n";

#[test]
fn hep2_layout_is_read_field_by_field() {
    // Built by hand from the layout in the module docs, not by encode_v2.
    let mut datagram = vec![
        2, 16, 2, 17, 0x13, 0xc4, 0x13, 0xc5, 10, 1, 2, 3, 10, 1, 2, 4,
    ];
    datagram.extend_from_slice(&1_700_000_000u32.to_le_bytes());
    datagram.extend_from_slice(&123_456u32.to_le_bytes());
    datagram.extend_from_slice(&2001u16.to_le_bytes());
    datagram.extend_from_slice(&[0, 0]);
    datagram.extend_from_slice(INVITE);

    let packet = decode_legacy(&datagram).unwrap();

    assert_eq!(packet.src, "10.1.2.3:5060".parse().unwrap());
    assert_eq!(packet.dst, "10.1.2.4:5061".parse().unwrap());
    assert_eq!(packet.transport, Transport::Udp);
    assert_eq!(packet.timestamp_ms(), 1_700_000_000_123);
    assert_eq!(packet.capture_id, 2001);
    assert_eq!(packet.payload, INVITE);
}

#[test]
fn hep2_round_trips_over_ipv6() {
    let mut packet = sample(INVITE);
    packet.ip_family = FAMILY_IPV6;
    packet.transport = Transport::Tcp;
    packet.src = "[fd00::1]:5060".parse().unwrap();
    packet.dst = "[fd00::2]:5061".parse().unwrap();

    let datagram = encode_v2(&packet);

    assert_eq!(datagram[1], 40);
    assert_eq!(decode_legacy(&datagram).unwrap(), packet);
}

#[test]
fn hep1_has_no_time() {
    let mut datagram = encode_v2(&sample(INVITE));
    datagram[0] = 1;
    datagram.drain(16..28);

    let any = decode_any(&datagram).unwrap();

    assert_eq!(any.kind, DatagramKind::HepV1);
    assert_eq!(any.capture_time_ms(), None);
    assert_eq!(any.packet.payload, INVITE);
}

#[test]
fn bad_hep2_headers_are_refused() {
    let good = encode_v2(&sample(INVITE));
    let mut wrong_length = good.clone();
    wrong_length[1] = 20;
    let mut wrong_family = good.clone();
    wrong_family[2] = 7;

    assert_eq!(decode_legacy(&wrong_length), Err(Error::HepV2Malformed));
    assert_eq!(decode_legacy(&wrong_family), Err(Error::HepV2Malformed));
    assert_eq!(decode_legacy(&good[..20]), Err(Error::HepV2Malformed));
}

#[test]
fn datagrams_are_classified_by_content() {
    let v3 = encode(&sample(INVITE));
    let v2 = encode_v2(&sample(INVITE));
    let response = b"SIP/2.0 180 Ringing\r\n\r\n";
    let rtp = [0x80, 0x08, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0xd5, 0xd5];

    assert_eq!(classify(&v3), DatagramKind::HepV3);
    assert_eq!(classify(&v2), DatagramKind::HepV2);
    assert_eq!(classify(INVITE), DatagramKind::PlainSip);
    assert_eq!(
        classify(b"\r\n\r\nOPTIONS sip:x SIP/2.0\r\n"),
        DatagramKind::PlainSip
    );
    assert_eq!(classify(response), DatagramKind::PlainSip);
    assert_eq!(classify(&rtp), DatagramKind::Unknown);
    assert_eq!(classify(b"\r\n\r\n"), DatagramKind::Unknown);
    assert_eq!(classify(b"GET / HTTP/1.1\r\n"), DatagramKind::Unknown);
    // A v2 header in front of something that is not SIP is not taken for HEP.
    let mut v2_rtp = v2[..28].to_vec();
    v2_rtp.extend_from_slice(&rtp);
    assert_eq!(classify(&v2_rtp), DatagramKind::Unknown);
}

#[test]
fn decode_any_marks_what_has_a_capture_time() {
    let v3 = decode_any(&encode(&sample(INVITE))).unwrap();
    let v2 = decode_any(&encode_v2(&sample(INVITE))).unwrap();
    let plain = decode_any(INVITE).unwrap();

    assert_eq!(v3.capture_time_ms(), Some(1_700_000_000_123));
    assert_eq!(v2.capture_time_ms(), Some(1_700_000_000_123));
    assert_eq!(plain.kind, DatagramKind::PlainSip);
    assert_eq!(plain.capture_time_ms(), None);
    assert_eq!(plain.packet.payload, INVITE);
    assert_eq!(plain.packet.proto_type, PROTO_SIP);
    assert_eq!(decode_any(b"\x80\x00junk"), Err(Error::UnknownDatagram));
}

#[test]
fn stream_frames_are_cut_at_their_length_wherever_reads_end() {
    let first = encode(&sample(INVITE));
    let second = encode(&sample(b"BYE sip:a SIP/2.0\r\n\r\n"));
    let stream = [first.clone(), second.clone()].concat();

    for cut in [1, 3, 5, first.len(), first.len() + 2, stream.len()] {
        let mut decoder = StreamDecoder::new();
        let mut frames = Vec::new();
        for part in [&stream[..cut], &stream[cut..]] {
            decoder.push(part);
            while let Some(frame) = decoder.next_frame().unwrap() {
                frames.push(frame);
            }
        }
        assert_eq!(frames, vec![first.clone(), second.clone()], "cut at {cut}");
        assert_eq!(decoder.buffered(), 0);
    }
}

#[test]
fn stream_garbage_fails_for_good() {
    let mut decoder = StreamDecoder::new();
    decoder.push(b"HEX3\0\x10");

    assert_eq!(decoder.next_frame(), Err(Error::HepStreamGarbage));
    decoder.push(&encode(&sample(INVITE)));
    assert_eq!(decoder.next_frame(), Err(Error::HepStreamGarbage));
    assert_eq!(decoder.buffered(), 0);
}

#[test]
fn stream_frames_beyond_the_maximum_are_refused() {
    let mut decoder = StreamDecoder::with_max_frame(100);
    decoder.push(b"HEP3\x01\x00");

    assert_eq!(
        decoder.next_frame(),
        Err(Error::HepStreamFrameSize {
            declared: 256,
            max: 100
        })
    );

    let mut short = StreamDecoder::new();
    short.push(b"HEP3\x00\x02");
    assert!(matches!(
        short.next_frame(),
        Err(Error::HepStreamFrameSize { declared: 2, .. })
    ));
}

#[test]
fn error_texts() {
    assert_eq!(
        Error::HepStreamFrameSize {
            declared: 9,
            max: 8
        }
        .to_string(),
        "hep stream frame of 9 bytes is outside 6..=8"
    );
    assert_eq!(
        Error::UnknownDatagram.to_string(),
        "datagram is neither hep nor sip"
    );
}

proptest! {
    #[test]
    fn stream_decoder_never_panics(
        parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..200), 0..10),
        with_magic in any::<bool>(),
    ) {
        let mut decoder = StreamDecoder::with_max_frame(512);
        if with_magic {
            decoder.push(b"HEP3");
        }
        for part in parts {
            decoder.push(&part);
            while let Ok(Some(frame)) = decoder.next_frame() {
                prop_assert!(frame.len() <= 512);
            }
            prop_assert!(decoder.buffered() <= 512 + 200 + 4);
        }
    }

    #[test]
    fn decode_any_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode_any(&bytes);
    }
}
