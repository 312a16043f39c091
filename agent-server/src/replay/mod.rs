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
//! message. A step of more than [`MAX_CLOCK_JUMP_MS`] between two messages (broken
//! timestamps, or two captures of different days) moves the replay clock by one
//! millisecond only, and later times are shifted by the same amount: event times then
//! read as the capture's clock before the jump.
//!
//! Limitation: the timers run when a message arrives, so a call that a timer ends
//! during a silent stretch of a capture is dated at the next message, not at its
//! deadline.
//!
//! Limitation: a file is read into memory whole; files over [`MAX_CAPTURE_BYTES`] are
//! refused (split them with `editcap`).
//!
//! A file that cannot be read is reported on stderr with its name, the others are still
//! replayed, and the command exits non-zero. Dropped messages are summed per file on
//! stderr, as counts only; the JSON on stdout is the product and holds numbers, nothing
//! else about a call is ever printed or logged.

use std::io::{Read, Write};
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

/// Largest capture file replayed: a file is held in memory while it is read, so an
/// endless input (`/dev/zero`, a pipe) must not take the machine's memory.
pub const MAX_CAPTURE_BYTES: u64 = 1 << 30;

/// Bytes read to find a file's format before the rest is read.
const FORMAT_PREFIX_BYTES: u64 = 16;

/// A step between two consecutive messages' capture times longer than this, forwards
/// or backwards, is taken for a broken clock (or the gap between two unrelated captures):
/// the replay clock then moves on by one millisecond instead, so the timers do not end
/// every open call at the jump. No real call stays silent this long: calls that ring or
/// talk longer are ended by the timers anyway (`max_call_hours` is 4 by default).
pub const MAX_CLOCK_JUMP_MS: i64 = 6 * 3_600_000;

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
    let mut file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    (&mut file)
        .take(FORMAT_PREFIX_BYTES)
        .read_to_end(&mut bytes)?;
    let format = match Format::detect(&bytes) {
        Some(format) => format,
        None if bytes.is_empty() => anyhow::bail!("the file is empty"),
        None => anyhow::bail!("not a capture: neither hepdump, pcap nor pcapng"),
    };
    file.take(MAX_CAPTURE_BYTES + 1 - FORMAT_PREFIX_BYTES)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_CAPTURE_BYTES {
        anyhow::bail!(
            "larger than {} MiB: split it first (editcap -c 1000000 in.pcap part.pcap)",
            MAX_CAPTURE_BYTES >> 20
        );
    }
    match format {
        Format::HepDump => Ok(read_hepdump(&bytes)),
        Format::Pcap | Format::PcapNg => read_pcap(&bytes),
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
                let sent = send::send_file(&socket, target_addr, &capture.messages, speed).await;
                report(&format!(
                    "{}: sent {} datagrams, {} records not HEP",
                    path.display(),
                    sent.sent,
                    capture.not_hep
                ));
                if let Some(reason) = sent.first_refusal {
                    failed += 1;
                    report(&format!(
                        "{}: {} datagrams could not be sent (first: {reason})",
                        path.display(),
                        sent.refused
                    ));
                }
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
            "{failed} of {} capture files could not be replayed in full",
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
             malformed SIP; {} capture-clock jumps of over 6 hours taken for broken \
             timestamps",
            path.display(),
            capture.messages.len(),
            replayer.events() - before,
            dropped.not_hep,
            dropped.not_sip,
            dropped.malformed_sip,
            dropped.clock_jumps
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
    /// Capture-clock steps over [`MAX_CLOCK_JUMP_MS`], taken for broken timestamps.
    pub clock_jumps: u64,
}

/// Feeds messages through one tracker and writes a JSON line per call event.
pub struct Replayer<W: Write> {
    tracker: Tracker,
    parties: json::PartyBook,
    region: phonenumber::country::Id,
    clock_ms: Option<i64>,
    /// Capture time minus replay time, raised at each clock jump.
    offset_ms: i64,
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
            offset_ms: 0,
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
            let at_ms = self.replay_time(message.at_ms(), &mut dropped);
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

    /// The time a message is replayed at: its capture time, less the clock jumps met so
    /// far (see [`MAX_CLOCK_JUMP_MS`]).
    fn replay_time(&mut self, captured_ms: i64, dropped: &mut Dropped) -> i64 {
        let at_ms = captured_ms.saturating_sub(self.offset_ms);
        let Some(clock) = self.clock_ms else {
            return at_ms;
        };
        if at_ms.saturating_sub(clock).unsigned_abs() <= MAX_CLOCK_JUMP_MS.unsigned_abs() {
            return at_ms;
        }
        dropped.clock_jumps += 1;
        let rebased = clock.saturating_add(1);
        self.offset_ms = captured_ms.saturating_sub(rebased);
        rebased
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

    /// The answered fixture's event lines, with `shift` applied to its messages first.
    fn replay_answered(shift: impl Fn(usize, &mut HepPacket)) -> (Vec<serde_json::Value>, Dropped) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sip/tests/fixtures/answered.hep");
        let mut capture = read_capture(&path).unwrap();
        for (index, message) in capture.messages.iter_mut().enumerate() {
            shift(index, &mut message.packet);
        }
        let mut replayer = Replayer::new(Vec::new(), phonenumber::country::Id::NL);
        let dropped = replayer.replay(&capture).unwrap();
        let out = replayer.finish().unwrap();
        let lines = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        (lines, dropped)
    }

    fn events_of(lines: &[serde_json::Value]) -> Vec<(String, Option<String>, bool)> {
        lines
            .iter()
            .map(|line| {
                (
                    line["event"].as_str().unwrap().to_owned(),
                    line["cause"].as_str().map(str::to_owned),
                    line["timed_out"].as_bool().unwrap_or(false),
                )
            })
            .collect()
    }

    const YEAR_S: u32 = 365 * 86_400;

    #[test]
    fn a_clock_that_jumps_years_mid_call_does_not_time_the_call_out() {
        let (plain, _) = replay_answered(|_, _| {});
        // Every message from the third on is dated a year later, as in captures whose
        // timestamps are broken.
        let (jumped, dropped) = replay_answered(|index, packet| {
            if index >= 2 {
                packet.ts_sec += YEAR_S;
            }
        });

        assert_eq!(events_of(&plain), events_of(&jumped));
        assert_eq!(
            events_of(&jumped).last().unwrap(),
            &("ended".to_owned(), Some("completed".to_owned()), false)
        );
        assert_eq!(dropped.clock_jumps, 1);
        assert_eq!(jumped[0]["at"], plain[0]["at"]);
    }

    #[test]
    fn one_message_dated_far_ahead_does_not_end_the_call() {
        let (plain, _) = replay_answered(|_, _| {});
        let (stray, dropped) = replay_answered(|index, packet| {
            if index == 3 {
                packet.ts_sec += YEAR_S;
            }
        });

        assert_eq!(events_of(&plain), events_of(&stray));
        // Forward to the stray message, then back from it.
        assert_eq!(dropped.clock_jumps, 2);
    }

    #[test]
    fn an_endless_input_is_refused_without_reading_it() {
        let err = read_capture(Path::new("/dev/zero")).unwrap_err();

        assert_eq!(
            err.to_string(),
            "not a capture: neither hepdump, pcap nor pcapng"
        );
    }

    #[test]
    fn captured_messages_keep_their_time() {
        let message =
            ReplayMessage::from_captured(1_714_555_800_250, Transport::Tcp, None, b"x".to_vec());

        assert_eq!(message.at_ms(), 1_714_555_800_250);
        assert_eq!(message.packet.transport, Transport::Tcp);
    }
}
