//! The logs of a full call, at every level an operator can switch on short of the raw SIP
//! dump target, hold neither the caller's number nor their name nor the agent's notes;
//! nor do the logs of the bad input that carries them (a login named after the caller,
//! unreadable and over-long SIP, a bad disposition, a junk console message).
//!
//! This binary holds one test, so the global subscriber sees only its logs.

#![allow(clippy::unwrap_used)]

mod common;

use futures_util::SinkExt;
use ringside_sip::synth::{self, CallShape};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn a_full_call_logs_no_number_name_or_note() {
    let captured = common::capture_logs();

    let server = common::start().await;
    let (client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    reqwest::Client::new()
        .post(format!("{}/api/v1/login", server.base))
        .json(&serde_json::json!({"username": "Jan Jansen 0201234567", "password": "x"}))
        .send()
        .await
        .unwrap();
    let mut broken = synth::call_messages(
        CallShape::Busy,
        "broken@pbx",
        "+31201234567",
        Some("Jan Jansen"),
        "2001",
        1,
        1,
    );
    broken.truncate(1);
    broken[0].text = broken[0].text.replace("CSeq: 1 INVITE", "CSeq: one INVITE");
    common::send_script(server.running.hep_addr, &broken, common::t0()).await;
    let long_caller = format!("+3120{}", "1234567".repeat(100));
    server
        .play(
            CallShape::Busy,
            "long@pbx",
            &long_caller,
            "9999",
            common::t0(),
        )
        .await;
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
    let url = format!(
        "{}/api/v1/interactions/{}/wrap-up",
        server.base, pop.interaction_id
    );
    client
        .put(&url)
        .json(&serde_json::json!({"notes": "Sensitive remark about health", "disposition": null}))
        .send()
        .await
        .unwrap();
    client
        .put(&url)
        .json(&serde_json::json!({"notes": "x", "disposition": "Jan Jansen +31201234567"}))
        .send()
        .await
        .unwrap();
    let junk = serde_json::json!({"type": "dismiss", "call_id": 31_201_234_567_i64});
    console
        .socket
        .send(Message::Text(junk.to_string().into()))
        .await
        .unwrap();
    console.next_pop().await;
    console.next_pop().await;
    console.next_pop().await;
    server.stop().await;

    let text = captured.text();
    assert!(text.contains("call ringing"), "the capture works: {text}");
    assert!(text.contains("call ended"), "{text}");
    assert!(text.contains("login refused"), "{text}");
    assert!(text.contains("malformed SIP dropped"), "{text}");
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
