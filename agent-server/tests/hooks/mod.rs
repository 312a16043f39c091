//! Helpers of the webhook tests: tokens, posting bodies, waiting for logged calls, and
//! playing a folder of recorded requests (one file per request, in name order).

#![allow(dead_code, missing_docs, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use agent_server::store::InteractionRecord;
use ringside_protocol::CallId;
use secrecy::{ExposeSecret, SecretString};

use crate::common::{eventually, TestServer};

/// A token for `format`, signed with `secret` when given.
pub async fn token(server: &TestServer, format: &str, secret: Option<&str>) -> String {
    let created = agent_server::webhook::admin::create_token(
        &server.running.store,
        "test PBX",
        format,
        secret.map(SecretString::from),
    )
    .await
    .unwrap();
    created.token.expose_secret().to_owned()
}

/// The id the call service knows a webhook call by: `pbx-{token id}:{call id}`.
pub async fn call_of(server: &TestServer, call: &str) -> CallId {
    let tokens = server.running.store.pbx_tokens().await.unwrap();
    CallId(format!("pbx-{}:{call}", tokens.last().unwrap().id))
}

/// Posts `body` to the webhook URL with `content_type`.
pub async fn post(
    server: &TestServer,
    format: &str,
    token: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/api/v1/pbx/{format}/{token}", server.base))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Posts a form-encoded body and expects 200; returns the answer's text.
pub async fn form(server: &TestServer, format: &str, token: &str, body: &str) -> String {
    let response = post(
        server,
        format,
        token,
        "application/x-www-form-urlencoded",
        body.to_owned(),
    )
    .await;
    assert_eq!(response.status(), 200, "{body}");
    response.text().await.unwrap()
}

/// Posts a JSON body and expects 200; returns the answer's text.
pub async fn json(
    server: &TestServer,
    format: &str,
    token: &str,
    body: serde_json::Value,
) -> String {
    let response = post(server, format, token, "application/json", body.to_string()).await;
    assert_eq!(response.status(), 200, "{body}");
    response.text().await.unwrap()
}

/// The interaction of `call` once it has ended; fails the test after 5 s.
pub async fn ended(server: &TestServer, call: &CallId) -> InteractionRecord {
    let store = &server.running.store;
    eventually(|| async {
        store
            .interaction_by_call(call)
            .await
            .unwrap()
            .is_some_and(|row| row.ended_at_ms.is_some())
    })
    .await;
    store.interaction_by_call(call).await.unwrap().unwrap()
}

/// The request files of one scenario folder, in order.
pub fn requests(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

/// Posts every request of `folder` in order, each with the content type its extension
/// gives (`.json` JSON, else form-encoded), expecting 200 for each.
pub async fn play_folder(server: &TestServer, format: &str, token: &str, folder: &Path) {
    for file in requests(folder) {
        let body = std::fs::read(&file).unwrap();
        let content_type = if file.extension().is_some_and(|e| e == "json") {
            "application/json"
        } else {
            "application/x-www-form-urlencoded"
        };
        let response = post(server, format, token, content_type, body).await;
        assert_eq!(response.status(), 200, "{}", file.display());
    }
}

/// Adds an agent with a display name, extension and e-mail.
pub async fn agent(
    server: &TestServer,
    username: &str,
    display_name: &str,
    extension: &str,
    email: Option<&str>,
) -> ringside_protocol::UserId {
    let store = &server.running.store;
    let spec = agent_server::users::UserSpec {
        username,
        display_name: Some(display_name),
        extension: Some(extension),
        role: "agent",
    };
    let (id, _) = agent_server::users::add_user(
        store,
        spec,
        Some(SecretString::from(crate::common::PASSWORD)),
    )
    .await
    .unwrap();
    if let Some(email) = email {
        store.set_user_email(id, Some(email)).await.unwrap();
    }
    id
}
