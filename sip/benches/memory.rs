//! Heap bytes per tracked call: tracks 100,000 calls, half ringing and half answered, and
//! divides the heap bytes the tracker still holds by the number of calls.
//!
//! A counting global allocator ([`stats_alloc`]) records every allocation and free. The
//! count starts after the tracker is made and stops once the last call is tracked; each
//! message is parsed inside the window and dropped after use, so what stays allocated is
//! what the tracker keeps: its map, the Call-ID keys and the per-call state.
//!
//! ```text
//! cargo bench -p ringside-sip --bench memory
//! ```

use std::alloc::System;
use std::io::Write;

use ringside_sip::synth::{self, CallShape};
use ringside_sip::{message, Tracker, TrackerConfig};
use stats_alloc::{Region, StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Calls tracked.
const CALLS: usize = 100_000;

/// Goal from issue 3: at most 2 KiB per tracked call.
const TARGET_BYTES: usize = 2 * 1024;

const EPOCH_MS: i64 = 1_700_000_000_000;

fn main() -> std::io::Result<()> {
    // `cargo bench` passes `--bench`; there is nothing to filter, so arguments are ignored.
    let config = TrackerConfig {
        max_calls: CALLS,
        ..TrackerConfig::default()
    };

    let region = Region::new(GLOBAL);
    let mut tracker = Tracker::new(config);

    let mut call_id_bytes = 0;
    for index in 0..CALLS {
        let call_id = format!(
            "{:016x}-{index:08x}@pbx.bench.example",
            (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        );
        call_id_bytes += call_id.len();
        let caller = format!("+3120{:07}", index % 10_000_000);
        let script = synth::call_messages(
            CallShape::Answered,
            &call_id,
            &caller,
            Some("Caller Name"),
            "2001",
            2_000,
            60_000,
        );
        let at_ms = EPOCH_MS + index as i64;

        // The INVITE on the caller's leg starts the call; the phone's 200 OK answers it.
        let invite = script
            .first()
            .map(|msg| message::parse(msg.text.as_bytes()));
        if let Some(Ok(msg)) = invite {
            tracker.observe(&msg, at_ms);
        }
        if index % 2 == 1 {
            let ok = script
                .iter()
                .find(|msg| msg.text.starts_with("SIP/2.0 200 OK"));
            if let Some(Ok(msg)) = ok.map(|msg| message::parse(msg.text.as_bytes())) {
                tracker.observe(&msg, at_ms + 2_000);
            }
        }
    }

    // Growth by realloc is already counted in these two totals.
    let change = region.change();
    let live = change
        .bytes_allocated
        .saturating_sub(change.bytes_deallocated);
    let active = tracker.active_calls();
    let stats = tracker.stats();

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "tracked calls: {active} of {CALLS} ({} started, {} evicted)",
        stats.calls_started, stats.calls_evicted
    )?;
    writeln!(out, "heap bytes live in the tracker: {live}")?;
    writeln!(
        out,
        "of which Call-ID text: {call_id_bytes} ({} per call)",
        call_id_bytes / CALLS
    )?;
    writeln!(
        out,
        "bytes per tracked call: {} (target: at most {TARGET_BYTES})",
        live / active.max(1)
    )?;
    drop(tracker);
    Ok(())
}
