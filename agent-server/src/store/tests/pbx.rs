//! Webhook tokens, the block list, users named by a PBX, and the unseen-start mark.

use secrecy::ExposeSecret;

use super::*;

store_test!(
    tokens_are_found_by_hash_until_revoked,
    |store: Store| async move {
        let id = store
            .create_pbx_token(
                "office",
                "zammad",
                "hash-1",
                Some("a-secret-of-16-chars"),
                5,
            )
            .await
            .unwrap();
        let unsigned = store
            .create_pbx_token("cloud", "sipgate", "hash-2", None, 6)
            .await
            .unwrap();
        let twice = store
            .create_pbx_token("again", "zammad", "hash-1", None, 7)
            .await;

        let found = store.pbx_token_by_hash("hash-1").await.unwrap().unwrap();
        store.revoke_pbx_token(id, 10).await.unwrap();
        store.revoke_pbx_token(id, 20).await.unwrap();
        let after = store.pbx_token_by_hash("hash-1").await.unwrap();
        let listed = store.pbx_tokens().await.unwrap();
        let unknown = store.revoke_pbx_token(9_999, 10).await;

        assert!(matches!(twice, Err(Error::Conflict("token"))), "{twice:?}");
        assert_eq!(found.id, id);
        assert_eq!(found.format, "zammad");
        assert_eq!(
            found.secret.as_ref().map(|s| s.expose_secret().to_owned()),
            Some("a-secret-of-16-chars".to_owned())
        );
        assert!(after.is_none());
        assert_eq!(listed.len(), 2);
        assert_eq!(listed[0].revoked_at_ms, Some(10));
        assert_eq!(listed[1].id, unsigned);
        assert!(listed[1].secret.is_none());
        assert!(matches!(unknown, Err(Error::NotFound("token"))));
    }
);

store_test!(
    the_block_list_adds_once_and_removes,
    |store: Store| async move {
        store.block_number("+31201234567", 1).await.unwrap();
        store.block_number("+31201234567", 2).await.unwrap();
        store.block_number("+4930901820", 3).await.unwrap();

        let listed = store.blocked_numbers().await.unwrap();
        let blocked = store.is_blocked("+31201234567").await.unwrap();
        store.unblock_number("+31201234567").await.unwrap();
        let again = store.unblock_number("+31201234567").await;

        assert_eq!(listed, ["+31201234567", "+4930901820"]);
        assert!(blocked);
        assert!(!store.is_blocked("+31201234567").await.unwrap());
        assert!(matches!(again, Err(Error::NotFound(_))));
    }
);

store_test!(
    a_pbx_names_users_by_extension_login_email_or_unique_display_name,
    |store: Store| async move {
        let emma = agent(&store, "emma", "2001").await;
        let jonas = agent(&store, "jonas", "2002").await;
        store
            .set_user_email(emma, Some("Emma.Taylor@Example.com"))
            .await
            .unwrap();
        let taken = store
            .set_user_email(jonas, Some("emma.taylor@example.com"))
            .await;

        let named = |name: &'static str| {
            let store = store.clone();
            async move { store.user_named_by_pbx(name).await.unwrap().map(|u| u.id) }
        };

        assert!(matches!(taken, Err(Error::Conflict("e-mail"))), "{taken:?}");
        assert_eq!(named("2001").await, Some(emma));
        assert_eq!(named("jonas").await, Some(jonas));
        assert_eq!(named("EMMA.TAYLOR@example.com").await, Some(emma));
        // Both agents are called "Agent Smith": a shared display name names nobody.
        assert_eq!(named("Agent Smith").await, None);
        assert_eq!(named("nobody").await, None);
    }
);

store_test!(
    an_interaction_can_be_marked_as_started_unseen,
    |store: Store| async move {
        let call = CallId("late@pbx".into());
        let id = store
            .open_interaction(inbound(&call, Some("+31201234567"), 1_000))
            .await
            .unwrap();
        let before = store.interaction(id).await.unwrap().unwrap();

        store.mark_start_unseen(id).await.unwrap();

        let after = store.interaction(id).await.unwrap().unwrap();
        assert!(!before.start_unseen);
        assert!(after.start_unseen);
    }
);
