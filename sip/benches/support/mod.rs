//! The message mix the benchmarks replay: many overlapping synthetic calls of every shape.
//!
//! Calls start every [`CALL_SPACING_MS`] and overlap, so the tracker holds hundreds of
//! Call-IDs at once. The shapes cycle through answered-then-BYE (half of all calls, a
//! fifth of those withheld), abandoned, busy and rejected. Every proxied message is in
//! the mix twice, as the proxy mirrors it on both legs ([`synth::call_messages`] writes
//! both copies), and every fourth call also has its INVITE retransmitted after T1
//! (500 ms) and, when answered, its 200 OK retransmitted once. Everything is derived from
//! the call's index, so the mix is the same on every run.

use ringside_sip::synth::{self, CallShape, ScriptedMessage};
use ringside_sip::{decode_datagram, SipMessage};

/// Capture time of the first message: 2023-11-14T22:13:20Z.
pub const EPOCH_MS: i64 = 1_700_000_000_000;

/// Time between the starts of two consecutive calls.
pub const CALL_SPACING_MS: i64 = 20;

/// Capture agent id written into every datagram.
const CAPTURE_ID: u32 = 2001;

/// The shape of call number `index`: 40 % answered, 10 % answered and withheld, 20 %
/// abandoned, 15 % busy, 15 % rejected.
fn shape_of(index: usize) -> CallShape {
    match index % 20 {
        0..=7 => CallShape::Answered,
        8 | 9 => CallShape::Withheld,
        10..=13 => CallShape::Abandoned,
        14..=16 => CallShape::Busy,
        _ => CallShape::Rejected,
    }
}

/// A Call-ID shaped like a phone's: hex digits, then `@` and a host, about 40 bytes.
pub fn call_id_of(index: usize) -> String {
    let mixed = (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!("{mixed:016x}-{index:08x}@pbx.bench.example")
}

/// The messages of call number `index`, retransmissions included, with capture times.
pub fn call_of(index: usize) -> Vec<(i64, ScriptedMessage)> {
    let shape = shape_of(index);
    let call_id = call_id_of(index);
    let caller = format!("+3120{:07}", index % 10_000_000);
    let name = format!("Caller {index}");
    let extension = format!("{}", 2000 + index % 50);
    let ring_ms = 1_000 + (index as u64 * 37) % 7_000;
    let talk_ms = 5_000 + (index as u64 * 101) % 55_000;

    let messages = synth::call_messages(
        shape,
        &call_id,
        &caller,
        Some(&name),
        &extension,
        ring_ms,
        talk_ms,
    );
    let start_ms = EPOCH_MS + index as i64 * CALL_SPACING_MS;
    let at = |msg: &ScriptedMessage| start_ms + i64::try_from(msg.offset_ms).unwrap_or(0);

    let mut out: Vec<(i64, ScriptedMessage)> =
        messages.iter().map(|msg| (at(msg), msg.clone())).collect();
    if index % 4 == 0 {
        if let Some(invite) = messages.first() {
            out.push((at(invite) + 500, invite.clone()));
        }
        if let Some(ok) = messages
            .iter()
            .find(|msg| msg.text.starts_with("SIP/2.0 200 OK"))
        {
            out.push((at(ok) + 500, ok.clone()));
        }
    }
    out
}

/// The HEPv3 datagrams of `calls` calls, in capture-time order.
pub fn datagrams(calls: usize) -> Vec<Vec<u8>> {
    let mut timed: Vec<(i64, ScriptedMessage)> = (0..calls).flat_map(call_of).collect();
    timed.sort_by_key(|(at_ms, _)| *at_ms);
    timed
        .iter()
        .map(|(at_ms, msg)| synth::to_hep(msg, *at_ms, CAPTURE_ID))
        .collect()
}

/// Decodes and parses every datagram, keeping each message with its capture time.
pub fn parsed(datagrams: &[Vec<u8>]) -> Vec<(i64, SipMessage)> {
    datagrams
        .iter()
        .filter_map(|datagram| decode_datagram(datagram).ok())
        .map(|(packet, msg)| (packet.timestamp_ms(), msg))
        .collect()
}
