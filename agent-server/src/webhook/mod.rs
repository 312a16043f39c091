//! PBX webhooks: call events that a PBX posts over HTTP instead of mirroring SIP.
//!
//! `POST /api/v1/pbx/{format}/{token}` (handled in [`crate::http`]) checks the token and
//! the optional signature ([`signature`]), reads the body in one of the [`formats`],
//! resolves the agents it names, and hands a [`ResolvedEvent`] to [`run`], the one task
//! owning [`PbxCalls`]. That task turns webhooks into the SIP tracker's call events
//! (rules in [`state`]) and passes them to the call service, which pops and logs them
//! exactly as it does SIP calls. [`admin`] creates, lists and revokes tokens and keeps
//! the block list, for the CLI and the REST API alike.
//!
//! Each PBX gets a token of its own, bound to one format; the database keeps only its
//! SHA-256. The answer to a webhook never waits for the database work of the call: the
//! event is queued and the PBX is answered at once.

pub mod admin;
pub mod formats;
pub mod signature;
pub mod state;

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use formats::{FormatError, PbxEvent, PbxEventKind};
pub use state::{PbxCalls, PbxCallsConfig, ResolvedEvent};

use crate::calls::WebhookCallEvent;
use crate::ingest::now_ms;
use crate::metrics::Metrics;

/// Webhooks waiting for the webhook task; when full, a request waits for room.
pub const WEBHOOK_QUEUE: usize = 4096;

/// Largest webhook body taken, in bytes; a bigger one is answered 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The body formats, one per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Ringside's own JSON, version 1.
    Ringside,
    /// Zammad's generic CTI API.
    Zammad,
    /// sipgate.io push events.
    Sipgate,
}

impl Format {
    /// Every format, in metrics order.
    pub const ALL: [Format; 3] = [Format::Ringside, Format::Zammad, Format::Sipgate];

    /// The word in the URL and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Ringside => "ringside",
            Format::Zammad => "zammad",
            Format::Sipgate => "sipgate",
        }
    }

    /// Parses the word of [`Format::as_str`].
    pub fn from_word(word: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.as_str() == word)
    }
}

/// Owns [`PbxCalls`]: applies each webhook in arrival order, ends calls whose end never
/// came once a second, and sends the resulting call events to the call service, until
/// `webhooks` closes or `shutdown` fires.
pub async fn run(
    mut calls: PbxCalls,
    mut webhooks: mpsc::Receiver<ResolvedEvent>,
    events: mpsc::Sender<WebhookCallEvent>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        let out = tokio::select! {
            resolved = webhooks.recv() => match resolved {
                Some(resolved) => calls.apply(resolved),
                None => break,
            },
            _ = tick.tick() => calls.expire(now_ms()),
            () = shutdown.cancelled() => break,
        };
        metrics
            .webhook_calls_refused
            .store(calls.refused(), Ordering::Relaxed);
        for event in out {
            let sent = tokio::select! {
                sent = events.send(event) => sent.is_ok(),
                () = shutdown.cancelled() => false,
            };
            if !sent {
                return;
            }
        }
    }
    tracing::debug!(remembered = calls.len(), "webhook task stopped");
}
