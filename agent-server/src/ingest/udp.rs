//! The HEP UDP socket: HEPv3, HEPv2 and plain SIP datagrams, one SIP message each.

use std::net::SocketAddr;
use std::sync::Arc;

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

/// Receives datagrams on `socket` until `shutdown`, sending each parsed SIP message to
/// the tracker task over `messages` (waiting while that channel is full).
pub async fn run_udp(
    socket: UdpSocket,
    messages: mpsc::Sender<Ingested>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let ingested = tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, _peer)) => decode_datagram(&buf[..len], &metrics),
                Err(err) => {
                    // ICMP errors and the like surface here on some systems; keep going.
                    tracing::debug!(error = %err, "HEP socket receive error");
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let Some(ingested) = ingested else {
            continue;
        };
        tokio::select! {
            sent = messages.send(ingested) => if sent.is_err() { break },
            () = shutdown.cancelled() => break,
        }
    }
    tracing::debug!("HEP UDP reader stopped");
}
