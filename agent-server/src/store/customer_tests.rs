//! Store tests of customer and organisation records, run on SQLite and on PostgreSQL
//! (see [`super::tests`]).

use ringside_protocol::{
    Address, CallId, Consent, ConsentState, Consents, CustomerId, InteractionId, OrganisationId,
    PhoneKind, PhoneNumber,
};

use super::tests::{person, store_test, TestDb};
use super::*;

fn full_fields(organisation: Option<OrganisationId>) -> CustomerFields {
    CustomerFields {
        external_id: Some("crm-17".into()),
        name: "Jan Jansen".into(),
        organisation,
        phones: vec![
            PhoneNumber {
                kind: PhoneKind::Work,
                e164: "+31201234567".into(),
                original: "020 123 4567 x12".into(),
                extension: Some("12".into()),
            },
            PhoneNumber {
                kind: PhoneKind::Mobile,
                e164: "+31612345678".into(),
                original: "06-12345678".into(),
                extension: None,
            },
        ],
        emails: vec!["jan@jansen.example".into(), "j.jansen@home.example".into()],
        address: Address {
            street: Some("Keizersgracht 1".into()),
            postal_code: Some("1015 AA".into()),
            city: Some("Amsterdam".into()),
            country: Some("NL".into()),
        },
        language: Some("nl".into()),
        tags: vec!["vip".into(), "reseller".into()],
        notes: "prefers mornings".into(),
        consents: Consents {
            phone_contact: Some(Consent {
                state: ConsentState::Granted,
                at_ms: 1_700_000_000_000,
                source: "web form".into(),
            }),
            call_recording: Some(Consent {
                state: ConsentState::Refused,
                at_ms: 1_700_000_100_000,
                source: "phone call".into(),
            }),
            marketing: None,
        },
    }
}

/// Opens and closes one interaction of `customer` ringing at `at_ms`.
async fn logged_call(store: &Store, customer: CustomerId, call: &str, at_ms: i64) -> InteractionId {
    let call = CallId(call.into());
    let id = store
        .open_interaction(NewInteraction {
            call_id: &call,
            customer: Some(customer),
            agent: None,
            direction: ringside_protocol::Direction::Inbound,
            caller_number: Some("+31201234567"),
            called_number: "2001",
            ringing_at_ms: at_ms,
            transferred_from: None,
            matched_by: None,
        })
        .await
        .unwrap();
    store
        .close_interaction(id, at_ms + 1_000, ringside_protocol::Outcome::Completed)
        .await
        .unwrap();
    id
}

store_test!(a_record_keeps_every_field, |store: Store| async move {
    let org = store.create_organisation("Jansen BV", "", 1).await.unwrap();
    let fields = full_fields(Some(org));

    let id = store.create_customer(&fields, 5_000).await.unwrap();
    let read = store.customer_full(id).await.unwrap().unwrap();

    assert_eq!(read.id, id);
    assert_eq!(read.version, 1);
    assert_eq!(read.external_id.as_deref(), Some("crm-17"));
    assert_eq!(read.name, "Jan Jansen");
    assert_eq!(read.organisation_id, Some(org));
    assert_eq!(read.organisation.as_deref(), Some("Jansen BV"));
    assert_eq!(read.phones, fields.phones);
    assert_eq!(read.emails, fields.emails);
    assert_eq!(read.address, fields.address);
    assert_eq!(read.language.as_deref(), Some("nl"));
    assert_eq!(read.tags, vec!["vip".to_owned(), "reseller".to_owned()]);
    assert_eq!(read.notes, "prefers mornings");
    assert_eq!(read.consents, fields.consents);
    assert_eq!((read.created_at_ms, read.updated_at_ms), (5_000, 5_000));
    assert_eq!(read.deleted_at_ms, None);
    assert!(store
        .customer_full(CustomerId(id.0 + 99))
        .await
        .unwrap()
        .is_none());
});

store_test!(
    customers_are_found_by_any_of_their_numbers,
    |store: Store| async move {
        let jan = person(
            &store,
            "Jan Jansen",
            Some("Jansen BV"),
            &[
                ("+31201234567", "020 123 4567"),
                ("+31612345678", "06 1234 5678"),
            ],
        )
        .await;
        let alone = person(
            &store,
            "Anna Alleen",
            None,
            &[("+31201234567", "020-1234567")],
        )
        .await;
        let piet = person(
            &store,
            "Piet Pieters",
            Some("Jansen BV"),
            &[("+31201234567", "")],
        )
        .await;

        let by_mobile = store.customers_by_number("+31612345678").await.unwrap();
        let by_office = store.customers_by_number("+31201234567").await.unwrap();

        assert_eq!(by_mobile.len(), 1);
        assert_eq!(by_mobile[0].id, jan);
        assert_eq!(by_mobile[0].organisation.as_deref(), Some("Jansen BV"));
        // Those of an organisation first, then by name.
        assert_eq!(
            by_office.iter().map(|c| c.id).collect::<Vec<_>>(),
            vec![jan, piet, alone]
        );
        assert!(store
            .customers_by_number("+31999999999")
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.customer_count().await.unwrap(), 3);
    }
);

store_test!(a_stale_update_is_refused, |store: Store| async move {
    let id = store.create_customer(&full_fields(None), 1).await.unwrap();
    let mut first = full_fields(None);
    first.name = "Jan de Jong".into();
    first.phones.truncate(1);
    let mut second = full_fields(None);
    second.notes = "written from an old copy".into();

    let saved = store.update_customer(id, 1, &first, 2).await.unwrap();
    let stale = store.update_customer(id, 1, &second, 3).await;
    let missing = store
        .update_customer(CustomerId(id.0 + 9), 1, &second, 3)
        .await;

    assert_eq!(saved.version, 2);
    assert_eq!(saved.name, "Jan de Jong");
    assert_eq!(saved.phones.len(), 1);
    assert_eq!(saved.updated_at_ms, 2);
    assert!(matches!(stale, Err(Error::Stale("customer"))), "{stale:?}");
    assert!(
        matches!(missing, Err(Error::NotFound("customer"))),
        "{missing:?}"
    );
    assert!(store
        .customers_by_number("+31612345678")
        .await
        .unwrap()
        .is_empty());
    let read = store.customer_full(id).await.unwrap().unwrap();
    assert_eq!((read.version, read.notes.as_str()), (2, "prefers mornings"));
});

store_test!(
    external_ids_and_organisations_are_checked,
    |store: Store| async move {
        store.create_customer(&full_fields(None), 1).await.unwrap();

        let twice = store.create_customer(&full_fields(None), 2).await;
        let no_org = store
            .create_customer(&full_fields(Some(OrganisationId(404))), 2)
            .await;

        assert!(
            matches!(twice, Err(Error::Conflict("external id"))),
            "{twice:?}"
        );
        assert!(
            matches!(no_org, Err(Error::Reference("organisation"))),
            "{no_org:?}"
        );
        assert_eq!(store.customer_count().await.unwrap(), 1);
    }
);

store_test!(
    a_deleted_customer_waits_in_the_trash,
    |store: Store| async move {
        let id = store.create_customer(&full_fields(None), 1).await.unwrap();
        let other = person(&store, "Old Record", None, &[("+31301234567", "")]).await;

        store.delete_customer(id, 10_000).await.unwrap();
        store.delete_customer(other, 500).await.unwrap();
        let again = store.delete_customer(id, 10_001).await;
        let trash = store.customers_in_trash(1_000, 50).await.unwrap();
        let while_deleted = store.customers_by_number("+31201234567").await.unwrap();
        let searched = store.search_customers("jansen", 10).await.unwrap();
        let edit = store
            .update_customer(id, 2, &full_fields(None), 10_002)
            .await;

        assert!(matches!(again, Err(Error::NotFound(_))), "{again:?}");
        assert_eq!(trash.iter().map(|h| h.id).collect::<Vec<_>>(), vec![id]);
        assert!(while_deleted.is_empty());
        assert!(searched.is_empty());
        assert!(matches!(edit, Err(Error::NotFound(_))), "{edit:?}");
        assert!(store.customer(id).await.unwrap().is_none());
        let in_trash = store.customer_full(id).await.unwrap().unwrap();
        assert_eq!(in_trash.deleted_at_ms, Some(10_000));

        // Deleted before the restore window: gone for good at the next purge.
        let too_old = store.restore_customer(other, 1_000, 11_000).await;
        store.restore_customer(id, 1_000, 11_000).await.unwrap();
        let purged = store.purge_trash(1_000).await.unwrap();

        assert!(matches!(too_old, Err(Error::NotFound(_))), "{too_old:?}");
        assert_eq!(purged, (1, 0));
        assert_eq!(
            store
                .customers_by_number("+31201234567")
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(store.customer_full(other).await.unwrap().is_none());
        let restored = store.customer_full(id).await.unwrap().unwrap();
        assert_eq!((restored.deleted_at_ms, restored.version), (None, 3));
    }
);

store_test!(
    search_reads_names_organisations_numbers_and_emails,
    |store: Store| async move {
        let jan = store.create_customer(&full_fields(None), 1).await.unwrap();
        let org = store
            .create_organisation("Bakkerij 100% Rogge", "", 1)
            .await
            .unwrap();
        let piet = store
            .create_customer(
                &CustomerFields {
                    name: "Piet".into(),
                    organisation: Some(org),
                    ..CustomerFields::default()
                },
                1,
            )
            .await
            .unwrap();

        let ids = |hits: Vec<ringside_protocol::CustomerHit>| {
            hits.into_iter().map(|h| h.id).collect::<Vec<_>>()
        };
        let by_name = store.search_customers("JANS", 10).await.unwrap();
        let by_org = store.search_customers("100%", 10).await.unwrap();
        let by_part = store.search_customers("123 45", 10).await.unwrap();
        let by_national = store.search_customers("06-1234", 10).await.unwrap();
        let by_email = store.search_customers("home.example", 10).await.unwrap();
        let percent = store.search_customers("%", 10).await.unwrap();

        assert_eq!(by_name.len(), 1);
        assert_eq!(by_name[0].phones, vec!["020 123 4567 x12", "06-12345678"]);
        assert_eq!(by_name[0].emails.len(), 2);
        assert_eq!(ids(by_org), vec![piet]);
        assert_eq!(ids(by_part), vec![jan]);
        assert_eq!(ids(by_national), vec![jan]);
        assert_eq!(ids(by_email), vec![jan]);
        assert_eq!(ids(percent), vec![piet]);
    }
);

store_test!(
    organisations_have_versions_and_a_trash,
    |store: Store| async move {
        let org = store.create_organisation("Jansen BV", "", 1).await.unwrap();
        let jan = person(&store, "Jan", Some("Jansen BV"), &[]).await;

        let renamed = store
            .update_organisation(org, 1, "Jansen Groep BV", "since 2026", 2)
            .await
            .unwrap();
        let stale = store.update_organisation(org, 1, "x", "", 3).await;
        let found = store.search_organisations("groep", 10).await.unwrap();
        let same = store
            .organisation_by_name_or_new("Jansen Groep BV", 4)
            .await
            .unwrap();
        store.delete_organisation(org, 5_000).await.unwrap();
        let hidden = store.search_organisations("groep", 10).await.unwrap();
        let trash = store.organisations_in_trash(1_000, 10).await.unwrap();
        store.restore_organisation(org, 1_000, 6_000).await.unwrap();

        assert_eq!(
            (renamed.version, renamed.name.as_str()),
            (2, "Jansen Groep BV")
        );
        assert!(
            matches!(stale, Err(Error::Stale("organisation"))),
            "{stale:?}"
        );
        assert_eq!(found.len(), 1);
        assert_eq!(same, org);
        assert!(hidden.is_empty());
        assert_eq!(trash.len(), 1);
        let card = store.customer(jan).await.unwrap().unwrap();
        assert_eq!(card.organisation.as_deref(), Some("Jansen Groep BV"));
        assert_eq!(store.organisation(org).await.unwrap().unwrap().version, 4);
    }
);

store_test!(
    interactions_come_page_by_page_newest_first,
    |store: Store| async move {
        let jan = person(&store, "Jan", None, &[]).await;
        for n in 0..7 {
            logged_call(&store, jan, &format!("call-{n}"), 1_000 * (n / 2)).await;
        }

        let first = store.customer_interactions(jan, None, 3).await.unwrap();
        let last = first.last().unwrap();
        let second = store
            .customer_interactions(jan, Some((last.ringing_at_ms, last.id.0)), 3)
            .await
            .unwrap();
        let last = second.last().unwrap();
        let third = store
            .customer_interactions(jan, Some((last.ringing_at_ms, last.id.0)), 3)
            .await
            .unwrap();

        let times: Vec<i64> = first
            .iter()
            .chain(&second)
            .chain(&third)
            .map(|s| s.ringing_at_ms)
            .collect();
        assert_eq!(times, vec![3_000, 2_000, 2_000, 1_000, 1_000, 0, 0]);
        let mut ids: Vec<i64> = first
            .iter()
            .chain(&second)
            .chain(&third)
            .map(|s| s.id.0)
            .collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 7);
    }
);

store_test!(
    an_agents_choice_is_remembered_per_number,
    |store: Store| async move {
        let ann = store
            .create_user(
                NewUser {
                    username: "ann",
                    display_name: "Ann",
                    password_hash: "h",
                    role: Role::Agent,
                    extension: Some("2001"),
                },
                1,
            )
            .await
            .unwrap();
        let jan = person(&store, "Jan", None, &[("+31201234567", "")]).await;
        let piet = person(&store, "Piet", None, &[("+31201234567", "")]).await;
        let call = logged_call(&store, jan, "shared-1", 1_000).await;

        assert_eq!(store.chosen_for_number("+31201234567").await.unwrap(), None);
        let moved = store.choose_customer(call, piet, ann, 2_000).await.unwrap();
        let gone = store
            .choose_customer(call, CustomerId(999), ann, 2_000)
            .await;

        assert_eq!(moved.customer, Some(piet));
        assert_eq!(
            store.chosen_for_number("+31201234567").await.unwrap(),
            Some(piet)
        );
        assert!(
            matches!(gone, Err(Error::Reference("customer"))),
            "{gone:?}"
        );
    }
);

store_test!(
    numbers_are_found_by_their_last_digits,
    |store: Store| async move {
        person(&store, "Jan", None, &[("+31201234567", "")]).await;
        person(&store, "Kees", None, &[("+31301234567", "")]).await;

        let seven = store.numbers_ending_in("1234567", 5).await.unwrap();
        let nine = store.numbers_ending_in("201234567", 5).await.unwrap();
        let short = store.numbers_ending_in("34567", 5).await.unwrap();

        assert_eq!(seven.len(), 2);
        assert_eq!(nine, vec!["+31201234567".to_owned()]);
        assert!(short.is_empty());
    }
);
