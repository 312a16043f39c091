//! The HEP UDP socket: HEPv3, HEPv2 and plain SIP datagrams, one SIP message each.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{decode_datagram, Ingested};
use crate::metrics::Metrics;

/// Largest datagram read; a UDP datagram cannot be larger.
const MAX_DATAGRAM: usize = 65_535;

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

/// How often the reader thread, blocked on the socket, looks whether to stop.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Raw datagrams waiting between the reader thread and the decoder thread: close to a
/// second at 20,000 a second, at most about 64 MiB of full-size HEP datagrams.
pub const RAW_QUEUE: usize = 16_384;

/// Receives datagrams on `socket` until `shutdown`, sending each parsed SIP message to
/// the tracker task over `messages`.
///
/// Two threads of tokio's blocking pool do the work, so neither waits behind the
/// database work on the runtime's workers: one only receives (blocking) and queues each
/// datagram as it came, so the kernel's buffer is emptied at the pace of the system
/// calls; the other decodes and parses them and queues the messages for the tracker.
/// When either queue is full its producer waits for room (nothing is dropped in the
/// process) and counts the wait in `ingest_queue_full`; while the reader waits, the
/// kernel buffers datagrams and past its buffer drops them. This future ends when both
/// threads have.
pub async fn run_udp(
    socket: UdpSocket,
    messages: mpsc::Sender<Ingested>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let socket = match socket
        .into_std()
        .and_then(|s| s.set_nonblocking(false).map(|()| s))
        .and_then(|s| s.set_read_timeout(Some(STOP_POLL)).map(|()| s))
    {
        Ok(socket) => socket,
        Err(err) => {
            tracing::error!(error = %err, "HEP socket cannot be read; UDP ingest stopped");
            return;
        }
    };
    let (raw_tx, raw_rx) = mpsc::channel(RAW_QUEUE);
    let reader_metrics = metrics.clone();
    let reader = tokio::task::spawn_blocking(move || {
        read_blocking(&socket, &raw_tx, &reader_metrics, &shutdown);
    });
    let decoder = tokio::task::spawn_blocking(move || decode_blocking(raw_rx, &messages, &metrics));
    for (thread, handle) in [("reader", reader), ("decoder", decoder)] {
        if let Err(err) = handle.await {
            tracing::error!(error = %err, thread, "HEP UDP thread failed");
        }
    }
    tracing::debug!("HEP UDP reader stopped");
}

/// Queues `item`, waiting (and counting the wait) while `queue` is full; false once the
/// receiving side has gone.
fn queue_blocking<T>(queue: &mpsc::Sender<T>, item: T, metrics: &Metrics) -> bool {
    let item = match queue.try_send(item) {
        Ok(()) => return true,
        Err(mpsc::error::TrySendError::Closed(_)) => return false,
        Err(mpsc::error::TrySendError::Full(item)) => item,
    };
    metrics.ingest_queue_full.fetch_add(1, Ordering::Relaxed);
    queue.blocking_send(item).is_ok()
}

/// The reader thread: blocking receive and queue, until `shutdown` or the decoder stops.
fn read_blocking(
    socket: &std::net::UdpSocket,
    raw: &mpsc::Sender<Vec<u8>>,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    while !shutdown.is_cancelled() {
        let len = match socket.recv_from(&mut buf) {
            Ok((len, _peer)) => len,
            Err(err)
                if matches!(
                    err.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                continue;
            }
            Err(err) => {
                // ICMP errors and the like surface here on some systems; keep going.
                tracing::debug!(error = %err, "HEP socket receive error");
                continue;
            }
        };
        let datagram = buf.get(..len).unwrap_or_default().to_vec();
        if !queue_blocking(raw, datagram, metrics) {
            break;
        }
    }
}

/// The decoder thread: decodes each queued datagram and queues its message for the
/// tracker, until the reader stops (then after the datagrams it left) or the tracker does.
fn decode_blocking(
    mut raw: mpsc::Receiver<Vec<u8>>,
    messages: &mpsc::Sender<Ingested>,
    metrics: &Metrics,
) {
    while let Some(datagram) = raw.blocking_recv() {
        let Some(ingested) = decode_datagram(&datagram, metrics) else {
            continue;
        };
        if !queue_blocking(messages, ingested, metrics) {
            break;
        }
    }
}
