//! The logs of a full call, at every level an operator can switch on short of the raw SIP
//! dump target, hold neither the caller's number nor their name nor the agent's notes.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use ringside_sip::synth::CallShape;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_full_call_logs_no_number_name_or_note() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace,ringside::raw=off,sqlx=info,hyper=info,tungstenite=info")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let server = common::start().await;
    let (client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    server
        .play(
            CallShape::Answered,
            "private@pbx",
            "0201234567",
            "2001",
            common::t0(),
        )
        .await;
    let pop = console.next_pop().await;
    client
        .put(format!(
            "{}/api/v1/interactions/{}/wrap-up",
            server.base, pop.interaction_id
        ))
        .json(&serde_json::json!({"notes": "Sensitive remark about health", "disposition": null}))
        .send()
        .await
        .unwrap();
    console.next_pop().await;
    console.next_pop().await;
    server.stop().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("call ringing"), "the capture works: {text}");
    assert!(text.contains("call ended"), "{text}");
    for secret in [
        "1234567",
        "201234",
        "Jan Jansen",
        "Jansen",
        "Sensitive remark",
        "correct-horse",
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into the logs:\n{text}"
        );
    }
}
