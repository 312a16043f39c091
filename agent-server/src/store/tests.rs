//! The store test suite, run once on SQLite and once on PostgreSQL.
//!
//! PostgreSQL is reached at `RINGSIDE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`); each test creates and drops a database of
//! its own. Where no PostgreSQL runs, set `RINGSIDE_TEST_SKIP_POSTGRES=1` to skip that half
//! with a message; CI never sets it.

use std::sync::atomic::{AtomicU32, Ordering};

use ringside_protocol::{CallId, Direction, InteractionId, Outcome};
use secrecy::SecretString;

use super::*;

/// A fresh, migrated database of either kind, dropped by [`TestDb::finish`].
pub(crate) struct TestDb {
    pub(crate) store: Store,
    _dir: Option<tempfile::TempDir>,
    pg_drop: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl TestDb {
    pub(crate) async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let store = Store::connect(&SecretString::from(url.as_str()))
            .await
            .expect("sqlite");
        store.migrate().await.expect("migrate sqlite");
        TestDb {
            store,
            _dir: Some(dir),
            pg_drop: None,
        }
    }

    /// `None` when PostgreSQL tests are switched off.
    pub(crate) async fn postgres() -> Option<TestDb> {
        if std::env::var_os("RINGSIDE_TEST_SKIP_POSTGRES").is_some() {
            eprintln!("skipping the PostgreSQL half: RINGSIDE_TEST_SKIP_POSTGRES is set");
            return None;
        }
        let admin = std::env::var("RINGSIDE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!(
            "ringside_test_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let admin_store = Store::connect(&SecretString::from(admin.as_str()))
            .await
            .expect(
                "PostgreSQL must run for the store tests (or set RINGSIDE_TEST_SKIP_POSTGRES=1)",
            );
        sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
            .execute(&admin_store.pool)
            .await
            .expect("drop old test database");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin_store.pool)
            .await
            .expect("create test database");
        admin_store.close().await;
        let base = admin
            .rsplit_once('/')
            .map_or(admin.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        let store = Store::connect(&SecretString::from(url.as_str()))
            .await
            .expect("postgres");
        store.migrate().await.expect("migrate postgres");
        Some(TestDb {
            store,
            _dir: None,
            pg_drop: Some((admin, name)),
        })
    }

    pub(crate) async fn finish(self) {
        self.store.close().await;
        if let Some((admin, name)) = self.pg_drop {
            let admin_store = Store::connect(&SecretString::from(admin.as_str()))
                .await
                .expect("pg");
            // FORCE: a pooled connection may still be closing on the server side.
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&admin_store.pool)
                .await
                .expect("drop test database");
            admin_store.close().await;
        }
    }
}

/// Declares `mod NAME { sqlite, postgres }` tests running `body(store)` on each backend.
#[allow(unused_macros)]
macro_rules! store_test {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                let db = TestDb::sqlite().await;
                ($body)(db.store.clone()).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(db) = TestDb::postgres().await {
                    ($body)(db.store.clone()).await;
                    db.finish().await;
                }
            }
        }
    };
}

pub(crate) use store_test;

/// An inbound call to extension 2001 with no customer or agent yet.
fn inbound<'a>(call: &'a CallId, caller: Option<&'a str>, at_ms: i64) -> NewInteraction<'a> {
    NewInteraction {
        call_id: call,
        customer: None,
        agent: None,
        direction: Direction::Inbound,
        caller_number: caller,
        called_number: "2001",
        ringing_at_ms: at_ms,
        transferred_from: None,
        matched_by: None,
    }
}

/// Creates a customer with work numbers given as (E.164, as written).
pub(crate) async fn person(
    store: &Store,
    name: &str,
    organisation: Option<&str>,
    numbers: &[(&str, &str)],
) -> ringside_protocol::CustomerId {
    let organisation = match organisation {
        Some(org) => Some(store.organisation_by_name_or_new(org, 1).await.unwrap()),
        None => None,
    };
    let fields = CustomerFields {
        name: name.into(),
        organisation,
        phones: numbers
            .iter()
            .map(|(e164, original)| ringside_protocol::PhoneNumber {
                kind: ringside_protocol::PhoneKind::Work,
                e164: (*e164).into(),
                original: (*original).into(),
                extension: None,
            })
            .collect(),
        ..CustomerFields::default()
    };
    store.create_customer(&fields, 1).await.unwrap()
}

async fn agent(store: &Store, username: &str, extension: &str) -> ringside_protocol::UserId {
    store
        .create_user(
            NewUser {
                username,
                display_name: "Agent Smith",
                password_hash: "$argon2id$fake",
                role: Role::Agent,
                extension: Some(extension),
            },
            1,
        )
        .await
        .unwrap()
}

store_test!(
    users_are_unique_by_username_and_extension,
    |store: Store| async move {
        let id = agent(&store, "ann", "2001").await;

        let same_name = store
            .create_user(
                NewUser {
                    username: "ann",
                    display_name: "x",
                    password_hash: "h",
                    role: Role::Agent,
                    extension: None,
                },
                1,
            )
            .await;
        let same_ext = store
            .create_user(
                NewUser {
                    username: "bob",
                    display_name: "x",
                    password_hash: "h",
                    role: Role::Agent,
                    extension: Some("2001"),
                },
                1,
            )
            .await;

        assert!(
            matches!(same_name, Err(Error::Conflict("username"))),
            "{same_name:?}"
        );
        assert!(
            matches!(same_ext, Err(Error::Conflict("extension"))),
            "{same_ext:?}"
        );
        assert_eq!(store.user_count().await.unwrap(), 1);
        let found = store.user_by_extension("2001").await.unwrap().unwrap();
        assert_eq!(found.id, id);
        assert_eq!(found.username, "ann");
        assert_eq!(found.role, Role::Agent);
        assert!(store.user_by_extension("2999").await.unwrap().is_none());
    }
);

store_test!(
    sessions_expire_and_end_with_a_password_change,
    |store: Store| async move {
        let id = agent(&store, "ann", "2001").await;
        store
            .create_session("tok-a", id, 1_000, 5_000)
            .await
            .unwrap();
        store
            .create_session("tok-b", id, 1_000, 9_000)
            .await
            .unwrap();

        assert_eq!(
            store
                .session_user("tok-a", 4_999)
                .await
                .unwrap()
                .unwrap()
                .id,
            id
        );
        assert!(store.session_user("tok-a", 5_000).await.unwrap().is_none());
        assert!(store.session_user("nope", 10).await.unwrap().is_none());
        assert_eq!(store.purge_expired_sessions(6_000).await.unwrap(), 1);

        store.set_password_hash(id, "$argon2id$new").await.unwrap();

        assert!(store.session_user("tok-b", 2_000).await.unwrap().is_none());
        assert_eq!(
            store.user(id).await.unwrap().unwrap().password_hash,
            "$argon2id$new"
        );
    }
);

store_test!(
    an_interaction_records_times_outcome_and_notes,
    |store: Store| async move {
        let agent_id = agent(&store, "ann", "2001").await;
        let customer = person(&store, "Jan", None, &[]).await;
        let call = CallId("call-1@host".into());
        let id = store
            .open_interaction(NewInteraction {
                customer: Some(customer),
                agent: Some(agent_id),
                ..inbound(&call, Some("+31201234567"), 10_000)
            })
            .await
            .unwrap();

        store.mark_answered(id, 14_500).await.unwrap();
        store
            .save_wrap_up(id, "wants a callback", Some("callback"), 20_000)
            .await
            .unwrap();
        let closed = store
            .close_interaction(id, 75_900, Outcome::Completed)
            .await
            .unwrap();

        assert_eq!(closed.call_id, call);
        assert_eq!(closed.customer, Some(customer));
        assert_eq!(closed.agent, Some(agent_id));
        assert_eq!(closed.caller_number.as_deref(), Some("+31201234567"));
        assert_eq!(closed.called_number, "2001");
        assert_eq!(closed.ringing_at_ms, 10_000);
        assert_eq!(closed.answered_at_ms, Some(14_500));
        assert_eq!(closed.ended_at_ms, Some(75_900));
        assert_eq!(closed.wait_seconds, Some(4));
        assert_eq!(closed.talk_seconds, Some(61));
        assert_eq!(closed.outcome, Some(Outcome::Completed));
        assert_eq!(closed.notes, "wants a callback");
        assert_eq!(closed.disposition.as_deref(), Some("callback"));
        assert_eq!(
            store.interaction_by_call(&call).await.unwrap(),
            Some(closed)
        );
    }
);

store_test!(
    recent_interactions_are_newest_first_without_the_current_call,
    |store: Store| async move {
        let customer = person(&store, "Jan", None, &[]).await;
        for n in 0..7 {
            let call = CallId(format!("c{n}"));
            let id = store
                .open_interaction(NewInteraction {
                    customer: Some(customer),
                    ..inbound(&call, Some("+31201234567"), 1_000 * n)
                })
                .await
                .unwrap();
            store
                .close_interaction(id, 1_000 * n + 500, Outcome::Abandoned)
                .await
                .unwrap();
        }

        let recent = store
            .recent_interactions(customer, &CallId("c6".into()), 5)
            .await
            .unwrap();

        let times: Vec<i64> = recent.iter().map(|s| s.ringing_at_ms).collect();
        assert_eq!(times, vec![5_000, 4_000, 3_000, 2_000, 1_000]);
        assert!(recent.iter().all(|s| s.outcome == Some(Outcome::Abandoned)));
    }
);

store_test!(
    unknown_and_withheld_callers_are_logged_without_a_customer,
    |store: Store| async move {
        let call = CallId("anon".into());
        let id = store
            .open_interaction(NewInteraction {
                call_id: &call,
                customer: None,
                agent: None,
                direction: Direction::Inbound,
                caller_number: None,
                called_number: "2002",
                ringing_at_ms: 5_000,
                transferred_from: None,
                matched_by: None,
            })
            .await
            .unwrap();

        let closed = store
            .close_interaction(id, 9_000, Outcome::Abandoned)
            .await
            .unwrap();

        assert_eq!(closed.customer, None);
        assert_eq!(closed.caller_number, None);
        assert_eq!(closed.wait_seconds, Some(4));
        assert_eq!(closed.talk_seconds, Some(0));
        assert!(matches!(
            store
                .save_wrap_up(ringside_protocol::InteractionId(999), "x", None, 1)
                .await,
            Err(Error::NotFound("interaction"))
        ));
    }
);

store_test!(
    interrupted_calls_are_closed_as_failed_at_start,
    |store: Store| async move {
        let call = CallId("left-open".into());
        let id = store
            .open_interaction(inbound(&call, Some("+31201234567"), 5_000))
            .await
            .unwrap();

        assert_eq!(store.close_interrupted(8_000).await.unwrap(), 1);
        assert_eq!(store.close_interrupted(9_000).await.unwrap(), 0);

        let row = store.interaction(id).await.unwrap().unwrap();
        assert_eq!(row.outcome, Some(Outcome::Failed));
        assert_eq!(row.ended_at_ms, Some(8_000));
    }
);

store_test!(
    a_call_id_reused_after_the_call_ended_gets_a_new_row,
    |store: Store| async move {
        let call = CallId("reused".into());
        let first = store
            .open_interaction(inbound(&call, None, 1_000))
            .await
            .unwrap();
        let while_open = store.open_interaction(inbound(&call, None, 1_500)).await;
        store
            .close_interaction(first, 2_000, Outcome::Completed)
            .await
            .unwrap();

        let second = store
            .open_interaction(inbound(&call, None, 90_000))
            .await
            .unwrap();

        assert!(
            matches!(while_open, Err(Error::Conflict("call id"))),
            "{while_open:?}"
        );
        assert_ne!(first, second);
        let latest = store.interaction_by_call(&call).await.unwrap().unwrap();
        assert_eq!((latest.id, latest.ended_at_ms), (second, None));
    }
);

store_test!(
    a_transferred_call_keeps_its_link_and_the_answering_agent,
    |store: Store| async move {
        let ann = agent(&store, "ann", "2001").await;
        let original = CallId("original".into());
        let call = CallId("after-transfer".into());
        let id = store
            .open_interaction(NewInteraction {
                transferred_from: Some(&original),
                ..inbound(&call, None, 1_000)
            })
            .await
            .unwrap();

        store.assign_agent(id, ann, 2_000).await.unwrap();
        let closed = store
            .close_interaction(id, 3_000, Outcome::Transferred)
            .await
            .unwrap();

        assert_eq!(closed.transferred_from, Some(original));
        assert_eq!(closed.agent, Some(ann));
        assert_eq!(closed.outcome, Some(Outcome::Transferred));
        let missing = store.assign_agent(InteractionId(9_999), ann, 1).await;
        assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    }
);

store_test!(
    answering_returns_the_row_and_keeps_the_first_answer_time,
    |store: Store| async move {
        let call = CallId("call-answer@host".into());
        let id = store
            .open_interaction(inbound(&call, Some("+31201234567"), 10_000))
            .await
            .unwrap();
        store
            .save_wrap_up(id, "rang twice", None, 11_000)
            .await
            .unwrap();

        let first = store.answer_interaction(id, 12_000).await.unwrap();
        let again = store.answer_interaction(id, 13_000).await.unwrap();
        let missing = store
            .answer_interaction(InteractionId(id.0 + 1000), 13_000)
            .await;

        assert_eq!(first.answered_at_ms, Some(12_000));
        assert_eq!(first.notes, "rang twice");
        assert_eq!(again.answered_at_ms, Some(12_000));
        assert!(matches!(missing, Err(Error::NotFound("interaction"))));
    }
);

store_test!(
    users_by_extensions_finds_either_party,
    |store: Store| async move {
        let ann = agent(&store, "ann", "2001").await;
        let bob = agent(&store, "bob", "2002").await;

        let both = store.users_by_extensions("2001", "2002").await.unwrap();
        let one = store
            .users_by_extensions("0612345678", "2002")
            .await
            .unwrap();
        let none = store.users_by_extensions("3000", "3001").await.unwrap();

        let mut ids: Vec<_> = both.iter().map(|u| u.id).collect();
        ids.sort_by_key(|id| id.0);
        assert_eq!(ids, vec![ann, bob]);
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].id, bob);
        assert!(none.is_empty());
    }
);

mod pbx;
