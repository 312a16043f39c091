//! The logs of webhook calls, at every level short of the raw SIP dump, hold neither the
//! callers' numbers, the agents' names and e-mail addresses nor the token; nor do the
//! logs of refused webhooks that carry them.
//!
//! This binary holds one test, so the global subscriber sees only its logs.

#![allow(clippy::unwrap_used)]

mod common;
mod hooks;

use serde_json::json;

#[tokio::test]
async fn webhook_calls_and_refusals_log_no_number_name_or_token() {
    let captured = common::capture_logs();

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

    let text = captured.text();
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
