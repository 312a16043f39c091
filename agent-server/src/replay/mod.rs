//! `agent-server replay`: captures through the call tracker, offline.
//!
//! Each file is read whole and its format found from its content, not its name: a
//! hepdump (the lab's `*.hep`: records of a big-endian u32 length and one HEP datagram),
//! a pcap or a pcapng file. Every SIP message goes, in capture order and file after file,
//! through [`ringside_sip::message::parse`] and one [`Tracker`], and each call event is
//! printed as one JSON line ([`json::EventLine`]; the README's "Replay" section documents
//! the fields). With `--send` the messages are instead played to a running server as
//! HEPv3 datagrams ([`send`]).
//!
//! Time: the tracker's timers run on the capture's clock. Before each message whose
//! capture time is at least a second past the previous timer run, the tracker expires
//! calls at that time, as the server does once a second; a call still in progress when
//! the captures end gets no `ended` line, since nothing is invented after the last
//! message.
//!
//! A file that cannot be read is reported on stderr with its name, the others are still
//! replayed, and the command exits non-zero. Dropped messages are summed per file on
//! stderr, as counts only; the JSON on stdout is the product and holds numbers, nothing
//! else about a call is ever printed or logged.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use ringside_sip::hep::{self, HepPacket, FAMILY_IPV4, PROTO_SIP};
use ringside_sip::tracker::{Tracker, TrackerConfig};
use ringside_sip::{Error as SipError, Transport};

use crate::config::ReplayArgs;

pub mod json;
pub mod send;

/// Tracker timers run at most this often, in capture milliseconds (as on the server).
const EXPIRE_EVERY_MS: i64 = 1000;

/// The container formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Length-prefixed HEP datagrams.
    HepDump,
    /// Classic libpcap.
    Pcap,
    /// pcapng.
    PcapNg,
}

impl Format {
    /// Finds the format from the first bytes; `None` when none matches.
    pub fn detect(bytes: &[u8]) -> Option<Format> {
        match bytes {
            [0xa1, 0xb2, 0xc3, 0xd4, ..]
            | [0xd4, 0xc3, 0xb2, 0xa1, ..]
            | [0xa1, 0xb2, 0x3c, 0x4d, ..]
            | [0x4d, 0x3c, 0xb2, 0xa1, ..] => Some(Format::Pcap),
            [0x0a, 0x0d, 0x0d, 0x0a, ..] => Some(Format::PcapNg),
            [a, b, c, d, rest @ ..] => {
                let len = u32::from_be_bytes([*a, *b, *c, *d]);
                let hep = rest.starts_with(b"HEP3") || rest.first() == Some(&2);
                (hep && (6..=65_535).contains(&len)).then_some(Format::HepDump)
            }
            _ => None,
        }
    }
}

/// One captured message, as a HEP packet (built for captures that were not HEP).
#[derive(Debug, Clone)]
pub struct ReplayMessage {
    /// The packet; its timestamp is the capture time.
    pub packet: HepPacket,
}

impl ReplayMessage {
    /// A message from a capture that is not HEP: no addresses, the given capture time.
    pub fn from_captured(
        at_ms: i64,
        transport: Transport,
        correlation_id: Option<String>,
        payload: Vec<u8>,
    ) -> ReplayMessage {
        let at_ms = at_ms.max(0);
        let nowhere = std::net::SocketAddr::from(([0, 0, 0, 0], 0));
        ReplayMessage {
            packet: HepPacket {
                ip_family: FAMILY_IPV4,
                transport,
                src: nowhere,
                dst: nowhere,
                ts_sec: u32::try_from(at_ms / 1000).unwrap_or(u32::MAX),
                ts_usec: u32::try_from(at_ms % 1000 * 1000).unwrap_or(0),
                proto_type: PROTO_SIP,
                capture_id: 0,
                correlation_id,
                node_name: None,
                payload,
            },
        }
    }

    /// Capture time, epoch milliseconds.
    pub fn at_ms(&self) -> i64 {
        self.packet.timestamp_ms()
    }
}

/// What one file held.
#[derive(Debug, Default)]
pub struct Capture {
    /// Its messages, in file order.
    pub messages: Vec<ReplayMessage>,
    /// Records that were not HEP.
    pub not_hep: u64,
    /// Why reading stopped early, when it did (the messages before that are kept).
    pub cut_short: Option<String>,
}

/// Reads a capture file in any supported format.
///
/// # Errors
/// When the file cannot be read or is in no supported format.
pub fn read_capture(path: &Path) -> anyhow::Result<Capture> {
    let bytes = std::fs::read(path)?;
    match Format::detect(&bytes) {
        Some(Format::HepDump) => Ok(read_hepdump(&bytes)),
        Some(Format::Pcap | Format::PcapNg) => read_pcap(&bytes),
        None if bytes.is_empty() => anyhow::bail!("the file is empty"),
        None => anyhow::bail!("not a capture: neither hepdump, pcap nor pcapng"),
    }
}

fn read_hepdump(bytes: &[u8]) -> Capture {
    let mut capture = Capture::default();
    for record in hep::dump_records(bytes) {
        match record.and_then(|bytes| hep::decode_any(bytes).map(|any| any.packet)) {
            Ok(packet) => capture.messages.push(ReplayMessage { packet }),
            Err(err @ SipError::HepDumpTruncated { .. }) => {
                capture.cut_short = Some(err.to_string());
            }
            Err(_) => capture.not_hep += 1,
        }
    }
    capture
}

/// Reads a pcap or pcapng file with the sip crate's capture reader. Frames that hold no
/// SIP (RTP, DNS, ...) are counted as not HEP.
fn read_pcap(bytes: &[u8]) -> anyhow::Result<Capture> {
    let read = ringside_sip::capture::read(bytes)?;
    let messages = read
        .messages
        .into_iter()
        .map(|m| ReplayMessage::from_captured(m.at_ms, m.transport, m.correlation_id, m.payload))
        .collect();
    let cut_short = (read.stats.file_errors > 0)
        .then(|| "the capture is damaged; the messages before the damage were read".to_owned());
    Ok(Capture {
        messages,
        not_hep: read.stats.skipped_frames,
        cut_short,
    })
}

/// Runs `agent-server replay`: prints the call events of `args.files`, or with
/// `--send` plays them to a server.
///
/// # Errors
/// When some file could not be read (after every other file was replayed), when the
/// output cannot be written, or when `--send` cannot reach its target.
pub async fn run(args: &ReplayArgs, region: phonenumber::country::Id) -> anyhow::Result<()> {
    let files = args.files.clone();
    let failed = match &args.send {
        Some(target) => {
            let speed = send::check_speed(args.speed)?;
            let (socket, target_addr) = send::connect(target).await?;
            let mut failed = 0;
            for path in &files {
                let owned = path.clone();
                let read = tokio::task::spawn_blocking(move || read_capture(&owned)).await?;
                let capture = match read {
                    Ok(capture) => capture,
                    Err(err) => {
                        failed += 1;
                        report(&format!("{}: {err:#}", path.display()));
                        continue;
                    }
                };
                let sent = send::send_file(&socket, target_addr, &capture.messages, speed).await?;
                report(&format!(
                    "{}: sent {sent} datagrams, {} records not HEP",
                    path.display(),
                    capture.not_hep
                ));
                if let Some(reason) = capture.cut_short {
                    failed += 1;
                    report(&format!("{}: {reason}", path.display()));
                }
            }
            failed
        }
        None => tokio::task::spawn_blocking(move || print_events(&files, region)).await??,
    };
    if failed > 0 {
        anyhow::bail!(
            "{failed} of {} capture files could not be read",
            args.files.len()
        );
    }
    Ok(())
}

/// Replays `files` through one tracker to stdout; returns how many could not be read.
fn print_events(files: &[PathBuf], region: phonenumber::country::Id) -> anyhow::Result<usize> {
    let stdout = std::io::stdout().lock();
    let mut replayer = Replayer::new(std::io::BufWriter::new(stdout), region);
    let mut failed = 0;
    for path in files {
        let capture = match read_capture(path) {
            Ok(capture) => capture,
            Err(err) => {
                failed += 1;
                report(&format!("{}: {err:#}", path.display()));
                continue;
            }
        };
        let before = replayer.events();
        let dropped = replayer
            .replay(&capture)
            .context("writing to standard output")?;
        report(&format!(
            "{}: {} messages, {} call events; dropped {} records not HEP, {} not SIP, {} \
             malformed SIP",
            path.display(),
            capture.messages.len(),
            replayer.events() - before,
            dropped.not_hep,
            dropped.not_sip,
            dropped.malformed_sip
        ));
        if let Some(reason) = capture.cut_short {
            failed += 1;
            report(&format!("{}: {reason}", path.display()));
        }
    }
    replayer.finish().context("writing to standard output")?;
    Ok(failed)
}

/// A line for the person running the command, on stderr: file names and counts only.
fn report(line: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "replay: {line}");
}

/// Messages dropped while replaying one file, for the stderr summary.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Records that were not HEP.
    pub not_hep: u64,
    /// HEP packets carrying another protocol than SIP.
    pub not_sip: u64,
    /// SIP messages that did not parse.
    pub malformed_sip: u64,
}

/// Feeds messages through one tracker and writes a JSON line per call event.
pub struct Replayer<W: Write> {
    tracker: Tracker,
    parties: json::PartyBook,
    region: phonenumber::country::Id,
    clock_ms: Option<i64>,
    expired_at_ms: i64,
    out: W,
    events: u64,
}

impl<W: Write> Replayer<W> {
    /// A replayer writing to `out`, normalising numbers for `region`.
    pub fn new(out: W, region: phonenumber::country::Id) -> Self {
        Self {
            tracker: Tracker::new(TrackerConfig::default()),
            parties: json::PartyBook::new(),
            region,
            clock_ms: None,
            expired_at_ms: i64::MIN,
            out,
            events: 0,
        }
    }

    /// Replays one file's messages, counting what is dropped.
    ///
    /// # Errors
    /// When writing to the output fails.
    pub fn replay(&mut self, capture: &Capture) -> std::io::Result<Dropped> {
        let mut dropped = Dropped {
            not_hep: capture.not_hep,
            ..Dropped::default()
        };
        for message in &capture.messages {
            if message.packet.proto_type != PROTO_SIP {
                dropped.not_sip += 1;
                continue;
            }
            let Ok(sip) = ringside_sip::message::parse(&message.packet.payload) else {
                dropped.malformed_sip += 1;
                continue;
            };
            let at_ms = message.at_ms();
            self.run_timers(at_ms)?;
            let correlation = message.packet.correlation_id.as_deref();
            let events = self.tracker.observe_correlated(&sip, at_ms, correlation);
            self.write(&events)?;
        }
        Ok(dropped)
    }

    /// Call events written so far.
    pub fn events(&self) -> u64 {
        self.events
    }

    /// Flushes and returns the output.
    ///
    /// # Errors
    /// When flushing fails.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }

    /// Advances the capture clock (it never goes back) and runs the tracker's timers once
    /// per capture second.
    fn run_timers(&mut self, at_ms: i64) -> std::io::Result<()> {
        let now = self.clock_ms.map_or(at_ms, |clock| clock.max(at_ms));
        self.clock_ms = Some(now);
        if now.saturating_sub(self.expired_at_ms) < EXPIRE_EVERY_MS {
            return Ok(());
        }
        self.expired_at_ms = now;
        let events = self.tracker.expire(now);
        self.write(&events)
    }

    fn write(&mut self, events: &[ringside_sip::CallEvent]) -> std::io::Result<()> {
        for event in events {
            let line = json::EventLine::from_event(event, &mut self.parties, self.region);
            serde_json::to_writer(&mut self.out, &line)?;
            self.out.write_all(b"\n")?;
            self.events += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_told_apart_by_content() {
        let mut dump = 40u32.to_be_bytes().to_vec();
        dump.extend_from_slice(b"HEP3\x00\x28");

        assert_eq!(Format::detect(&dump), Some(Format::HepDump));
        assert_eq!(
            Format::detect(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
            Some(Format::Pcap)
        );
        assert_eq!(
            Format::detect(&[0x0a, 0x0d, 0x0d, 0x0a, 0]),
            Some(Format::PcapNg)
        );
        assert_eq!(Format::detect(b"INVITE sip:2001@pbx SIP/2.0\r\n"), None);
        assert_eq!(Format::detect(b""), None);
    }

    #[test]
    fn captured_messages_keep_their_time() {
        let message =
            ReplayMessage::from_captured(1_714_555_800_250, Transport::Tcp, None, b"x".to_vec());

        assert_eq!(message.at_ms(), 1_714_555_800_250);
        assert_eq!(message.packet.transport, Transport::Tcp);
    }
}
