//! A call mirrored as HEP reaches the agent's console as a pop and is logged, over the
//! server's real sockets.

mod common;

use std::sync::atomic::Ordering;

use common::{eventually, start};
use ringside_protocol::{CallId, CallState, Caller, Direction, Outcome, ServerMessage};
use ringside_sip::synth::CallShape;

#[tokio::test]
async fn a_known_caller_pops_with_the_record_and_the_call_is_logged_with_notes() {
    let server = start().await;
    let (client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;

    // The trunk sends the national form; the customer is stored in E.164.
    server
        .play(
            CallShape::Answered,
            "call-1@pbx",
            "0201234567",
            "2001",
            common::t0_fixed(),
        )
        .await;

    let ringing = console.next_pop().await;
    assert_eq!(ringing.call_id, CallId("call-1@pbx".into()));
    assert_eq!(ringing.state, CallState::Ringing);
    assert_eq!(ringing.caller, Caller::Number("+31201234567".into()));
    assert_eq!(ringing.called, "2001");
    assert_eq!(ringing.direction, Direction::Inbound);
    assert_eq!(ringing.ringing_at_ms, common::t0_fixed());
    let card = ringing.customer.clone().expect("known customer");
    assert_eq!(card.id, server.jan);
    assert_eq!(card.name, "Jan Jansen");
    assert_eq!(card.organisation.as_deref(), Some("Jansen BV"));
    assert!(card.recent.is_empty());

    let answered = console.next_pop().await;
    assert_eq!(answered.state, CallState::Answered);
    // The phone answers after 4 s of ringing; the proxy's copies follow within a few ms.
    let answered_at = answered.answered_at_ms.unwrap();
    assert!(
        (common::t0_fixed() + 4_000..common::t0_fixed() + 4_010).contains(&answered_at),
        "{answered_at}"
    );
    let ended = console.next_pop().await;
    assert_eq!(ended.state, CallState::Ended(Outcome::Completed));
    assert_eq!(ended.interaction_id, ringing.interaction_id);

    let saved = client
        .put(format!(
            "{}/api/v1/interactions/{}/wrap-up",
            server.base, ended.interaction_id
        ))
        .json(&serde_json::json!({"notes": "Asked about invoice 42", "disposition": "callback"}))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 204);

    // Every console of the agent sees the saved notes on the pop.
    let updated = console.next_pop().await;
    assert_eq!(updated.call_id, CallId("call-1@pbx".into()));
    assert_eq!(updated.notes, "Asked about invoice 42");
    assert_eq!(updated.disposition.as_deref(), Some("callback"));

    let row = server
        .running
        .store
        .interaction(ended.interaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.customer, Some(server.jan));
    assert_eq!(row.agent, Some(server.ann));
    assert_eq!(row.caller_number.as_deref(), Some("+31201234567"));
    assert_eq!(row.called_number, "2001");
    assert_eq!(row.ringing_at_ms, common::t0_fixed());
    assert_eq!(row.answered_at_ms, answered.answered_at_ms);
    assert_eq!(row.ended_at_ms, ended.ended_at_ms);
    assert_eq!(row.wait_seconds, Some(4));
    assert_eq!(row.talk_seconds, Some(30));
    assert_eq!(row.outcome, Some(Outcome::Completed));
    assert_eq!(row.notes, "Asked about invoice 42");
    assert_eq!(row.disposition.as_deref(), Some("callback"));

    // The next call from Jan lists this one on the pop.
    server
        .play(
            CallShape::Abandoned,
            "call-2@pbx",
            "+31201234567",
            "2001",
            common::t0_fixed() + 60_000,
        )
        .await;
    let next = console.next_pop().await;
    assert_eq!(next.call_id, CallId("call-2@pbx".into()));
    let recent = next.customer.expect("known customer").recent;
    assert_eq!(recent.len(), 1);
    assert_eq!(recent[0].notes, "Asked about invoice 42");
    assert_eq!(recent[0].outcome, Some(Outcome::Completed));
    assert_eq!(
        console.next_pop().await.state,
        CallState::Ended(Outcome::Abandoned)
    );
    server.stop().await;
}

#[tokio::test]
async fn unknown_withheld_busy_and_rejected_calls_are_logged_with_their_outcome() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;

    server
        .play(
            CallShape::Answered,
            "unknown@pbx",
            "+31612345678",
            "2001",
            common::t0_fixed(),
        )
        .await;
    let pop = console.next_pop().await;
    assert_eq!(pop.customer, None);
    assert_eq!(pop.caller, Caller::Number("+31612345678".into()));
    console.next_pop().await;
    console.next_pop().await;

    server
        .play(
            CallShape::Withheld,
            "withheld@pbx",
            "+31201234567",
            "2001",
            common::t0_fixed(),
        )
        .await;
    let pop = console.next_pop().await;
    assert_eq!(pop.caller, Caller::Withheld);
    assert_eq!(
        pop.customer, None,
        "a withheld caller never matches, even with a known PAI"
    );
    console.next_pop().await;
    console.next_pop().await;

    server
        .play(
            CallShape::Busy,
            "busy@pbx",
            "+31201234567",
            "2001",
            common::t0_fixed(),
        )
        .await;
    assert_eq!(console.next_pop().await.state, CallState::Ringing);
    assert_eq!(
        console.next_pop().await.state,
        CallState::Ended(Outcome::Busy)
    );

    server
        .play(
            CallShape::Rejected,
            "rejected@pbx",
            "+31201234567",
            "2001",
            common::t0_fixed(),
        )
        .await;
    assert_eq!(console.next_pop().await.state, CallState::Ringing);
    assert_eq!(
        console.next_pop().await.state,
        CallState::Ended(Outcome::Rejected)
    );

    let store = &server.running.store;
    let unknown = store
        .interaction_by_call(&CallId("unknown@pbx".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(unknown.customer, None);
    assert_eq!(unknown.caller_number.as_deref(), Some("+31612345678"));
    assert_eq!(unknown.outcome, Some(Outcome::Completed));
    let withheld = store
        .interaction_by_call(&CallId("withheld@pbx".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(withheld.caller_number, None);
    let busy = store
        .interaction_by_call(&CallId("busy@pbx".into()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (busy.outcome, busy.answered_at_ms, busy.talk_seconds),
        (Some(Outcome::Busy), None, Some(0))
    );
    server.stop().await;
}

#[tokio::test]
async fn pops_reach_only_the_ringing_agent_and_every_console_of_theirs() {
    let server = start().await;
    let (_a, ann_cookie) = server.login("ann").await;
    let (_b, bob_cookie) = server.login("bob").await;
    let mut ann_tab1 = server.console(&ann_cookie).await;
    let mut ann_tab2 = server.console(&ann_cookie).await;
    let mut bob = server.console(&bob_cookie).await;

    server
        .play(
            CallShape::Abandoned,
            "for-ann@pbx",
            "+31201234567",
            "2001",
            common::t0_fixed(),
        )
        .await;
    server
        .play(
            CallShape::Abandoned,
            "for-bob@pbx",
            "+31612345678",
            "2002",
            common::t0_fixed(),
        )
        .await;

    for tab in [&mut ann_tab1, &mut ann_tab2] {
        assert_eq!(tab.next_pop().await.call_id, CallId("for-ann@pbx".into()));
        assert_eq!(tab.next_pop().await.call_id, CallId("for-ann@pbx".into()));
    }
    let bobs = bob.next_pop().await;
    assert_eq!(bobs.call_id, CallId("for-bob@pbx".into()));
    assert_eq!(bob.next_pop().await.call_id, CallId("for-bob@pbx".into()));
    server.stop().await;
}

#[tokio::test]
async fn a_console_that_reconnects_while_it_rings_gets_the_pop_again() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let script = ringside_sip::synth::call_messages(
        CallShape::Answered,
        "live@pbx",
        "+31201234567",
        None,
        "2001",
        4_000,
        30_000,
    );
    // Only the messages up to the ringing: the call is still ringing.
    let ringing: Vec<_> = script
        .iter()
        .filter(|m| m.offset_ms < 4_000)
        .cloned()
        .collect();
    common::send_script(server.running.hep_addr, &ringing, common::t0_fixed()).await;
    let hub = server.running.hub.clone();
    let ann = server.ann;
    eventually(|| {
        let hub = hub.clone();
        async move { !hub.pops_of(ann).is_empty() }
    })
    .await;

    let console = server.console(&cookie).await;

    assert_eq!(console.greeted_with.len(), 1);
    let pop = console.greeted_with[0].clone();
    assert_eq!(pop.call_id, CallId("live@pbx".into()));
    assert_eq!(pop.state, CallState::Ringing);
    assert_eq!(pop.customer.map(|c| c.name).as_deref(), Some("Jan Jansen"));
    server.stop().await;
}

#[tokio::test]
async fn malformed_datagrams_are_counted_and_the_next_call_still_pops() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let hep = server.running.hep_addr;

    socket.send_to(b"not hep at all", hep).await.unwrap();
    socket.send_to(b"HEP3\x00\x40truncated", hep).await.unwrap();
    let mut bad_sip = ringside_sip::synth::to_hep(
        &ringside_sip::synth::call_messages(CallShape::Answered, "x", "1", None, "2001", 1, 1)[0],
        common::t0_fixed(),
        1,
    );
    let len = bad_sip.len();
    bad_sip[len - 40..].fill(b'\n');
    let payload_start = bad_sip.windows(6).position(|w| w == b"INVITE").unwrap();
    bad_sip[payload_start..payload_start + 6].copy_from_slice(b"\x00\x01\x02\x03\x04\x05");
    socket.send_to(&bad_sip, hep).await.unwrap();
    server
        .play(
            CallShape::Busy,
            "after-garbage@pbx",
            "+31201234567",
            "2001",
            common::t0_fixed(),
        )
        .await;

    assert_eq!(
        console.next_pop().await.call_id,
        CallId("after-garbage@pbx".into())
    );
    let metrics = &server.running.metrics;
    // Text that starts like no SIP message is neither HEP nor SIP: counted apart.
    assert_eq!(metrics.ingest_unknown.load(Ordering::Relaxed), 1);
    assert_eq!(metrics.hep_malformed.load(Ordering::Relaxed), 1);
    assert_eq!(metrics.sip_malformed.load(Ordering::Relaxed), 1);
    let text = reqwest::get(format!("{}/metrics", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("ringside_hep_malformed_total 1\n"), "{text}");
    server.stop().await;
}

#[tokio::test]
async fn dismissing_an_ended_pop_removes_it_for_every_console() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut tab1 = server.console(&cookie).await;
    let mut tab2 = server.console(&cookie).await;
    server
        .play(
            CallShape::Busy,
            "gone@pbx",
            "+31201234567",
            "2001",
            common::t0_fixed(),
        )
        .await;
    for tab in [&mut tab1, &mut tab2] {
        tab.next_pop().await;
        tab.next_pop().await;
    }

    use futures_util::SinkExt;
    let dismiss = serde_json::json!({"type": "dismiss", "call_id": "gone@pbx"}).to_string();
    tab1.socket
        .send(tokio_tungstenite::tungstenite::Message::Text(
            dismiss.into(),
        ))
        .await
        .unwrap();

    for tab in [&mut tab1, &mut tab2] {
        assert_eq!(
            tab.next().await,
            ServerMessage::PopRemoved {
                call_id: CallId("gone@pbx".into())
            }
        );
    }
    assert!(server.running.hub.pops_of(server.ann).is_empty());
    server.stop().await;
}

#[tokio::test]
async fn a_queue_leg_cancelled_as_completed_elsewhere_is_logged_answered_elsewhere() {
    let server = start().await;
    let (_client, cookie) = server.login("ann").await;
    let mut console = server.console(&cookie).await;

    // A PBX queue rings Ann's phone on a dialog of its own and cancels it when another
    // agent takes the call, saying so in the CANCEL's Reason (RFC 3326).
    let mut script = ringside_sip::synth::call_messages(
        CallShape::Abandoned,
        "queue-leg-1@pbx",
        "+31201234567",
        None,
        "2001",
        6_000,
        0,
    );
    let mut cancels = 0;
    for message in script.iter_mut().filter(|m| m.text.starts_with("CANCEL ")) {
        message.text = message.text.replacen(
            "\r\n\r\n",
            "\r\nReason: SIP;cause=200;text=\"Call completed elsewhere\"\r\n\r\n",
            1,
        );
        cancels += 1;
    }
    assert!(cancels > 0, "the abandoned script has a CANCEL");
    common::send_script(server.running.hep_addr, &script, common::t0_fixed()).await;

    let ringing = console.next_pop().await;
    assert_eq!(ringing.state, CallState::Ringing);
    let ended = console.next_pop().await;
    assert_eq!(ended.state, CallState::Ended(Outcome::AnsweredElsewhere));

    let row = server
        .running
        .store
        .interaction(ended.interaction_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.agent, Some(server.ann));
    assert_eq!(row.customer, Some(server.jan));
    assert_eq!(row.outcome, Some(Outcome::AnsweredElsewhere));
    assert_eq!(row.answered_at_ms, None);
    assert_eq!(row.talk_seconds, Some(0));
    assert_eq!(row.wait_seconds, Some(6));
    server.stop().await;
}
