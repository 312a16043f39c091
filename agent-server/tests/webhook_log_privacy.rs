//! The logs of webhook calls, at every level short of the raw SIP dump, hold neither the
//! callers' numbers, the agents' names and e-mail addresses nor the token; nor do the
//! logs of refused webhooks that carry them.
//!
//! This binary holds one test, so the global subscriber sees only its logs.

#![allow(clippy::unwrap_used)]

mod common;
mod hooks;

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::json;

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
async fn webhook_calls_and_refusals_log_no_number_name_or_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter("trace,ringside::raw=off,sqlx=info,hyper=info,tungstenite=info")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();

    let server = common::start().await;
    hooks::agent(
        &server,
        "femke",
        "Femke de Boer",
        "3001",
        Some("femke@example.com"),
    )
    .await;
    let token = hooks::token(&server, "zammad", None).await;
    let call = |event: &str| {
        json!({"event": event, "from": "31201234567", "to": "31207654321",
            "direction": "in", "callId": "private-call", "user": ["Femke de Boer"],
            "answeringNumber": "femke@example.com", "cause": "normalClearing"})
    };
    for event in ["newCall", "answer", "hangup"] {
        hooks::json(&server, "zammad", &token, call(event)).await;
    }
    hooks::ended(&server, &hooks::call_of(&server, "private-call").await).await;
    let bad = [
        (
            "zammad",
            token.clone(),
            "event=newCall&from=31201234567&to=31207654321".to_owned(),
        ),
        (
            "zammad",
            "31201234567".to_owned(),
            "event=hangup&callId=x&cause=busy".to_owned(),
        ),
        (
            "sipgate",
            token.clone(),
            "event=newCall&from=31201234567".to_owned(),
        ),
    ];
    for (format, token, body) in bad {
        let response = hooks::post(
            &server,
            format,
            &token,
            "application/x-www-form-urlencoded",
            body,
        )
        .await;
        assert!(response.status().is_client_error());
    }
    server.stop().await;

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("call ringing"), "the capture works: {text}");
    assert!(text.contains("call ended"), "{text}");
    assert!(text.contains("webhook refused"), "{text}");
    for secret in [
        "1234567",
        "7654321",
        "Femke",
        "de Boer",
        "femke@",
        "private-call",
        token.as_str(),
    ] {
        assert!(
            !text.contains(secret),
            "{secret:?} leaked into the logs:\n{text}"
        );
    }
}
