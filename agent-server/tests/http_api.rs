//! The REST API and the websocket refuse what they should, with a reason.

#![allow(clippy::unwrap_used)]

mod common;

use common::{error_of, start};
use ringside_sip::synth::CallShape;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn login_refuses_wrong_passwords_and_unknown_users_alike() {
    let server = start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/login", server.base);

    let wrong = client
        .post(&url)
        .json(&serde_json::json!({"username": "ann", "password": "not-the-password"}))
        .send()
        .await
        .unwrap();
    let unknown = client
        .post(&url)
        .json(&serde_json::json!({"username": "nobody", "password": "not-the-password"}))
        .send()
        .await
        .unwrap();
    let malformed = client
        .post(&url)
        .body("{not json")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_of(wrong).await,
        (401, "wrong username or password".into())
    );
    assert_eq!(
        error_of(unknown).await,
        (401, "wrong username or password".into())
    );
    assert_eq!(malformed.status(), 400);
    assert_eq!(
        server
            .running
            .metrics
            .login_failures
            .load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    server.stop().await;
}

#[tokio::test]
async fn the_session_cookie_is_http_only_and_strict_and_logout_ends_it() {
    let server = start().await;
    let (client, _cookie) = server.login("ann").await;
    let login = reqwest::Client::new()
        .post(format!("{}/api/v1/login", server.base))
        .json(&serde_json::json!({"username": "ann", "password": common::PASSWORD}))
        .send()
        .await
        .unwrap();
    let set_cookie = login
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();

    let me: serde_json::Value = client
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let logout = client
        .post(format!("{}/api/v1/logout", server.base))
        .send()
        .await
        .unwrap();
    let after = client
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();

    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
    assert_eq!(me["username"], "ann");
    assert_eq!(me["extension"], "2001");
    assert_eq!(me["dispositions"][0]["code"], "resolved");
    assert_eq!(logout.status(), 204);
    assert_eq!(error_of(after).await, (401, "not logged in".into()));
    server.stop().await;
}

#[tokio::test]
async fn the_websocket_needs_a_session_and_this_servers_origin() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let url = format!(
        "ws://{}{}",
        server.running.http_addr,
        ringside_protocol::WS_PATH
    );

    let anonymous = tokio_tungstenite::connect_async(url.clone()).await;
    let mut foreign = url.clone().into_client_request().unwrap();
    foreign
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    foreign
        .headers_mut()
        .insert("origin", "http://evil.example".parse().unwrap());
    let cross_site = tokio_tungstenite::connect_async(foreign).await;

    let status_of = |result: Result<_, tokio_tungstenite::tungstenite::Error>| match result {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(other) => panic!("unexpected error {other}"),
        Ok(_) => panic!("the socket opened"),
    };
    assert_eq!(status_of(anonymous.map(|_| ())), 401);
    assert_eq!(status_of(cross_site.map(|_| ())), 403);
    server.stop().await;
}

#[tokio::test]
async fn wrap_up_checks_owner_length_and_disposition() {
    let server = start().await;
    let (ann, cookie) = server.login("ann").await;
    let (bob, _) = server.login("bob").await;
    let mut console = server.console(&cookie).await;
    server
        .play(
            CallShape::Busy,
            "c@pbx",
            "+31201234567",
            "2001",
            common::t0_fixed(),
        )
        .await;
    let pop = console.next_pop().await;
    let url = format!(
        "{}/api/v1/interactions/{}/wrap-up",
        server.base, pop.interaction_id
    );

    let by_bob = bob
        .put(&url)
        .json(&serde_json::json!({"notes": "x", "disposition": null}))
        .send()
        .await
        .unwrap();
    let too_long = ann
        .put(&url)
        .json(&serde_json::json!({"notes": "x".repeat(4001), "disposition": null}))
        .send()
        .await
        .unwrap();
    let bad_code = ann
        .put(&url)
        .json(&serde_json::json!({"notes": "x", "disposition": "made_up"}))
        .send()
        .await
        .unwrap();
    let missing = ann
        .put(format!("{}/api/v1/interactions/99999/wrap-up", server.base))
        .json(&serde_json::json!({"notes": "x", "disposition": null}))
        .send()
        .await
        .unwrap();
    let no_body = ann.put(&url).send().await.unwrap();

    assert_eq!(error_of(by_bob).await, (403, "not allowed".into()));
    assert_eq!(
        error_of(too_long).await,
        (400, "notes: at most 4000 characters".into())
    );
    assert_eq!(
        error_of(bad_code).await,
        (400, "disposition: not one of the configured codes".into())
    );
    assert_eq!(
        error_of(missing).await,
        (404, "interaction not found".into())
    );
    let (status, reason) = error_of(no_body).await;
    assert_eq!(status, 415);
    assert!(
        reason.contains("Content-Type: application/json"),
        "{reason}"
    );
    let row = server
        .running
        .store
        .interaction(pop.interaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.notes, "");
    server.stop().await;
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_missing_console_says_how_to_build_it() {
    let server = start().await;

    let page = reqwest::get(format!("{}/", server.base)).await.unwrap();
    let headers = page.headers().clone();
    let status = page.status().as_u16();
    let body = page.text().await.unwrap();
    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();

    assert_eq!(status, 503);
    assert!(body.contains("scripts/build-ui"), "{body}");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("frame-ancestors 'none'"));
    assert_eq!(health.status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn unknown_api_paths_and_wrong_methods_answer_in_json() {
    let server = start().await;
    let client = reqwest::Client::new();

    let unknown = client
        .get(format!("{}/api/v1/nothing/here", server.base))
        .send()
        .await
        .unwrap();
    let wrong_method = client
        .get(format!("{}/api/v1/login", server.base))
        .send()
        .await
        .unwrap();

    assert_eq!(
        error_of(unknown).await,
        (404, "API endpoint not found".into())
    );
    assert_eq!(
        error_of(wrong_method).await,
        (405, "method not allowed here".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn health_reports_a_database_that_is_gone() {
    let server = start().await;
    server.running.store.close().await;

    let health = reqwest::get(format!("{}/healthz", server.base))
        .await
        .unwrap();

    assert_eq!(health.status(), 503);
    server.stop().await;
}
