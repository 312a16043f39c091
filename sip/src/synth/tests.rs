use super::*;
use crate::identity::CallerId;
use crate::message::{self, Method, SipMessage};
use crate::tracker::{CallEventKind, EndCause, Side, Tracker};

const START_MS: i64 = 1_780_000_000_000;

fn script(shape: CallShape) -> Vec<ScriptedMessage> {
    call_messages(
        shape,
        "demo-1@ringside",
        "+31201234567",
        Some("Jan \"JJ\" Jansen"),
        "2001",
        1000,
        2000,
    )
}

fn parsed(messages: &[ScriptedMessage]) -> Vec<SipMessage> {
    messages
        .iter()
        .map(|m| message::parse(m.text.as_bytes()).unwrap())
        .collect()
}

fn track(shape: CallShape) -> (Tracker, Vec<CallEventKind>) {
    let messages = script(shape);
    let mut tracker = Tracker::default();
    let mut kinds = Vec::new();
    for (message, parsed) in messages.iter().zip(parsed(&messages)) {
        let at = START_MS + i64::try_from(message.offset_ms).unwrap();
        kinds.extend(tracker.observe(&parsed, at).into_iter().map(|e| e.kind));
    }
    (tracker, kinds)
}

fn ringing(caller: CallerId) -> CallEventKind {
    CallEventKind::Ringing {
        caller,
        called: "2001".to_owned(),
        transferred_from: None,
    }
}

fn ended(cause: EndCause, hangup_by: Option<Side>) -> CallEventKind {
    CallEventKind::Ended {
        cause,
        hangup_by,
        timed_out: false,
    }
}

#[test]
fn every_shape_yields_its_events() {
    let number = || CallerId::Number("+31201234567".to_owned());
    let completed = ended(EndCause::Completed, Some(Side::Caller));
    let table = [
        (
            CallShape::Answered,
            14,
            vec![
                ringing(number()),
                CallEventKind::Answered {
                    by: Some("2001".to_owned()),
                },
                completed.clone(),
            ],
        ),
        (
            CallShape::Abandoned,
            14,
            vec![ringing(number()), ended(EndCause::Abandoned, None)],
        ),
        (
            CallShape::Busy,
            8,
            vec![ringing(number()), ended(EndCause::Busy, None)],
        ),
        (
            CallShape::Rejected,
            10,
            vec![ringing(number()), ended(EndCause::Rejected, None)],
        ),
        (
            CallShape::Withheld,
            14,
            vec![
                ringing(CallerId::Withheld),
                CallEventKind::Answered {
                    by: Some("2001".to_owned()),
                },
                completed,
            ],
        ),
    ];

    for (shape, count, expected) in table {
        assert_eq!(script(shape).len(), count, "{shape:?}");
        let (tracker, kinds) = track(shape);
        assert_eq!(kinds, expected, "{shape:?}");
        assert_eq!(tracker.active_calls(), 0, "{shape:?}");
    }
}

#[test]
fn proxied_messages_come_twice_like_the_lab() {
    let (tracker, _) = track(CallShape::Answered);
    assert_eq!(tracker.stats().duplicates, 7);
}

#[test]
fn timing_follows_ring_and_talk() {
    let messages = script(CallShape::Answered);
    let all = parsed(&messages);

    let answer = all.iter().position(|m| m.status() == Some(200)).unwrap();
    let bye = all
        .iter()
        .position(|m| m.method() == Some(&Method::Bye))
        .unwrap();
    assert_eq!(messages[answer].offset_ms, 1002);
    assert_eq!(messages[bye].offset_ms, 1002 + 1 + 2000);
    assert!(messages
        .windows(2)
        .all(|w| w[0].offset_ms <= w[1].offset_ms));
}

#[test]
fn headers_are_consistent() {
    for shape in CallShape::ALL {
        for message in script(shape) {
            let text = &message.text;
            assert!(
                !text.replace("\r\n", "").contains('\n'),
                "bare LF in {shape:?}"
            );

            let (head, body) = text.split_once("\r\n\r\n").unwrap();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(length, body.len(), "{shape:?}");

            let vias = head.lines().filter(|l| l.starts_with("Via: ")).count();
            let phone_side = message.src == PHONE_ADDR || message.dst == PHONE_ADDR;
            let own_ack = head.starts_with("ACK") && phone_side && vias == 1;
            assert_eq!(
                vias,
                if phone_side && !own_ack { 2 } else { 1 },
                "{shape:?}"
            );
        }
    }
}

#[test]
fn cancel_and_failure_ack_reuse_the_invite_branch() {
    let messages = script(CallShape::Abandoned);
    let top_via = |m: &ScriptedMessage| {
        m.text
            .lines()
            .find(|l| l.starts_with("Via: "))
            .unwrap()
            .to_owned()
    };
    let all = parsed(&messages);
    let invite_via = top_via(&messages[0]);

    for (scripted, parsed) in messages.iter().zip(&all) {
        let is_caller_leg = scripted.src == CALLER_ADDR;
        let cancel_or_ack = matches!(parsed.method(), Some(Method::Cancel | Method::Ack));
        if is_caller_leg && cancel_or_ack {
            assert_eq!(top_via(scripted), invite_via);
        }
    }
}

#[test]
fn display_name_is_escaped_and_read_back() {
    let invite = message::parse(script(CallShape::Answered)[0].text.as_bytes()).unwrap();
    assert_eq!(
        invite.from.display_name.as_deref(),
        Some("Jan \"JJ\" Jansen")
    );
}

#[test]
fn withheld_carries_the_number_only_in_the_asserted_identity() {
    let invite = message::parse(script(CallShape::Withheld)[0].text.as_bytes()).unwrap();

    assert_eq!(invite.privacy, ["id"]);
    assert_eq!(
        invite.asserted,
        ["sip:+31201234567@trunk.example;user=phone"]
    );
    assert_eq!(invite.from.user.as_deref(), Some("anonymous"));
}

#[test]
fn scripts_are_deterministic_and_distinct_per_call() {
    let one = call_messages(CallShape::Busy, "a", "1", None, "2001", 0, 0);
    let again = call_messages(CallShape::Busy, "a", "1", None, "2001", 0, 0);
    let other = call_messages(CallShape::Busy, "b", "1", None, "2001", 0, 0);

    assert_eq!(one, again);
    assert_ne!(one[0].text, other[0].text);
}

#[test]
fn to_hep_frames_a_decodable_datagram() {
    let message = &script(CallShape::Answered)[2];

    let datagram = to_hep(message, START_MS + 1_234, 2001);
    let (packet, parsed) = crate::decode_datagram(&datagram).unwrap();

    assert_eq!((packet.src, packet.dst), (PROXY_ADDR, PHONE_ADDR));
    assert_eq!(packet.timestamp_ms(), START_MS + 1_234);
    assert_eq!(packet.capture_id, 2001);
    assert_eq!(parsed.method(), Some(&Method::Invite));
}

#[test]
fn to_hep_clamps_times_before_the_epoch() {
    let datagram = to_hep(&script(CallShape::Busy)[0], -5, 1);
    assert_eq!(hep::decode(&datagram).unwrap().timestamp_ms(), 0);
}

#[test]
fn debug_hides_the_text() {
    let shown = format!("{:?}", script(CallShape::Answered)[0]);
    assert!(
        !shown.contains("31201234567") && !shown.contains("Jansen"),
        "{shown}"
    );
}
