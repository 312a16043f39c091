//! What the fuzz targets run, kept in a library so the seed writer shares the input format.
//!
//! # `parse_and_track` input format
//!
//! The input is split on NUL bytes (`\0`, which SIP text never holds) into segments. The
//! first byte of a segment is a control byte, the rest one SIP message. The control byte,
//! read as an `i8`, moves the capture clock by `(byte >> 1) * 200` ms, so time may go
//! backwards by up to 12.8 s as a mirror's reordering does; its lowest bit, when set,
//! runs the tracker's timers at the latest capture time seen so far, as the server's
//! once-a-second tick does. After the last segment the timers run twice more, far enough
//! ahead that every call must have ended.

use std::collections::HashMap;

use ringside_sip::{hep, message, CallEvent, CallEventKind, Tracker};

/// Capture time of the first segment.
pub const START_MS: i64 = 1_700_000_000_000;

/// Clock step of one unit of the control byte.
const STEP_MS: i64 = 200;

/// How far past the last message the final timer run happens: more than the longest
/// call (4 h) and the ringing timeout (5 min) of the default configuration.
const FINAL_MS: i64 = 5 * 60 * 60 * 1000;

/// Builds one `parse_and_track` input from control bytes and messages.
pub fn join_messages<'a>(segments: impl IntoIterator<Item = (u8, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (index, (control, text)) in segments.into_iter().enumerate() {
        if index > 0 {
            out.push(0);
        }
        out.push(control);
        out.extend_from_slice(text);
    }
    out
}

/// Control byte that moves the clock by `steps` units of 200 ms, with or without a
/// timer run.
pub fn control(steps: i8, expire: bool) -> u8 {
    (steps.wrapping_mul(2) as u8) | u8::from(expire)
}

/// Decodes arbitrary bytes as a HEPv3 datagram and, when that works, checks that
/// encoding and decoding again gives the same packet.
///
/// The round trip is exact unless [`hep::encode`] had to cut something: a correlation id
/// or node name over 1,024 bytes, or a payload that no longer fits in 65,535 bytes once
/// the chunks a sender may leave out (family, microseconds, capture id) are written.
pub fn hep_decode(data: &[u8]) {
    for record in hep::dump_records(data).flatten() {
        let _ = hep::decode(record);
    }
    let _ = ringside_sip::decode_datagram(data);

    let Ok(packet) = hep::decode(data) else {
        return;
    };
    let encoded = hep::encode(&packet);
    let again = hep::decode(&encoded).expect("an encoded packet decodes");

    let label_cut = [&packet.correlation_id, &packet.node_name]
        .into_iter()
        .flatten()
        .any(|label| label.len() > 1024);
    if !label_cut && encoded.len() < usize::from(u16::MAX) {
        assert_eq!(again, packet, "decode(encode(p)) == p");
    }
}

/// Where one call is in its event sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    Ringing,
    Answered,
    Ended,
}

/// Checks the tracker's promise about each call's events: `Ringing`, then at most one
/// `Answered`, then at most one `Ended`, never dated before the previous event.
#[derive(Default)]
pub struct EventCheck {
    calls: HashMap<String, (Seen, i64)>,
}

impl EventCheck {
    /// Checks the next events, in the order the tracker returned them.
    pub fn take(&mut self, events: &[CallEvent]) {
        for event in events {
            let previous = self.calls.get(&event.call_id).copied();
            let next = match &event.kind {
                CallEventKind::Ringing { .. } => {
                    // A Call-ID may ring again once its ended call has been forgotten.
                    assert!(
                        matches!(previous, None | Some((Seen::Ended, _))),
                        "ringing for a call in progress: {previous:?}"
                    );
                    Seen::Ringing
                }
                CallEventKind::Offered { .. } => {
                    assert!(
                        matches!(previous, Some((Seen::Ringing, _))),
                        "offered outside ringing: {previous:?}"
                    );
                    Seen::Ringing
                }
                CallEventKind::Answered { .. } => {
                    assert!(
                        matches!(previous, Some((Seen::Ringing, _))),
                        "answered without ringing first: {previous:?}"
                    );
                    Seen::Answered
                }
                CallEventKind::Transferred { .. } => {
                    assert!(
                        matches!(previous, Some((Seen::Answered, _))),
                        "transferred before an answer: {previous:?}"
                    );
                    Seen::Answered
                }
                CallEventKind::Ended { .. } => {
                    assert!(
                        matches!(previous, Some((Seen::Ringing | Seen::Answered, _))),
                        "ended twice or before ringing: {previous:?}"
                    );
                    Seen::Ended
                }
            };
            if let Some((seen, at_ms)) = previous {
                if next != Seen::Ringing || seen != Seen::Ended {
                    assert!(event.at_ms >= at_ms, "event dated before the previous one");
                }
            }
            self.calls
                .insert(event.call_id.clone(), (next, event.at_ms));
        }
    }

    /// Asserts that every call that rang has ended.
    pub fn all_ended(&self) {
        for (seen, _) in self.calls.values() {
            assert_eq!(*seen, Seen::Ended, "a call never ended");
        }
    }
}

/// Reads `data` as a capture file and classifies and decodes it as one datagram. Every
/// message the reader returns is then parsed (the result does not matter, only that
/// nothing panics), and the reader never returns an empty message.
pub fn capture_read(data: &[u8]) {
    if let Ok(capture) = ringside_sip::capture::read(data) {
        for captured in &capture.messages {
            assert!(!captured.payload.is_empty(), "an empty message was returned");
            let _ = message::parse(&captured.payload);
        }
    }
    let _ = hep::classify(data);
    if let Ok(any) = hep::decode_any(data) {
        let _ = message::parse(&any.packet.payload);
    }
}

/// Splits the input into segments, parses each message, feeds the parsed ones to one
/// tracker and checks its events (see the module docs for the format).
pub fn parse_and_track(data: &[u8]) {
    let mut tracker = Tracker::default();
    let mut check = EventCheck::default();
    let mut at_ms = START_MS;
    let mut latest_ms = START_MS;

    for segment in data.split(|byte| *byte == 0) {
        let Some((&control, text)) = segment.split_first() else {
            continue;
        };
        at_ms += i64::from((control as i8) >> 1) * STEP_MS;
        latest_ms = latest_ms.max(at_ms);

        if let Ok(msg) = message::parse(text) {
            check.take(&tracker.observe(&msg, at_ms));
        }
        if control & 1 == 1 {
            check.take(&tracker.expire(latest_ms));
        }
    }

    check.take(&tracker.expire(latest_ms + FINAL_MS));
    check.take(&tracker.expire(latest_ms + 2 * FINAL_MS));
    check.all_ended();
    assert_eq!(tracker.active_calls(), 0, "calls still active at the end");
}
