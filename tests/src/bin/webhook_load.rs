//! Load test of the PBX webhook endpoint: Ringside-format webhooks posted over loopback at
//! a fixed rate, with an agent's console connected; prints the requests per second the
//! server took, its CPU use, and the time from sending a `new_call` to its pop arriving
//! on the console's websocket.
//!
//! It starts `agent-server` itself (the binary beside this one, or `--server PATH`) on a
//! fresh SQLite database in a temporary folder and a free loopback port: `user add`
//! creates the agent (extension 2001), `pbx add` a token, then `serve` runs, pinned to
//! one CPU with `taskset` when `--pin CPU` is given. It asserts nothing; it prints what
//! it measured.
//!
//! ```text
//! cargo build --release -p agent-server -p ringside-e2e --bin agent-server --bin webhook-load
//! target/release/webhook-load [--rate 1000] [--seconds 20] [--concurrency 32] [--pin 1]
//! ```
//!
//! Each call is two requests, `new_call` to extension 2001 then `ended` (`abandoned`),
//! sent one after the other by one of `--concurrency` client tasks; calls start evenly
//! spaced so that requests come at the asked rate, whatever the answers' delay
//! (requests due while every task waits go out late, and the achieved rate shows it).
//!
//! Figures:
//! - requests: sent, answered 2xx, refused or failed, and the achieved rate of 2xx;
//! - server CPU: user plus system time of the server process over the sending time, as
//!   a share of one core, and the 2xx answers per second of server CPU (what one core
//!   sustains at this load);
//! - request to pop: from just before the `new_call` request is sent to the `pop`
//!   (ringing) frame for that call read from the websocket; median, p90, p99 and worst.
//!
//! Limitation: CPU time is read from `/proc`, so it is reported on Linux only.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use futures_util::StreamExt;
use ringside_e2e::ports::{free_tcp_port, free_udp_ports, LOOPBACK};
use ringside_e2e::process::{cpu_time, Service, Stdout};
use ringside_protocol::{CallState, ServerMessage};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

/// Requests per second unless `--rate` says otherwise.
const DEFAULT_RATE: u64 = 1_000;
/// Highest `--rate` accepted.
const MAX_RATE: u64 = 50_000;
/// Seconds of sending unless `--seconds` says otherwise.
const DEFAULT_SECONDS: u64 = 20;
/// Highest `--seconds` accepted, so that a run stays bounded.
const MAX_SECONDS: u64 = 120;
/// Client tasks unless `--concurrency` says otherwise.
const DEFAULT_CONCURRENCY: usize = 32;
/// How long pops may still arrive after the last request.
const DRAIN: Duration = Duration::from_secs(2);
/// Bound on the server becoming ready.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The agent's password (the server is on loopback and lives for one run).
const PASSWORD: &str = "load-test-password";

struct Options {
    rate: u64,
    seconds: u64,
    concurrency: usize,
    server: Option<PathBuf>,
    pin: Option<u32>,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> anyhow::Result<Options> {
    let mut options = Options {
        rate: DEFAULT_RATE,
        seconds: DEFAULT_SECONDS,
        concurrency: DEFAULT_CONCURRENCY,
        server: None,
        pin: None,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rate" => options.rate = value()?.parse().context("--rate is not a number")?,
            "--seconds" => {
                options.seconds = value()?.parse().context("--seconds is not a number")?;
            }
            "--concurrency" => {
                options.concurrency = value()?.parse().context("--concurrency is not a number")?;
            }
            "--server" => options.server = Some(PathBuf::from(value()?)),
            "--pin" => options.pin = Some(value()?.parse().context("--pin is not a CPU")?),
            other => bail!(
                "unknown argument {other:?}; use --rate N --seconds N --concurrency N \
                 [--server PATH] [--pin CPU]"
            ),
        }
    }
    if !(2..=MAX_RATE).contains(&options.rate) {
        bail!("--rate must be between 2 and {MAX_RATE}");
    }
    if !(1..=MAX_SECONDS).contains(&options.seconds) {
        bail!("--seconds must be between 1 and {MAX_SECONDS}");
    }
    if !(1..=1024).contains(&options.concurrency) {
        bail!("--concurrency must be between 1 and 1024");
    }
    Ok(options)
}

/// Runs one `agent-server` command to completion and returns its standard output.
fn admin_command(binary: &Path, database: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new(binary)
        .args(args)
        .env("RINGSIDE_DATABASE_URL", database)
        .env("RINGSIDE_LOG", "warn")
        .env_remove("RINGSIDE_CONFIG")
        .env_remove("RINGSIDE_DATABASE_URL_FILE")
        .output()
        .with_context(|| format!("running {}", binary.display()))?;
    if !output.status.success() {
        bail!(
            "agent-server {} failed: {}",
            args.first().unwrap_or(&""),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

struct Started {
    service: Service,
    _dir: tempfile::TempDir,
    http: std::net::SocketAddr,
    token: String,
}

fn start_server(options: &Options) -> anyhow::Result<Started> {
    let binary = match &options.server {
        Some(path) => path.clone(),
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
        .prefix("ringside-webhook-load-")
        .tempdir()?;
    let database = format!("sqlite://{}", dir.path().join("load.db").display());
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, PASSWORD)?;
    let password_path = password_file.display().to_string();
    admin_command(
        &binary,
        &database,
        &[
            "user",
            "add",
            "--username",
            "load",
            "--extension",
            "2001",
            "--password-file",
            &password_path,
        ],
    )?;
    let added = admin_command(
        &binary,
        &database,
        &["pbx", "add", "--name", "load", "--format", "ringside"],
    )?;
    let token = added
        .split("/api/v1/pbx/ringside/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .context("pbx add printed no token")?
        .to_owned();

    let hep = std::net::SocketAddr::from((LOOPBACK, free_udp_ports(1)?[0]));
    let http = std::net::SocketAddr::from((LOOPBACK, free_tcp_port()?));
    let mut command = match options.pin {
        Some(cpu) => {
            let mut taskset = Command::new("taskset");
            taskset.arg("-c").arg(cpu.to_string()).arg(&binary);
            taskset
        }
        None => Command::new(&binary),
    };
    command
        .arg("serve")
        .env("RINGSIDE_DATABASE_URL", &database)
        .env("RINGSIDE_HEP_ADDR", hep.to_string())
        .env("RINGSIDE_HEP_TCP_LISTEN", "")
        .env("RINGSIDE_HTTP_ADDR", http.to_string())
        .env("RINGSIDE_UI_DIR", dir.path())
        .env("RINGSIDE_LOG", "warn")
        .env_remove("RINGSIDE_CONFIG")
        .env_remove("RINGSIDE_DATABASE_URL_FILE");
    let service = Service::spawn(
        "agent-server",
        command,
        &dir.path().join("server.log"),
        Stdout::Log,
    )?;
    Ok(Started {
        service,
        _dir: dir,
        http,
        token,
    })
}

fn percentile(sorted: &[Duration], share: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let at = ((sorted.len() as f64 - 1.0) * share).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = parse_args(std::env::args().skip(1))?;
    let mut started = start_server(&options)?;
    let outcome = run(&options, &mut started).await;
    started.service.stop();
    let report = outcome?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{report}")?;
    Ok(())
}

async fn run(options: &Options, started: &mut Started) -> anyhow::Result<String> {
    let base = format!("http://{}", started.http);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(options.concurrency)
        .build()?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        started.service.ensure_running()?;
        let ready = client.get(format!("{base}/healthz")).send().await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        if Instant::now() >= deadline {
            bail!("the server did not answer /healthz within {START_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let login = client
        .post(format!("{base}/api/v1/login"))
        .json(&serde_json::json!({"username": "load", "password": PASSWORD}))
        .send()
        .await?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .context("login set no cookie")?
        .to_owned();
    let mut request =
        format!("ws://{}{}", started.http, ringside_protocol::WS_PATH).into_client_request()?;
    request.headers_mut().insert("cookie", cookie.parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await?;

    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let reader = {
        let sent_at = sent_at.clone();
        let latencies = latencies.clone();
        tokio::spawn(async move {
            while let Some(Ok(frame)) = socket.next().await {
                let Message::Text(text) = frame else { continue };
                let Ok(ServerMessage::Pop { pop }) = serde_json::from_str(text.as_str()) else {
                    continue;
                };
                if pop.state != CallState::Ringing {
                    continue;
                }
                let Some(call) = pop.call_id.0.rsplit(':').next() else {
                    continue;
                };
                let sent = sent_at.lock().expect("not poisoned").remove(call);
                if let Some(sent) = sent {
                    latencies.lock().expect("not poisoned").push(sent.elapsed());
                }
            }
        })
    };

    let calls = options.rate * options.seconds / 2;
    let spacing = Duration::from_secs_f64(2.0 / options.rate as f64);
    let next = Arc::new(AtomicU64::new(0));
    let (ok, refused) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let url = format!("{base}/api/v1/pbx/ringside/{}", started.token);
    let cpu_before = cpu_time(started.service.id());
    let start = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        let (client, url, next) = (client.clone(), url.clone(), next.clone());
        let (ok, refused, sent_at) = (ok.clone(), refused.clone(), sent_at.clone());
        workers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= calls {
                    break;
                }
                let due = start + spacing.mul_f64(index as f64);
                tokio::time::sleep_until(due.into()).await;
                let call = format!("load-{index}");
                let new_call = serde_json::json!({
                    "version": 1, "event": "new_call", "call_id": call,
                    "from": "+31201234567", "to": "2001", "direction": "inbound",
                });
                let ended = serde_json::json!({
                    "version": 1, "event": "ended", "call_id": call, "cause": "abandoned",
                });
                sent_at
                    .lock()
                    .expect("not poisoned")
                    .insert(call.clone(), Instant::now());
                for body in [new_call, ended] {
                    let answer = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body.to_string())
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status().is_success() => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            refused.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let sending = start.elapsed();
    let cpu = cpu_before
        .zip(cpu_time(started.service.id()))
        .map(|(a, b)| b.saturating_sub(a));
    tokio::time::sleep(DRAIN).await;
    reader.abort();

    let ok = ok.load(Ordering::Relaxed);
    let refused = refused.load(Ordering::Relaxed);
    let mut latencies = latencies.lock().expect("not poisoned").clone();
    latencies.sort();
    let secs = sending.as_secs_f64().max(f64::EPSILON);
    let mut report = format!(
        "asked: {} requests/s for {} s ({calls} calls, 2 requests each, {} client tasks{})\n",
        options.rate,
        options.seconds,
        options.concurrency,
        options
            .pin
            .map_or(String::new(), |cpu| format!(", server pinned to CPU {cpu}"))
    );
    report.push_str(&format!(
        "requests: {} sent, {ok} answered 2xx, {refused} refused or failed, in {secs:.2} s \
         ({:.0} 2xx/s achieved)\n",
        ok + refused,
        ok as f64 / secs
    ));
    match cpu {
        Some(cpu) => report.push_str(&format!(
            "server CPU: {:.2} s over {secs:.2} s = {:.1} % of one core; {:.0} requests per \
             second of server CPU\n",
            cpu.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / secs,
            ok as f64 / cpu.as_secs_f64().max(f64::EPSILON)
        )),
        None => report.push_str("server CPU: not readable\n"),
    }
    report.push_str(&format!(
        "request to pop: {} pops of {calls} calls; median {:.2} ms, p90 {:.2} ms, \
         p99 {:.2} ms, worst {:.2} ms",
        latencies.len(),
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.9)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
    ));
    Ok(report)
}
