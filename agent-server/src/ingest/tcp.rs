//! HEPv3 over TCP: a listener whose connections carry a stream of HEPv3 frames, each
//! framed by its own 16-bit total length (the HEPv3 header; Kamailio's siptrace and
//! heplify send this way when told to use TCP).
//!
//! Strangers control these connections, so three things are capped: how many are open
//! at once (further ones are closed at accept and counted), how large a frame may be,
//! and how long a connection may go without delivering a whole frame (then it is
//! closed: the clock restarts at each complete frame, not at each byte, so a sender
//! trickling a byte at a time cannot hold a connection slot for ever). A stream that stops
//! being HEPv3 framing (wrong magic, impossible length) cannot be resynchronised: that
//! connection is closed and counted, and the listener goes on. A frame that frames well
//! but does not decode or parse is counted like a bad UDP datagram and skipped, since the
//! next frame still starts where the length says.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::{decode_message, Ingested, SourceKind};
use crate::metrics::Metrics;
use ringside_sip::hep::StreamDecoder;

/// Bytes read from a connection at a time.
const READ_CHUNK: usize = 64 * 1024;

/// The caps of the TCP listener.
#[derive(Debug, Clone, Copy)]
pub struct TcpLimits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Largest frame accepted, in bytes.
    pub max_frame_bytes: usize,
    /// A connection that delivers no complete frame for this long is closed.
    pub read_timeout: Duration,
}

/// Accepts HEP TCP connections on `listener` until `shutdown`, then waits for every
/// connection task to stop. Each connection sends its parsed messages over `messages`.
pub async fn run_tcp(
    listener: TcpListener,
    limits: TcpLimits,
    messages: mpsc::Sender<Ingested>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = shutdown.cancelled() => break,
        };
        let stream = match accepted {
            Ok((stream, _peer)) => stream,
            Err(err) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(error = %err, "HEP TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            metrics.hep_tcp_refused.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(
                max_connections = limits.max_connections,
                "HEP TCP connection refused, too many open"
            );
            drop(stream);
            continue;
        };
        let connection = Connection {
            limits,
            messages: messages.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
        };
        connections.spawn(async move {
            connection.serve(stream).await;
            drop(slot);
        });
    }
    connections.close();
    connections.wait().await;
    tracing::debug!("HEP TCP listener stopped");
}

/// Binds the HEP TCP listener.
///
/// # Errors
/// When the address cannot be bound.
pub async fn bind_tcp(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

struct Connection {
    limits: TcpLimits,
    messages: mpsc::Sender<Ingested>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
}

/// Keeps `ringside_hep_tcp_connections` right however a connection ends.
struct OpenGuard(Arc<Metrics>);

impl OpenGuard {
    fn new(metrics: Arc<Metrics>) -> Self {
        metrics.hep_tcp_connections.fetch_add(1, Ordering::Relaxed);
        Self(metrics)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.hep_tcp_connections.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Connection {
    async fn serve(self, mut stream: TcpStream) {
        let _open = OpenGuard::new(self.metrics.clone());
        let mut decoder = StreamDecoder::with_max_frame(self.limits.max_frame_bytes);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut deadline = tokio::time::Instant::now() + self.limits.read_timeout;
        loop {
            let read = tokio::select! {
                read = tokio::time::timeout_at(deadline, stream.read(&mut buf)) => read,
                () = self.shutdown.cancelled() => return,
            };
            match read {
                Ok(Ok(0)) => return,
                Ok(Ok(len)) => decoder.push(&buf[..len]),
                Ok(Err(err)) => {
                    tracing::debug!(error = %err, "HEP TCP connection failed");
                    return;
                }
                Err(_elapsed) => {
                    tracing::debug!(
                        timeout_s = self.limits.read_timeout.as_secs(),
                        "HEP TCP connection closed: no complete frame within the timeout"
                    );
                    return;
                }
            }

            loop {
                let frame = match decoder.next_frame() {
                    Ok(Some(frame)) => {
                        deadline = tokio::time::Instant::now() + self.limits.read_timeout;
                        frame
                    }
                    Ok(None) => break,
                    Err(err) => {
                        self.metrics
                            .hep_tcp_bad_frames
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(error = %err, "HEP TCP connection closed on a bad frame");
                        return;
                    }
                };
                let Some(ingested) = decode_message(&frame, SourceKind::HepV3Tcp, &self.metrics)
                else {
                    continue;
                };
                tokio::select! {
                    sent = self.messages.send(ingested) => if sent.is_err() { return },
                    () = self.shutdown.cancelled() => return,
                }
            }
        }
    }
}
