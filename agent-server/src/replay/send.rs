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

/// Checks a `--speed` value: finite and not negative.
///
/// # Errors
/// When it is negative, infinite or not a number.
pub fn check_speed(speed: f64) -> anyhow::Result<f64> {
    if !speed.is_finite() || speed < 0.0 {
        anyhow::bail!("--speed must be a number of 0 or more (0 = as fast as possible)");
    }
    Ok(speed)
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

/// Sends one file's messages to `target` from `socket`, paced by `speed`; returns how
/// many were sent.
///
/// # Errors
/// When a datagram cannot be sent.
pub async fn send_file(
    socket: &UdpSocket,
    target: SocketAddr,
    messages: &[ReplayMessage],
    speed: f64,
) -> anyhow::Result<u64> {
    let start = Instant::now();
    let mut sent = 0u64;
    for (message, offset_ms) in messages.iter().zip(offsets_ms(messages)) {
        if speed > 0.0 {
            let wait = Duration::from_secs_f64(offset_ms as f64 / 1000.0 / speed);
            tokio::time::sleep_until(start + wait).await;
        }
        let mut packet = message.packet.clone();
        let now_ms = crate::ingest::now_ms();
        packet.ts_sec = u32::try_from(now_ms / 1000).unwrap_or(u32::MAX);
        packet.ts_usec = u32::try_from(now_ms % 1000 * 1000).unwrap_or(0);
        socket
            .send_to(&hep::encode(&packet), target)
            .await
            .with_context(|| format!("sending to {target}"))?;
        sent += 1;
    }
    Ok(sent)
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
    }
}
