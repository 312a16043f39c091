//! Every ingest source over the server's real sockets: HEPv3 frames over TCP (several per
//! write, one split across writes, then garbage), plain SIP and HEPv2 datagrams over UDP,
//! the TCP connection cap, and the counters each leaves on `/metrics`.

#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use common::{eventually, metrics_of, start, start_with, t0_fixed, TestServer};
use ringside_protocol::{CallId, CallState, Caller, Outcome};
use ringside_sip::synth::{self, CallShape, ScriptedMessage};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

fn script(shape: CallShape, call_id: &str) -> Vec<ScriptedMessage> {
    synth::call_messages(
        shape,
        call_id,
        "0201234567",
        Some("Jan Jansen"),
        "2001",
        4_000,
        30_000,
    )
}

fn at(message: &ScriptedMessage, start_ms: i64) -> i64 {
    start_ms + i64::try_from(message.offset_ms).unwrap()
}

/// A HEPv2 datagram as Kamailio's siptrace writes it (header length byte 8).
fn hep_v2(message: &ScriptedMessage, ts_ms: i64) -> Vec<u8> {
    let octets = |addr: SocketAddr| match addr.ip() {
        std::net::IpAddr::V4(v4) => v4.octets(),
        std::net::IpAddr::V6(_) => panic!("the synthetic calls are IPv4"),
    };
    let mut out = vec![2, 8, 2, 17];
    out.extend_from_slice(&message.src.port().to_be_bytes());
    out.extend_from_slice(&message.dst.port().to_be_bytes());
    out.extend_from_slice(&octets(message.src));
    out.extend_from_slice(&octets(message.dst));
    // siptrace writes the time header in host order (`to_le`), little-endian on x86.
    out.extend_from_slice(&u32::try_from(ts_ms / 1000).unwrap().to_le_bytes());
    out.extend_from_slice(&u32::try_from(ts_ms % 1000 * 1000).unwrap().to_le_bytes());
    out.extend_from_slice(&2001u16.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(message.text.as_bytes());
    out
}

async fn until_counter(
    server: &TestServer,
    read: impl Fn(&agent_server::metrics::Metrics) -> u64 + Copy,
    want: u64,
) {
    let metrics = server.running.metrics.clone();
    eventually(|| {
        let metrics = metrics.clone();
        async move { read(&metrics) >= want }
    })
    .await;
}

#[tokio::test]
async fn hep_frames_over_tcp_pop_the_call_and_garbage_closes_only_that_connection() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let tcp = server
        .running
        .hep_tcp_addr
        .expect("TCP ingest is on by default");
    let frames: Vec<Vec<u8>> = script(CallShape::Answered, "tcp-1@pbx")
        .iter()
        .map(|m| synth::to_hep(m, at(m, t0_fixed()), 2001))
        .collect();
    let count = u64::try_from(frames.len()).unwrap();
    assert!(frames.len() >= 4, "the answered call has enough messages");

    let mut stream = TcpStream::connect(tcp).await.unwrap();
    // Three frames and half of the fourth in one write; the rest of it once the server
    // has read the first three.
    let (head, tail) = frames[3].split_at(frames[3].len() / 2);
    let mut first_write = frames[..3].concat();
    first_write.extend_from_slice(head);
    stream.write_all(&first_write).await.unwrap();
    until_counter(&server, |m| m.ingest_hepv3_tcp.load(Ordering::Relaxed), 3).await;
    stream.write_all(tail).await.unwrap();
    stream.write_all(&frames[4..].concat()).await.unwrap();

    let ringing = console.next_pop().await;
    let answered = console.next_pop().await;
    let ended = console.next_pop().await;
    assert_eq!(ringing.call_id, CallId("tcp-1@pbx".into()));
    assert_eq!(ringing.state, CallState::Ringing);
    assert_eq!(ringing.caller, Caller::Number("+31201234567".into()));
    assert_eq!(ringing.ringing_at_ms, t0_fixed());
    assert_eq!(answered.state, CallState::Answered);
    assert_eq!(ended.state, CallState::Ended(Outcome::Completed));

    stream.write_all(b"GARBAGE, NOT A HEP FRAME").await.unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut rest),
    )
    .await
    .expect("the server closes the connection");
    assert!(closed.is_ok_and(|n| n == 0) || rest.is_empty());
    until_counter(&server, |m| m.hep_tcp_bad_frames.load(Ordering::Relaxed), 1).await;
    eventually(|| {
        let metrics = server.running.metrics.clone();
        async move { metrics.hep_tcp_connections.load(Ordering::Relaxed) == 0 }
    })
    .await;

    // The listener goes on: a new connection delivers the next call.
    let mut again = TcpStream::connect(tcp).await.unwrap();
    let busy: Vec<u8> = script(CallShape::Busy, "tcp-2@pbx")
        .iter()
        .flat_map(|m| synth::to_hep(m, at(m, t0_fixed()), 2001))
        .collect();
    again.write_all(&busy).await.unwrap();
    let next = console.next_pop().await;
    assert_eq!(next.call_id, CallId("tcp-2@pbx".into()));

    let counters = metrics_of(&server).await;
    let busy_frames = u64::try_from(script(CallShape::Busy, "x").len()).unwrap();
    until_counter(
        &server,
        |m| m.ingest_hepv3_tcp.load(Ordering::Relaxed),
        count + busy_frames,
    )
    .await;
    let after = metrics_of(&server).await;
    assert_eq!(counters["ringside_hep_tcp_bad_frames_total"], 1);
    assert_eq!(counters["ringside_hep_tcp_refused_total"], 0);
    assert_eq!(counters["ringside_hep_tcp_connections"], 1);
    assert_eq!(
        after["ringside_ingest_messages_total{source=\"hepv3_tcp\"}"],
        count + busy_frames
    );
    assert_eq!(
        after["ringside_ingest_messages_total{source=\"hepv3_udp\"}"],
        0
    );
    assert_eq!(after["ringside_hep_malformed_total"], 0);
    drop(again);
    server.stop().await;
}

#[tokio::test]
async fn connections_over_the_cap_are_closed_and_counted() {
    let server = start_with(|settings| settings.hep_tcp_max_connections = 1).await;
    let tcp = server.running.hep_tcp_addr.unwrap();

    let _first = TcpStream::connect(tcp).await.unwrap();
    until_counter(
        &server,
        |m| m.hep_tcp_connections.load(Ordering::Relaxed),
        1,
    )
    .await;
    let mut second = TcpStream::connect(tcp).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(std::time::Duration::from_secs(5), second.read(&mut buf))
        .await
        .expect("the refused connection is closed");

    assert!(read.is_err() || read.is_ok_and(|n| n == 0));
    let counters = metrics_of(&server).await;
    assert_eq!(counters["ringside_hep_tcp_refused_total"], 1);
    assert_eq!(counters["ringside_hep_tcp_connections"], 1);
    server.stop().await;
}

#[tokio::test]
async fn tcp_ingest_can_be_turned_off() {
    let server = start_with(|settings| settings.hep_tcp_addr = None).await;

    assert_eq!(server.running.hep_tcp_addr, None);
    server.stop().await;
}

#[tokio::test]
async fn plain_sip_and_hepv2_datagrams_pop_calls_over_udp() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let hep = server.running.hep_addr;

    // Plain SIP: the INVITE alone first, so the call is seen in progress.
    let plain = script(CallShape::Answered, "plain-1@pbx");
    let before_ms = agent_server::ingest::now_ms();
    udp.send_to(plain[0].text.as_bytes(), hep).await.unwrap();
    let ringing = console.next_pop().await;
    let after_ms = agent_server::ingest::now_ms();
    let tracked_while_ringing = metrics_of(&server).await["ringside_calls_tracked"];
    for message in &plain[1..] {
        udp.send_to(message.text.as_bytes(), hep).await.unwrap();
    }
    let answered = console.next_pop().await;
    let ended = console.next_pop().await;

    assert_eq!(ringing.call_id, CallId("plain-1@pbx".into()));
    assert_eq!(ringing.caller, Caller::Number("+31201234567".into()));
    // No capture time in plain SIP: the call is dated when the datagram arrived.
    assert!(
        (before_ms..=after_ms).contains(&ringing.ringing_at_ms),
        "{} not in {before_ms}..={after_ms}",
        ringing.ringing_at_ms
    );
    assert_eq!(tracked_while_ringing, 1);
    assert_eq!(answered.state, CallState::Answered);
    assert_eq!(ended.state, CallState::Ended(Outcome::Completed));

    // HEPv2 keeps the capture time from its header.
    let v2 = script(CallShape::Rejected, "v2-1@pbx");
    for message in &v2 {
        udp.send_to(&hep_v2(message, at(message, t0_fixed())), hep)
            .await
            .unwrap();
    }
    let v2_ringing = console.next_pop().await;
    let v2_ended = console.next_pop().await;
    assert_eq!(v2_ringing.call_id, CallId("v2-1@pbx".into()));
    assert_eq!(v2_ringing.ringing_at_ms, t0_fixed());
    assert_eq!(v2_ended.state, CallState::Ended(Outcome::Rejected));

    // Bytes that are neither HEP nor SIP are counted apart.
    udp.send_to(b"\x00\x01 keepalive", hep).await.unwrap();
    let total = u64::try_from(plain.len() + v2.len() + 1).unwrap();
    until_counter(&server, |m| m.hep_datagrams.load(Ordering::Relaxed), total).await;
    let counters = metrics_of(&server).await;
    let plain_count = u64::try_from(plain.len()).unwrap();
    let v2_count = u64::try_from(v2.len()).unwrap();
    assert_eq!(
        counters["ringside_ingest_messages_total{source=\"sip_udp\"}"],
        plain_count
    );
    assert_eq!(
        counters["ringside_ingest_messages_total{source=\"hepv2_udp\"}"],
        v2_count
    );
    assert_eq!(counters["ringside_ingest_unknown_total"], 1);
    assert_eq!(counters["ringside_calls_tracked"], 0);
    assert_eq!(counters["ringside_calls_evicted_total"], 0);
    assert_eq!(counters["ringside_sip_malformed_total"], 0);
    server.stop().await;
}

#[tokio::test]
async fn a_sender_trickling_bytes_without_finishing_a_frame_is_closed() {
    let server = start_with(|settings| settings.hep_tcp_read_timeout_secs = 1).await;
    let tcp = server.running.hep_tcp_addr.unwrap();
    let frame = synth::to_hep(&script(CallShape::Busy, "slow-1@pbx")[0], t0_fixed(), 2001);

    // One byte every 200 ms: never silent for the timeout, never a whole frame in it.
    let mut stream = TcpStream::connect(tcp).await.unwrap();
    let mut sent = 0;
    let mut closed = false;
    for byte in frame.iter().take(40) {
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        sent += 1;
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        let mut probe = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(std::time::Duration::from_millis(1), stream.read(&mut probe)).await
        {
            closed = true;
            break;
        }
    }

    assert!(
        closed,
        "the connection was still open after {sent} bytes in 8 s"
    );
    assert!(sent < 40, "{sent}");
    eventually(|| {
        let metrics = server.running.metrics.clone();
        async move { metrics.hep_tcp_connections.load(Ordering::Relaxed) == 0 }
    })
    .await;
    server.stop().await;
}
