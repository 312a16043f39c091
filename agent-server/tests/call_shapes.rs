//! Forked and transferred calls, as tracker events handed to the server's call service:
//! which agents get pops, how they end, and what the interaction log keeps.

#![allow(clippy::unwrap_used)]

mod common;

use agent_server::calls::CallService;
use agent_server::config::Settings;
use common::{start, TestServer};
use ringside_protocol::{CallId, CallState, Outcome, UserId};
use ringside_sip::tracker::{CallEvent, CallEventKind, EndCause};
use ringside_sip::CallerId;

const JAN: &str = "+31201234567";

fn service(server: &TestServer) -> CallService {
    let running = &server.running;
    let region = Settings::for_tests("sqlite://unused.db").default_region;
    CallService::new(
        running.store.clone(),
        running.hub.clone(),
        running.metrics.clone(),
        region,
    )
}

fn event(call: &str, at_ms: i64, kind: CallEventKind) -> CallEvent {
    CallEvent {
        call_id: call.into(),
        at_ms,
        kind,
    }
}

fn ringing(called: &str, transferred_from: Option<&str>) -> CallEventKind {
    CallEventKind::Ringing {
        caller: CallerId::Number(JAN.into()),
        called: called.into(),
        transferred_from: transferred_from.map(str::to_owned),
    }
}

fn ended(cause: EndCause) -> CallEventKind {
    CallEventKind::Ended {
        cause,
        hangup_by: None,
        timed_out: false,
    }
}

fn state_of(server: &TestServer, agent: UserId, call: &str) -> Option<CallState> {
    server
        .running
        .hub
        .pops_of(agent)
        .into_iter()
        .find(|p| p.call_id.0 == call)
        .map(|p| p.state)
}

#[tokio::test]
async fn a_forked_call_pops_every_agent_and_clears_the_others_when_one_answers() {
    let server = start().await;
    let mut service = service(&server);
    let t0 = common::t0_fixed();

    for (at_ms, kind) in [
        (t0, ringing("600", None)),
        (
            t0 + 5,
            CallEventKind::Offered {
                target: "2001".into(),
            },
        ),
        (
            t0 + 6,
            CallEventKind::Offered {
                target: "2002".into(),
            },
        ),
    ] {
        service
            .handle(event("fork@pbx", at_ms, kind))
            .await
            .unwrap();
    }
    assert_eq!(
        state_of(&server, server.ann, "fork@pbx"),
        Some(CallState::Ringing)
    );
    assert_eq!(
        state_of(&server, server.bob, "fork@pbx"),
        Some(CallState::Ringing)
    );

    let by = Some("2002".to_owned());
    service
        .handle(event(
            "fork@pbx",
            t0 + 3_000,
            CallEventKind::Answered { by },
        ))
        .await
        .unwrap();

    assert_eq!(
        state_of(&server, server.ann, "fork@pbx"),
        Some(CallState::Ended(Outcome::AnsweredElsewhere))
    );
    assert_eq!(
        state_of(&server, server.bob, "fork@pbx"),
        Some(CallState::Answered)
    );

    service
        .handle(event("fork@pbx", t0 + 60_000, ended(EndCause::Completed)))
        .await
        .unwrap();
    assert_eq!(
        state_of(&server, server.bob, "fork@pbx"),
        Some(CallState::Ended(Outcome::Completed))
    );
    assert_eq!(
        state_of(&server, server.ann, "fork@pbx"),
        Some(CallState::Ended(Outcome::AnsweredElsewhere)),
        "Ann's card keeps saying who took it"
    );
    let row = server
        .running
        .store
        .interaction_by_call(&CallId("fork@pbx".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.agent, Some(server.bob));
    assert_eq!(row.outcome, Some(Outcome::Completed));
    assert_eq!(row.answered_at_ms, Some(t0 + 3_000));
    server.stop().await;
}

#[tokio::test]
async fn an_unanswered_fork_ends_on_every_agent_with_the_call_cause() {
    let server = start().await;
    let mut service = service(&server);
    let t0 = common::t0_fixed();

    service
        .handle(event("fork@pbx", t0, ringing("2001", None)))
        .await
        .unwrap();
    let offer = CallEventKind::Offered {
        target: "2002".into(),
    };
    service
        .handle(event("fork@pbx", t0 + 1, offer))
        .await
        .unwrap();
    service
        .handle(event("fork@pbx", t0 + 9_000, ended(EndCause::Abandoned)))
        .await
        .unwrap();

    for agent in [server.ann, server.bob] {
        assert_eq!(
            state_of(&server, agent, "fork@pbx"),
            Some(CallState::Ended(Outcome::Abandoned))
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_transfer_ends_the_first_pop_and_links_the_new_call() {
    let server = start().await;
    let mut service = service(&server);
    let t0 = common::t0_fixed();

    for (call, at_ms, kind) in [
        ("first@pbx", t0, ringing("2001", None)),
        (
            "first@pbx",
            t0 + 1_000,
            CallEventKind::Answered { by: None },
        ),
        (
            "first@pbx",
            t0 + 20_000,
            CallEventKind::Transferred {
                to: "2002".into(),
                attended: false,
            },
        ),
        (
            "second@pbx",
            t0 + 20_100,
            ringing("2002", Some("first@pbx")),
        ),
        ("first@pbx", t0 + 20_200, ended(EndCause::Transferred)),
    ] {
        service.handle(event(call, at_ms, kind)).await.unwrap();
    }

    assert_eq!(
        state_of(&server, server.ann, "first@pbx"),
        Some(CallState::Ended(Outcome::Transferred))
    );
    assert_eq!(
        state_of(&server, server.bob, "second@pbx"),
        Some(CallState::Ringing)
    );
    let store = &server.running.store;
    let second = store
        .interaction_by_call(&CallId("second@pbx".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.transferred_from, Some(CallId("first@pbx".into())));
    assert_eq!(second.agent, Some(server.bob));
    let first = store
        .interaction_by_call(&CallId("first@pbx".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.outcome, Some(Outcome::Transferred));
    assert_eq!(first.transferred_from, None);
    server.stop().await;
}
