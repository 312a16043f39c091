//! The shared webhook corpus (`../shared/corpus/webhooks/`, described by its README):
//! every scenario of every supported format posted in order to a real server, then each
//! call's interaction row checked against what the scenario describes.
//!
//! The corpus is kept outside the repository; when the folder is absent (neither beside
//! the workspace nor under `RINGSIDE_SHARED_DIR`) every test here prints why and passes
//! without checking anything. Kazoo samples are not read: Ringside takes no Kazoo
//! format.

#![allow(clippy::unwrap_used)]

mod common;
mod hooks;

use std::path::PathBuf;

use ringside_protocol::{CallId, Direction, Outcome, UserId};

fn corpus_dir() -> Option<PathBuf> {
    let workspace = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let beside = workspace.join("../shared/corpus/webhooks");
    if beside.is_dir() {
        return Some(beside);
    }
    let from_env = PathBuf::from(std::env::var_os("RINGSIDE_SHARED_DIR")?).join("corpus/webhooks");
    from_env.is_dir().then_some(from_env)
}

/// What one call of a scenario must have left in the interaction log.
struct Expected {
    call: &'static str,
    agent: &'static str,
    direction: Direction,
    caller: Option<&'static str>,
    outcome: Outcome,
    answered: bool,
    transferred_from: Option<&'static str>,
}

fn inbound(call: &'static str, agent: &'static str, caller: &'static str) -> Expected {
    Expected {
        call,
        agent,
        direction: Direction::Inbound,
        caller: Some(caller),
        outcome: Outcome::Completed,
        answered: true,
        transferred_from: None,
    }
}

/// Plays `folder` (relative to the corpus) with a token of `format` and checks `calls`.
async fn check(format: &str, folder: &str, calls: Vec<Expected>) {
    let Some(corpus) = corpus_dir() else {
        eprintln!(
            "skipped: no webhook corpus at ../shared/corpus/webhooks (nor under \
             RINGSIDE_SHARED_DIR); {folder} not checked"
        );
        return;
    };
    let server = common::start().await;
    let agents = [
        (
            "emma",
            "Emma Taylor",
            "2101",
            Some("emma.taylor@example.com"),
        ),
        ("jonas", "Jonas Becker", "4922147103341", None),
        ("lena", "Lena Wolf", "4922147103342", None),
        ("alice", "Alice Meyer", "4921155512341", None),
        ("bobs", "Bob Schulz", "4921155512342", None),
    ];
    let mut ids: Vec<(&str, UserId)> = Vec::new();
    for (username, name, extension, email) in agents {
        let id = hooks::agent(&server, username, name, extension, email).await;
        ids.push((username, id));
    }
    let token = hooks::token(&server, format, None).await;

    hooks::play_folder(&server, format, &token, &corpus.join(folder)).await;

    for expected in calls {
        let call = hooks::call_of(&server, expected.call).await;
        let row = hooks::ended(&server, &call).await;
        let agent = ids
            .iter()
            .find(|(name, _)| *name == expected.agent)
            .unwrap()
            .1;
        assert_eq!(row.agent, Some(agent), "{folder} {}", expected.call);
        assert_eq!(row.direction, expected.direction, "{folder}");
        assert_eq!(row.caller_number.as_deref(), expected.caller, "{folder}");
        assert_eq!(
            row.outcome,
            Some(expected.outcome),
            "{folder} {}",
            expected.call
        );
        assert_eq!(row.answered_at_ms.is_some(), expected.answered, "{folder}");
        let from = match expected.transferred_from {
            Some(first) => Some(hooks::call_of(&server, first).await),
            None => None,
        };
        assert_eq!(row.transferred_from, from, "{folder}");
        assert!(!row.start_unseen, "{folder}");
    }
    server.stop().await;
}

fn missed(call: &'static str, agent: &'static str) -> Vec<Expected> {
    vec![Expected {
        call,
        agent,
        direction: Direction::Inbound,
        caller: None,
        outcome: Outcome::Abandoned,
        answered: false,
        transferred_from: None,
    }]
}

fn zammad_transfer() -> Vec<Expected> {
    let first = "31a7c0de-2b6e-4d8f-9a10-5e2c7b3d4f55";
    vec![
        Expected {
            outcome: Outcome::Transferred,
            ..inbound(first, "emma", "+491701234567")
        },
        Expected {
            transferred_from: Some(first),
            ..inbound(
                "31a7c0de-2b6e-4d8f-9a10-5e2c7b3d4f56",
                "lena",
                "+491701234567",
            )
        },
    ]
}

fn zammad_outbound() -> Vec<Expected> {
    // +44 1632 960xxx is the UK's range for fiction, which libphonenumber holds invalid:
    // the number is logged as dialled, as the SIP side would log it.
    vec![Expected {
        direction: Direction::Outbound,
        ..inbound(
            "e07d5c3a-88b1-4f0e-a2c6-6d1e9b4f5c23",
            "jonas",
            "00441632960123",
        )
    }]
}

#[tokio::test]
async fn zammad_json_inbound_answered() {
    let call = "9c1f3b2e-5d7a-4c41-8e8a-2b6f0d4a7c11";
    check(
        "zammad",
        "zammad/json/inbound_answered",
        vec![inbound(call, "emma", "+4930901820")],
    )
    .await;
}

#[tokio::test]
async fn zammad_form_inbound_answered() {
    let call = "9c1f3b2e-5d7a-4c41-8e8a-2b6f0d4a7c11";
    check(
        "zammad",
        "zammad/form/inbound_answered",
        vec![inbound(call, "emma", "+4930901820")],
    )
    .await;
}

#[tokio::test]
async fn zammad_json_inbound_missed() {
    let call = "4b8e6a90-1f2c-47d3-9e55-0c7d21f3aa02";
    check("zammad", "zammad/json/inbound_missed", missed(call, "emma")).await;
}

#[tokio::test]
async fn zammad_form_inbound_missed() {
    let call = "4b8e6a90-1f2c-47d3-9e55-0c7d21f3aa02";
    check("zammad", "zammad/form/inbound_missed", missed(call, "emma")).await;
}

#[tokio::test]
async fn zammad_json_outbound() {
    check("zammad", "zammad/json/outbound", zammad_outbound()).await;
}

#[tokio::test]
async fn zammad_form_outbound() {
    check("zammad", "zammad/form/outbound", zammad_outbound()).await;
}

#[tokio::test]
async fn zammad_json_transfer() {
    check("zammad", "zammad/json/transfer", zammad_transfer()).await;
}

#[tokio::test]
async fn zammad_form_transfer() {
    check("zammad", "zammad/form/transfer", zammad_transfer()).await;
}

#[tokio::test]
async fn sipgate_inbound_answered() {
    let call = inbound("F3A1C9D2E7B64A10", "alice", "+492111234567");
    check("sipgate", "sipgate/inbound_answered", vec![call]).await;
}

#[tokio::test]
async fn sipgate_inbound_missed() {
    check(
        "sipgate",
        "sipgate/inbound_missed",
        missed("0B77D4E2A91C3F58", "alice"),
    )
    .await;
}

#[tokio::test]
async fn sipgate_outbound() {
    let call = Expected {
        direction: Direction::Outbound,
        ..inbound("7C2E9A4B1D6F3E80", "alice", "+4915791234567")
    };
    check("sipgate", "sipgate/outbound", vec![call]).await;
}

#[tokio::test]
async fn sipgate_transfer() {
    let first = "A4D81F0C6B2E9573";
    let calls = vec![
        Expected {
            outcome: Outcome::Transferred,
            ..inbound(first, "alice", "+492111234567")
        },
        Expected {
            transferred_from: Some(first),
            ..inbound("5E93B2C7F1A04D16", "bobs", "+492111234567")
        },
    ];
    check("sipgate", "sipgate/transfer", calls).await;
}

#[test]
fn the_corpus_is_found_or_the_skip_is_explained() {
    match corpus_dir() {
        Some(dir) => assert!(dir.join("zammad").is_dir(), "{}", dir.display()),
        None => eprintln!("skipped: no webhook corpus at ../shared/corpus/webhooks"),
    }
    let _ = CallId(String::new());
}
