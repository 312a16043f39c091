//! Free loopback ports for the processes of one test run, and a probe for "is this UDP port
//! bound yet".
//!
//! Limitation: a port is free when it is picked and is bound by Kamailio or SIPp a moment
//! later; another program on the machine could take it in between. The run then fails at
//! start with the process's own bind error in its log, and a rerun picks other ports.
//! Passing sockets to the children instead of port numbers would close that gap, but
//! neither Kamailio nor SIPp accepts an inherited socket.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};

/// Loopback, where every process of the test listens.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Returns `count` distinct UDP ports that are free on 127.0.0.1 right now.
///
/// All sockets are held until every port is chosen, so no two answers are the same.
///
/// # Errors
/// When the system refuses to bind a UDP socket.
pub fn free_udp_ports(count: usize) -> io::Result<Vec<u16>> {
    let held = (0..count)
        .map(|_| UdpSocket::bind((LOOPBACK, 0)))
        .collect::<io::Result<Vec<_>>>()?;
    held.iter()
        .map(|s| s.local_addr().map(|a| a.port()))
        .collect()
}

/// Returns a TCP port that is free on 127.0.0.1 right now.
///
/// # Errors
/// When the system refuses to bind a TCP socket.
pub fn free_tcp_port() -> io::Result<u16> {
    Ok(TcpListener::bind((LOOPBACK, 0))?.local_addr()?.port())
}

/// Whether some process has bound UDP `port` on 127.0.0.1 (so binding it here fails).
pub fn udp_port_taken(port: u16) -> bool {
    UdpSocket::bind(SocketAddr::from((LOOPBACK, port))).is_err()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_ports_are_distinct_and_free() -> io::Result<()> {
        let ports = free_udp_ports(4)?;
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 4);
        assert!(ports.iter().all(|&p| !udp_port_taken(p)));
        Ok(())
    }

    #[test]
    fn a_bound_port_is_taken() -> io::Result<()> {
        let socket = UdpSocket::bind((LOOPBACK, 0))?;
        let port = socket.local_addr()?.port();
        assert!(udp_port_taken(port));
        drop(socket);
        assert!(!udp_port_taken(port));
        Ok(())
    }
}
