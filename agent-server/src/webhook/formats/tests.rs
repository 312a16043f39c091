//! Each format read from sample bodies, and refused with the field named.

use super::*;

#[test]
fn zammad_form_and_json_read_the_same() {
    let form = b"event=newCall&from=4930901820&to=4922147103340&direction=in\
        &callId=c1&user%5B%5D=Emma+Taylor&user%5B%5D=Jonas+Becker&queue=support";
    let json = br#"{"event":"newCall","from":"4930901820","to":"4922147103340",
        "direction":"in","callId":"c1","user":["Emma Taylor","Jonas Becker"],
        "queue":"support"}"#;

    let from_form = parse_zammad(form, false).unwrap();
    let from_json = parse_zammad(json, true).unwrap();

    assert_eq!(from_form, from_json);
    assert_eq!(from_form.kind, PbxEventKind::NewCall);
    assert_eq!(from_form.call_id, "c1");
    assert_eq!(from_form.from.as_deref(), Some("4930901820"));
    assert_eq!(from_form.agents, ["Emma Taylor", "Jonas Becker"]);
    assert_eq!(from_form.queue.as_deref(), Some("support"));
    assert_eq!(from_form.direction, Some(PbxDirection::Inbound));
}

#[test]
fn a_hangup_carries_its_cause_and_the_answering_agent() {
    let body = br#"{"event":"hangup","callId":"c1","cause":"cancel",
        "answeringNumber":"emma@example.com","user":"Emma Taylor"}"#;

    let event = parse_zammad(body, true).unwrap();

    assert_eq!(
        event.kind,
        PbxEventKind::Ended {
            cause: EndCause::Abandoned
        }
    );
    assert_eq!(event.answering, ["emma@example.com", "Emma Taylor"]);
}

#[test]
fn causes_map_onto_the_sip_outcomes() {
    let cases = [
        ("normalClearing", EndCause::Completed),
        ("busy", EndCause::Busy),
        ("cancel", EndCause::Abandoned),
        ("noAnswer", EndCause::Failed),
        ("congestion", EndCause::Failed),
        ("notFound", EndCause::Failed),
        ("forwarded", EndCause::Transferred),
    ];
    for (word, cause) in cases {
        let body = format!("event=hangup&callId=x&cause={word}");
        let event = parse_sipgate(body.as_bytes()).unwrap();
        assert_eq!(event.kind, PbxEventKind::Ended { cause }, "{word}");
    }
}

#[test]
fn sipgate_links_a_transferred_call_by_its_original_id() {
    let body = b"event=newCall&from=492111234567&to=4921155512342&direction=in\
        &callId=B&origCallId=A&user%5B%5D=Bob+Schulz&diversion=4921155512341";
    let first = b"event=newCall&from=1&to=2&direction=in&callId=A&origCallId=A";

    let event = parse_sipgate(body).unwrap();

    assert_eq!(event.transferred_from.as_deref(), Some("A"));
    assert_eq!(event.agents, ["Bob Schulz"]);
    assert_eq!(parse_sipgate(first).unwrap().transferred_from, None);
}

#[test]
fn bad_bodies_are_refused_with_the_field_named() {
    let cases: [(&[u8], FormatError); 7] = [
        (b"from=1&to=2", FormatError::MissingField("event")),
        (
            b"event=newCall&to=2&direction=in&callId=x",
            FormatError::MissingField("from"),
        ),
        (b"event=answer&from=1", FormatError::MissingField("callId")),
        (b"event=hangup&callId=x", FormatError::MissingField("cause")),
        (
            b"event=hangup&callId=x&cause=tired",
            FormatError::UnknownValue("cause"),
        ),
        (b"event=dial&callId=x", FormatError::UnknownValue("event")),
        (
            b"event=newCall&from=1&to=2&direction=up&callId=x",
            FormatError::UnknownValue("direction"),
        ),
    ];
    for (body, err) in cases {
        assert_eq!(parse_sipgate(body), Err(err.clone()), "{err}");
    }
    let long = format!("event=answer&callId={}", "x".repeat(251));
    assert_eq!(
        parse_sipgate(long.as_bytes()),
        Err(FormatError::TooLong("callId"))
    );
    assert_eq!(parse_zammad(b"{", true), Err(FormatError::BadJson));
    assert_eq!(
        parse_zammad(&[0xff, 0xfe], false),
        Err(FormatError::NotText)
    );
}

#[test]
fn ringside_events_read_with_every_field() {
    let new_call = br#"{"version":1,"event":"new_call","call_id":"r1","from":"+31201234567",
        "to":"2001","direction":"inbound","agents":["ann"],"queue":"sales",
        "sip_call_id":"abc@pbx","at_ms":1700000000000}"#;
    let transfer = br#"{"version":1,"event":"transferred","call_id":"r1",
        "transfer_to":"2002","attended":true}"#;
    let ended = br#"{"version":1,"event":"ended","call_id":"r1","cause":"busy"}"#;

    let new_call = parse_ringside(new_call).unwrap();
    let transfer = parse_ringside(transfer).unwrap();
    let ended = parse_ringside(ended).unwrap();

    assert_eq!(new_call.sip_call_id.as_deref(), Some("abc@pbx"));
    assert_eq!(new_call.at_ms, Some(1_700_000_000_000));
    assert_eq!(new_call.agents, ["ann"]);
    assert_eq!(
        transfer.kind,
        PbxEventKind::Transferred {
            to: "2002".into(),
            attended: true
        }
    );
    assert_eq!(
        ended.kind,
        PbxEventKind::Ended {
            cause: EndCause::Busy
        }
    );
}

#[test]
fn ringside_refuses_other_versions_unknown_fields_and_missing_ones() {
    let cases: [(&[u8], FormatError); 5] = [
        (
            br#"{"event":"ended"}"#,
            FormatError::MissingField("version"),
        ),
        (br#"{"version":2,"event":"ended"}"#, FormatError::Version),
        (
            br#"{"version":1,"event":"ended","call_id":"x","cause":"busy","colour":1}"#,
            FormatError::UnknownValue("field name"),
        ),
        (
            br#"{"version":1,"event":"new_call","call_id":"x","to":"1","direction":"inbound"}"#,
            FormatError::MissingField("from"),
        ),
        (
            br#"{"version":1,"event":"transferred","call_id":"x"}"#,
            FormatError::MissingField("transfer_to"),
        ),
    ];
    for (body, err) in cases {
        assert_eq!(parse_ringside(body), Err(err.clone()), "{err}");
    }
}

proptest::proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
        let _ = parse_ringside(&bytes);
        let _ = parse_zammad(&bytes, true);
        let _ = parse_zammad(&bytes, false);
        let _ = parse_sipgate(&bytes);
    }
}

#[test]
fn a_sip_call_id_may_not_name_another_pbxs_webhook_call() {
    for id in ["pbx-3:abc", " pbx-12:x", "pbx-1:"] {
        let body = format!(
            r#"{{"version":1,"event":"ended","call_id":"c","sip_call_id":"{id}","cause":"completed"}}"#
        );

        assert_eq!(
            parse_ringside(body.as_bytes()),
            Err(FormatError::UnknownValue("sip_call_id")),
            "{id}"
        );
    }
    for id in ["pbx-call-7@10.0.0.1", "pbx-:x", "a84b4c76e66710@pc33"] {
        let body = format!(
            r#"{{"version":1,"event":"ended","call_id":"c","sip_call_id":"{id}","cause":"completed"}}"#
        );

        let event = parse_ringside(body.as_bytes()).unwrap();

        assert_eq!(event.sip_call_id.as_deref(), Some(id), "{id}");
    }
}

#[test]
fn a_ring_group_larger_than_the_agent_cap_keeps_its_first_members() {
    let users: String = (1..=30).map(|n| format!("&user[]=agent{n}")).collect();
    let body = format!("event=newCall&from=31201234567&to=2000&direction=in&callId=big{users}");

    let event = parse_zammad(body.as_bytes(), false).unwrap();

    assert_eq!(event.agents.len(), MAX_AGENTS);
    assert_eq!(event.agents[0], "agent1");
    assert_eq!(event.agents[MAX_AGENTS - 1], format!("agent{MAX_AGENTS}"));
}
