//! PBX webhooks against a real server: retries, every event order, the timeout, a call
//! reported by SIP and by webhook, agents named every way, signatures, bad input, the
//! block list and token administration.

#![allow(clippy::unwrap_used)]

mod common;
mod hooks;

use agent_server::webhook::signature;
use common::{error_of, eventually, metrics_of, TestServer};
use ringside_protocol::{CallId, CallState, Outcome};
use ringside_sip::synth::CallShape;
use secrecy::ExposeSecret;
use serde_json::json;

fn zammad(event: &str, call: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut body = json!({
        "event": event, "from": "31201234567", "to": "31207000000",
        "direction": "in", "callId": call,
    });
    for (key, value) in extra.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

async fn accepted(server: &TestServer, format: &str) -> u64 {
    let name =
        format!("ringside_webhook_requests_total{{format=\"{format}\",result=\"accepted\"}}");
    metrics_of(server).await[&name]
}

#[tokio::test]
async fn a_retried_event_changes_nothing_and_is_answered_2xx() {
    let server = common::start().await;
    let (_, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let token = hooks::token(&server, "zammad", None).await;
    let events = [
        zammad("newCall", "retry-1", json!({"user": ["ann"]})),
        zammad("answer", "retry-1", json!({"answeringNumber": "ann"})),
        zammad("hangup", "retry-1", json!({"cause": "normalClearing"})),
    ];

    for event in events.iter().chain(&events) {
        assert_eq!(
            hooks::json(&server, "zammad", &token, event.clone()).await,
            "{}"
        );
    }
    hooks::json(
        &server,
        "zammad",
        &token,
        zammad("newCall", "marker", json!({"user": "ann"})),
    )
    .await;

    let call = hooks::call_of(&server, "retry-1").await;
    let ringing = console.next_pop().await;
    assert_eq!(ringing.call_id, call);
    assert_eq!(console.next_pop().await.state, CallState::Answered);
    assert_eq!(
        console.next_pop().await.state,
        CallState::Ended(Outcome::Completed)
    );
    // The retries popped nothing: the next pop is the marker call's.
    assert_eq!(
        console.next_pop().await.call_id,
        hooks::call_of(&server, "marker").await
    );
    let row = hooks::ended(&server, &call).await;
    assert_eq!(row.id, ringing.interaction_id);
    assert_eq!(row.outcome, Some(Outcome::Completed));
    assert_eq!(accepted(&server, "zammad").await, 7);
    server.stop().await;
}

#[tokio::test]
async fn events_in_any_order_are_answered_2xx_and_logged_once() {
    let server = common::start().await;
    let token = hooks::token(&server, "zammad", None).await;
    let post = |event| hooks::json(&server, "zammad", &token, event);

    // Hangup before answer: the call is answered at the hangup.
    post(zammad("newCall", "late-answer", json!({"user": "ann"}))).await;
    post(zammad(
        "hangup",
        "late-answer",
        json!({"cause": "normalClearing"}),
    ))
    .await;
    post(zammad(
        "answer",
        "late-answer",
        json!({"answeringNumber": "2001"}),
    ))
    .await;
    // Answer before newCall: the answer starts the call, marked; the newCall is late.
    post(zammad(
        "answer",
        "early-answer",
        json!({"answeringNumber": "2002"}),
    ))
    .await;
    post(zammad("newCall", "early-answer", json!({"user": "bob"}))).await;
    post(zammad(
        "hangup",
        "early-answer",
        json!({"cause": "normalClearing"}),
    ))
    .await;
    // A hangup for a call never seen creates it, marked.
    post(zammad("hangup", "never-seen", json!({"cause": "busy"}))).await;

    let late = hooks::ended(&server, &hooks::call_of(&server, "late-answer").await).await;
    let early = hooks::ended(&server, &hooks::call_of(&server, "early-answer").await).await;
    let never = hooks::ended(&server, &hooks::call_of(&server, "never-seen").await).await;
    assert_eq!(late.agent, Some(server.ann));
    assert_eq!(late.answered_at_ms, late.ended_at_ms);
    assert_eq!(late.outcome, Some(Outcome::Completed));
    assert!(!late.start_unseen);
    assert_eq!(early.agent, Some(server.bob));
    assert!(early.answered_at_ms.is_some());
    assert_eq!(early.outcome, Some(Outcome::Completed));
    assert!(early.start_unseen);
    assert_eq!(early.customer, Some(server.jan));
    let (bob, _) = server.login("bob").await;
    let shown: serde_json::Value = bob
        .get(format!("{}/api/v1/interactions/{}", server.base, early.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["start_unseen"], true);
    assert_eq!(shown["outcome"], "completed");
    assert_eq!(never.outcome, Some(Outcome::Busy));
    assert!(never.start_unseen);
    assert_eq!(never.answered_at_ms, None);
    assert_eq!(accepted(&server, "zammad").await, 7);
    server.stop().await;
}

#[tokio::test]
async fn a_call_whose_hangup_never_comes_ends_failed_at_the_ringing_timeout() {
    let server = common::start_with(|s| s.ringing_timeout_secs = 1).await;
    let (_, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let token = hooks::token(&server, "zammad", None).await;

    hooks::json(
        &server,
        "zammad",
        &token,
        zammad("newCall", "lost", json!({"user": "ann"})),
    )
    .await;

    assert_eq!(console.next_pop().await.state, CallState::Ringing);
    let ended = console.next_pop().await;
    assert_eq!(ended.state, CallState::Ended(Outcome::Failed));
    let row = hooks::ended(&server, &hooks::call_of(&server, "lost").await).await;
    assert_eq!(row.outcome, Some(Outcome::Failed));
    server.stop().await;
}

#[tokio::test]
async fn a_call_reported_by_sip_and_by_webhook_is_one_call_whichever_comes_first() {
    let server = common::start().await;
    let token = hooks::token(&server, "zammad", None).await;
    let now = agent_server::ingest::now_ms();

    // Webhook first: the SIP report joins the webhook's call.
    hooks::json(
        &server,
        "zammad",
        &token,
        zammad("newCall", "both-1", json!({"user": "ann"})),
    )
    .await;
    let webhook_call = hooks::call_of(&server, "both-1").await;
    eventually(|| async {
        let row = server
            .running
            .store
            .interaction_by_call(&webhook_call)
            .await;
        row.unwrap().is_some()
    })
    .await;
    server
        .play(CallShape::Answered, "both-1@sip", "0201234567", "2001", now)
        .await;
    let row = hooks::ended(&server, &webhook_call).await;
    hooks::json(
        &server,
        "zammad",
        &token,
        zammad("answer", "both-1", json!({})),
    )
    .await;
    hooks::json(
        &server,
        "zammad",
        &token,
        zammad("hangup", "both-1", json!({"cause": "normalClearing"})),
    )
    .await;
    assert_eq!(row.agent, Some(server.ann));
    assert_eq!(row.customer, Some(server.jan));
    assert_eq!(row.outcome, Some(Outcome::Completed));
    assert_eq!(row.talk_seconds, Some(30), "the SIP report's times stand");
    let sip_row = server
        .running
        .store
        .interaction_by_call(&CallId("both-1@sip".into()))
        .await
        .unwrap();
    assert!(sip_row.is_none());

    // SIP first: the late webhook report is dropped.
    server
        .play(
            CallShape::Answered,
            "both-2@sip",
            "0201234567",
            "2002",
            agent_server::ingest::now_ms(),
        )
        .await;
    let sip_call = CallId("both-2@sip".into());
    let sip_row = hooks::ended(&server, &sip_call).await;
    for event in [
        zammad("newCall", "both-2", json!({"user": "bob"})),
        zammad("answer", "both-2", json!({})),
        zammad("hangup", "both-2", json!({"cause": "normalClearing"})),
        zammad("hangup", "marker", json!({"cause": "busy"})),
    ] {
        hooks::json(&server, "zammad", &token, event).await;
    }
    hooks::ended(&server, &hooks::call_of(&server, "marker").await).await;
    let webhook_row = server
        .running
        .store
        .interaction_by_call(&hooks::call_of(&server, "both-2").await)
        .await
        .unwrap();
    assert!(webhook_row.is_none());
    assert_eq!(sip_row.agent, Some(server.bob));
    server.stop().await;
}

#[tokio::test]
async fn a_ringside_event_naming_the_sip_call_id_joins_that_call() {
    let server = common::start().await;
    let token = hooks::token(&server, "ringside", None).await;
    let now = agent_server::ingest::now_ms();
    server
        .play(
            CallShape::Answered,
            "named@sip",
            "+31201234567",
            "2001",
            now,
        )
        .await;
    let call = CallId("named@sip".into());
    let row = hooks::ended(&server, &call).await;

    let body = json!({"version": 1, "event": "ended", "call_id": "x1",
        "sip_call_id": "named@sip", "cause": "busy"});
    hooks::json(&server, "ringside", &token, body).await;
    let marker = json!({"version": 1, "event": "ended", "call_id": "m", "cause": "busy"});
    hooks::json(&server, "ringside", &token, marker).await;
    hooks::ended(&server, &hooks::call_of(&server, "m").await).await;

    let after = server
        .running
        .store
        .interaction_by_call(&call)
        .await
        .unwrap();
    assert_eq!(after.unwrap().id, row.id);
    assert_eq!(row.outcome, Some(Outcome::Completed));
    server.stop().await;
}

#[tokio::test]
async fn the_answering_agent_is_found_by_extension_username_or_email() {
    let server = common::start().await;
    server
        .running
        .store
        .set_user_email(server.bob, Some("bob@example.com"))
        .await
        .unwrap();
    let (_, cookie) = server.login("bob").await;
    let mut console = server.console(&cookie).await;
    let token = hooks::token(&server, "zammad", None).await;

    for (call, name) in [
        ("by-ext", "2002"),
        ("by-login", "bob"),
        ("by-mail", "BOB@example.com"),
    ] {
        hooks::json(
            &server,
            "zammad",
            &token,
            zammad("newCall", call, json!({})),
        )
        .await;
        hooks::json(
            &server,
            "zammad",
            &token,
            zammad("answer", call, json!({"answeringNumber": name})),
        )
        .await;

        let id = hooks::call_of(&server, call).await;
        let ringing = console.next_pop().await;
        assert_eq!(
            (ringing.call_id.clone(), ringing.state),
            (id.clone(), CallState::Ringing)
        );
        assert_eq!(
            console.next_pop().await.state,
            CallState::Answered,
            "{name}"
        );
        let row = server.running.store.interaction_by_call(&id).await.unwrap();
        assert_eq!(row.unwrap().agent, Some(server.bob), "{name}");
    }
    server.stop().await;
}

#[tokio::test]
async fn bad_requests_get_a_4xx_with_a_reason_are_counted_and_affect_nothing_else() {
    let server = common::start().await;
    let token = hooks::token(&server, "zammad", None).await;
    let form = "application/x-www-form-urlencoded";
    let good = "event=newCall&from=31201234567&to=2001&direction=in&callId=ok";

    let cases = [
        (
            "fax",
            token.as_str(),
            good.to_owned(),
            404,
            "webhook format not found",
        ),
        (
            "zammad",
            "wrong-token",
            good.to_owned(),
            401,
            "unknown or revoked token",
        ),
        (
            "sipgate",
            token.as_str(),
            good.to_owned(),
            401,
            "this token is for another format",
        ),
        (
            "zammad",
            token.as_str(),
            "event=answer&from=1".to_owned(),
            400,
            "missing field: callId",
        ),
        (
            "zammad",
            token.as_str(),
            "event=dial&callId=x".to_owned(),
            400,
            "unknown value in field: event",
        ),
        (
            "zammad",
            token.as_str(),
            "x".repeat(agent_server::webhook::MAX_BODY_BYTES + 1),
            413,
            "the body is larger than 16384 bytes",
        ),
    ];
    for (format, token, body, status, reason) in cases {
        let response = hooks::post(&server, format, token, form, body).await;
        assert_eq!(error_of(response).await, (status, reason.to_owned()));
    }

    let metrics = metrics_of(&server).await;
    let count = |format: &str, result: &str| {
        metrics
            [&format!("ringside_webhook_requests_total{{format=\"{format}\",result=\"{result}\"}}")]
    };
    assert_eq!(count("unknown", "bad_format"), 1);
    assert_eq!(count("zammad", "bad_token"), 1);
    assert_eq!(count("sipgate", "bad_token"), 1);
    assert_eq!(count("zammad", "bad_body"), 2);
    assert_eq!(count("zammad", "too_large"), 1);
    assert_eq!(count("zammad", "accepted"), 0);
    // The PBX's next good request is taken as if nothing had happened.
    assert_eq!(hooks::form(&server, "zammad", &token, good).await, "{}");
    let call = hooks::call_of(&server, "ok").await;
    eventually(|| async {
        let row = server
            .running
            .store
            .interaction_by_call(&call)
            .await
            .unwrap();
        row.is_some_and(|row| row.agent == Some(server.ann))
    })
    .await;
    server.stop().await;
}

#[tokio::test]
async fn signed_requests_are_checked_and_old_ones_refused() {
    let server = common::start().await;
    let secret = "sixteen-chars-secret";
    let token = hooks::token(&server, "ringside", Some(secret)).await;
    let body =
        json!({"version": 1, "event": "ended", "call_id": "s1", "cause": "busy"}).to_string();
    let now = agent_server::ingest::now_ms() / 1000;
    let send = |timestamp: Option<String>, signature: Option<String>| {
        let mut request = reqwest::Client::new()
            .post(format!("{}/api/v1/pbx/ringside/{token}", server.base))
            .header("content-type", "application/json")
            .body(body.clone());
        if let Some(t) = timestamp {
            request = request.header(signature::TIMESTAMP_HEADER, t);
        }
        if let Some(s) = signature {
            request = request.header(signature::SIGNATURE_HEADER, s);
        }
        request.send()
    };
    let signed_at = |at: i64| {
        let at = at.to_string();
        let sig = signature::sign(secret.as_bytes(), &at, body.as_bytes());
        (Some(at), Some(sig))
    };

    let (t, s) = signed_at(now - 400);
    let stale = error_of(send(t, s).await.unwrap()).await;
    let (t, _) = signed_at(now);
    let forged = error_of(
        send(t, Some(format!("sha256={}", "0".repeat(64))))
            .await
            .unwrap(),
    )
    .await;
    let missing = error_of(send(None, None).await.unwrap()).await;
    let (t, s) = signed_at(now);
    let good = send(t, s).await.unwrap();

    assert_eq!(stale, (401, "timestamp too old or in the future".into()));
    assert_eq!(forged, (401, "bad signature".into()));
    assert_eq!(missing, (401, "signature required".into()));
    assert_eq!(good.status(), 200);
    let metrics = metrics_of(&server).await;
    let count = |result: &str| {
        metrics
            [&format!("ringside_webhook_requests_total{{format=\"ringside\",result=\"{result}\"}}")]
    };
    assert_eq!(
        (count("stale"), count("bad_signature"), count("accepted")),
        (1, 2, 1)
    );
    hooks::ended(&server, &hooks::call_of(&server, "s1").await).await;
    server.stop().await;
}

#[tokio::test]
async fn a_blocked_number_is_refused_in_each_formats_terms_and_never_pops() {
    let server = common::start().await;
    agent_server::webhook::admin::block(
        &server.running.store,
        "020 123 4567",
        phonenumber::country::Id::NL,
    )
    .await
    .unwrap();
    let zammad_token = hooks::token(&server, "zammad", None).await;
    let sipgate_token = hooks::token(&server, "sipgate", None).await;

    let zammad_answer = hooks::json(
        &server,
        "zammad",
        &zammad_token,
        zammad("newCall", "spam", json!({"user": "ann"})),
    )
    .await;
    let hangup = hooks::json(
        &server,
        "zammad",
        &zammad_token,
        zammad("hangup", "spam", json!({"cause": "cancel"})),
    )
    .await;
    let sipgate_answer = hooks::form(
        &server,
        "sipgate",
        &sipgate_token,
        "event=newCall&from=31201234567&to=2001&direction=in&callId=spam2",
    )
    .await;
    // A first event other than newCall is checked too: it never starts the blocked call.
    hooks::json(
        &server,
        "zammad",
        &zammad_token,
        zammad("answer", "spam3", json!({"answeringNumber": "ann"})),
    )
    .await;
    hooks::json(
        &server,
        "zammad",
        &zammad_token,
        zammad(
            "hangup",
            "m",
            json!({"cause": "busy", "from": "31207777777"}),
        ),
    )
    .await;
    let tokens = server.running.store.pbx_tokens().await.unwrap();
    hooks::ended(&server, &CallId(format!("pbx-{}:m", tokens[0].id))).await;

    let zammad_answer: serde_json::Value = serde_json::from_str(&zammad_answer).unwrap();
    assert_eq!(zammad_answer, json!({"action": "reject", "reason": "busy"}));
    assert_eq!(hangup, "{}");
    assert!(
        sipgate_answer.contains("<Response><Reject reason=\"busy\"/></Response>"),
        "{sipgate_answer}"
    );
    for call in ["spam", "spam3"] {
        let spam = CallId(format!("pbx-{}:{call}", tokens[0].id));
        assert!(server
            .running
            .store
            .interaction_by_call(&spam)
            .await
            .unwrap()
            .is_none());
    }
    let blocked = "ringside_webhook_requests_total{format=\"zammad\",result=\"blocked\"}";
    assert_eq!(metrics_of(&server).await[blocked], 1);
    server.stop().await;
}

#[tokio::test]
async fn sipgate_new_call_subscribes_to_answer_and_hangup_at_the_same_url() {
    let server = common::start().await;
    let token = hooks::token(&server, "sipgate", None).await;

    let answer = hooks::form(
        &server,
        "sipgate",
        &token,
        "event=newCall&from=31201234567&to=2001&direction=in&callId=sub",
    )
    .await;
    let later = hooks::form(&server, "sipgate", &token, "event=answer&callId=sub").await;

    let url = format!("{}/api/v1/pbx/sipgate/{token}", server.base);
    assert!(
        answer.contains(&format!(
            "<Response onAnswer=\"{url}\" onHangup=\"{url}\"/>"
        )),
        "{answer}"
    );
    assert!(later.contains("<Response/>"), "{later}");
    server.stop().await;
}

#[tokio::test]
async fn admins_create_list_and_revoke_tokens_and_keep_the_block_list() {
    let server = common::start().await;
    let admin_password = server.running.first_admin_password.clone().unwrap();
    let admin = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let login = admin
        .post(format!("{}/api/v1/login", server.base))
        .json(&json!({"username": "admin", "password": admin_password.expose_secret()}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let (agent, _) = server.login("ann").await;
    let tokens_url = format!("{}/api/v1/admin/pbx-tokens", server.base);

    let refused = agent.get(&tokens_url).send().await.unwrap();
    let short_secret = admin
        .post(&tokens_url)
        .json(&json!({"name": "office", "format": "zammad", "secret": "short"}))
        .send()
        .await
        .unwrap();
    let created = admin
        .post(&tokens_url)
        .json(&json!({"name": "office", "format": "zammad"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let listed: serde_json::Value = admin
        .get(&tokens_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let works = hooks::form(
        &server,
        "zammad",
        &token,
        "event=hangup&callId=a&cause=busy",
    )
    .await;
    let revoked = admin
        .delete(format!("{tokens_url}/{}", created["id"]))
        .send()
        .await
        .unwrap();
    let after = hooks::post(
        &server,
        "zammad",
        &token,
        "application/x-www-form-urlencoded",
        "event=hangup&callId=b&cause=busy",
    )
    .await;

    assert_eq!(error_of(refused).await, (403, "not allowed".into()));
    assert_eq!(
        error_of(short_secret).await,
        (400, "secret: at least 16 characters".into())
    );
    assert_eq!(created["path"], format!("/api/v1/pbx/zammad/{token}"));
    assert_eq!(listed[0]["name"], "office");
    assert_eq!(listed[0]["signed"], false);
    assert!(listed[0].get("token").is_none());
    assert_eq!(works, "{}");
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        error_of(after).await,
        (401, "unknown or revoked token".into())
    );

    let blocked_url = format!("{}/api/v1/admin/blocked-numbers", server.base);
    let added = admin
        .post(&blocked_url)
        .json(&json!({"number": "0201234567"}))
        .send()
        .await
        .unwrap();
    let not_a_number = admin
        .post(&blocked_url)
        .json(&json!({"number": "hello"}))
        .send()
        .await
        .unwrap();
    let list: Vec<String> = admin
        .get(&blocked_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let removed = admin
        .delete(format!("{blocked_url}/%2B31201234567"))
        .send()
        .await
        .unwrap();
    let list_after: Vec<String> = admin
        .get(&blocked_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(added.status(), 201);
    assert_eq!(
        error_of(not_a_number).await,
        (400, "number: not a phone number".into())
    );
    assert_eq!(list, ["+31201234567"]);
    assert_eq!(removed.status(), 204);
    assert!(list_after.is_empty());
    server.stop().await;
}

#[tokio::test]
async fn the_queue_a_pbx_names_is_recorded_on_the_interaction() {
    let server = common::start().await;
    let zammad_token = hooks::token(&server, "zammad", None).await;

    // Zammad names the queue on newCall; a later event naming another does not move it.
    for event in [
        zammad(
            "newCall",
            "queued-1",
            json!({"user": ["ann"], "queue": "Support"}),
        ),
        zammad(
            "answer",
            "queued-1",
            json!({"answeringNumber": "ann", "queue": "Sales"}),
        ),
        zammad("hangup", "queued-1", json!({"cause": "normalClearing"})),
    ] {
        hooks::json(&server, "zammad", &zammad_token, event).await;
    }
    // A call no event queues keeps none.
    for event in [
        zammad("newCall", "direct-1", json!({"user": ["ann"]})),
        zammad("hangup", "direct-1", json!({"cause": "cancel"})),
    ] {
        hooks::json(&server, "zammad", &zammad_token, event).await;
    }
    let first = hooks::ended(&server, &hooks::call_of(&server, "queued-1").await).await;
    let direct = hooks::ended(&server, &hooks::call_of(&server, "direct-1").await).await;

    // Ringside: the call is queued after it started ringing, then abandoned.
    let ringside_token = hooks::token(&server, "ringside", None).await;
    for event in [
        json!({"version": 1, "event": "new_call", "call_id": "queued-2",
               "from": "+31201234567", "to": "2001", "direction": "inbound"}),
        json!({"version": 1, "event": "queued", "call_id": "queued-2",
               "queue": "Billing", "agents": ["bob"]}),
        json!({"version": 1, "event": "ended", "call_id": "queued-2", "cause": "abandoned"}),
    ] {
        hooks::json(&server, "ringside", &ringside_token, event).await;
    }
    let second = hooks::ended(&server, &hooks::call_of(&server, "queued-2").await).await;

    assert_eq!(first.queue.as_deref(), Some("Support"));
    assert_eq!(first.outcome, Some(Outcome::Completed));
    assert_eq!(second.queue.as_deref(), Some("Billing"));
    assert_eq!(second.outcome, Some(Outcome::Abandoned));
    assert_eq!(direct.queue, None);

    let (client, _) = server.login("ann").await;
    let view: serde_json::Value = client
        .get(format!("{}/api/v1/interactions/{}", server.base, first.id))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["queue"], "Support");
    server.stop().await;
}
