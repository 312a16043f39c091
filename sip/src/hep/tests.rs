use std::net::{Ipv6Addr, SocketAddr};

use proptest::prelude::*;

use super::*;
use crate::test_support::{datagrams, FIXTURES};

fn sample() -> HepPacket {
    HepPacket {
        ip_family: FAMILY_IPV4,
        transport: Transport::Udp,
        src: "127.0.0.1:5080".parse().unwrap(),
        dst: "127.0.0.1:5060".parse().unwrap(),
        ts_sec: 1_780_000_000,
        ts_usec: 761_148,
        proto_type: PROTO_SIP,
        capture_id: 2001,
        correlation_id: None,
        node_name: None,
        payload: b"OPTIONS sip:a@b SIP/2.0\r\n\r\n".to_vec(),
    }
}

/// A datagram made of the given (vendor, type, value) chunks.
fn with_chunks(chunks: &[(u16, u16, &[u8])]) -> Vec<u8> {
    let mut out = b"HEP3\0\0".to_vec();
    for (vendor, chunk_type, value) in chunks {
        out.extend_from_slice(&vendor.to_be_bytes());
        out.extend_from_slice(&chunk_type.to_be_bytes());
        out.extend_from_slice(&u16::try_from(6 + value.len()).unwrap().to_be_bytes());
        out.extend_from_slice(value);
    }
    let total = u16::try_from(out.len()).unwrap();
    out[4..6].copy_from_slice(&total.to_be_bytes());
    out
}

#[test]
fn every_fixture_datagram_decodes() {
    let expected_counts = [
        ("answered", 14),
        ("abandoned", 14),
        ("busy", 8),
        ("rejected", 10),
        ("anonymous", 14),
        ("anonymous-pai", 14),
        ("pai", 14),
        ("intl", 42),
    ];
    for (name, count) in expected_counts {
        let all = datagrams(name);
        assert_eq!(all.len(), count, "{name}");
        for datagram in all {
            let packet = decode(datagram).unwrap();
            assert_eq!(packet.ip_family, FAMILY_IPV4, "{name}");
            assert_eq!(packet.transport, Transport::Udp, "{name}");
            assert_eq!(packet.proto_type, PROTO_SIP, "{name}");
            assert_eq!(packet.capture_id, 2001, "{name}");
            assert_eq!(packet.correlation_id, None, "{name}");
            assert!(packet.src.ip().is_loopback() && packet.dst.ip().is_loopback());
            assert!([5060, 5070, 5080].contains(&packet.src.port()), "{name}");
            assert!(packet.payload.ends_with(b"\r\n"), "{name}");
        }
    }
}

#[test]
fn first_answered_datagram_has_the_caller_leg() {
    let packet = decode(datagrams("answered")[0]).unwrap();

    assert_eq!(packet.src, "127.0.0.1:5080".parse::<SocketAddr>().unwrap());
    assert_eq!(packet.dst, "127.0.0.1:5060".parse::<SocketAddr>().unwrap());
    assert_eq!(packet.ts_usec, 761_148);
    assert_eq!(packet.timestamp_ms() % 1000, 761);
    assert!(packet
        .payload
        .starts_with(b"INVITE sip:2001@127.0.0.1:5060 SIP/2.0\r\n"));
}

#[test]
fn encode_reproduces_kamailio_datagrams_byte_for_byte() {
    for (name, _) in FIXTURES {
        for datagram in datagrams(name) {
            let packet = decode(datagram).unwrap();
            assert_eq!(encode(&packet), datagram, "{name}");
        }
    }
}

#[test]
fn round_trip_with_ipv6_and_optional_chunks() {
    let packet = HepPacket {
        ip_family: FAMILY_IPV6,
        transport: Transport::Sctp,
        src: SocketAddr::new(Ipv6Addr::LOCALHOST.into(), 5060),
        dst: "[2001:db8::7]:5070".parse().unwrap(),
        correlation_id: Some("corr-1".to_owned()),
        node_name: Some("edge-a".to_owned()),
        ..sample()
    };

    let bytes = encode(&packet);

    assert_eq!(decode(&bytes).unwrap(), packet);
    assert_eq!(
        usize::from(u16::from_be_bytes([bytes[4], bytes[5]])),
        bytes.len()
    );
}

#[test]
fn tls_is_written_as_tcp() {
    let packet = HepPacket {
        transport: Transport::Tls,
        ..sample()
    };

    assert_eq!(decode(&encode(&packet)).unwrap().transport, Transport::Tcp);
}

#[test]
fn oversized_payload_is_cut_to_fit_the_length_field() {
    let packet = HepPacket {
        payload: vec![b'x'; 70_000],
        correlation_id: Some("c".repeat(5000)),
        ..sample()
    };

    let bytes = encode(&packet);
    let decoded = decode(&bytes).unwrap();

    assert_eq!(bytes.len(), usize::from(u16::MAX));
    assert_eq!(decoded.correlation_id.map(|c| c.len()), Some(MAX_LABEL));
    assert!(decoded.payload.len() < 65_535);
}

#[test]
fn truncation_at_every_offset_is_an_error() {
    let full = datagrams("answered")[0];
    for cut in 0..full.len() {
        assert!(decode(&full[..cut]).is_err(), "cut at {cut}");

        // Also claim the cut length in the header, so the chunk walker sees the cut.
        let mut patched = full[..cut].to_vec();
        if cut >= 6 {
            patched[4..6].copy_from_slice(&u16::try_from(cut).unwrap().to_be_bytes());
        }
        assert!(decode(&patched).is_err(), "patched cut at {cut}");
    }
}

#[test]
fn header_faults_are_named() {
    assert_eq!(decode(b"HEP3"), Err(Error::HepTooShort { len: 4 }));
    assert_eq!(decode(b"HEP2\0\x06"), Err(Error::HepBadMagic));
    assert_eq!(
        decode(b"HEP3\0\x09\0\0"),
        Err(Error::HepLengthMismatch {
            declared: 9,
            actual: 8
        })
    );
    assert_eq!(
        decode(b"HEP3\0\x02"),
        Err(Error::HepLengthMismatch {
            declared: 2,
            actual: 6
        })
    );
}

#[test]
fn chunk_faults_are_named() {
    let mut short = with_chunks(&[(0, CHUNK_IP_PROTO, &[17])]);
    short[10..12].copy_from_slice(&5u16.to_be_bytes());
    assert_eq!(
        decode(&short),
        Err(Error::HepChunkBadLength {
            chunk_type: CHUNK_IP_PROTO,
            len: 5
        })
    );

    let mut long = with_chunks(&[(0, CHUNK_PAYLOAD, b"abc")]);
    long[10..12].copy_from_slice(&10u16.to_be_bytes());
    assert_eq!(
        decode(&long),
        Err(Error::HepChunkOverrun {
            chunk_type: CHUNK_PAYLOAD
        })
    );

    let wrong_size = with_chunks(&[(0, CHUNK_IPV4_SRC, &[127, 0, 1])]);
    assert_eq!(
        decode(&wrong_size),
        Err(Error::HepChunkBadLength {
            chunk_type: CHUNK_IPV4_SRC,
            len: 9
        })
    );

    let compressed = with_chunks(&[(0, CHUNK_COMPRESSED, b"zz")]);
    assert_eq!(decode(&compressed), Err(Error::HepCompressed));

    let mut dangling = with_chunks(&[(0, CHUNK_IP_PROTO, &[17])]);
    dangling.extend_from_slice(&[0, 0, 0]);
    let total = u16::try_from(dangling.len()).unwrap();
    dangling[4..6].copy_from_slice(&total.to_be_bytes());
    assert_eq!(
        decode(&dangling),
        Err(Error::HepChunkHeaderTruncated { offset: 13 })
    );
}

#[test]
fn missing_payload_is_named() {
    let mut packet = encode(&sample());
    let payload_at = packet.len() - sample().payload.len() - 6;
    packet.truncate(payload_at);
    let total = u16::try_from(packet.len()).unwrap();
    packet[4..6].copy_from_slice(&total.to_be_bytes());

    assert_eq!(
        decode(&packet),
        Err(Error::HepChunkMissing {
            chunk_type: CHUNK_PAYLOAD
        })
    );
}

#[test]
fn vendor_unknown_and_auth_chunks_are_skipped() {
    let base = encode(&sample());
    let mut chunks_only = base[6..].to_vec();
    let mut extra = with_chunks(&[
        (0x0022, CHUNK_PAYLOAD, b"vendor payload must not win"),
        (0, 0x000e, b"secret-key"),
        (0, 0x0042, b"unknown"),
    ]);
    extra.append(&mut chunks_only);
    let total = u16::try_from(extra.len()).unwrap();
    extra[4..6].copy_from_slice(&total.to_be_bytes());

    assert_eq!(decode(&extra).unwrap(), sample());
}

#[test]
fn bytes_after_the_declared_length_are_ignored() {
    let mut bytes = encode(&sample());
    bytes.extend_from_slice(b"padding");

    assert_eq!(decode(&bytes).unwrap(), sample());
}

#[test]
fn debug_hides_addresses_and_payload() {
    let shown = format!("{:?}", sample());

    assert!(!shown.contains("127.0.0.1"), "{shown}");
    assert!(!shown.contains("OPTIONS"), "{shown}");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn arbitrary_chunks_never_panic(
        total in any::<u16>(),
        body in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let mut bytes = b"HEP3".to_vec();
        bytes.extend_from_slice(&total.to_be_bytes());
        bytes.extend_from_slice(&body);
        let _ = decode(&bytes);
    }

    #[test]
    fn round_trip_holds(
        ts_sec in any::<u32>(),
        ts_usec in 0u32..1_000_000,
        capture_id in any::<u32>(),
        ports in (any::<u16>(), any::<u16>()),
        payload in proptest::collection::vec(any::<u8>(), 0..256),
        correlation_id in proptest::option::of("[a-z0-9-]{0,16}"),
    ) {
        let packet = HepPacket {
            src: SocketAddr::new([10, 0, 0, 1].into(), ports.0),
            dst: SocketAddr::new([10, 0, 0, 2].into(), ports.1),
            ts_sec,
            ts_usec,
            capture_id,
            payload,
            correlation_id,
            ..sample()
        };
        prop_assert_eq!(decode(&encode(&packet)).unwrap(), packet);
    }
}

#[test]
fn address_pairs_follow_the_family_with_a_fallback() {
    let v6 = HepPacket {
        ip_family: FAMILY_IPV4,
        src: "[2001:db8::1]:5060".parse().unwrap(),
        ..sample()
    };
    let decoded = decode(&encode(&v6)).unwrap();
    assert_eq!(decoded.src, v6.src);
    assert_eq!(
        decoded.dst.ip(),
        "::ffff:127.0.0.1".parse::<std::net::IpAddr>().unwrap()
    );

    let port = 5060u16.to_be_bytes();
    let no_dst = with_chunks(&[
        (0, CHUNK_IP_PROTO, &[17]),
        (0, CHUNK_IPV4_SRC, &[127, 0, 0, 1]),
        (0, CHUNK_SRC_PORT, &port),
        (0, CHUNK_DST_PORT, &port),
    ]);
    assert_eq!(
        decode(&no_dst),
        Err(Error::HepChunkMissing {
            chunk_type: CHUNK_IPV4_DST
        })
    );
}
