//! Counters of the running service, exposed in Prometheus text format at `/metrics`.
//!
//! Counters hold only counts, never ids or numbers, so the endpoint reveals nothing
//! personal.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::webhook::Format;

/// The service's counters; share it as `Arc<Metrics>`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// HEP datagrams received.
    pub hep_datagrams: AtomicU64,
    /// Times the UDP reader or decoder found its queue full and had to wait; meanwhile
    /// datagrams pile up in the kernel's buffer, which drops them once it is full.
    pub ingest_queue_full: AtomicU64,
    /// Datagrams dropped because they were not valid HEP.
    pub hep_malformed: AtomicU64,
    /// HEP datagrams whose payload was not SIP (RTCP, logs, ...), ignored.
    pub hep_not_sip: AtomicU64,
    /// HEP datagrams whose SIP payload did not parse, dropped.
    pub sip_malformed: AtomicU64,
    /// SIP messages that belong to no call the tracker follows and cannot start one (late
    /// ACKs, strays, over-long Call-IDs).
    pub sip_ignored: AtomicU64,
    /// Calls the tracker dropped, least recently active first, to make room for new ones.
    pub calls_evicted: AtomicU64,
    /// HEP capture times too far from the server's clock, replaced by the receive time.
    pub hep_clock_skewed: AtomicU64,
    /// Call events produced by the tracker.
    pub call_events: AtomicU64,
    /// Call events that could not be stored (database trouble).
    pub call_event_errors: AtomicU64,
    /// Pop frames queued to consoles.
    pub pops_sent: AtomicU64,
    /// Live pops forgotten because an agent had too many.
    pub pops_evicted: AtomicU64,
    /// Logins refused because too many were being checked at once.
    pub logins_busy: AtomicU64,
    /// Consoles open now.
    pub ws_consoles: AtomicU64,
    /// Consoles dropped because they could not keep up.
    pub ws_dropped_slow: AtomicU64,
    /// Failed logins.
    pub login_failures: AtomicU64,
    /// HEPv3 datagrams received over UDP.
    pub ingest_hepv3_udp: AtomicU64,
    /// HEPv2 datagrams received over UDP.
    pub ingest_hepv2_udp: AtomicU64,
    /// Plain SIP datagrams (no HEP framing) received over UDP.
    pub ingest_sip_udp: AtomicU64,
    /// HEPv3 frames received over TCP.
    pub ingest_hepv3_tcp: AtomicU64,
    /// UDP datagrams that are neither HEP nor SIP text, dropped.
    pub ingest_unknown: AtomicU64,
    /// Calls the tracker follows now (ringing or answered).
    pub calls_tracked: AtomicU64,
    /// HEP TCP connections open now.
    pub hep_tcp_connections: AtomicU64,
    /// HEP TCP connections closed at accept because the cap was reached.
    pub hep_tcp_refused: AtomicU64,
    /// HEP TCP connections closed because their byte stream was not HEPv3 framing.
    pub hep_tcp_bad_frames: AtomicU64,
    /// PBX webhook requests, by format and result.
    pub webhooks: WebhookCounters,
    /// PBX webhook events queued for the webhook task.
    pub webhook_events: AtomicU64,
    /// New webhook calls dropped because the webhook task remembered too many calls.
    pub webhook_calls_refused: AtomicU64,
}

/// How a webhook request ended, a label of `ringside_webhook_requests_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookResult {
    /// Taken and queued.
    Accepted,
    /// A new call from a blocked number, answered with a reject.
    Blocked,
    /// No such format in the path.
    BadFormat,
    /// The body was over the size limit.
    TooLarge,
    /// Unknown or revoked token, or one for another format.
    BadToken,
    /// Signature missing or wrong.
    BadSignature,
    /// Signature timestamp too old or in the future.
    Stale,
    /// The body did not read as the format (missing or unknown field).
    BadBody,
    /// The server failed (database, shutting down).
    Failed,
}

impl WebhookResult {
    /// Every result, in metrics order.
    pub const ALL: [WebhookResult; 9] = [
        WebhookResult::Accepted,
        WebhookResult::Blocked,
        WebhookResult::BadFormat,
        WebhookResult::TooLarge,
        WebhookResult::BadToken,
        WebhookResult::BadSignature,
        WebhookResult::Stale,
        WebhookResult::BadBody,
        WebhookResult::Failed,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookResult::Accepted => "accepted",
            WebhookResult::Blocked => "blocked",
            WebhookResult::BadFormat => "bad_format",
            WebhookResult::TooLarge => "too_large",
            WebhookResult::BadToken => "bad_token",
            WebhookResult::BadSignature => "bad_signature",
            WebhookResult::Stale => "stale",
            WebhookResult::BadBody => "bad_body",
            WebhookResult::Failed => "failed",
        }
    }
}

/// Webhook request counters, one per format (and `unknown`) and result.
#[derive(Debug, Default)]
pub struct WebhookCounters([[AtomicU64; 9]; 4]);

impl WebhookCounters {
    fn format_index(format: Option<Format>) -> usize {
        match format {
            Some(Format::Ringside) => 0,
            Some(Format::Zammad) => 1,
            Some(Format::Sipgate) => 2,
            None => 3,
        }
    }

    /// Counts one request.
    pub fn count(&self, format: Option<Format>, result: WebhookResult) {
        let row = &self.0[Self::format_index(format)];
        let at = WebhookResult::ALL
            .iter()
            .position(|r| *r == result)
            .unwrap_or(0);
        row[at].fetch_add(1, Ordering::Relaxed);
    }

    /// The count for one format and result.
    pub fn get(&self, format: Option<Format>, result: WebhookResult) -> u64 {
        let row = &self.0[Self::format_index(format)];
        let at = WebhookResult::ALL
            .iter()
            .position(|r| *r == result)
            .unwrap_or(0);
        row[at].load(Ordering::Relaxed)
    }
}

impl Metrics {
    /// Renders every counter in Prometheus text exposition format.
    pub fn render(&self) -> String {
        let rows: [(&str, &str, &AtomicU64, &str); 23] = [
            (
                "ringside_webhook_events_total",
                "counter",
                &self.webhook_events,
                "PBX webhook events queued",
            ),
            (
                "ringside_webhook_calls_refused_total",
                "counter",
                &self.webhook_calls_refused,
                "Webhook calls dropped, too many remembered",
            ),
            (
                "ringside_hep_datagrams_total",
                "counter",
                &self.hep_datagrams,
                "HEP datagrams received",
            ),
            (
                "ringside_ingest_queue_full_total",
                "counter",
                &self.ingest_queue_full,
                "Times the UDP reader or decoder waited on a full queue",
            ),
            (
                "ringside_hep_malformed_total",
                "counter",
                &self.hep_malformed,
                "Datagrams dropped as malformed HEP",
            ),
            (
                "ringside_hep_not_sip_total",
                "counter",
                &self.hep_not_sip,
                "HEP datagrams without a SIP payload",
            ),
            (
                "ringside_sip_malformed_total",
                "counter",
                &self.sip_malformed,
                "SIP payloads dropped as malformed",
            ),
            (
                "ringside_sip_ignored_total",
                "counter",
                &self.sip_ignored,
                "SIP messages of no followed call",
            ),
            (
                "ringside_calls_evicted_total",
                "counter",
                &self.calls_evicted,
                "Calls evicted to make room, tracker full",
            ),
            (
                "ringside_hep_clock_skewed_total",
                "counter",
                &self.hep_clock_skewed,
                "Capture times replaced by receive time",
            ),
            (
                "ringside_call_events_total",
                "counter",
                &self.call_events,
                "Call events from the tracker",
            ),
            (
                "ringside_call_event_errors_total",
                "counter",
                &self.call_event_errors,
                "Call events that could not be stored",
            ),
            (
                "ringside_pops_sent_total",
                "counter",
                &self.pops_sent,
                "Pop frames queued to consoles",
            ),
            (
                "ringside_pops_evicted_total",
                "counter",
                &self.pops_evicted,
                "Live pops forgotten, agent over the cap",
            ),
            (
                "ringside_logins_busy_total",
                "counter",
                &self.logins_busy,
                "Logins refused, too many at once",
            ),
            (
                "ringside_ws_consoles",
                "gauge",
                &self.ws_consoles,
                "Consoles connected now",
            ),
            (
                "ringside_ws_dropped_slow_total",
                "counter",
                &self.ws_dropped_slow,
                "Consoles dropped as too slow",
            ),
            (
                "ringside_login_failures_total",
                "counter",
                &self.login_failures,
                "Failed logins",
            ),
            (
                "ringside_ingest_unknown_total",
                "counter",
                &self.ingest_unknown,
                "Datagrams neither HEP nor SIP",
            ),
            (
                "ringside_calls_tracked",
                "gauge",
                &self.calls_tracked,
                "Calls the tracker follows now",
            ),
            (
                "ringside_hep_tcp_connections",
                "gauge",
                &self.hep_tcp_connections,
                "HEP TCP connections open now",
            ),
            (
                "ringside_hep_tcp_refused_total",
                "counter",
                &self.hep_tcp_refused,
                "HEP TCP connections refused, too many open",
            ),
            (
                "ringside_hep_tcp_bad_frames_total",
                "counter",
                &self.hep_tcp_bad_frames,
                "HEP TCP connections closed on a bad frame",
            ),
        ];
        let mut out = String::new();
        for (name, kind, value, help) in rows {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
        }

        let sources = [
            ("hepv3_udp", &self.ingest_hepv3_udp),
            ("hepv2_udp", &self.ingest_hepv2_udp),
            ("sip_udp", &self.ingest_sip_udp),
            ("hepv3_tcp", &self.ingest_hepv3_tcp),
        ];
        let name = "ringside_ingest_messages_total";
        let _ = writeln!(
            out,
            "# HELP {name} Messages received, by source\n# TYPE {name} counter"
        );
        for (source, value) in sources {
            let count = value.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}{{source=\"{source}\"}} {count}");
        }

        let name = "ringside_webhook_requests_total";
        let _ = writeln!(
            out,
            "# HELP {name} PBX webhook requests, by format and result\n# TYPE {name} counter"
        );
        let formats = Format::ALL.map(Some).into_iter().chain([None]);
        for format in formats {
            let label = format.map_or("unknown", Format::as_str);
            for result in WebhookResult::ALL {
                let count = self.webhooks.get(format, result);
                let result = result.as_str();
                let _ = writeln!(
                    out,
                    "{name}{{format=\"{label}\",result=\"{result}\"}} {count}"
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_every_counter_with_its_value() {
        let metrics = Metrics::default();
        metrics.hep_malformed.fetch_add(3, Ordering::Relaxed);
        metrics.ingest_queue_full.fetch_add(2, Ordering::Relaxed);

        let text = metrics.render();

        assert!(text.contains("ringside_hep_malformed_total 3\n"), "{text}");
        assert!(
            text.contains("ringside_ingest_queue_full_total 2\n"),
            "{text}"
        );
        assert!(
            text.contains("# TYPE ringside_ws_consoles gauge\n"),
            "{text}"
        );
        assert_eq!(
            text.lines().filter(|l| !l.starts_with('#')).count(),
            27 + 36
        );
        assert!(
            text.contains("ringside_ingest_messages_total{source=\"hepv2_udp\"} 0\n"),
            "{text}"
        );
    }
}
