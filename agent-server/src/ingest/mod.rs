//! Ingest: the sockets the PBX or proxy mirrors SIP to, and the one call tracker task.
//!
//! Sources, each counted under `ringside_ingest_messages_total{source=...}`:
//! - [`udp`]: one UDP socket taking HEPv3, HEPv2 and plain SIP datagrams (each datagram
//!   one SIP message). A plain SIP datagram carries no capture time, so it is dated at its
//!   receive time.
//! - [`tcp`]: a listener taking streams of HEPv3 frames, split by their length field.
//!
//! Every reader decodes and parses on its own task (UDP: on its own threads, see
//! [`run_udp`]) and sends an [`Ingested`] message over
//! one bounded channel to [`run_tracker`], the only owner of the [`Tracker`]. The tracker
//! task feeds each message to the tracker, forwards the resulting call events to the call
//! service, and once a second lets the tracker expire calls whose end was never seen.
//! Bad input (not HEP, not SIP, unparseable) is counted and dropped; no loop stops on it.
//!
//! Back-pressure: when the tracker or the call service falls behind, the message channel
//! fills and the readers wait on it instead of reading; each such wait is counted
//! (`ringside_ingest_queue_full_total`). UDP datagrams then queue in the
//! kernel's receive buffer, which is why the socket asks for a large one
//! (`hep_recv_buffer_bytes`) and logs what the kernel granted; past that the kernel drops
//! datagrams (visible as receive-buffer errors in `/proc/net/snmp`). TCP senders are
//! slowed down by TCP flow control and lose nothing. No message is dropped inside the
//! process.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ringside_sip::tracker::{CallEvent, Tracker, TrackerStats};
use ringside_sip::{Error as SipError, SipMessage};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

pub mod tcp;
pub mod udp;

pub use udp::{bind_udp, run_udp};

/// Messages waiting between the readers and the tracker task.
///
/// Large enough to ride out a database stall of a second or more at 20,000 messages a
/// second; each waiting message is one parsed SIP message (a few KiB at most).
pub const MESSAGE_QUEUE: usize = 32_768;

/// How far a HEP capture time may be from the server's clock before the receive time is
/// used instead. Live mirrors arrive within milliseconds; a capture agent with a wrong
/// clock (or a forged datagram) must not date a call years away, where its timeouts
/// would never, or at once, fire.
pub const MAX_CLOCK_SKEW_MS: i64 = 300_000;

/// Wall-clock time in epoch milliseconds.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Where a message came from; each source has its own counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    /// A HEPv3 datagram on the UDP socket.
    HepV3Udp,
    /// A HEPv2 datagram on the UDP socket.
    HepV2Udp,
    /// A plain SIP datagram (no HEP framing) on the UDP socket.
    SipUdp,
    /// A HEPv3 frame on a TCP connection.
    HepV3Tcp,
}

impl SourceKind {
    /// What a UDP datagram is, from its first bytes; `None` when it is neither HEP nor
    /// SIP text (a SIP message starts with a method or `SIP/2.0`, upper-case letters).
    /// Anything starting `HEP` is taken for HEPv3, so a cut or damaged header counts as
    /// malformed HEP: no SIP method starts with those letters.
    pub fn of_datagram(datagram: &[u8]) -> Option<SourceKind> {
        match datagram {
            [b'H', b'E', b'P', ..] => Some(SourceKind::HepV3Udp),
            [2, ..] => Some(SourceKind::HepV2Udp),
            [first, ..] if first.is_ascii_uppercase() => Some(SourceKind::SipUdp),
            _ => None,
        }
    }

    fn counter(self, metrics: &Metrics) -> &std::sync::atomic::AtomicU64 {
        match self {
            SourceKind::HepV3Udp => &metrics.ingest_hepv3_udp,
            SourceKind::HepV2Udp => &metrics.ingest_hepv2_udp,
            SourceKind::SipUdp => &metrics.ingest_sip_udp,
            SourceKind::HepV3Tcp => &metrics.ingest_hepv3_tcp,
        }
    }
}

/// One parsed SIP message on its way to the tracker.
#[derive(Debug)]
pub struct Ingested {
    /// The message.
    pub message: SipMessage,
    /// Its capture time (or receive time), epoch milliseconds.
    pub at_ms: i64,
    /// The HEP correlation id (chunk 0x0011), which joins the legs of one call through a
    /// back-to-back user agent.
    pub correlation_id: Option<String>,
}

/// Classifies and decodes one UDP datagram; counts and drops bad input.
pub fn decode_datagram(datagram: &[u8], metrics: &Metrics) -> Option<Ingested> {
    metrics.hep_datagrams.fetch_add(1, Ordering::Relaxed);
    let Some(kind) = SourceKind::of_datagram(datagram) else {
        metrics.ingest_unknown.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            size_bytes = datagram.len(),
            "datagram neither HEP nor SIP dropped"
        );
        return None;
    };
    decode_message(datagram, kind, metrics)
}

/// Decodes one HEP frame or SIP datagram of a known source and parses its SIP message;
/// counts and drops bad input.
pub fn decode_message(bytes: &[u8], kind: SourceKind, metrics: &Metrics) -> Option<Ingested> {
    kind.counter(metrics).fetch_add(1, Ordering::Relaxed);
    let decoded = ringside_sip::hep::decode_any(bytes).and_then(|any| {
        let packet = any.packet;
        if packet.proto_type != ringside_sip::hep::PROTO_SIP {
            return Err(SipError::NotSip {
                proto_type: packet.proto_type,
            });
        }
        let message = ringside_sip::message::parse(&packet.payload)?;
        Ok((packet, message))
    });

    match decoded {
        Ok((packet, message)) => {
            let received_ms = now_ms();
            let at_ms = if kind == SourceKind::SipUdp {
                received_ms
            } else if packet.timestamp_ms().abs_diff(received_ms) > MAX_CLOCK_SKEW_MS.unsigned_abs()
            {
                metrics.hep_clock_skewed.fetch_add(1, Ordering::Relaxed);
                received_ms
            } else {
                packet.timestamp_ms()
            };
            Some(Ingested {
                message,
                at_ms,
                correlation_id: packet.correlation_id,
            })
        }
        Err(SipError::NotSip { .. }) => {
            metrics.hep_not_sip.fetch_add(1, Ordering::Relaxed);
            None
        }
        Err(err @ (SipError::SipParse { .. } | SipError::PayloadNotUtf8)) => {
            metrics.sip_malformed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %err, size_bytes = bytes.len(), "malformed SIP dropped");
            None
        }
        Err(err) => {
            metrics.hep_malformed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %err, size_bytes = bytes.len(), "malformed HEP dropped");
            None
        }
    }
}

/// Feeds one message to the tracker and brings the tracker's counters into `metrics`.
pub fn track(tracker: &mut Tracker, ingested: &Ingested, metrics: &Metrics) -> Vec<CallEvent> {
    let before = tracker.stats();
    let correlation = ingested.correlation_id.as_deref();
    let events = tracker.observe_correlated(&ingested.message, ingested.at_ms, correlation);
    count_tracker(tracker, before, metrics);
    events
}

/// Decodes one UDP datagram and feeds it to the tracker, in one step (tests and tools;
/// the server splits the two across tasks).
pub fn observe(tracker: &mut Tracker, datagram: &[u8], metrics: &Metrics) -> Vec<CallEvent> {
    match decode_datagram(datagram, metrics) {
        Some(ingested) => track(tracker, &ingested, metrics),
        None => Vec::new(),
    }
}

fn count_tracker(tracker: &Tracker, before: TrackerStats, metrics: &Metrics) {
    let after = tracker.stats();
    let ignored = after.ignored - before.ignored;
    let evicted = after.calls_evicted - before.calls_evicted;
    metrics.sip_ignored.fetch_add(ignored, Ordering::Relaxed);
    metrics.calls_evicted.fetch_add(evicted, Ordering::Relaxed);
    let tracked = u64::try_from(tracker.active_calls()).unwrap_or(u64::MAX);
    metrics.calls_tracked.store(tracked, Ordering::Relaxed);
}

/// Owns the tracker: feeds it every message from `messages`, runs its timers once a
/// second, and sends the call events to `events`, until `shutdown` or until every reader
/// has gone.
pub async fn run_tracker(
    mut tracker: Tracker,
    mut messages: mpsc::Receiver<Ingested>,
    events: mpsc::Sender<CallEvent>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let produced = tokio::select! {
            received = messages.recv() => match received {
                Some(ingested) => track(&mut tracker, &ingested, &metrics),
                None => break,
            },
            _ = tick.tick() => {
                let before = tracker.stats();
                let expired = tracker.expire(now_ms());
                count_tracker(&tracker, before, &metrics);
                expired
            }
            () = shutdown.cancelled() => break,
        };
        for event in produced {
            if events.send(event).await.is_err() {
                return;
            }
        }
    }
    tracing::debug!(active = tracker.active_calls(), "call tracker stopped");
}
