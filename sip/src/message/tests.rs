use proptest::prelude::*;

use super::*;
use crate::test_support::{packets, FIXTURES};

fn fixture_messages(name: &str) -> Vec<SipMessage> {
    packets(name)
        .iter()
        .map(|packet| parse(&packet.payload).unwrap())
        .collect()
}

const MINIMAL: &str = "OPTIONS sip:2001@127.0.0.1 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-1\r\n\
    From: <sip:+31201234567@trunk.example>;tag=a\r\n\
    To: <sip:2001@127.0.0.1>\r\n\
    Call-ID: c-1\r\n\
    CSeq: 7 OPTIONS\r\n\
    Content-Length: 0\r\n\r\n";

fn without_header(text: &str, name: &str) -> String {
    text.lines()
        .filter(|line| !line.starts_with(name))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn every_fixture_message_parses() {
    for (name, _) in FIXTURES {
        for message in fixture_messages(name) {
            assert!(!message.call_id.is_empty(), "{name}");
            assert!(
                message.from.tag.is_some(),
                "{name}: every lab From has a tag"
            );
        }
    }
}

#[test]
fn answered_invite_in_detail() {
    let invite = &fixture_messages("answered")[0];

    assert_eq!(
        invite.start,
        StartLine::Request {
            method: Method::Invite,
            uri_user: Some("2001".to_owned())
        }
    );
    assert_eq!(invite.call_id, "1-9262@127.0.0.1");
    assert_eq!((invite.cseq, &invite.cseq_method), (1, &Method::Invite));
    assert_eq!(invite.from.display_name.as_deref(), Some("Jan Jansen"));
    assert_eq!(invite.from.uri, "sip:+31201234567@trunk.example;user=phone");
    assert_eq!(invite.from.user.as_deref(), Some("+31201234567"));
    assert_eq!(invite.from.host, "trunk.example");
    assert_eq!(invite.from.tag.as_deref(), Some("9262SIPpTag001"));
    assert_eq!(invite.to.user.as_deref(), Some("2001"));
    assert_eq!(invite.to.tag, None);
    assert!(invite.asserted.is_empty() && invite.privacy.is_empty());
    assert_eq!(invite.reason, None);
}

#[test]
fn answered_responses_and_in_dialog_requests() {
    let all = fixture_messages("answered");

    assert_eq!(all[1].status(), Some(100));
    assert_eq!(all[4].status(), Some(180));
    assert_eq!(all[4].to.tag.as_deref(), Some("9251SIPpTag011"));
    assert_eq!(all[6].status(), Some(200));
    assert_eq!(all[8].method(), Some(&Method::Ack));
    assert_eq!(
        all[8].start,
        StartLine::Request {
            method: Method::Ack,
            uri_user: Some("agent".to_owned())
        }
    );
    assert_eq!(all[10].method(), Some(&Method::Bye));
    assert_eq!((all[10].cseq, &all[10].cseq_method), (2, &Method::Bye));
    assert_eq!(all[13].cseq_method, Method::Bye);
}

#[test]
fn cancel_and_its_responses() {
    let all = fixture_messages("abandoned");

    assert_eq!(all[6].method(), Some(&Method::Cancel));
    assert_eq!(all[8].status(), Some(200));
    assert_eq!(all[8].cseq_method, Method::Cancel);
    assert_eq!(all[10].status(), Some(487));
}

#[test]
fn asserted_identities_keep_their_order_and_form() {
    let invite = &fixture_messages("pai")[0];

    assert_eq!(
        invite.asserted,
        vec![
            "sip:+31201234567@trunk.example;user=phone".to_owned(),
            "tel:+31201234567".to_owned()
        ]
    );
    assert_eq!(invite.from.user.as_deref(), Some("0201234567"));
}

#[test]
fn privacy_values_are_lowercased() {
    let invite = &fixture_messages("anonymous")[0];
    assert_eq!(invite.privacy, vec!["id".to_owned()]);
    assert_eq!(invite.from.user.as_deref(), Some("anonymous"));
    assert_eq!(invite.from.host, "anonymous.invalid");

    let text = MINIMAL.replace("CSeq", "Privacy: Header; ID\r\nPrivacy: user\r\nCSeq");
    assert_eq!(
        parse(text.as_bytes()).unwrap().privacy,
        ["header", "id", "user"]
    );
}

#[test]
fn compact_header_forms() {
    let text = "BYE sip:agent@127.0.0.1:5070 SIP/2.0\r\n\
        v: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-2\r\n\
        f: <sip:+31201234567@trunk.example>;tag=a\r\n\
        t: <sip:2001@127.0.0.1>;tag=b\r\n\
        i: compact-1\r\n\
        CSeq: 2 BYE\r\n\
        l: 0\r\n\r\n";

    let message = parse(text.as_bytes()).unwrap();

    assert_eq!(message.call_id, "compact-1");
    assert_eq!(message.from.tag.as_deref(), Some("a"));
    assert_eq!(message.to.tag.as_deref(), Some("b"));
}

#[test]
fn folded_lines_bare_lf_and_leading_blank_lines() {
    let text = "\r\n\r\nOPTIONS sip:2001@127.0.0.1 SIP/2.0\n\
        Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-1\n\
        From: \"Jan\"\n  <sip:+31201234567@trunk.example>;tag=a\n\
        To: <sip:2001@127.0.0.1>\n\
        Call-ID: c-2\n\
        CSeq: 7\n\tOPTIONS\n\
        Reason: SIP;cause=200;text=\"Call completed elsewhere\"\n\n";

    let message = parse(text.as_bytes()).unwrap();

    assert_eq!(message.from.display_name.as_deref(), Some("Jan"));
    assert_eq!(message.cseq_method, Method::Options);
    assert_eq!(
        message.reason.as_deref(),
        Some("SIP;cause=200;text=\"Call completed elsewhere\"")
    );
}

#[test]
fn extension_method_in_cseq_is_kept() {
    let text = MINIMAL.replace("CSeq: 7 OPTIONS", "CSeq: 7 X-PING");
    let message = parse(text.as_bytes()).unwrap();
    assert_eq!(message.cseq_method, Method::Other("X-PING".to_owned()));
    assert_eq!(message.cseq_method.as_str(), "X-PING");
}

#[test]
fn binary_body_is_allowed() {
    let mut bytes = MINIMAL
        .replace("Content-Length: 0", "Content-Length: 3")
        .into_bytes();
    bytes.extend_from_slice(&[0xff, 0x00, 0xfe]);
    assert!(parse(&bytes).is_ok());
}

#[test]
fn malformed_messages_are_errors() {
    let missing = |name| Error::sip_header(name, "missing");
    let cases: Vec<(String, Error)> = vec![
        (without_header(MINIMAL, "Call-ID"), missing("Call-ID")),
        (without_header(MINIMAL, "CSeq"), missing("CSeq")),
        (without_header(MINIMAL, "From"), missing("From")),
        (without_header(MINIMAL, "To"), missing("To")),
        (
            MINIMAL.replace("CSeq: 7", "CSeq: seven"),
            Error::sip_header("CSeq", "bad sequence number"),
        ),
        (
            MINIMAL.replace("CSeq: 7 OPTIONS", "CSeq: 7"),
            Error::sip_header("CSeq", "missing method"),
        ),
        (
            MINIMAL.replace(
                "From: <sip:+31201234567@trunk.example>",
                "From: <sip:+31201234567",
            ),
            Error::sip_header("From", "malformed address"),
        ),
    ];
    for (text, expected) in cases {
        assert_eq!(parse(text.as_bytes()), Err(expected), "{text}");
    }

    for garbage in ["", "\r\n\r\n", "hello", "SIP/2.0 abc Nope\r\n\r\n"] {
        assert!(
            matches!(parse(garbage.as_bytes()), Err(Error::SipParse { .. })),
            "{garbage:?}"
        );
    }
    let unknown_method = MINIMAL.replace("OPTIONS sip", "FROBNICATE sip");
    assert!(parse(unknown_method.as_bytes()).is_err());
    assert_eq!(
        parse(b"OPTIONS sip:\xff SIP/2.0\r\n\r\n"),
        Err(Error::PayloadNotUtf8)
    );
}

#[test]
fn latin1_bytes_in_headers_cost_nothing_but_those_characters() {
    let mut text = MINIMAL
        .replace(
            "From: <sip:+31201234567@trunk.example>;tag=a",
            "From: \"M\u{1}ller\" <sip:+31201234567@trunk.example>;tag=a",
        )
        .into_bytes();
    let at = text.iter().position(|b| *b == 1).unwrap();
    text[at] = 0xfc; // ü in Latin-1
    let mut with_agent = text.clone();
    let end = with_agent
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap();
    with_agent.splice(end..end, b"\r\nUser-Agent: Gr\xe4ndstream".iter().copied());

    for bytes in [text, with_agent] {
        let message = parse(&bytes).unwrap();

        assert_eq!(message.from.user.as_deref(), Some("+31201234567"));
        assert_eq!(message.from.display_name.as_deref(), Some("M\u{fffd}ller"));
        assert_eq!(message.from.tag.as_deref(), Some("a"));
    }
}

#[test]
fn errors_never_quote_the_message() {
    let broken = "INVITE sip:+31201234567@trunk.example SIP/3.0 garbage\r\n\r\n";

    let err = parse(broken.as_bytes()).unwrap_err();

    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("31201234567"), "{shown}");
}

#[test]
fn debug_shows_no_personal_data() {
    for message in fixture_messages("pai") {
        let shown = format!("{message:?}");
        for secret in [
            "+3120",
            "0201234567",
            "Reception",
            "trunk.example",
            "127.0.0.1",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains(&message.call_id_digest().to_string()));
    }
}

#[test]
fn call_id_digest_is_stable() {
    assert_eq!(CallIdDigest("").to_string(), "cbf29ce484222325");
    assert_eq!(CallIdDigest("a").to_string(), "af63dc4c8601ec8c");
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = MINIMAL.as_bytes().to_vec();
        for (at, byte) in edits {
            let at = at.index(bytes.len());
            bytes[at] = byte;
        }
        let cut = cut.index(bytes.len() + 1);
        let _ = parse(&bytes[..cut]);
    }

    #[test]
    fn arbitrary_header_values_never_panic(value in "\\PC{0,60}") {
        for header in [
            "From", "To", "P-Asserted-Identity", "Privacy", "CSeq", "Call-ID", "Via",
            "Contact", "Refer-To", "Replaces", "Session-Expires", "Remote-Party-ID",
        ] {
            // Placed first, so it wins over the valid header of the same name.
            let text = MINIMAL.replacen("\r\n", &format!("\r\n{header}: {value}\r\n"), 1);
            let _ = parse(text.as_bytes());
        }
    }
}

#[test]
fn an_ipv6_request_uri_parses_and_keeps_its_user() {
    let text = MINIMAL.replace(
        "OPTIONS sip:2001@127.0.0.1 SIP/2.0",
        "INVITE sip:08019200028@[fd17:625c:f037:2::1]:5060 SIP/2.0",
    );

    let message = parse(text.as_bytes()).unwrap();

    assert_eq!(message.method(), Some(&Method::Invite));
    let StartLine::Request { uri_user, .. } = &message.start else {
        panic!("a request");
    };
    assert_eq!(uri_user.as_deref(), Some("08019200028"));
}

#[test]
fn an_unbracketed_ipv6_request_uri_parses_and_keeps_its_user() {
    for uri in [
        "sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c:5060",
        "sip:4321@fec0:0:0:0:216:d3ff:fe0d:22c;transport=udp",
    ] {
        let text = MINIMAL.replace(
            "OPTIONS sip:2001@127.0.0.1 SIP/2.0",
            &format!("BYE {uri} SIP/2.0"),
        );

        let message = parse(text.as_bytes()).unwrap();

        assert_eq!(message.method(), Some(&Method::Bye), "{uri}");
        let StartLine::Request { uri_user, .. } = &message.start else {
            panic!("a request");
        };
        assert_eq!(uri_user.as_deref(), Some("4321"), "{uri}");
    }
}

#[test]
fn a_request_uri_with_a_host_and_port_is_not_taken_for_ipv6() {
    assert!(!super::has_ipv6_host("sip:2001@pbx.example:5060"));
    assert!(!super::has_ipv6_host("sip:pbx.example:5060;transport=tcp"));
    assert!(super::has_ipv6_host("sip:2001@[fd17::1]:5060"));
    assert!(super::has_ipv6_host(
        "sip:2001@fec0:0:0:0:216:d3ff:fe0d:22c"
    ));
}

#[test]
fn a_display_name_with_escaped_quotes_outside_a_string_is_read() {
    let text = MINIMAL.replace(
        "From: <sip:+31201234567@trunk.example>;tag=a",
        "f: \\\"arik\\\" <sip:816666@192.168.1.2>;tag=6b1a",
    );

    let message = parse(text.as_bytes()).unwrap();

    assert_eq!(message.from.user.as_deref(), Some("816666"));
    assert_eq!(message.from.display_name.as_deref(), Some("arik"));
    assert_eq!(message.from.tag.as_deref(), Some("6b1a"));
}

const INVITE_WITH_EXTRAS: &str = "INVITE sip:2002@10.0.0.7:5062 SIP/2.0\r\n\
    Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-proxy-2, SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-uac\r\n\
    v: SIP/2.0/UDP 127.0.0.1:5090;branch=z9hG4bK-edge\r\n\
    From: <sip:+31201234567@trunk.example>;tag=a\r\n\
    To: <sip:600@127.0.0.1>\r\n\
    Call-ID: extras-1\r\n\
    CSeq: 1 INVITE\r\n\
    Contact: \"Desk\" <sip:2002@10.0.0.7:5062;transport=udp>, <sip:other@h>\r\n\
    Session-Expires: 1800;refresher=uac\r\n\
    Replaces: consult-9@pbx;to-tag=t1;from-tag=f1\r\n\
    Referred-By: <sip:2001@pbx.example>\r\n\
    Remote-Party-ID: \"Jan\" <sip:+31201234567@trunk.example>;party=calling;Screen=No;privacy=Full\r\n\
    Content-Length: 0\r\n\r\n";

#[test]
fn via_count_and_top_branch() {
    let message = parse(INVITE_WITH_EXTRAS.as_bytes()).unwrap();

    assert_eq!(message.via_count, 3);
    assert_eq!(message.via_branch.as_deref(), Some("z9hG4bK-proxy-2"));
    let minimal = parse(MINIMAL.as_bytes()).unwrap();
    assert_eq!(minimal.via_count, 1);
    assert_eq!(minimal.via_branch.as_deref(), Some("z9hG4bK-1"));
}

#[test]
fn contact_session_replaces_and_referred_by() {
    let message = parse(INVITE_WITH_EXTRAS.as_bytes()).unwrap();

    assert_eq!(message.contact_user.as_deref(), Some("2002"));
    assert_eq!(message.session_expires_s, Some(1800));
    assert_eq!(message.replaces.as_deref(), Some("consult-9@pbx"));
    assert_eq!(message.referred_by.as_deref(), Some("sip:2001@pbx.example"));
    let plain = parse(MINIMAL.as_bytes()).unwrap();
    assert_eq!(
        (plain.contact_user, plain.session_expires_s, plain.replaces),
        (None, None, None)
    );
}

#[test]
fn remote_party_id_parameters_are_lowercased() {
    let message = parse(INVITE_WITH_EXTRAS.as_bytes()).unwrap();

    let entry = &message.remote_party[0];
    assert_eq!(entry.uri, "sip:+31201234567@trunk.example");
    assert_eq!(entry.party.as_deref(), Some("calling"));
    assert_eq!(entry.screen.as_deref(), Some("no"));
    assert_eq!(entry.privacy.as_deref(), Some("full"));
}

#[test]
fn refer_to_with_and_without_an_embedded_replaces() {
    let blind = MINIMAL
        .replace("OPTIONS sip", "REFER sip")
        .replace("7 OPTIONS", "7 REFER")
        .replace("CSeq", "Refer-To: <sip:2003@pbx.example>\r\nCSeq");
    let attended = MINIMAL
        .replace("OPTIONS sip", "REFER sip")
        .replace("7 OPTIONS", "7 REFER")
        .replace(
            "CSeq",
            "r: <sip:2003@pbx.example?Replaces=consult-9%40pbx%3Bto-tag%3Dt1%3Bfrom-tag%3Df1>\r\nCSeq",
        );

    let blind = parse(blind.as_bytes()).unwrap().refer_to.unwrap();
    let attended = parse(attended.as_bytes()).unwrap().refer_to.unwrap();

    assert_eq!(blind.user.as_deref(), Some("2003"));
    assert_eq!(blind.replaces, None);
    assert_eq!(attended.user.as_deref(), Some("2003"));
    assert_eq!(attended.replaces.as_deref(), Some("consult-9@pbx"));
}

#[test]
fn new_fields_stay_out_of_debug_output() {
    let message = parse(INVITE_WITH_EXTRAS.as_bytes()).unwrap();

    let shown = format!("{message:?}");

    for secret in ["+3120", "2001", "consult-9", "Jan", "10.0.0.7"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[test]
fn a_header_line_that_is_not_name_colon_value_is_refused() {
    for broken in [
        "Via SIP/2.0/UDP h",
        ": no name",
        "Call ID: c-1",
        "Call-ID : c-1",
    ] {
        let text = MINIMAL.replace("Content-Length: 0", broken);
        assert!(
            matches!(
                parse(text.as_bytes()),
                Err(Error::SipParse { header: None, .. })
            ),
            "{broken}"
        );
    }
}

#[test]
fn headers_after_an_empty_line_are_body() {
    // `\n\r\n` ends the head as an empty line, though it is neither CRLF CRLF nor LF LF.
    let text = MINIMAL.replace("Call-ID: c-1\r\n", "\n\r\nCall-ID: c-1\r\n");
    assert_eq!(
        parse(text.as_bytes()),
        Err(Error::sip_header("Call-ID", "missing"))
    );
}

#[test]
fn a_folded_value_is_joined_and_kept_whole() {
    let text = MINIMAL.replace("Call-ID: c-1", "Call-ID:\r\n  c-1\r\n\tmore");
    assert_eq!(parse(text.as_bytes()).unwrap().call_id, "c-1 more");
}

#[test]
fn a_request_line_broken_inside_its_uri_is_refused() {
    // rsip 0.4, when it framed the whole message, read such a URI across the line end and
    // took the message; the start line is now handed to it alone.
    let text = MINIMAL.replace("sip:2001@127.0.0.1 SIP/2.0", "sip:2001@127\n.0.0.1 SIP/2.0");
    assert!(matches!(
        parse(text.as_bytes()),
        Err(Error::SipParse { .. })
    ));
}
