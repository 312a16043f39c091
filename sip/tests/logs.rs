//! A full lab call through the public API, with every log line captured: apart from the
//! raw-dump target, no log line may carry the caller's number, name or addresses.

use std::fmt::{self, Write as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ringside_sip::{decode_datagram, hep, CallEventKind, Tracker};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const RAW_TARGET: &str = "ringside::raw";

/// Records every event and span field as text, split by whether it went to the raw target.
#[derive(Default, Clone)]
struct Capture {
    lines: Arc<Mutex<Vec<(String, String)>>>,
    next_span: Arc<AtomicU64>,
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

impl Capture {
    fn push(&self, target: &str, text: String) {
        self.lines
            .lock()
            .expect("no test thread panicked while logging")
            .push((target.to_owned(), text));
    }

    fn lines(&self) -> Vec<(String, String)> {
        self.lines
            .lock()
            .expect("no test thread panicked while logging")
            .clone()
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = Text(String::new());
        span.record(&mut text);
        self.push(span.metadata().target(), text.0);
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut text = Text(String::new());
        values.record(&mut text);
        self.push("span", text.0);
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut text = Text(String::new());
        event.record(&mut text);
        self.push(event.metadata().target(), text.0);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

#[test]
fn a_full_call_logs_no_personal_data() {
    let capture = Capture::default();
    let dump = include_bytes!("fixtures/answered.hep");

    let kinds = tracing::subscriber::with_default(capture.clone(), || {
        let mut tracker = Tracker::default();
        let mut kinds = Vec::new();
        for datagram in hep::dump_records(dump) {
            let (packet, message) = decode_datagram(datagram.unwrap()).unwrap();
            let events = tracker.observe(&message, packet.timestamp_ms());
            kinds.extend(events.into_iter().map(|e| e.kind));
        }
        kinds
    });

    assert!(matches!(kinds.last(), Some(CallEventKind::Ended { .. })));
    let lines = capture.lines();
    let (raw, rest): (Vec<_>, Vec<_>) = lines.iter().partition(|(target, _)| target == RAW_TARGET);
    assert_eq!(raw.len(), 14, "one raw dump per message");
    assert!(raw.iter().any(|(_, text)| text.contains("31201234567")));
    assert!(rest.len() >= 3, "ringing, answered and ended are logged");

    for (target, text) in rest {
        for secret in [
            "31201234567",
            "Jan Jansen",
            "Jansen",
            "trunk.example",
            "127.0.0.1",
        ] {
            assert!(!text.contains(secret), "{secret} in {target}: {text}");
        }
    }
}
