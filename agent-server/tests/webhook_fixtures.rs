//! The project's own webhook fixtures (`tests/fixtures/webhooks/`), every format and
//! scenario, posted to a real server: the pops the agents' consoles receive and the
//! interaction rows, as for SIP calls.

#![allow(clippy::unwrap_used)]

mod common;
mod hooks;

use std::path::PathBuf;

use common::{Console, TestServer};
use ringside_protocol::{CallState, Caller, Direction, Outcome, UserId};

struct Setup {
    server: TestServer,
    femke: UserId,
    joost: UserId,
    femke_console: Console,
    joost_console: Console,
}

async fn setup() -> Setup {
    let server = common::start().await;
    let femke = hooks::agent(
        &server,
        "femke",
        "Femke de Boer",
        "3001",
        Some("femke@example.com"),
    )
    .await;
    let joost = hooks::agent(&server, "joost", "Joost Bakker", "3002", None).await;
    let (_, femke_cookie) = server.login("femke").await;
    let (_, joost_cookie) = server.login("joost").await;
    let femke_console = server.console(&femke_cookie).await;
    let joost_console = server.console(&joost_cookie).await;
    Setup {
        server,
        femke,
        joost,
        femke_console,
        joost_console,
    }
}

fn fixture(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/webhooks")
        .join(path)
}

async fn play(setup: &Setup, format: &str, folder: &str) {
    let token = hooks::token(&setup.server, format, None).await;
    hooks::play_folder(&setup.server, format, &token, &fixture(folder)).await;
}

#[tokio::test]
async fn zammad_json_inbound_call_rings_both_agents_and_is_logged_for_the_one_who_answered() {
    let mut s = setup().await;

    play(&s, "zammad", "zammad-json/inbound_answered").await;

    let call = hooks::call_of(&s.server, "zj-in-1").await;
    let ringing = s.femke_console.next_pop().await;
    assert_eq!(ringing.call_id, call);
    assert_eq!(ringing.state, CallState::Ringing);
    assert_eq!(ringing.caller, Caller::Number("+31201234567".into()));
    assert_eq!(ringing.called, "3001");
    assert_eq!(ringing.customer.as_ref().unwrap().name, "Jan Jansen");
    assert_eq!(s.femke_console.next_pop().await.state, CallState::Answered);
    assert_eq!(
        s.femke_console.next_pop().await.state,
        CallState::Ended(Outcome::Completed)
    );
    let offered = s.joost_console.next_pop().await;
    assert_eq!(offered.state, CallState::Ringing);
    assert_eq!(offered.interaction_id, ringing.interaction_id);
    assert_eq!(
        s.joost_console.next_pop().await.state,
        CallState::Ended(Outcome::AnsweredElsewhere)
    );
    let row = hooks::ended(&s.server, &call).await;
    assert_eq!(row.agent, Some(s.femke));
    assert_eq!(row.customer, Some(s.server.jan));
    assert_eq!(row.direction, Direction::Inbound);
    assert_eq!(row.caller_number.as_deref(), Some("+31201234567"));
    assert_eq!(row.called_number, "3001");
    assert!(row.answered_at_ms.is_some());
    assert_eq!(row.outcome, Some(Outcome::Completed));
    assert!(!row.start_unseen);
    s.server.stop().await;
}

#[tokio::test]
async fn zammad_json_forwarded_call_links_the_next_call_from_the_caller() {
    let s = setup().await;

    play(&s, "zammad", "zammad-json/transfer").await;

    let first = hooks::call_of(&s.server, "zj-tr-1").await;
    let second = hooks::call_of(&s.server, "zj-tr-2").await;
    let first_row = hooks::ended(&s.server, &first).await;
    let second_row = hooks::ended(&s.server, &second).await;
    assert_eq!(first_row.agent, Some(s.femke));
    assert_eq!(first_row.outcome, Some(Outcome::Transferred));
    assert_eq!(second_row.agent, Some(s.joost));
    assert_eq!(second_row.transferred_from, Some(first));
    assert_eq!(second_row.outcome, Some(Outcome::Completed));
    assert_eq!(second_row.customer, Some(s.server.jan));
    s.server.stop().await;
}

#[tokio::test]
async fn zammad_form_missed_call_from_a_withheld_number_is_logged_abandoned() {
    let mut s = setup().await;

    play(&s, "zammad", "zammad-form/inbound_missed").await;

    let pop = s.femke_console.next_pop().await;
    assert_eq!(pop.caller, Caller::Withheld);
    assert_eq!(pop.customer, None);
    assert_eq!(
        s.femke_console.next_pop().await.state,
        CallState::Ended(Outcome::Abandoned)
    );
    let row = hooks::ended(&s.server, &hooks::call_of(&s.server, "zf-miss-1").await).await;
    assert_eq!(row.caller_number, None);
    assert_eq!(row.answered_at_ms, None);
    assert_eq!(row.outcome, Some(Outcome::Abandoned));
    assert_eq!(row.talk_seconds, Some(0));
    s.server.stop().await;
}

#[tokio::test]
async fn zammad_form_outbound_call_pops_the_callees_record_for_the_calling_agent() {
    let mut s = setup().await;

    play(&s, "zammad", "zammad-form/outbound").await;

    let pop = s.joost_console.next_pop().await;
    assert_eq!(pop.direction, Direction::Outbound);
    assert_eq!(pop.caller, Caller::Number("+31201234567".into()));
    assert_eq!(pop.customer.unwrap().id, s.server.jan);
    let row = hooks::ended(&s.server, &hooks::call_of(&s.server, "zf-out-1").await).await;
    assert_eq!(row.direction, Direction::Outbound);
    assert_eq!(row.agent, Some(s.joost));
    assert_eq!(row.customer, Some(s.server.jan));
    assert_eq!(row.outcome, Some(Outcome::Completed));
    s.server.stop().await;
}

#[tokio::test]
async fn sipgate_group_call_is_taken_by_the_answering_number() {
    let mut s = setup().await;

    play(&s, "sipgate", "sipgate/inbound_answered").await;

    assert_eq!(s.femke_console.next_pop().await.state, CallState::Ringing);
    assert_eq!(
        s.femke_console.next_pop().await.state,
        CallState::Ended(Outcome::AnsweredElsewhere)
    );
    assert_eq!(s.joost_console.next_pop().await.state, CallState::Ringing);
    assert_eq!(s.joost_console.next_pop().await.state, CallState::Answered);
    let row = hooks::ended(&s.server, &hooks::call_of(&s.server, "SG-IN-1").await).await;
    assert_eq!(row.agent, Some(s.joost));
    assert_eq!(row.customer, Some(s.server.jan));
    assert_eq!(row.outcome, Some(Outcome::Completed));
    s.server.stop().await;
}

#[tokio::test]
async fn sipgate_outbound_call_is_logged_for_the_agent_with_the_callee() {
    let s = setup().await;

    play(&s, "sipgate", "sipgate/outbound").await;

    let row = hooks::ended(&s.server, &hooks::call_of(&s.server, "SG-OUT-1").await).await;
    assert_eq!(row.direction, Direction::Outbound);
    assert_eq!(row.agent, Some(s.femke));
    assert_eq!(row.customer, Some(s.server.jan));
    assert_eq!(row.outcome, Some(Outcome::Completed));
    s.server.stop().await;
}

#[tokio::test]
async fn sipgate_transfer_links_the_new_call_by_its_original_id() {
    let mut s = setup().await;

    play(&s, "sipgate", "sipgate/transfer").await;

    let first = hooks::call_of(&s.server, "SG-TR-A").await;
    let second = hooks::call_of(&s.server, "SG-TR-B").await;
    let first_row = hooks::ended(&s.server, &first).await;
    let second_row = hooks::ended(&s.server, &second).await;
    assert_eq!(first_row.agent, Some(s.femke));
    assert_eq!(first_row.outcome, Some(Outcome::Transferred));
    assert_eq!(second_row.agent, Some(s.joost));
    assert_eq!(second_row.transferred_from, Some(first.clone()));
    assert_eq!(second_row.outcome, Some(Outcome::Completed));
    // Femke's pop ends as transferred, as it does for a SIP transfer.
    let mut last = s.femke_console.next_pop().await;
    while last.state != CallState::Ended(Outcome::Transferred) {
        assert!(
            !matches!(last.state, CallState::Ended(_)),
            "{:?}",
            last.state
        );
        last = s.femke_console.next_pop().await;
    }
    assert_eq!(last.call_id, first);
    s.server.stop().await;
}

#[tokio::test]
async fn ringside_queued_call_rings_the_queue_and_ends_transferred() {
    let mut s = setup().await;

    play(&s, "ringside", "ringside/queue_transfer").await;

    let femke_ringing = s.femke_console.next_pop().await;
    assert_eq!(femke_ringing.state, CallState::Ringing);
    assert_eq!(femke_ringing.customer.unwrap().id, s.server.jan);
    assert_eq!(
        s.femke_console.next_pop().await.state,
        CallState::Ended(Outcome::AnsweredElsewhere)
    );
    assert_eq!(s.joost_console.next_pop().await.state, CallState::Ringing);
    assert_eq!(s.joost_console.next_pop().await.state, CallState::Answered);
    assert_eq!(
        s.joost_console.next_pop().await.state,
        CallState::Ended(Outcome::Transferred)
    );
    let row = hooks::ended(&s.server, &hooks::call_of(&s.server, "rs-q-1").await).await;
    assert_eq!(row.agent, Some(s.joost));
    assert_eq!(row.called_number, "+31207000000");
    assert_eq!(row.outcome, Some(Outcome::Transferred));
    s.server.stop().await;
}
