//! `replay --send`: plays captured messages to a running server as HEPv3 datagrams.
//!
//! Messages go out in capture order, spaced as the capture spaced them divided by the
//! speed, with real sleeps measured from the start of each file (so the pace does not
//! drift). Gaps that run backwards (out-of-order mirrors, broken clocks) count as zero,
//! and gaps longer than [`MAX_GAP_MS`] are shortened to it. Speed 0 sends as fast as
//! the socket takes them. Each datagram is stamped with the time it is sent, so the
//! server dates the calls now rather than at the capture's time; addresses, transport,
//! correlation id and payload are those of the capture.
//!
//! Limitation: a capture silence longer than a minute (say, a long answered call before
//! its BYE) is shortened to a minute, so calls in a replay may look shorter than they
//! were; a flag for the longest gap would lift it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use ringside_sip::hep;
use tokio::net::UdpSocket;
use tokio::time::Instant;

use super::ReplayMessage;

/// Longest pause between two datagrams, in capture milliseconds.
pub const MAX_GAP_MS: i64 = 60_000;

/// Slowest `--speed` taken: a one-minute gap then lasts 100 minutes.
pub const MIN_SPEED: f64 = 0.01;

/// Checks a `--speed` value: 0 (as fast as possible), or a finite number of at least
/// [`MIN_SPEED`].
///
/// # Errors
/// When it is negative, below [`MIN_SPEED`] but not 0, infinite or not a number.
pub fn check_speed(speed: f64) -> anyhow::Result<f64> {
    if !speed.is_finite() || (speed != 0.0 && speed < MIN_SPEED) || speed < 0.0 {
        anyhow::bail!("--speed must be 0 (as fast as possible) or a number from {MIN_SPEED} up");
    }
    Ok(speed)
}

/// What [`send_file`] did with one file's messages.
#[derive(Debug, Default)]
pub struct Sent {
    /// Datagrams sent.
    pub sent: u64,
    /// Datagrams the socket refused (too large for UDP, say); the others still went.
    pub refused: u64,
    /// The first refusal's reason.
    pub first_refusal: Option<String>,
}

/// The delay of every message from the first one, in capture milliseconds, after
/// clamping each gap to `0..=MAX_GAP_MS`.
pub fn offsets_ms(messages: &[ReplayMessage]) -> Vec<i64> {
    let mut offset = 0i64;
    let mut previous: Option<i64> = None;
    messages
        .iter()
        .map(|message| {
            let at = message.at_ms();
            if let Some(previous) = previous {
                offset += at.saturating_sub(previous).clamp(0, MAX_GAP_MS);
            }
            previous = Some(at);
            offset
        })
        .collect()
}

/// Sends one file's messages to `target` from `socket`, paced by `speed`. A datagram
/// the socket refuses (one over 65,507 bytes, or an ICMP error from the target) is
/// counted and the rest still go.
pub async fn send_file(
    socket: &UdpSocket,
    target: SocketAddr,
    messages: &[ReplayMessage],
    speed: f64,
) -> Sent {
    let start = Instant::now();
    let mut outcome = Sent::default();
    for (message, offset_ms) in messages.iter().zip(offsets_ms(messages)) {
        if speed > 0.0 {
            let seconds = offset_ms as f64 / 1000.0 / speed;
            let wait = Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX);
            if let Some(deadline) = start.checked_add(wait) {
                tokio::time::sleep_until(deadline).await;
            }
        }
        let mut packet = message.packet.clone();
        let now_ms = crate::ingest::now_ms();
        packet.ts_sec = u32::try_from(now_ms / 1000).unwrap_or(u32::MAX);
        packet.ts_usec = u32::try_from(now_ms % 1000 * 1000).unwrap_or(0);
        match socket.send_to(&hep::encode(&packet), target).await {
            Ok(_) => outcome.sent += 1,
            Err(err) => {
                outcome.refused += 1;
                outcome.first_refusal.get_or_insert_with(|| err.to_string());
            }
        }
    }
    outcome
}

/// Resolves HOST:PORT and opens a UDP socket of the matching family.
///
/// # Errors
/// When the name does not resolve or the socket cannot be opened.
pub async fn connect(target: &str) -> anyhow::Result<(UdpSocket, SocketAddr)> {
    let addr = tokio::net::lookup_host(target)
        .await
        .with_context(|| format!("--send {target}: not a HOST:PORT that resolves"))?
        .next()
        .with_context(|| format!("--send {target}: no address"))?;
    let local: SocketAddr = if addr.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .context("opening a UDP socket")?;
    Ok((socket, addr))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ringside_sip::Transport;

    fn at(ms: i64) -> ReplayMessage {
        ReplayMessage::from_captured(ms, Transport::Udp, None, Vec::new())
    }

    #[test]
    fn gaps_are_kept_and_broken_ones_clamped() {
        let base = 1_700_000_000_000;
        let messages = [
            at(base),
            at(base + 250),
            at(base + 100),
            at(base + 600),
            at(base + 3_600_000),
        ];

        assert_eq!(
            offsets_ms(&messages),
            vec![0, 250, 250, 750, 750 + MAX_GAP_MS]
        );
    }

    #[test]
    fn speed_must_be_a_plain_number() {
        assert_eq!(check_speed(2.5).unwrap(), 2.5);
        assert!(check_speed(0.0).is_ok());
        assert!(check_speed(-1.0).is_err());
        assert!(check_speed(f64::NAN).is_err());
        assert!(check_speed(f64::INFINITY).is_err());
        assert_eq!(check_speed(MIN_SPEED).unwrap(), MIN_SPEED);
        assert!(check_speed(1e-308).is_err());
        assert!(check_speed(0.001).is_err());
    }
}
