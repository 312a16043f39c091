//! Hostile and careless input: what a wrong-headed PBX, a stranger on the HEP port or a
//! curious browser can send, and what the server must do with it. A datagram it cannot read
//! is counted and dropped and the listener keeps going; a bad HTTP request gets a 4xx with
//! a short reason; nothing personal reaches the logs at info.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use agent_server::calls::CallService;
use agent_server::config::Settings;
use agent_server::ingest::{now_ms, observe};
use agent_server::metrics::Metrics;
use common::{error_of, eventually, start, TestServer};
use futures_util::{SinkExt, StreamExt};
use ringside_protocol::{CallId, CallState, Caller, ServerMessage};
use ringside_sip::hep::{self, HepPacket, Transport};
use ringside_sip::synth::CallShape;
use ringside_sip::tracker::{CallEvent, CallEventKind, EndCause, Tracker, TrackerConfig};
use ringside_sip::CallerId;
use tokio::net::UdpSocket;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Jan Jansen's number, as the common fixture stores it.
const JAN: &str = "+31201234567";

// ---------------------------------------------------------------------------------------
// Building datagrams

/// A deterministic xorshift generator, so "random" input is the same on every run.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            usize::try_from(self.next() % n as u64).unwrap()
        }
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next().to_be_bytes()[0]).collect()
    }
}

fn packet(payload: &[u8], ts_sec: u32, proto_type: u8) -> HepPacket {
    HepPacket {
        ip_family: hep::FAMILY_IPV4,
        transport: Transport::Udp,
        src: "127.0.0.1:5080".parse().unwrap(),
        dst: "127.0.0.1:5060".parse().unwrap(),
        ts_sec,
        ts_usec: 0,
        proto_type,
        capture_id: 2001,
        correlation_id: None,
        node_name: None,
        payload: payload.to_vec(),
    }
}

/// A well-formed HEPv3 datagram carrying `payload` as SIP, captured at `ts_sec`.
fn hep_sip(payload: &[u8], ts_sec: u32) -> Vec<u8> {
    hep::encode(&packet(payload, ts_sec, hep::PROTO_SIP))
}

/// Capture second of [`common::t0_fixed()`].
fn t0_sec() -> u32 {
    u32::try_from(common::t0_fixed() / 1000).unwrap()
}

/// One HEPv3 chunk of vendor 0; `len` overrides the length field when given.
fn chunk(chunk_type: u16, value: &[u8], len: Option<u16>) -> Vec<u8> {
    let len = len.unwrap_or(u16::try_from(6 + value.len()).unwrap());
    let mut out = Vec::new();
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&chunk_type.to_be_bytes());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// `HEP3`, a total length that tells the truth, then `chunks`.
fn hep_raw(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut out = b"HEP3".to_vec();
    out.extend_from_slice(&u16::try_from(6 + body.len()).unwrap().to_be_bytes());
    out.extend_from_slice(&body);
    out
}

/// Sets the total length field of a datagram.
fn with_total_length(mut datagram: Vec<u8>, total: u16) -> Vec<u8> {
    datagram[4..6].copy_from_slice(&total.to_be_bytes());
    datagram
}

/// An initial INVITE from `caller` to `extension`, as a trunk would send it.
fn invite(call_id: &str, extension: &str, caller: &str) -> String {
    format!(
        "INVITE sip:{extension}@127.0.0.1:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKabuse\r\n\
         From: <sip:{caller}@127.0.0.1:5080>;tag=caller1\r\n\
         To: <sip:{extension}@127.0.0.1>\r\n\
         Call-ID: {call_id}\r\n\
         CSeq: 1 INVITE\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// A SIP message of `kind` for `call_id` that belongs to no call the server has seen.
fn stray(kind: &str, call_id: &str) -> String {
    let (start, cseq) = match kind {
        "BYE" => ("BYE sip:2001@127.0.0.1 SIP/2.0", "2 BYE"),
        "ACK" => ("ACK sip:2001@127.0.0.1 SIP/2.0", "1 ACK"),
        "200 BYE" => ("SIP/2.0 200 OK", "2 BYE"),
        other => panic!("no stray {other}"),
    };
    format!(
        "{start}\r\nVia: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bKstray\r\n\
         From: <sip:+31201234567@127.0.0.1:5080>;tag=caller1\r\n\
         To: <sip:2001@127.0.0.1>;tag=phone1\r\nCall-ID: {call_id}\r\nCSeq: {cseq}\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// Sends datagrams to the server's HEP port and counts them.
struct Sender {
    socket: UdpSocket,
    to: SocketAddr,
    sent: u64,
}

impl Sender {
    async fn new(server: &TestServer) -> Sender {
        Sender {
            socket: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            to: server.running.hep_addr,
            sent: 0,
        }
    }

    async fn send(&mut self, datagram: &[u8]) {
        self.socket.send_to(datagram, self.to).await.unwrap();
        self.sent += 1;
    }
}

/// The counters of `/metrics`, by name.
async fn metrics_of(server: &TestServer) -> BTreeMap<String, u64> {
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once(' '))
        .map(|(name, value)| (name.to_owned(), value.parse().unwrap()))
        .collect()
}

/// Waits until the ingest task has read `count` datagrams in all.
async fn until_received(server: &TestServer, count: u64) {
    let metrics = server.running.metrics.clone();
    eventually(|| {
        let metrics = metrics.clone();
        async move { metrics.hep_datagrams.load(Ordering::Relaxed) >= count }
    })
    .await;
}

/// Waits until the call service has handled `count` events in all.
async fn until_events(server: &TestServer, count: u64) {
    let metrics = server.running.metrics.clone();
    eventually(|| {
        let metrics = metrics.clone();
        async move { metrics.call_events.load(Ordering::Relaxed) >= count }
    })
    .await;
}

// ---------------------------------------------------------------------------------------
// HEP and SIP

#[tokio::test]
async fn bad_datagrams_are_counted_by_kind_and_the_next_call_still_pops() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let mut udp = Sender::new(&server).await;
    let valid = hep_sip(invite("valid@pbx", "9999", JAN).as_bytes(), t0_sec());
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut hep_bad = 0;
    let mut unknown = 0;

    // Random bytes that start like neither HEP nor SIP text, and the empty datagram.
    for _ in 0..50 {
        let len = 1 + noise.below(1400);
        let mut datagram = noise.bytes(len);
        datagram[0] = 0xa0 | (datagram[0] & 0x0f);
        udp.send(&datagram).await;
        unknown += 1;
    }
    udp.send(b"").await;
    unknown += 1;
    // Truncated headers and truncated datagrams: the total length then lies.
    for cut in [3, 5, 6, 7, 20, 50, valid.len() / 2, valid.len() - 1] {
        udp.send(&valid[..cut]).await;
        hep_bad += 1;
    }
    // Chunk lengths below the chunk header, past the end, and the largest possible.
    for len in [0, 1, 2, 3, 4, 5, 200, u16::MAX] {
        udp.send(&hep_raw(&[chunk(0x000f, b"abc", Some(len))]))
            .await;
        hep_bad += 1;
    }
    // Total length below the header, and beyond the datagram.
    udp.send(&with_total_length(valid.clone(), 3)).await;
    udp.send(&with_total_length(valid.clone(), u16::MAX)).await;
    hep_bad += 2;
    // A HEPv2 header (version byte 2) cut before its time fields.
    udp.send(&[2, 8, 2, 17, 0x13, 0xc4, 0x13, 0xc4, 127, 0, 0, 1])
        .await;
    hep_bad += 1;
    // A compressed payload, a timestamp chunk of the wrong size, no payload chunk at all.
    let mut compressed = valid.clone();
    compressed.extend_from_slice(&chunk(0x0010, b"\x78\x9c", None));
    let total = u16::try_from(compressed.len()).unwrap();
    udp.send(&with_total_length(compressed, total)).await;
    udp.send(&hep_raw(&[chunk(0x0009, b"\x01\x02\x03", None)]))
        .await;
    udp.send(&hep_raw(&[
        chunk(0x0002, &[17], None),
        chunk(0x0003, &[127, 0, 0, 1], None),
        chunk(0x0004, &[127, 0, 0, 1], None),
        chunk(0x0007, &5080u16.to_be_bytes(), None),
        chunk(0x0008, &5060u16.to_be_bytes(), None),
        chunk(0x0009, &t0_sec().to_be_bytes(), None),
        chunk(0x000b, &[1], None),
    ]))
    .await;
    hep_bad += 3;

    // Valid HEP around a payload that is not SIP, or not readable SIP.
    udp.send(&hep::encode(&packet(b"rtcp report", t0_sec(), 5)))
        .await;
    let not_sip = 1;
    let without = |header: &str| {
        invite("cut@pbx", "2001", JAN)
            .lines()
            .filter(|line| !line.starts_with(header))
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let mut sip_bad = 0;
    for payload in [
        noise.bytes(60_000),
        vec![0xff; 2_000],
        b"hello, not sip\r\n\r\n".to_vec(),
        without("Call-ID").into_bytes(),
        without("CSeq").into_bytes(),
        without("From").into_bytes(),
        without("To").into_bytes(),
    ] {
        udp.send(&hep_sip(&payload, t0_sec())).await;
        sip_bad += 1;
    }

    // A datagram whose total length is shorter than what arrived is read up to that
    // length; the trailing bytes are ignored and the INVITE in it counts.
    let mut trailing = valid.clone();
    trailing.extend_from_slice(b"trailing junk");
    udp.send(&trailing).await;
    until_received(&server, udp.sent).await;
    server
        .play(
            CallShape::Busy,
            "after@pbx",
            JAN,
            "2001",
            common::t0_fixed(),
        )
        .await;

    let pop = console.next_pop().await;
    assert_eq!(pop.call_id, CallId("after@pbx".into()));
    assert_eq!(pop.customer.map(|c| c.name).as_deref(), Some("Jan Jansen"));
    let counters = metrics_of(&server).await;
    assert_eq!(counters["ringside_hep_malformed_total"], hep_bad);
    assert_eq!(counters["ringside_ingest_unknown_total"], unknown);
    assert_eq!(counters["ringside_hep_not_sip_total"], not_sip);
    assert_eq!(counters["ringside_sip_malformed_total"], sip_bad);
    let valid_row = server
        .running
        .store
        .interaction_by_call(&CallId("valid@pbx".into()))
        .await
        .unwrap();
    assert_eq!(valid_row.map(|r| r.called_number).as_deref(), Some("9999"));
    server.stop().await;
}

#[test]
fn mutated_datagrams_never_panic_and_every_one_is_accounted_for() {
    let mut seeds = Vec::new();
    for shape in CallShape::ALL {
        let script = ringside_sip::synth::call_messages(
            shape,
            "fuzz@pbx",
            JAN,
            Some("Jan \"J\" Jansen"),
            "2001",
            1_000,
            2_000,
        );
        seeds.extend(
            script
                .iter()
                .map(|m| ringside_sip::synth::to_hep(m, common::t0_fixed(), 1)),
        );
    }
    const PUNCTUATION: &[u8] = b":<>\";,\r\n @%\xff\xc3=";
    let mut noise = Noise(0x2545_f491_4f6c_dd1d);
    let mut tracker = Tracker::default();
    let metrics = Metrics::default();
    let rounds = 20_000;

    for _ in 0..rounds {
        let mut datagram = seeds[noise.below(seeds.len())].clone();
        for _ in 0..=noise.below(6) {
            let at = noise.below(datagram.len());
            match noise.below(4) {
                0 => datagram[at] = noise.bytes(1)[0],
                1 => datagram.truncate(at.max(1)),
                2 => datagram.insert(at, PUNCTUATION[noise.below(PUNCTUATION.len())]),
                _ => {
                    datagram.remove(at);
                }
            }
            if datagram.is_empty() {
                datagram.push(0);
            }
        }
        // Half the time the total length is made to agree, so the SIP parser is reached.
        if noise.below(2) == 0 && datagram.len() >= 6 {
            let total = u16::try_from(datagram.len()).unwrap();
            datagram = with_total_length(datagram, total);
        }
        observe(&mut tracker, &datagram, &metrics);
    }

    let dropped = metrics.hep_malformed.load(Ordering::Relaxed)
        + metrics.ingest_unknown.load(Ordering::Relaxed)
        + metrics.hep_not_sip.load(Ordering::Relaxed)
        + metrics.sip_malformed.load(Ordering::Relaxed);
    assert_eq!(metrics.hep_datagrams.load(Ordering::Relaxed), rounds);
    assert_eq!(tracker.stats().messages + dropped, rounds);
    assert!(tracker.stats().messages > 0, "some mutations stay readable");
    assert!(metrics.sip_malformed.load(Ordering::Relaxed) > 0);
}

#[tokio::test]
async fn strays_and_an_over_long_call_id_start_nothing_and_block_nothing() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let mut udp = Sender::new(&server).await;

    let long_id = format!("{}@pbx", "L".repeat(10_000));
    udp.send(&hep_sip(invite(&long_id, "2001", JAN).as_bytes(), t0_sec()))
        .await;
    for kind in ["BYE", "ACK", "200 BYE"] {
        udp.send(&hep_sip(stray(kind, "unknown@pbx").as_bytes(), t0_sec()))
            .await;
    }
    until_received(&server, udp.sent).await;
    server
        .play(
            CallShape::Busy,
            "normal@pbx",
            JAN,
            "2001",
            common::t0_fixed(),
        )
        .await;

    assert_eq!(
        console.next_pop().await.call_id,
        CallId("normal@pbx".into())
    );
    let ended = console.next_pop().await;
    assert_eq!(
        ended.state,
        CallState::Ended(ringside_protocol::Outcome::Busy)
    );
    // Ringing and ended of the normal call, nothing for the rest.
    assert_eq!(
        server.running.metrics.call_events.load(Ordering::Relaxed),
        2
    );
    assert!(server
        .running
        .store
        .interaction_by_call(&CallId(long_id))
        .await
        .unwrap()
        .is_none());
    server.stop().await;
}

#[test]
fn a_flood_of_calls_that_never_end_stays_at_max_calls() {
    let mut tracker = Tracker::new(TrackerConfig {
        max_calls: 50,
        ..TrackerConfig::default()
    });
    let metrics = Metrics::default();

    let mut events = 0;
    for n in 0..1_000 {
        let datagram = hep_sip(
            invite(&format!("flood-{n}@pbx"), "2001", JAN).as_bytes(),
            t0_sec(),
        );
        events += observe(&mut tracker, &datagram, &metrics).len();
    }

    // Every call past the 50th evicts the oldest, which ends: one Ringing and one Ended.
    assert_eq!(events, 50 + 950 * 2);
    assert_eq!(tracker.active_calls(), 50);
    assert_eq!(tracker.tracked_calls(), 50);
    assert_eq!(tracker.stats().calls_evicted, 950);
    assert_eq!(
        metrics
            .calls_evicted
            .load(std::sync::atomic::Ordering::Relaxed),
        950
    );
}

#[tokio::test]
async fn a_datagram_the_tracker_drops_is_counted_in_metrics() {
    let server = start().await;
    let mut udp = Sender::new(&server).await;

    let long_id = format!("{}@pbx", "L".repeat(10_000));
    udp.send(&hep_sip(invite(&long_id, "2001", JAN).as_bytes(), t0_sec()))
        .await;
    until_received(&server, udp.sent).await;

    // Whatever the counter is called: one datagram was dropped, so a counter of drops
    // must say 1. Counters of traffic, work done and logins are left out.
    let counters = metrics_of(&server).await;
    let not_drops = [
        "ringside_hep_datagrams_total",
        "ringside_call_events_total",
        "ringside_pops_sent_total",
        "ringside_login_failures_total",
        "ringside_call_event_errors_total",
        "ringside_ws_dropped_slow_total",
    ];
    let drops: u64 = counters
        .iter()
        .filter(|(name, _)| name.ends_with("_total") && !not_drops.contains(&name.as_str()))
        .map(|(_, value)| value)
        .sum();
    assert_eq!(drops, 1, "{counters:?}");
    server.stop().await;
}

#[tokio::test]
async fn numbers_from_the_wire_are_capped() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let mut udp = Sender::new(&server).await;
    let digits = "1".repeat(10_000);

    udp.send(&hep_sip(
        invite("long-caller@pbx", "2001", &format!("+31{digits}")).as_bytes(),
        t0_sec(),
    ))
    .await;
    udp.send(&hep_sip(
        invite("long-called@pbx", &digits, JAN).as_bytes(),
        t0_sec(),
    ))
    .await;
    until_events(&server, 2).await;

    // E.164 numbers have at most 15 digits; 64 characters leave room for odd trunk
    // formats and extensions while keeping a call's memory and row small.
    let pop = console.next_pop().await;
    if let Caller::Number(number) = &pop.caller {
        assert!(number.len() <= 64, "caller of {} bytes", number.len());
    }
    let store = &server.running.store;
    for call in ["long-caller@pbx", "long-called@pbx"] {
        let row = store
            .interaction_by_call(&CallId(call.into()))
            .await
            .unwrap()
            .unwrap();
        let caller = row.caller_number.unwrap_or_default();
        assert!(
            caller.len() <= 64,
            "{call}: caller of {} bytes",
            caller.len()
        );
        assert!(
            row.called_number.len() <= 64,
            "{call}: called of {} bytes",
            row.called_number.len()
        );
    }
    server.stop().await;
}

#[test]
fn a_call_dated_in_the_future_still_times_out() {
    let mut tracker = Tracker::default();
    let metrics = Metrics::default();
    let now = now_ms();
    let now_sec = u32::try_from(now / 1000).unwrap();

    // A capture agent whose clock is off (or a stranger) dates the INVITE in 2106.
    let today = hep_sip(invite("today@pbx", "2001", JAN).as_bytes(), now_sec);
    let future = hep_sip(invite("future@pbx", "2001", JAN).as_bytes(), u32::MAX);
    assert_eq!(observe(&mut tracker, &today, &metrics).len(), 1);
    assert_eq!(observe(&mut tracker, &future, &metrics).len(), 1);

    // Past the default ringing timeout (300 s) on the server's clock, both have failed.
    let ended: Vec<String> = tracker
        .expire(now + 301_000)
        .into_iter()
        .filter(|e| {
            matches!(
                e.kind,
                CallEventKind::Ended {
                    cause: EndCause::Failed,
                    ..
                }
            )
        })
        .map(|e| e.call_id)
        .collect();
    assert_eq!(
        ended,
        vec!["future@pbx".to_string(), "today@pbx".to_string()]
    );
    assert_eq!(tracker.active_calls(), 0);
}

#[tokio::test]
async fn a_flood_of_invites_to_one_agent_keeps_the_greeting_bounded() {
    let server = start().await;
    let mut udp = Sender::new(&server).await;
    let flood = 100;

    for n in 0..flood {
        let caller = format!("+3120999{n:04}");
        udp.send(&hep_sip(
            invite(&format!("flood-{n}@pbx"), "2001", &caller).as_bytes(),
            t0_sec(),
        ))
        .await;
    }
    until_events(&server, flood).await;
    let (_client, cookie) = server.login("ann").await;
    let console = server.console(&cookie).await;

    // No agent rings on more calls at once than a console queue holds; past that the
    // greeting only grows (83 MB for 2,700 pops with long numbers, seen by hand).
    assert!(
        console.greeted_with.len() <= agent_server::hub::CONSOLE_QUEUE,
        "greeted with {} pops",
        console.greeted_with.len()
    );
    server.stop().await;
}

#[tokio::test]
async fn a_reused_call_id_opens_a_new_interaction() {
    let server = start().await;
    let running = &server.running;
    let region = Settings::for_tests("sqlite://unused.db").default_region;
    // The server's own call service, as it is after its tracker forgot the first call
    // (32 s after its end) or after a restart.
    let mut service = CallService::new(
        running.store.clone(),
        running.hub.clone(),
        running.metrics.clone(),
        region,
    );
    let event = |at_ms, kind| CallEvent {
        call_id: "reused@pbx".into(),
        at_ms,
        kind,
    };
    let ringing = |called: &str| CallEventKind::Ringing {
        caller: CallerId::Number(JAN.into()),
        called: called.into(),
        transferred_from: None,
    };
    let answered = || CallEventKind::Answered { by: None };
    let ended = CallEventKind::Ended {
        cause: EndCause::Completed,
        hangup_by: None,
        timed_out: false,
    };

    service
        .handle(event(common::t0_fixed(), ringing("2001")))
        .await
        .unwrap();
    service
        .handle(event(common::t0_fixed() + 1_000, answered()))
        .await
        .unwrap();
    service
        .handle(event(common::t0_fixed() + 60_000, ended.clone()))
        .await
        .unwrap();
    let first = running.hub.pops_of(server.ann)[0].interaction_id;
    running
        .store
        .save_wrap_up(
            first,
            "Private remark for Ann",
            None,
            common::t0_fixed() + 70_000,
        )
        .await
        .unwrap();
    // A day later a PBX that reuses Call-IDs (or a stranger who saw one) rings Bob.
    let day = 86_400_000;
    service
        .handle(event(common::t0_fixed() + day, ringing("2002")))
        .await
        .unwrap();
    service
        .handle(event(common::t0_fixed() + day + 2_000, answered()))
        .await
        .unwrap();

    let bob_pop = running.hub.pops_of(server.bob).pop().unwrap();
    let (bob, _) = server.login("bob").await;
    let wrap_up = bob
        .put(format!(
            "{}/api/v1/interactions/{}/wrap-up",
            server.base, bob_pop.interaction_id
        ))
        .json(&serde_json::json!({"notes": "Bob's notes", "disposition": null}))
        .send()
        .await
        .unwrap();
    let old = running.store.interaction(first).await.unwrap().unwrap();

    assert_eq!(bob_pop.notes, "", "Ann's notes shown to Bob");
    assert_eq!(wrap_up.status(), 204, "Bob may not wrap up his own call");
    assert_ne!(bob_pop.interaction_id, first);
    assert_eq!(old.agent, Some(server.ann));
    assert_eq!(old.ended_at_ms, Some(common::t0_fixed() + 60_000));
    server.stop().await;
}

#[tokio::test]
async fn postgres_treats_nul_characters_as_bad_input() {
    if std::env::var_os("RINGSIDE_TEST_SKIP_POSTGRES").is_some() {
        eprintln!("skipped: RINGSIDE_TEST_SKIP_POSTGRES is set");
        return;
    }
    let admin_url = std::env::var("RINGSIDE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("ringside_abuse_{}", std::process::id());
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&admin)
        .await
        .unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .unwrap();
    let base = admin_url.rsplit_once('/').unwrap().0;
    let running = agent_server::start(
        Settings::for_tests(&format!("{base}/{name}")),
        tokio_util::sync::CancellationToken::new(),
    )
    .await
    .unwrap();
    agent_server::users::add_user(
        &running.store,
        agent_server::users::UserSpec {
            username: "ann",
            display_name: None,
            extension: Some("2001"),
            role: "agent",
        },
        Some(secrecy::SecretString::from(common::PASSWORD)),
    )
    .await
    .unwrap();
    let url = format!("http://{}", running.http_addr);
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();

    let nul_login = client
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({"username": "an\u{0}n", "password": "x"}))
        .send()
        .await
        .unwrap()
        .status();
    let login = client
        .post(format!("{url}/api/v1/login"))
        .json(&serde_json::json!({"username": "ann", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap()
        .status();
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let nul_caller = invite("nul-caller@pbx", "2001", "%00%31");
    socket
        .send_to(&hep_sip(nul_caller.as_bytes(), t0_sec()), running.hep_addr)
        .await
        .unwrap();
    let metrics = running.metrics.clone();
    eventually(|| {
        let metrics = metrics.clone();
        async move { metrics.call_events.load(Ordering::Relaxed) >= 1 }
    })
    .await;
    let errors = running.metrics.call_event_errors.load(Ordering::Relaxed);
    let row = running
        .store
        .interaction_by_call(&CallId("nul-caller@pbx".into()))
        .await
        .unwrap();
    let notes = match &row {
        Some(row) => client
            .put(format!("{url}/api/v1/interactions/{}/wrap-up", row.id))
            .json(&serde_json::json!({"notes": "a\u{0}b", "disposition": null}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        None => 0,
    };
    running.shutdown.cancel();
    running.wait().await;
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&admin)
        .await
        .unwrap();

    assert_eq!(nul_login, 401);
    assert_eq!(login, 200);
    assert_eq!(errors, 0, "the call was lost");
    assert!(row.is_some(), "the call was not logged");
    assert!(
        (400..500).contains(&notes) || notes == 204,
        "notes: {notes}"
    );
}

// ---------------------------------------------------------------------------------------
// HTTP

#[tokio::test]
async fn login_refuses_odd_bodies_with_a_reason() {
    let server = start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/login", server.base);
    let post = |body: String, content_type: &'static str| {
        client
            .post(&url)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let json = "application/json";

    let plain = post(r#"{"username":"ann","password":"x"}"#.into(), "text/plain")
        .await
        .unwrap();
    let form = post(
        "username=ann&password=x".into(),
        "application/x-www-form-urlencoded",
    )
    .await
    .unwrap();
    let charset = post(
        r#"{"username":"ann","password":"wrong"}"#.into(),
        "application/json; charset=utf-8",
    )
    .await
    .unwrap();
    let array = post("[]".into(), json).await.unwrap();
    let missing = post(r#"{"username":"ann"}"#.into(), json).await.unwrap();
    let number = post(r#"{"username":"ann","password":12}"#.into(), json)
        .await
        .unwrap();
    let surrogate = post(r#"{"username":"\ud800","password":"x"}"#.into(), json)
        .await
        .unwrap();
    let sql = post(
        r#"{"username":"ann' OR '1'='1","password":"' OR 1=1 --"}"#.into(),
        json,
    )
    .await
    .unwrap();
    let unicode = post(
        r#"{"username":"änn\u0000😀","password":"pässwörd-lang-genoeg"}"#.into(),
        json,
    )
    .await
    .unwrap();
    let long = serde_json::json!({"username": "a".repeat(1_000_000), "password": "x"});
    let long = post(long.to_string(), json).await.unwrap();

    assert_eq!(error_of(plain).await.0, 415);
    assert_eq!(error_of(form).await.0, 415);
    assert_eq!(
        error_of(charset).await,
        (401, "wrong username or password".into())
    );
    for response in [array, missing, number, surrogate] {
        let (status, reason) = error_of(response).await;
        assert_eq!(status, 400, "{reason}");
        assert!(reason.len() < 200, "{reason}");
    }
    assert_eq!(error_of(sql).await.0, 401);
    assert_eq!(error_of(unicode).await.0, 401);
    assert_eq!(
        error_of(long).await,
        (400, "username or password too long".into())
    );
    // Only the three that reached the password check count as failures.
    assert_eq!(
        server
            .running
            .metrics
            .login_failures
            .load(Ordering::Relaxed),
        3
    );
    server.stop().await;
}

#[tokio::test]
async fn an_oversized_body_is_too_large() {
    let server = start().await;
    let body = serde_json::json!({"username": "a".repeat(3_000_000), "password": "x"});

    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/login", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();

    let (status, reason) = error_of(response).await;
    assert_eq!(status, 413, "{reason}");
    server.stop().await;
}

#[tokio::test]
async fn wrap_up_refuses_bad_ids_bodies_and_sessions() {
    let server = start().await;
    let (ann, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    server
        .play(CallShape::Busy, "wrap@pbx", JAN, "2001", common::t0_fixed())
        .await;
    let pop = console.next_pop().await;
    let url = |id: &str| format!("{}/api/v1/interactions/{id}/wrap-up", server.base);
    let own = url(&pop.interaction_id.to_string());
    let body = serde_json::json!({"notes": "x", "disposition": null});

    let mut missing = Vec::new();
    for id in ["-1", "0", &i64::MAX.to_string()] {
        missing.push(ann.put(url(id)).json(&body).send().await.unwrap());
    }
    let invalid = ann
        .put(&own)
        .header("content-type", "application/json")
        .body(r#"{"notes":"#)
        .send()
        .await
        .unwrap();
    let no_notes = ann
        .put(&own)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let anonymous = reqwest::Client::new()
        .put(&own)
        .json(&body)
        .send()
        .await
        .unwrap();
    let forged = reqwest::Client::new()
        .put(&own)
        .header("cookie", format!("ringside_session={}", "A".repeat(43)))
        .json(&body)
        .send()
        .await
        .unwrap();
    let garbage_cookie = reqwest::Client::new()
        .put(&own)
        .header("cookie", "ringside_session=\"; ;;=; ringside_session=")
        .json(&body)
        .send()
        .await
        .unwrap();
    // 4000 characters of four bytes each are 4000 characters.
    let emoji = ann
        .put(&own)
        .json(&serde_json::json!({"notes": "😀".repeat(4000), "disposition": "sale"}))
        .send()
        .await
        .unwrap();

    for response in missing {
        assert_eq!(
            error_of(response).await,
            (404, "interaction not found".into())
        );
    }
    let (status, reason) = error_of(invalid).await;
    assert_eq!(status, 400);
    assert!(reason.contains("EOF"), "{reason}");
    let (status, reason) = error_of(no_notes).await;
    assert_eq!(status, 400);
    assert!(reason.contains("missing field `notes`"), "{reason}");
    for response in [anonymous, forged, garbage_cookie] {
        assert_eq!(error_of(response).await, (401, "not logged in".into()));
    }
    assert_eq!(emoji.status(), 204);
    let row = server
        .running
        .store
        .interaction(pop.interaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.notes.chars().count(), 4000);
    server.stop().await;
}

#[tokio::test]
async fn a_malformed_interaction_id_gets_a_json_error() {
    let server = start().await;
    let (ann, _) = server.login("ann").await;

    for id in ["abc", "1.5", "99999999999999999999"] {
        let get = ann
            .get(format!("{}/api/v1/interactions/{id}", server.base))
            .send()
            .await
            .unwrap();
        let put = ann
            .put(format!("{}/api/v1/interactions/{id}/wrap-up", server.base))
            .json(&serde_json::json!({"notes": "", "disposition": null}))
            .send()
            .await
            .unwrap();
        for response in [get, put] {
            let (status, reason) = error_of(response).await;
            assert_eq!(status, 400, "{id}: {reason}");
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn an_unknown_disposition_gets_a_short_reason() {
    let server = start().await;
    let (ann, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    server
        .play(
            CallShape::Busy,
            "dispo@pbx",
            JAN,
            "2001",
            common::t0_fixed(),
        )
        .await;
    let pop = console.next_pop().await;

    let response = ann
        .put(format!(
            "{}/api/v1/interactions/{}/wrap-up",
            server.base, pop.interaction_id
        ))
        .json(&serde_json::json!({"notes": "", "disposition": "z".repeat(100_000)}))
        .send()
        .await
        .unwrap();

    let (status, reason) = error_of(response).await;
    assert_eq!(status, 400);
    assert!(reason.len() <= 200, "reason of {} bytes", reason.len());
    server.stop().await;
}

#[tokio::test]
async fn parallel_logins_leave_the_server_answering() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let url = format!("{}/api/v1/login", server.base);

    let attempts: Vec<_> = (0..16)
        .map(|n| {
            let url = url.clone();
            tokio::spawn(async move {
                reqwest::Client::new()
                    .post(url)
                    .json(&serde_json::json!({"username": "ann", "password": format!("guess-{n}")}))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    server
        .play(
            CallShape::Busy,
            "during@pbx",
            JAN,
            "2001",
            common::t0_fixed(),
        )
        .await;
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap()
        .status();
    let pop = console.next_pop().await;
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }

    assert_eq!(health, 200);
    assert_eq!(pop.call_id, CallId("during@pbx".into()));
    assert_eq!(statuses, vec![401; 16]);
    assert_eq!(
        server
            .running
            .metrics
            .login_failures
            .load(Ordering::Relaxed),
        16
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------------------
// Websocket

fn ws_request(
    server: &TestServer,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> tokio_tungstenite::tungstenite::handshake::client::Request {
    let mut request = format!(
        "ws://{}{}",
        server.running.http_addr,
        ringside_protocol::WS_PATH
    )
    .into_client_request()
    .unwrap();
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().unwrap());
    }
    request
}

async fn refused_with(request: tokio_tungstenite::tungstenite::handshake::client::Request) -> u16 {
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the socket opened"),
    }
}

#[tokio::test]
async fn the_websocket_refuses_forged_sessions_and_foreign_origins() {
    let server = start().await;
    let (client, cookie) = server.login("ann").await;
    let host = server.running.http_addr;
    let other_port = format!("http://127.0.0.1:{}", host.port().wrapping_add(1));
    let forged = format!("ringside_session={}", "A".repeat(43));

    let statuses = [
        refused_with(ws_request(&server, Some(&forged), None)).await,
        refused_with(ws_request(&server, Some("ringside_session="), None)).await,
        refused_with(ws_request(&server, Some(&cookie), Some("null"))).await,
        refused_with(ws_request(&server, Some(&cookie), Some(&other_port))).await,
        refused_with(ws_request(
            &server,
            Some(&cookie),
            Some(&format!("http://{host}.evil.example")),
        ))
        .await,
    ];
    client
        .post(format!("{}/api/v1/logout", server.base))
        .send()
        .await
        .unwrap();
    let after_logout = refused_with(ws_request(&server, Some(&cookie), None)).await;

    assert_eq!(statuses, [401, 401, 403, 403, 403]);
    assert_eq!(after_logout, 401);
    assert_eq!(
        server.running.metrics.ws_consoles.load(Ordering::Relaxed),
        0
    );
    server.stop().await;
}

#[tokio::test]
async fn a_console_ignores_garbage_and_is_closed_for_an_oversized_frame() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let text = |s: String| Message::Text(s.into());

    console
        .socket
        .send(Message::Binary(vec![0xff; 1_000].into()))
        .await
        .unwrap();
    for junk in [
        "{not json".to_string(),
        r#"{"type":"explode"}"#.to_string(),
        r#"{"type":"dismiss"}"#.to_string(),
        r#"{"type":"dismiss","call_id":42}"#.to_string(),
        "\"\u{0}\"".to_string(),
    ] {
        console.socket.send(text(junk)).await.unwrap();
    }
    for n in 0..2_000 {
        let dismiss = serde_json::json!({"type": "dismiss", "call_id": format!("nope-{n}")});
        console
            .socket
            .send(text(dismiss.to_string()))
            .await
            .unwrap();
    }
    server
        .play(
            CallShape::Busy,
            "still@pbx",
            JAN,
            "2001",
            common::t0_fixed(),
        )
        .await;
    assert_eq!(console.next_pop().await.state, CallState::Ringing);
    assert!(matches!(
        console.next_pop().await.state,
        CallState::Ended(_)
    ));
    let dismiss = serde_json::json!({"type": "dismiss", "call_id": "still@pbx"});
    console
        .socket
        .send(text(dismiss.to_string()))
        .await
        .unwrap();
    assert_eq!(
        console.next().await,
        ServerMessage::PopRemoved {
            call_id: CallId("still@pbx".into())
        }
    );

    // 20 kB is past the 16 kB a console may send: the server closes the socket.
    console.socket.send(text("x".repeat(20_000))).await.unwrap();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match console.socket.next().await {
                Some(Ok(Message::Close(_)) | Err(_)) | None => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true));
    let metrics = server.running.metrics.clone();
    eventually(|| {
        let metrics = metrics.clone();
        async move { metrics.ws_consoles.load(Ordering::Relaxed) == 0 }
    })
    .await;
    let again = server.console(&cookie).await;
    assert!(again.greeted_with.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn two_hundred_consoles_of_one_agent_all_get_the_pop() {
    let server = start().await;
    let (client, cookie) = server.login("ann").await;
    let mut consoles = Vec::new();
    for _ in 0..200 {
        consoles.push(server.console(&cookie).await);
    }

    let me = client
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap()
        .status();
    server
        .play(CallShape::Busy, "many@pbx", JAN, "2001", common::t0_fixed())
        .await;
    for console in &mut consoles {
        assert_eq!(console.next_pop().await.call_id, CallId("many@pbx".into()));
    }

    assert_eq!(me, 200);
    assert_eq!(
        server.running.metrics.ws_consoles.load(Ordering::Relaxed),
        200
    );
    drop(consoles);
    let metrics = server.running.metrics.clone();
    eventually(|| {
        let metrics = metrics.clone();
        async move { metrics.ws_consoles.load(Ordering::Relaxed) == 0 }
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn a_call_from_an_agent_pops_by_the_called_extension_first() {
    let server = start().await;
    let running = &server.running;
    let region = Settings::for_tests("sqlite://unused.db").default_region;
    let mut service = CallService::new(
        running.store.clone(),
        running.hub.clone(),
        running.metrics.clone(),
        region,
    );
    let ringing = |call: &str, caller: &str, called: &str| CallEvent {
        call_id: call.into(),
        at_ms: common::t0_fixed(),
        kind: CallEventKind::Ringing {
            caller: CallerId::Number(caller.into()),
            called: called.into(),
            transferred_from: None,
        },
    };

    // Ann (2001) rings Bob (2002): Bob's inbound call. Ann rings Jan: Ann's outbound call.
    service
        .handle(ringing("internal@pbx", "2001", "2002"))
        .await
        .unwrap();
    service
        .handle(ringing("outbound@pbx", "2001", JAN))
        .await
        .unwrap();

    let bob_pops = running.hub.pops_of(server.bob);
    let ann_pops = running.hub.pops_of(server.ann);
    assert_eq!(bob_pops.len(), 1);
    assert_eq!(bob_pops[0].direction, ringside_protocol::Direction::Inbound);
    assert_eq!(bob_pops[0].call_id, CallId("internal@pbx".into()));
    assert_eq!(ann_pops.len(), 1);
    assert_eq!(
        ann_pops[0].direction,
        ringside_protocol::Direction::Outbound
    );
    assert_eq!(ann_pops[0].caller, Caller::Number(JAN.into()));
    server.stop().await;
}
