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

/// Receives datagrams on `socket` until `shutdown`, sending each parsed SIP message to
/// the tracker task over `messages` (waiting while that channel is full, and counting
/// each such wait in `ingest_queue_full`).
///
/// The socket is read on a thread of its own (tokio's blocking pool) with blocking
/// receives, so the reader is never queued behind the database work on the runtime's
/// workers: a datagram waits only for decoding. This future ends when that thread does.
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
    let reader =
        tokio::task::spawn_blocking(move || read_blocking(&socket, &messages, &metrics, &shutdown));
    if let Err(err) = reader.await {
        tracing::error!(error = %err, "HEP UDP reader thread failed");
    }
    tracing::debug!("HEP UDP reader stopped");
}

/// The reader thread's loop: blocking receive, decode, queue.
fn read_blocking(
    socket: &std::net::UdpSocket,
    messages: &mpsc::Sender<Ingested>,
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
        let Some(ingested) = decode_datagram(&buf[..len], metrics) else {
            continue;
        };
        let ingested = match messages.try_send(ingested) {
            Ok(()) => continue,
            Err(mpsc::error::TrySendError::Closed(_)) => break,
            Err(mpsc::error::TrySendError::Full(ingested)) => ingested,
        };
        // The queue is full: wait for room rather than drop, and count the wait. The
        // kernel keeps taking datagrams meanwhile, up to its receive buffer. The wait
        // ends when the tracker takes a message or stops (then the send fails).
        metrics.ingest_queue_full.fetch_add(1, Ordering::Relaxed);
        if messages.blocking_send(ingested).is_err() {
            break;
        }
    }
}
