//! The customer and organisation endpoints over the real router and socket, and the pop
//! that follows a record chosen or created during a call.

#![allow(clippy::unwrap_used)]

mod common;

use agent_server::calls::CallService;
use agent_server::config::Settings;
use agent_server::users::{add_user, UserSpec};
use common::{error_of, start, TestServer, PASSWORD};
use reqwest::Client;
use ringside_protocol::{
    CallState, Customer, CustomerHit, InteractionPage, MatchReason, Organisation, Pop,
    UnparseablePage,
};
use ringside_sip::tracker::{CallEvent, CallEventKind, EndCause};
use ringside_sip::CallerId;
use secrecy::SecretString;
use serde_json::json;

/// Adds a user with `role` and the test password.
async fn with_role(server: &TestServer, username: &str, role: &str) {
    let spec = UserSpec {
        username,
        display_name: None,
        extension: None,
        role,
    };
    add_user(
        &server.running.store,
        spec,
        Some(SecretString::from(PASSWORD)),
    )
    .await
    .unwrap();
}

async fn create(server: &TestServer, client: &Client, body: serde_json::Value) -> Customer {
    let response = client
        .post(format!("{}/api/v1/customers", server.base))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    response.json().await.unwrap()
}

fn service(server: &TestServer) -> CallService {
    let running = &server.running;
    CallService::new(
        running.store.clone(),
        running.hub.clone(),
        running.metrics.clone(),
        Settings::for_tests("sqlite://unused.db").default_region,
    )
}

fn event(call: &str, at_ms: i64, kind: CallEventKind) -> CallEvent {
    CallEvent {
        call_id: call.into(),
        at_ms,
        kind,
    }
}

fn ringing(caller: &str, called: &str) -> CallEventKind {
    CallEventKind::Ringing {
        caller: CallerId::Number(caller.into()),
        called: called.into(),
        transferred_from: None,
    }
}

fn ended() -> CallEventKind {
    CallEventKind::Ended {
        cause: EndCause::Completed,
        hangup_by: None,
        timed_out: false,
    }
}

fn pop_of(server: &TestServer, call: &str) -> Pop {
    server
        .running
        .hub
        .pops_of(server.ann)
        .into_iter()
        .find(|p| p.call_id.0 == call)
        .unwrap()
}

#[tokio::test]
async fn a_record_is_created_read_and_updated_with_its_version_checked() {
    let server = start().await;
    let (ann, _) = server.login("ann").await;
    let (bob, _) = server.login("bob").await;

    let created = create(
        &server,
        &ann,
        json!({
            "name": "Els Evers",
            "phones": [
                {"kind": "work", "number": "+31 (0)30-123 45 67 ext. 12"},
                {"kind": "mobile", "number": "06\u{a0}1234\u{a0}5678"}
            ],
            "emails": ["els@evers.example"],
            "language": "nl",
            "tags": ["vip"],
            "consents": {"marketing": {"state": "refused", "at_ms": 1000, "source": "phone call"}}
        }),
    )
    .await;
    let url = format!("{}/api/v1/customers/{}", server.base, created.id);
    let read: Customer = ann.get(&url).send().await.unwrap().json().await.unwrap();
    let mut change = json!({"version": 1, "name": "Els Evers-de Wit", "phones": []});
    let first = bob.put(&url).json(&change).send().await.unwrap();
    change["name"] = json!("Els from a stale form");
    let second = ann.put(&url).json(&change).send().await.unwrap();
    let unversioned = ann
        .put(&url)
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();

    assert_eq!(read, created);
    assert_eq!(created.version, 1);
    assert_eq!(created.phones[0].e164, "+31301234567");
    assert_eq!(created.phones[0].extension.as_deref(), Some("12"));
    assert_eq!(created.phones[0].original, "+31 (0)30-123 45 67 ext. 12");
    assert_eq!(created.phones[1].e164, "+31612345678");
    assert_eq!(first.status(), 200);
    let saved: Customer = first.json().await.unwrap();
    assert_eq!((saved.version, saved.phones.len()), (2, 0));
    assert_eq!(
        error_of(second).await,
        (
            409,
            "the customer was changed by someone else; reload it and make the change again".into()
        )
    );
    assert_eq!(
        error_of(unversioned).await,
        (400, "version: required to update a record".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn invalid_input_is_refused_with_a_clear_message() {
    let server = start().await;
    let (ann, _) = server.login("ann").await;
    let url = format!("{}/api/v1/customers", server.base);

    let cases = [
        (
            json!({"name": "X", "phones": [{"kind": "work", "number": "+31 12"}]}),
            "phone 1 (\"+31 12\"): not a valid number for its country",
        ),
        (
            json!({"name": "X", "phones": [{"kind": "work", "number": "020 123 4567 x"}]}),
            "phone 1 (\"020 123 4567 x\"): the extension after the number must be digits",
        ),
        (json!({"name": " "}), "name: required"),
        (
            json!({"name": "X", "organisation_id": 999}),
            "no such organisation",
        ),
        (
            json!({"name": "X", "emails": ["not-an-address"]}),
            "e-mail 1 (\"not-an-address\"): not an e-mail address",
        ),
    ];

    for (body, reason) in cases {
        let response = ann.post(&url).json(&body).send().await.unwrap();
        assert_eq!(error_of(response).await, (400, reason.to_owned()));
    }
    server.stop().await;
}

#[tokio::test]
async fn search_finds_by_name_organisation_number_part_and_email() {
    let server = start().await;
    let (ann, _) = server.login("ann").await;
    create(
        &server,
        &ann,
        json!({"name": "Els Evers", "emails": ["els@evers.example"],
               "phones": [{"kind": "mobile", "number": "06 1234 5678"}]}),
    )
    .await;
    let search = |q: &str| {
        let request = ann
            .get(format!("{}/api/v1/customers", server.base))
            .query(&[("q", q)]);
        async move { request.send().await.unwrap() }
    };
    let names = |hits: Vec<CustomerHit>| hits.into_iter().map(|h| h.name).collect::<Vec<_>>();

    let by_name: Vec<CustomerHit> = search("evers").await.json().await.unwrap();
    let by_org: Vec<CustomerHit> = search("jansen bv").await.json().await.unwrap();
    let by_part: Vec<CustomerHit> = search("1234 56").await.json().await.unwrap();
    let by_mail: Vec<CustomerHit> = search("els@").await.json().await.unwrap();
    let too_short = search("e").await;

    assert_eq!(names(by_name), vec!["Els Evers"]);
    assert_eq!(names(by_org), vec!["Jan Jansen"]);
    assert_eq!(names(by_part), vec!["Els Evers", "Jan Jansen"]);
    assert_eq!(names(by_mail), vec!["Els Evers"]);
    assert_eq!(
        error_of(too_short).await,
        (400, "q: between 2 and 100 characters".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn deleting_takes_a_supervisor_and_restoring_an_admin() {
    let server = start().await;
    with_role(&server, "sara", "supervisor").await;
    with_role(&server, "root", "admin").await;
    let (ann, _) = server.login("ann").await;
    let (sara, _) = server.login("sara").await;
    let (root, _) = server.login("root").await;
    let url = format!("{}/api/v1/customers/{}", server.base, server.jan);
    let restore = format!("{url}/restore");

    let by_agent = ann.delete(&url).send().await.unwrap();
    let by_supervisor = sara.delete(&url).send().await.unwrap();
    let read_by_agent = ann.get(&url).send().await.unwrap();
    let read_by_admin: Customer = root.get(&url).send().await.unwrap().json().await.unwrap();
    let trash: serde_json::Value = root
        .get(format!("{}/api/v1/trash", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let restore_by_supervisor = sara.post(&restore).send().await.unwrap();
    let restored = root.post(&restore).send().await.unwrap();
    let again = root.post(&restore).send().await.unwrap();

    assert_eq!(error_of(by_agent).await, (403, "not allowed".into()));
    assert_eq!(by_supervisor.status(), 204);
    assert_eq!(
        error_of(read_by_agent).await,
        (404, "customer not found".into())
    );
    assert!(read_by_admin.deleted_at_ms.is_some());
    assert_eq!(trash["customers"][0]["name"], "Jan Jansen");
    assert_eq!(restore_by_supervisor.status(), 403);
    assert_eq!(restored.status(), 204);
    assert_eq!(
        error_of(again).await,
        (404, "customer in the trash not found".into())
    );
    assert_eq!(ann.get(&url).send().await.unwrap().status(), 200);
    server.stop().await;
}

#[tokio::test]
async fn organisations_are_records_with_versions() {
    let server = start().await;
    let (ann, _) = server.login("ann").await;
    let url = format!("{}/api/v1/organisations", server.base);

    let created: Organisation = ann
        .post(&url)
        .json(&json!({"name": "Evers Bouw", "notes": "main office Utrecht"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let one = format!("{url}/{}", created.id);
    let renamed = ann
        .put(&one)
        .json(&json!({"version": 1, "name": "Evers Bouw BV"}))
        .send()
        .await
        .unwrap();
    let stale = ann
        .put(&one)
        .json(&json!({"version": 1, "name": "Evers"}))
        .send()
        .await
        .unwrap();
    let member = create(
        &server,
        &ann,
        json!({"name": "Els Evers", "organisation_id": created.id}),
    )
    .await;
    let found: Vec<Organisation> = ann
        .get(&url)
        .query(&[("q", "bouw")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    assert_eq!(created.version, 1);
    assert_eq!(renamed.status(), 200);
    assert_eq!(stale.status(), 409);
    assert_eq!(member.organisation.as_deref(), Some("Evers Bouw BV"));
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].version, 2);
    server.stop().await;
}

#[tokio::test]
async fn a_customers_interactions_come_page_by_page() {
    let server = start().await;
    let (ann, _) = server.login("ann").await;
    let mut service = service(&server);
    let t0 = common::t0_fixed();
    for n in 0..5 {
        let call = format!("page-{n}@pbx");
        let at = t0 + n * 1_000;
        service
            .handle(event(&call, at, ringing("+31201234567", "2001")))
            .await
            .unwrap();
        service
            .handle(event(&call, at + 500, ended()))
            .await
            .unwrap();
    }
    let url = format!(
        "{}/api/v1/customers/{}/interactions",
        server.base, server.jan
    );

    let mut pages = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut request = ann.get(&url).query(&[("limit", "2")]);
        if let Some(cursor) = &before {
            request = request.query(&[("before", cursor)]);
        }
        let page: InteractionPage = request.send().await.unwrap().json().await.unwrap();
        pages.push(page.items.len());
        before = page.next;
        if before.is_none() || pages.len() > 5 {
            break;
        }
    }
    let bad = ann
        .get(&url)
        .query(&[("before", "yesterday")])
        .send()
        .await
        .unwrap();

    assert_eq!(pages, vec![2, 2, 1]);
    assert_eq!(
        error_of(bad).await,
        (400, "before: not a cursor this server gave".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn a_contact_created_from_an_unknown_callers_pop_takes_the_call() {
    let server = start().await;
    let (ann, _) = server.login("ann").await;
    let mut service = service(&server);
    let t0 = common::t0_fixed();
    service
        .handle(event("unknown@pbx", t0, ringing("0307654321", "2001")))
        .await
        .unwrap();
    let unknown = pop_of(&server, "unknown@pbx");

    let contact = create(
        &server,
        &ann,
        json!({"name": "Nieuwe Beller", "phones": [{"kind": "work", "number": "0307654321"}]}),
    )
    .await;
    let moved = ann
        .put(format!(
            "{}/api/v1/interactions/{}/customer",
            server.base, unknown.interaction_id
        ))
        .json(&json!({"customer_id": contact.id}))
        .send()
        .await
        .unwrap();
    let live = pop_of(&server, "unknown@pbx");
    service
        .handle(event("unknown@pbx", t0 + 9_000, ended()))
        .await
        .unwrap();
    let after_end = pop_of(&server, "unknown@pbx");
    service
        .handle(event(
            "next@pbx",
            t0 + 60_000,
            ringing("+31307654321", "2001"),
        ))
        .await
        .unwrap();
    let next = pop_of(&server, "next@pbx");

    assert!(unknown.customer.is_none());
    assert_eq!(moved.status(), 204);
    let card = live.customer.unwrap();
    assert_eq!(
        (card.id, card.matched_by),
        (contact.id, MatchReason::Chosen)
    );
    assert_eq!(
        after_end.state,
        CallState::Ended(ringside_protocol::Outcome::Completed)
    );
    assert_eq!(after_end.customer.unwrap().id, contact.id);
    let card = next.customer.unwrap();
    assert_eq!((card.id, card.matched_by), (contact.id, MatchReason::Exact));
    assert_eq!(card.recent.len(), 1);
    let row = server
        .running
        .store
        .interaction(unknown.interaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.customer, Some(contact.id));
    server.stop().await;
}

#[tokio::test]
async fn a_shared_number_pops_a_list_and_remembers_the_choice() {
    let server = start().await;
    let (ann, _) = server.login("ann").await;
    let mut service = service(&server);
    let t0 = common::t0_fixed();
    let piet = create(
        &server,
        &ann,
        json!({"name": "Piet Pieters", "phones": [{"kind": "work", "number": "020 123 4567"}]}),
    )
    .await;

    service
        .handle(event("shared-1@pbx", t0, ringing("0201234567", "2001")))
        .await
        .unwrap();
    let first = pop_of(&server, "shared-1@pbx");
    ann.put(format!(
        "{}/api/v1/interactions/{}/customer",
        server.base, first.interaction_id
    ))
    .json(&json!({"customer_id": piet.id}))
    .send()
    .await
    .unwrap();
    service
        .handle(event("shared-1@pbx", t0 + 5_000, ended()))
        .await
        .unwrap();
    service
        .handle(event(
            "shared-2@pbx",
            t0 + 60_000,
            ringing("+31201234567", "2001"),
        ))
        .await
        .unwrap();
    let second = pop_of(&server, "shared-2@pbx");

    let ids = |pop: &Pop| pop.candidates.iter().map(|c| c.id).collect::<Vec<_>>();
    // Jan belongs to an organisation, so he leads until an agent chooses Piet.
    assert_eq!(ids(&first), vec![server.jan, piet.id]);
    let card = first.customer.clone().unwrap();
    assert_eq!(
        (card.id, card.matched_by),
        (server.jan, MatchReason::NationalForm)
    );
    assert_eq!(ids(&second), vec![piet.id, server.jan]);
    let card = second.customer.clone().unwrap();
    assert_eq!((card.id, card.matched_by), (piet.id, MatchReason::Exact));
    server.stop().await;
}

#[tokio::test]
async fn a_colleagues_extension_pops_the_colleague_and_withheld_callers_match_nobody() {
    let server = start().await;
    let mut service = service(&server);
    let t0 = common::t0_fixed();

    service
        .handle(event("internal@pbx", t0, ringing("2002", "2001")))
        .await
        .unwrap();
    service
        .handle(event(
            "hidden@pbx",
            t0 + 1,
            CallEventKind::Ringing {
                caller: CallerId::Withheld,
                called: "2001".into(),
                transferred_from: None,
            },
        ))
        .await
        .unwrap();
    let internal = pop_of(&server, "internal@pbx");
    let hidden = pop_of(&server, "hidden@pbx");

    let colleague = internal.colleague.unwrap();
    assert_eq!(
        (colleague.id, colleague.extension.as_str()),
        (server.bob, "2002")
    );
    assert!(internal.customer.is_none());
    assert!(hidden.customer.is_none() && hidden.colleague.is_none());
    let row = server
        .running
        .store
        .interaction(hidden.interaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.caller_number, None);
    server.stop().await;
}

#[tokio::test]
async fn the_admin_lists_stored_numbers_that_no_longer_parse() {
    let server = start().await;
    with_role(&server, "root", "admin").await;
    let (ann, _) = server.login("ann").await;
    let (root, _) = server.login("root").await;
    // A record written before numbers were checked (or under another region's rules).
    let fields = agent_server::store::CustomerFields {
        name: "Oude Import".into(),
        phones: vec![ringside_protocol::PhoneNumber {
            kind: ringside_protocol::PhoneKind::Other,
            e164: "+3112".into(),
            original: "12".into(),
            extension: None,
        }],
        ..Default::default()
    };
    let old = server
        .running
        .store
        .create_customer(&fields, 1)
        .await
        .unwrap();
    let url = format!("{}/api/v1/admin/unparseable-numbers", server.base);

    let page: UnparseablePage = root.get(&url).send().await.unwrap().json().await.unwrap();
    let by_agent = ann.get(&url).send().await.unwrap();

    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].customer_id, old);
    assert_eq!(page.items[0].original, "12");
    assert_eq!(page.items[0].reason, "not a valid number for its country");
    assert_eq!(page.next, None);
    assert_eq!(by_agent.status(), 403);
    server.stop().await;
}
