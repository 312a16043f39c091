//! Throughput of the SIP pipeline: HEPv3 decode, SIP parse and call tracking.
//!
//! Four groups over the same message mix ([`support`]): the whole pipeline as the server
//! runs it (decode, parse, track, and the tracker's timers once per capture second),
//! then decode alone, parse alone and track alone. Each reports messages per second.
//!
//! ```text
//! cargo bench -p ringside-sip --bench pipeline
//! ```

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use ringside_sip::{decode_datagram, hep, message, Tracker};

mod support;

/// Calls in the mix: enough for thousands of distinct Call-IDs and hundreds at once.
const CALLS: usize = 3_000;

fn pipeline(c: &mut Criterion) {
    let datagrams = support::datagrams(CALLS);
    let parsed = support::parsed(&datagrams);
    let payloads: Vec<Vec<u8>> = datagrams
        .iter()
        .filter_map(|datagram| hep::decode(datagram).ok())
        .map(|packet| packet.payload)
        .collect();
    assert_eq!(
        parsed.len(),
        datagrams.len(),
        "every synthetic datagram parses"
    );
    report_mix(&datagrams, &parsed);

    let elements = Throughput::Elements(datagrams.len() as u64);
    let mut group = c.benchmark_group("sip");
    group.throughput(elements);
    group.sample_size(20);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(8));

    group.bench_function("decode_parse_track", |b| {
        b.iter(|| {
            let mut tracker = Tracker::default();
            let mut events = 0;
            let mut next_tick = support::EPOCH_MS;
            for datagram in &datagrams {
                let Ok((packet, msg)) = decode_datagram(datagram) else {
                    continue;
                };
                let at_ms = packet.timestamp_ms();
                if at_ms >= next_tick {
                    events += tracker.expire(at_ms).len();
                    next_tick = at_ms + 1_000;
                }
                events += tracker.observe(&msg, at_ms).len();
            }
            black_box(events)
        });
    });

    group.bench_function("decode", |b| {
        b.iter(|| {
            datagrams
                .iter()
                .filter_map(|datagram| hep::decode(black_box(datagram)).ok())
                .count()
        });
    });

    group.bench_function("parse", |b| {
        b.iter(|| {
            payloads
                .iter()
                .filter_map(|payload| message::parse(black_box(payload)).ok())
                .count()
        });
    });

    group.bench_function("track", |b| {
        b.iter(|| {
            let mut tracker = Tracker::default();
            let mut events = 0;
            let mut next_tick = support::EPOCH_MS;
            for (at_ms, msg) in &parsed {
                if *at_ms >= next_tick {
                    events += tracker.expire(*at_ms).len();
                    next_tick = at_ms + 1_000;
                }
                events += tracker.observe(black_box(msg), *at_ms).len();
            }
            black_box(events)
        });
    });

    group.finish();
}

/// Says once what the mix holds, so the figures can be read against it.
fn report_mix(datagrams: &[Vec<u8>], parsed: &[(i64, ringside_sip::SipMessage)]) {
    let mut tracker = Tracker::default();
    for (at_ms, msg) in parsed {
        tracker.observe(msg, *at_ms);
    }
    let stats = tracker.stats();
    let bytes: usize = datagrams.iter().map(Vec::len).sum();
    eprintln!(
        "mix: {} datagrams ({} bytes, {} per datagram on average), {} calls started, {} ended \
         while the mix ran, {} duplicates",
        datagrams.len(),
        bytes,
        bytes / datagrams.len().max(1),
        stats.calls_started,
        stats.calls_ended,
        stats.duplicates,
    );
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    pipeline(&mut criterion);
    criterion.final_summary();
}
