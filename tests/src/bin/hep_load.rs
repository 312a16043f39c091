//! Load test: HEPv3 datagrams of synthetic calls to a running server, at a fixed rate, over
//! loopback UDP; then the server's own count of what it received, its CPU use and peak RSS.
//!
//! By default it starts `agent-server serve` itself (the binary beside this one, or
//! `--server PATH`) on a fresh SQLite database in a temporary folder and free loopback
//! ports, and stops it at the end. With `--hep`, `--http` and `--pid` it measures a server
//! that is already running instead. It asserts nothing; it prints what it measured.
//!
//! ```text
//! cargo build --release -p agent-server -p ringside-e2e --bin agent-server --bin hep-load
//! target/release/hep-load [--rate 20000] [--seconds 30]
//! target/release/hep-load --hep 127.0.0.1:9060 --http 127.0.0.1:8080 --pid 1234
//! ```
//!
//! The calls are those of [`ringside_sip::synth`], every shape in turn, each message on
//! both legs of the proxy; calls start evenly spaced so that the messages come at the
//! asked rate. Each datagram is stamped with the time it is sent, so the server never
//! sees a capture clock far from its own.
//!
//! Figures:
//! - sent: datagrams handed to the kernel without error;
//! - received: the rise of `ringside_hep_datagrams_total` on `/metrics` from before the
//!   first datagram to two seconds after the last; drops are sent minus received;
//! - server reader waits on a full queue: the rise of `ringside_ingest_queue_full_total`,
//!   the times the server's UDP reader found its message queue full and stopped reading;
//! - kernel UDP receive-buffer overflows: the rise of `RcvbufErrors` in `/proc/net/snmp`
//!   over the run, for the whole machine;
//! - server CPU: user plus system time of the server process over the run (from
//!   `/proc/<pid>/stat`), as a share of one core;
//! - server peak RSS: `VmHWM` from `/proc/<pid>/status` at the end.
//!
//! Limitation: CPU and peak RSS are read from `/proc`, so they are reported on Linux only.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use ringside_e2e::ports::{free_tcp_port, free_udp_ports, LOOPBACK};
use ringside_e2e::process::{cpu_time, Service, Stdout};
use ringside_sip::synth::{self, CallShape, ScriptedMessage};

/// Datagrams per second unless `--rate` says otherwise.
const DEFAULT_RATE: u64 = 20_000;
/// Highest `--rate` accepted.
const MAX_RATE: u64 = 200_000;
/// Seconds of sending unless `--seconds` says otherwise.
const DEFAULT_SECONDS: u64 = 30;
/// Highest `--seconds` accepted, so that a run stays bounded.
const MAX_SECONDS: u64 = 300;

/// Messages of an average synthetic call, both legs counted; sets the call spacing.
const MESSAGES_PER_CALL: u64 = 13;

/// How long the server gets after the last datagram before its counter is read.
const DRAIN: Duration = Duration::from_secs(2);

/// Bound on the server becoming ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Capture agent id written into the datagrams.
const CAPTURE_ID: u32 = 2001;

/// Counter of the times the server's UDP reader waited on its full message queue (absent
/// on older servers).
const QUEUE_FULL_METRIC: &str = "ringside_ingest_queue_full_total";

/// Counter of datagrams received on the server's metrics endpoint.
const RECEIVED_METRIC: &str = "ringside_hep_datagrams_total";

/// What the command line asked for.
struct Options {
    rate: u64,
    seconds: u64,
    server: Option<PathBuf>,
    attach: Option<Attach>,
}

/// A server that is already running.
struct Attach {
    hep: SocketAddr,
    http: SocketAddr,
    pid: u32,
}

fn main() -> anyhow::Result<()> {
    let mut options = parse_args(std::env::args().skip(1))?;

    // Keeps the started server (and its folder) alive until the figures are printed.
    let mut started = None;
    let target = match options.attach.take() {
        Some(attach) => attach,
        None => {
            let (service, dir, attach) = start_server(options.server.clone())?;
            started = Some((service, dir));
            attach
        }
    };

    let outcome = run(&options, &target);
    if let Some((mut service, _dir)) = started {
        service.stop();
    }
    let report = outcome?;

    let mut out = std::io::stdout().lock();
    writeln!(out, "{report}")?;
    Ok(())
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let mut options = Options {
        rate: DEFAULT_RATE,
        seconds: DEFAULT_SECONDS,
        server: None,
        attach: None,
    };
    let (mut hep, mut http, mut pid) = (None, None, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rate" => options.rate = value()?.parse().context("--rate is not a number")?,
            "--seconds" => {
                options.seconds = value()?.parse().context("--seconds is not a number")?;
            }
            "--server" => options.server = Some(PathBuf::from(value()?)),
            "--hep" => hep = Some(value()?.parse().context("--hep is not HOST:PORT")?),
            "--http" => http = Some(value()?.parse().context("--http is not HOST:PORT")?),
            "--pid" => pid = Some(value()?.parse().context("--pid is not a number")?),
            other => bail!(
                "unknown argument {other:?}; use --rate N --seconds N [--server PATH] \
                 [--hep ADDR --http ADDR --pid PID]"
            ),
        }
    }
    if !(1..=MAX_RATE).contains(&options.rate) {
        bail!("--rate must be between 1 and {MAX_RATE}");
    }
    if !(1..=MAX_SECONDS).contains(&options.seconds) {
        bail!("--seconds must be between 1 and {MAX_SECONDS}");
    }
    options.attach = match (hep, http, pid) {
        (Some(hep), Some(http), Some(pid)) => Some(Attach { hep, http, pid }),
        (None, None, None) => None,
        _ => bail!("--hep, --http and --pid go together"),
    };
    Ok(options)
}

/// Starts `agent-server serve` on a temporary SQLite database and free loopback ports,
/// and waits until it answers on `/healthz`.
fn start_server(binary: Option<PathBuf>) -> anyhow::Result<(Service, tempfile::TempDir, Attach)> {
    let binary = match binary {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .context("this program has no folder")?
            .join("agent-server"),
    };
    if !binary.exists() {
        bail!(
            "{} not found; build it (cargo build --release -p agent-server) or pass --server",
            binary.display()
        );
    }

    let dir = tempfile::Builder::new()
        .prefix("ringside-load-")
        .tempdir()?;
    let hep = SocketAddr::from((LOOPBACK, free_udp_ports(1)?[0]));
    let http = SocketAddr::from((LOOPBACK, free_tcp_port()?));
    let mut command = Command::new(&binary);
    command
        .arg("serve")
        .env(
            "RINGSIDE_DATABASE_URL",
            format!("sqlite://{}", dir.path().join("load.db").display()),
        )
        .env("RINGSIDE_HEP_ADDR", hep.to_string())
        .env("RINGSIDE_HTTP_ADDR", http.to_string())
        .env("RINGSIDE_UI_DIR", dir.path())
        .env("RINGSIDE_LOG", "warn")
        .env_remove("RINGSIDE_CONFIG")
        .env_remove("RINGSIDE_DATABASE_URL_FILE");
    let mut service = Service::spawn(
        "agent-server",
        command,
        &dir.path().join("server.log"),
        Stdout::Log,
    )?;

    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        service.ensure_running()?;
        if http_get(http, "/healthz").is_ok() {
            break;
        }
        if Instant::now() >= deadline {
            bail!("the server did not answer /healthz within {START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let pid = service.id();
    Ok((service, dir, Attach { hep, http, pid }))
}

/// What one run measured.
struct Report {
    rate: u64,
    seconds: u64,
    sent: u64,
    send_errors: u64,
    send_elapsed: Duration,
    received: u64,
    queue_full: Option<u64>,
    rcvbuf_errors: Option<u64>,
    cpu: Option<Duration>,
    wall: Duration,
    peak_rss_kib: Option<u64>,
    calls: u64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.send_elapsed.as_secs_f64();
        writeln!(
            f,
            "asked: {} datagrams/s for {} s ({} calls started)",
            self.rate, self.seconds, self.calls
        )?;
        writeln!(
            f,
            "sent: {} datagrams in {secs:.2} s ({:.0}/s achieved), {} send errors",
            self.sent,
            self.sent as f64 / secs.max(f64::EPSILON),
            self.send_errors
        )?;
        writeln!(
            f,
            "received by the server ({RECEIVED_METRIC}): {}",
            self.received
        )?;
        writeln!(
            f,
            "drops (sent - received): {}",
            i128::from(self.sent) - i128::from(self.received)
        )?;
        match self.queue_full {
            Some(count) => writeln!(f, "server reader waits on a full queue: {count}")?,
            None => writeln!(f, "server reader waits on a full queue: not reported")?,
        }
        match self.rcvbuf_errors {
            Some(count) => writeln!(
                f,
                "kernel UDP receive-buffer overflows (whole machine): {count}"
            )?,
            None => writeln!(f, "kernel UDP receive-buffer overflows: not readable")?,
        }
        match self.cpu {
            Some(cpu) => writeln!(
                f,
                "server CPU: {:.2} s over {:.2} s = {:.1} % of one core",
                cpu.as_secs_f64(),
                self.wall.as_secs_f64(),
                100.0 * cpu.as_secs_f64() / self.wall.as_secs_f64().max(f64::EPSILON)
            )?,
            None => writeln!(f, "server CPU: not readable")?,
        }
        match self.peak_rss_kib {
            Some(kib) => write!(
                f,
                "server peak RSS: {kib} KiB ({:.1} MiB)",
                kib as f64 / 1024.0
            ),
            None => write!(f, "server peak RSS: not readable"),
        }
    }
}

fn run(options: &Options, target: &Attach) -> anyhow::Result<Report> {
    let received_before = read_received(target.http)?;
    let queue_full_before = read_counter(target.http, QUEUE_FULL_METRIC).ok();
    let rcvbuf_before = udp_rcvbuf_errors();
    let cpu_before = cpu_time(target.pid);
    let wall_start = Instant::now();

    let socket = UdpSocket::bind((LOOPBACK, 0)).context("binding the sending socket")?;
    socket
        .connect(target.hep)
        .context("connecting to the HEP port")?;
    let mut calls = CallSource::new(options.rate);
    let total = options.rate * options.seconds;
    let (mut sent, mut send_errors) = (0u64, 0u64);

    let start = Instant::now();
    while sent + send_errors < total {
        let elapsed = start.elapsed();
        let due = (u128::from(options.rate) * elapsed.as_micros() / 1_000_000) as u64;
        let due = due.min(total);
        while sent + send_errors < due {
            let datagram = calls.next_datagram(now_ms());
            match socket.send(&datagram) {
                Ok(_) => sent += 1,
                Err(_) => send_errors += 1,
            }
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let send_elapsed = start.elapsed();

    std::thread::sleep(DRAIN);
    let received = read_received(target.http)?.saturating_sub(received_before);
    let queue_full = queue_full_before
        .zip(read_counter(target.http, QUEUE_FULL_METRIC).ok())
        .map(|(a, b)| b.saturating_sub(a));
    let wall = wall_start.elapsed();
    let cpu = cpu_before
        .zip(cpu_time(target.pid))
        .map(|(a, b)| b.saturating_sub(a));
    let rcvbuf_errors = rcvbuf_before
        .zip(udp_rcvbuf_errors())
        .map(|(a, b)| b.saturating_sub(a));

    Ok(Report {
        rate: options.rate,
        seconds: options.seconds,
        sent,
        send_errors,
        send_elapsed,
        received,
        queue_full,
        rcvbuf_errors,
        cpu,
        wall,
        peak_rss_kib: peak_rss_kib(target.pid),
        calls: calls.started,
    })
}

/// Endless synthetic calls, merged into one stream in the order of their message times.
///
/// Call `n` starts at `n * spacing` on a virtual clock; its messages keep their offsets
/// from [`synth::call_messages`]. Ring and talk times are kept short (1 to 3 s, 2 to 6 s)
/// so that the calls in flight, and this program's memory, stay small.
struct CallSource {
    spacing_us: u64,
    started: u64,
    next_slot: u64,
    /// (virtual time, slot) of every message not sent yet; the slot breaks ties in the
    /// order the call script gives.
    due: BinaryHeap<Reverse<(u64, u64)>>,
    messages: HashMap<u64, ScriptedMessage>,
}

impl CallSource {
    fn new(rate: u64) -> Self {
        Self {
            spacing_us: (MESSAGES_PER_CALL * 1_000_000 / rate).max(1),
            started: 0,
            next_slot: 0,
            due: BinaryHeap::new(),
            messages: HashMap::new(),
        }
    }

    /// The next message in virtual-time order, framed as HEP with capture time `ts_ms`.
    fn next_datagram(&mut self, ts_ms: i64) -> Vec<u8> {
        loop {
            let next_start = self.started * self.spacing_us;
            match self.due.peek() {
                Some(Reverse((at, _))) if *at <= next_start => {}
                _ => {
                    self.start_call(next_start);
                    continue;
                }
            }
            let Some(Reverse((_, slot))) = self.due.pop() else {
                continue;
            };
            if let Some(message) = self.messages.remove(&slot) {
                return synth::to_hep(&message, ts_ms, CAPTURE_ID);
            }
        }
    }

    fn start_call(&mut self, at_us: u64) {
        let index = self.started;
        self.started += 1;
        let shape = CallShape::ALL[(index % CallShape::ALL.len() as u64) as usize];
        let messages = synth::call_messages(
            shape,
            &format!("{index:012x}-load@bench.example"),
            &format!("+3120{:07}", index % 10_000_000),
            Some("Load Caller"),
            &format!("{}", 2001 + index % 10),
            1_000 + index * 37 % 2_000,
            2_000 + index * 101 % 4_000,
        );
        for message in messages {
            let slot = self.next_slot;
            self.next_slot += 1;
            self.due
                .push(Reverse((at_us + message.offset_ms * 1_000, slot)));
            self.messages.insert(slot, message);
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The server's count of HEP datagrams received.
fn read_received(http: SocketAddr) -> anyhow::Result<u64> {
    read_counter(http, RECEIVED_METRIC)
}

/// One counter from the server's `/metrics`.
fn read_counter(http: SocketAddr, metric: &str) -> anyhow::Result<u64> {
    let body = http_get(http, "/metrics")?;
    body.lines()
        .filter(|line| !line.starts_with('#'))
        .find_map(|line| {
            let (name, value) = line.split_once(' ')?;
            (name == metric).then(|| value.trim().parse::<f64>().ok())?
        })
        .map(|value| value as u64)
        .with_context(|| format!("{metric} is not on /metrics"))
}

/// A plain HTTP/1.0 GET; returns the body of a 200 answer.
fn http_get(addr: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .context("the HTTP answer has no end of head")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        bail!(
            "GET {path} answered {}",
            head.lines().next().unwrap_or_default()
        );
    }
    Ok(body.to_owned())
}

/// Peak resident set size of a process, in KiB (`VmHWM`).
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The machine's count of UDP datagrams dropped because a receive buffer was full.
fn udp_rcvbuf_errors() -> Option<u64> {
    let snmp = std::fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|line| line.starts_with("Udp:"));
    let names: Vec<&str> = udp.next()?.split_whitespace().collect();
    let values: Vec<&str> = udp.next()?.split_whitespace().collect();
    let column = names.iter().position(|name| *name == "RcvbufErrors")?;
    values.get(column)?.parse().ok()
}
