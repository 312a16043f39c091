//! Ringside's server: it watches SIP, finds the caller in the CRM, pops the record at the
//! ringing agent's console and logs the call.
//!
//! # Layout
//! - [`config`]: command line, TOML file and `RINGSIDE_*` variables, validated once.
//! - [`ingest`]: the HEP UDP socket, the HEP TCP listener and the call tracker task (SIP
//!   decoding and call state live in the `ringside-sip` crate).
//! - [`replay`]: `agent-server replay`, captures through the tracker as JSON lines.
//! - [`webhook`]: PBX webhooks (Ringside, Zammad and sipgate formats) become the same
//!   call events as SIP; [`correlate`] keeps a call both report one call.
//! - [`calls`]: tracker and webhook events become interaction rows and pops.
//! - [`hub`]: which consoles are open, and the live pops each agent has.
//! - [`http`]: REST API, the console websocket and the console's files.
//! - [`store`]: every SQL statement, for SQLite and PostgreSQL.
//! - [`lookup`]: the caller-lookup rules (exact, national form, trailing digits).
//! - [`customers`]: checking customer input, and CSV import and export.
//! - [`phone`]: E.164 normalisation, [`auth`]: passwords and sessions, [`users`]: user
//!   administration, [`demo`]: sample data and calls, [`metrics`]: counters.
//!
//! [`start`] binds the sockets and spawns every task; each task stops when the shared
//! [`CancellationToken`] fires, and [`Running::wait`] waits for all of them.

pub mod auth;
pub mod calls;
pub mod config;
pub mod correlate;
pub mod customers;
pub mod demo;
pub mod http;
pub mod hub;
pub mod ingest;
pub mod lookup;
pub mod metrics;
pub mod phone;
pub mod replay;
pub mod store;
pub mod users;
pub mod webhook;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ringside_sip::tracker::{Tracker, TrackerConfig};
use secrecy::SecretString;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::store::Store;

/// Events waiting between the tracker and the call service.
const EVENT_QUEUE: usize = 4096;

/// How long the reports of an ended call are still recognised as that call's, so a late
/// one from the slower source is dropped instead of logged again.
const CORRELATION_LINGER_MS: i64 = 600_000;

/// A started server.
pub struct Running {
    /// Where the HTTP server listens (the port is known even when 0 was asked for).
    pub http_addr: SocketAddr,
    /// Where HEP datagrams are received.
    pub hep_addr: SocketAddr,
    /// Where HEPv3 TCP connections are accepted; `None` when the listener is off.
    pub hep_tcp_addr: Option<SocketAddr>,
    /// The kernel receive buffer granted to the HEP socket, in bytes.
    pub hep_recv_buffer_bytes: usize,
    /// The database.
    pub store: Store,
    /// Pop delivery.
    pub hub: Arc<Hub>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The password of the admin account created on this first start, to print once.
    pub first_admin_password: Option<SecretString>,
    /// Fires to stop every task.
    pub shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Running {
    /// Runs `task` as one of the server's tasks; it must stop when `shutdown` fires.
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(task);
    }

    /// Waits until every task has stopped (after `shutdown` fired), then closes the database.
    pub async fn wait(self) {
        self.tasks.close();
        self.tasks.wait().await;
        self.store.close().await;
    }
}

/// Opens the database, binds the HTTP and HEP sockets and spawns the service's tasks.
///
/// # Errors
/// When the database cannot be opened or migrated, or a socket cannot be bound.
pub async fn start(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<Running> {
    let settings = Arc::new(settings);
    let store = Store::connect(&settings.database_url)
        .await
        .context("opening the database")?;
    store.migrate().await.context("migrating the database")?;
    let interrupted = store.close_interrupted(ingest::now_ms()).await?;
    if interrupted > 0 {
        tracing::warn!(
            count = interrupted,
            "calls left open by the previous run closed as failed"
        );
    }
    let first_admin_password = users::ensure_first_admin(&store).await?;
    let region = settings.default_region;
    tokio::task::spawn_blocking(move || phone::warm_up(region)).await?;

    let metrics = Arc::new(Metrics::default());
    let wrapup_keep_ms = i64::try_from(settings.wrapup_keep_secs * 1000).unwrap_or(i64::MAX);
    let hub = Arc::new(Hub::new(metrics.clone(), wrapup_keep_ms));

    let (hep_socket, granted) = ingest::bind_udp(settings.hep_addr, settings.hep_recv_buffer_bytes)
        .with_context(|| format!("binding HEP UDP socket {}", settings.hep_addr))?;
    let hep_addr = hep_socket.local_addr()?;
    tracing::info!(
        hep.addr = %hep_addr,
        requested_bytes = settings.hep_recv_buffer_bytes,
        granted_bytes = granted,
        "HEP receive buffer"
    );
    let hep_tcp = match settings.hep_tcp_addr {
        Some(addr) => Some(
            ingest::tcp::bind_tcp(addr)
                .await
                .with_context(|| format!("binding HEP TCP address {addr}"))?,
        ),
        None => None,
    };
    let hep_tcp_addr = hep_tcp.as_ref().map(|l| l.local_addr()).transpose()?;
    let listener = tokio::net::TcpListener::bind(settings.http_addr)
        .await
        .with_context(|| format!("binding HTTP address {}", settings.http_addr))?;
    let http_addr = listener.local_addr()?;

    let tasks = TaskTracker::new();
    let tracker = Tracker::new(TrackerConfig {
        ringing_timeout_ms: i64::try_from(settings.ringing_timeout_secs * 1000)?,
        max_call_ms: i64::try_from(settings.max_call_hours * 3_600_000)?,
        max_calls: settings.tracker_max_calls,
        ..TrackerConfig::default()
    });
    let (events_tx, events_rx) = tokio::sync::mpsc::channel(EVENT_QUEUE);
    let (messages_tx, messages_rx) = tokio::sync::mpsc::channel(ingest::MESSAGE_QUEUE);
    tasks.spawn(ingest::run_udp(
        hep_socket,
        messages_tx.clone(),
        metrics.clone(),
        shutdown.clone(),
    ));
    if let Some(listener) = hep_tcp {
        let limits = ingest::tcp::TcpLimits {
            max_connections: settings.hep_tcp_max_connections,
            max_frame_bytes: settings.hep_tcp_max_frame_bytes,
            read_timeout: Duration::from_secs(settings.hep_tcp_read_timeout_secs),
        };
        tasks.spawn(ingest::tcp::run_tcp(
            listener,
            limits,
            messages_tx.clone(),
            metrics.clone(),
            shutdown.clone(),
        ));
    }
    drop(messages_tx);
    tasks.spawn(ingest::run_tracker(
        tracker,
        messages_rx,
        events_tx,
        metrics.clone(),
        shutdown.clone(),
    ));
    let service = calls::CallService::new(
        store.clone(),
        hub.clone(),
        metrics.clone(),
        settings.default_region,
    )
    .with_lookup(settings.lookup_rules());
    let (webhooks_tx, webhooks_rx) = tokio::sync::mpsc::channel(webhook::WEBHOOK_QUEUE);
    let (webhook_events_tx, webhook_events_rx) = tokio::sync::mpsc::channel(EVENT_QUEUE);
    let pbx_calls = webhook::PbxCalls::new(webhook::PbxCallsConfig {
        ringing_timeout_ms: i64::try_from(settings.ringing_timeout_secs * 1000)?,
        max_call_ms: i64::try_from(settings.max_call_hours * 3_600_000)?,
        max_calls: settings.tracker_max_calls,
        ..webhook::PbxCallsConfig::default()
    });
    tasks.spawn(webhook::run(
        pbx_calls,
        webhooks_rx,
        webhook_events_tx,
        metrics.clone(),
        shutdown.clone(),
    ));
    let correlator = correlate::Correlator::new(
        settings.default_region,
        i64::try_from(settings.webhook_correlation_secs * 1000)?,
        CORRELATION_LINGER_MS,
    );
    tasks.spawn(calls::run(
        service,
        events_rx,
        webhook_events_rx,
        correlator,
        shutdown.clone(),
    ));
    tasks.spawn(housekeeping(
        store.clone(),
        hub.clone(),
        settings.trash_keep_ms(),
        shutdown.clone(),
    ));

    let state = http::AppState {
        store: store.clone(),
        hub: hub.clone(),
        metrics: metrics.clone(),
        settings: settings.clone(),
        shutdown: shutdown.clone(),
        login_slots: Arc::new(tokio::sync::Semaphore::new(http::api::LOGIN_SLOTS)),
        webhooks: webhooks_tx,
    };
    if !settings.ui_dir.join("index.html").exists() {
        tracing::warn!(
            ui.dir = %settings.ui_dir.display(),
            "agent console not built: run scripts/build-ui"
        );
    }
    let app = http::router(state);
    // Limitation: the HTTP server caps neither open connections nor the time a client may
    // take to send its headers, so a stranger who can reach the port can hold many idle
    // connections until the process runs out of file descriptors. Keep the HTTP port on
    // loopback or behind a reverse proxy that enforces both; serving through hyper-util
    // with a header-read timeout and an accept-side semaphore would lift it.
    let http_shutdown = shutdown.clone();
    tasks.spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move { http_shutdown.cancelled().await })
            .await;
        if let Err(err) = served {
            tracing::error!(error = %err, "HTTP server failed");
        }
    });
    match hep_tcp_addr {
        Some(tcp_addr) => tracing::info!(
            http.addr = %http_addr, hep.addr = %hep_addr, hep.tcp_addr = %tcp_addr,
            "Ringside started"
        ),
        None => tracing::info!(http.addr = %http_addr, hep.addr = %hep_addr, "Ringside started"),
    }

    Ok(Running {
        http_addr,
        hep_addr,
        hep_tcp_addr,
        hep_recv_buffer_bytes: granted,
        store,
        hub,
        metrics,
        first_admin_password,
        shutdown,
        tasks,
    })
}

/// Every few seconds: forget pops whose wrap-up time is over, delete expired sessions;
/// every hour, empty the trash of records deleted longer than `trash_keep_ms` ago.
async fn housekeeping(
    store: Store,
    hub: Arc<Hub>,
    trash_keep_ms: i64,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last_purge_ms = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.cancelled() => break,
        }
        let now = ingest::now_ms();
        hub.sweep(now);
        if let Err(err) = store.purge_expired_sessions(now).await {
            tracing::warn!(error = %err, "could not purge expired sessions");
        }
        if now - last_purge_ms >= 3_600_000 {
            last_purge_ms = now;
            match store.purge_trash(now - trash_keep_ms).await {
                Ok((0, 0)) => {}
                Ok((customers, organisations)) => {
                    tracing::info!(customers, organisations, "trash emptied of old records");
                }
                Err(err) => tracing::warn!(error = %err, "could not empty the trash"),
            }
        }
    }
}
