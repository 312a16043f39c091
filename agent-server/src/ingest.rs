//! HEP ingest: the UDP socket the PBX or proxy mirrors SIP to, and the call tracker.
//!
//! One task owns the socket and the [`Tracker`]: it decodes each datagram, feeds the SIP
//! message to the tracker with the HEP capture time, and forwards the resulting call events
//! to the call service. Once a second it lets the tracker expire calls whose end was never
//! seen. A datagram that is not HEP, not SIP or not parseable is counted and dropped; the
//! loop never stops on bad input.
//!
//! UDP has no flow control: when the call service is slow, events wait in a bounded
//! channel, then datagrams wait in the kernel's receive buffer, which is why the socket asks
//! for a large one (`hep_recv_buffer_bytes`) and logs what the kernel granted. Past that,
//! the kernel drops datagrams.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use ringside_sip::tracker::{CallEvent, Tracker};
use ringside_sip::Error as SipError;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::Metrics;

/// Largest datagram read; a UDP datagram cannot be larger.
const MAX_DATAGRAM: usize = 65_535;

/// How far a HEP capture time may be from the server's clock before the receive time is
/// used instead. Live mirrors arrive within milliseconds; a capture agent with a wrong
/// clock (or a forged datagram) must not date a call years away, where its timeouts
/// would never, or at once, fire.
pub const MAX_CLOCK_SKEW_MS: i64 = 300_000;

/// Binds the HEP UDP socket, asking for `recv_buffer` bytes of kernel buffer.
///
/// Returns the socket and the buffer size the kernel granted.
///
/// # Errors
/// When the address cannot be bound.
pub fn bind_udp(addr: SocketAddr, recv_buffer: usize) -> std::io::Result<(UdpSocket, usize)> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))?;
    // The kernel caps the size at net.core.rmem_max; asking for more is not an error.
    let _ = socket.set_recv_buffer_size(recv_buffer);
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    let granted = socket.recv_buffer_size()?;
    Ok((UdpSocket::from_std(socket.into())?, granted))
}

/// Wall-clock time in epoch milliseconds.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// Receives HEP datagrams on `socket` until `shutdown`, sending call events to `events`.
pub async fn run_udp(
    socket: UdpSocket,
    mut tracker: Tracker,
    events: mpsc::Sender<CallEvent>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let produced = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, _peer)) => observe(&mut tracker, &buf[..len], &metrics),
                Err(err) => {
                    // ICMP errors and the like surface here on some systems; keep going.
                    tracing::debug!(error = %err, "HEP socket receive error");
                    continue;
                }
            },
            _ = tick.tick() => tracker.expire(now_ms()),
            () = shutdown.cancelled() => break,
        };
        for event in produced {
            if events.send(event).await.is_err() {
                return;
            }
        }
    }
    tracing::debug!(active = tracker.active_calls(), "HEP ingest stopped");
}

/// Decodes one datagram and feeds it to the tracker; counts and drops bad input.
pub fn observe(tracker: &mut Tracker, datagram: &[u8], metrics: &Metrics) -> Vec<CallEvent> {
    metrics.hep_datagrams.fetch_add(1, Ordering::Relaxed);
    match ringside_sip::decode_datagram(datagram) {
        Ok((packet, message)) => {
            let received_ms = now_ms();
            let mut at_ms = packet.timestamp_ms();
            if (at_ms - received_ms).abs() > MAX_CLOCK_SKEW_MS {
                metrics.hep_clock_skewed.fetch_add(1, Ordering::Relaxed);
                at_ms = received_ms;
            }
            let before = tracker.stats();
            let events = tracker.observe(&message, at_ms);
            let after = tracker.stats();
            let ignored = after.ignored - before.ignored;
            let evicted = after.calls_evicted - before.calls_evicted;
            metrics.sip_ignored.fetch_add(ignored, Ordering::Relaxed);
            metrics.calls_evicted.fetch_add(evicted, Ordering::Relaxed);
            events
        }
        Err(SipError::NotSip { .. }) => {
            metrics.hep_not_sip.fetch_add(1, Ordering::Relaxed);
            Vec::new()
        }
        Err(err @ (SipError::SipParse { .. } | SipError::PayloadNotUtf8)) => {
            metrics.sip_malformed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %err, size_bytes = datagram.len(), "malformed SIP dropped");
            Vec::new()
        }
        Err(err) => {
            metrics.hep_malformed.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %err, size_bytes = datagram.len(), "malformed HEP dropped");
            Vec::new()
        }
    }
}
