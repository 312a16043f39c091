//! The lab's own pcaps (SIPp through Kamailio on loopback, `tests/fixtures/*.pcap`): each
//! SIP message is on the wire twice, once as plain SIP between the SIP ports and once as
//! Kamailio's HEPv3 mirror of it to port 9060. `capture::read` must find both copies of
//! every message the lab's hepdump recorded, and the tracker must make one call of them.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use ringside_sip::capture::{self, Capture};
use ringside_sip::{hep, message, CallEventKind, EndCause, Side, Tracker, Transport};

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(path).unwrap()
}

/// The payloads Kamailio mirrored, from the hepdump of the same run.
fn mirrored(name: &str) -> Vec<Vec<u8>> {
    hep::dump_records(&fixture(&format!("{name}.hep")))
        .map(|record| hep::decode(record.unwrap()).unwrap().payload)
        .collect()
}

fn ends(capture: &Capture) -> Vec<(EndCause, Option<Side>)> {
    let mut tracker = Tracker::default();
    let mut ended = Vec::new();
    let mut answered = 0;
    let mut calls = 0;
    for captured in &capture.messages {
        let msg = message::parse(&captured.payload).unwrap();
        for event in tracker.observe(&msg, captured.at_ms) {
            match event.kind {
                CallEventKind::Ringing { .. } => calls += 1,
                CallEventKind::Answered { .. } => answered += 1,
                CallEventKind::Ended {
                    cause, hangup_by, ..
                } => ended.push((cause, hangup_by)),
                CallEventKind::Offered { .. } | CallEventKind::Transferred { .. } => {}
            }
        }
    }
    assert_eq!(calls, 1);
    assert!(answered <= 1);
    ended
}

fn check_copies(name: &str) -> Capture {
    let capture = capture::read(&fixture(&format!("{name}.pcap"))).unwrap();
    let expected = mirrored(name);

    assert_eq!(capture.messages.len(), 2 * expected.len(), "{name}");
    for payload in &expected {
        let copies = capture
            .messages
            .iter()
            .filter(|m| &m.payload == payload)
            .count();
        assert_eq!(copies, 2, "{name}: a message is not found twice");
    }
    assert_eq!(capture.stats.hep_packets, expected.len() as u64, "{name}");
    assert_eq!(capture.stats.malformed, 0, "{name}");
    assert_eq!(capture.stats.file_errors, 0, "{name}");
    let frames: Vec<u64> = capture.messages.iter().map(|m| m.frame).collect();
    assert!(
        frames.windows(2).all(|w| w[0] <= w[1]),
        "{name}: not in frame order"
    );
    capture
}

#[test]
fn answered_call_over_udp() {
    let capture = check_copies("answered");
    assert_eq!(
        ends(&capture),
        vec![(EndCause::Completed, Some(Side::Caller))]
    );
}

#[test]
fn answered_call_with_a_tcp_caller_leg() {
    let capture = check_copies("answered-tcp");
    let tcp = capture
        .messages
        .iter()
        .filter(|m| m.transport == Transport::Tcp)
        .count();
    // Seven messages on the caller's TCP leg, found once in the stream and once in HEP.
    assert_eq!(tcp, 14);
    assert_eq!(
        ends(&capture),
        vec![(EndCause::Completed, Some(Side::Caller))]
    );
}

#[test]
fn busy_abandoned_and_rejected_calls() {
    for (name, cause) in [
        ("busy", EndCause::Busy),
        ("abandoned", EndCause::Abandoned),
        ("rejected", EndCause::Rejected),
    ] {
        let capture = check_copies(name);
        assert_eq!(ends(&capture), vec![(cause, None)], "{name}");
    }
}

proptest::proptest! {
    #[test]
    fn mangled_lab_captures_never_panic(
        flips in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..32),
        cut in proptest::prelude::any::<proptest::sample::Index>(),
    ) {
        let mut file = fixture("answered-tcp.pcap");
        for (index, value) in flips {
            let at = index.index(file.len());
            file[at] = value;
        }
        let keep = cut.index(file.len() + 1);
        let _ = capture::read(&file[..keep]);
    }
}
