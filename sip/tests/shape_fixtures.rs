//! The recorded call-shape fixtures (`tests/fixtures/shapes/`, made by
//! `scripts/record-fixtures`) are readable with the crate's public API, and each still holds
//! the shape its README describes: the Call-IDs, how many of each request and response the
//! proxy mirrored, and the headers that make the shape (Refer-To, Replaces, a=sendonly...).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use ringside_sip::{decode_datagram, hep, HepPacket, SipMessage, StartLine};

/// Capture id set in `tests/kamailio/shapes.cfg`.
const CAPTURE_ID: u32 = 4243;

struct Fixture {
    name: &'static str,
    dump: &'static [u8],
    call_ids: &'static [&'static str],
    /// Requests by method and responses by status code, with how many datagrams of each.
    tally: &'static [(&'static str, usize)],
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        name: "fork-answered",
        dump: include_bytes!("fixtures/shapes/fork-answered.hep"),
        call_ids: &["fork-answered-1@127.0.0.1"],
        tally: &[
            ("100", 4),
            ("180", 6),
            ("200", 6),
            ("487", 2),
            ("ACK", 4),
            ("BYE", 2),
            ("CANCEL", 2),
            ("INVITE", 4),
        ],
    },
    Fixture {
        name: "fork-all-busy",
        dump: include_bytes!("fixtures/shapes/fork-all-busy.hep"),
        call_ids: &["fork-all-busy-1@127.0.0.1"],
        tally: &[
            ("100", 4),
            ("180", 6),
            ("486", 4),
            ("ACK", 4),
            ("INVITE", 4),
        ],
    },
    Fixture {
        name: "decline-603",
        dump: include_bytes!("fixtures/shapes/decline-603.hep"),
        call_ids: &["decline-603-1@127.0.0.1"],
        tally: &[
            ("100", 2),
            ("180", 2),
            ("603", 2),
            ("ACK", 2),
            ("INVITE", 2),
        ],
    },
    Fixture {
        name: "hold-resume",
        dump: include_bytes!("fixtures/shapes/hold-resume.hep"),
        call_ids: &["hold-resume-1@127.0.0.1"],
        tally: &[
            ("100", 4),
            ("180", 2),
            ("200", 10),
            ("ACK", 6),
            ("BYE", 2),
            ("INVITE", 6),
            ("UPDATE", 2),
        ],
    },
    Fixture {
        name: "refer-blind",
        dump: include_bytes!("fixtures/shapes/refer-blind.hep"),
        call_ids: &[
            "refer-blind-1@127.0.0.1",
            "refer-blind-transfer-1@127.0.0.1",
        ],
        tally: &[
            ("100", 4),
            ("180", 4),
            ("200", 12),
            ("202", 2),
            ("ACK", 4),
            ("BYE", 4),
            ("INVITE", 4),
            ("NOTIFY", 4),
            ("REFER", 2),
        ],
    },
    Fixture {
        name: "refer-attended",
        dump: include_bytes!("fixtures/shapes/refer-attended.hep"),
        call_ids: &[
            "refer-attended-1@127.0.0.1",
            "refer-attended-consult-1@127.0.0.1",
            "refer-attended-transfer-1@127.0.0.1",
        ],
        tally: &[
            ("100", 6),
            ("180", 4),
            ("200", 16),
            ("202", 2),
            ("ACK", 6),
            ("BYE", 6),
            ("INVITE", 6),
            ("NOTIFY", 4),
            ("REFER", 2),
        ],
    },
    Fixture {
        name: "redirect-302",
        dump: include_bytes!("fixtures/shapes/redirect-302.hep"),
        call_ids: &["redirect-302-1@127.0.0.1"],
        tally: &[
            ("100", 4),
            ("180", 2),
            ("200", 4),
            ("302", 2),
            ("ACK", 4),
            ("BYE", 2),
            ("INVITE", 4),
        ],
    },
    Fixture {
        name: "cancel-race",
        dump: include_bytes!("fixtures/shapes/cancel-race.hep"),
        call_ids: &["cancel-race-1@127.0.0.1"],
        tally: &[
            ("100", 2),
            ("180", 2),
            ("200", 6),
            ("ACK", 2),
            ("BYE", 2),
            ("CANCEL", 2),
            ("INVITE", 2),
        ],
    },
];

fn messages(name: &str) -> Vec<(HepPacket, SipMessage)> {
    let fixture = FIXTURES.iter().find(|f| f.name == name).unwrap();
    hep::dump_records(fixture.dump)
        .map(|datagram| decode_datagram(datagram.unwrap()).unwrap())
        .collect()
}

fn kind(message: &SipMessage) -> String {
    match &message.start {
        StartLine::Request { method, .. } => method.as_str().to_owned(),
        StartLine::Response { status } => status.to_string(),
    }
}

fn text(packet: &HepPacket) -> &str {
    std::str::from_utf8(&packet.payload).unwrap()
}

/// The payloads of the requests with `method` (on both legs).
fn requests<'a>(all: &'a [(HepPacket, SipMessage)], method: &str) -> Vec<&'a str> {
    all.iter()
        .filter(|(_, m)| m.method().is_some_and(|x| x.as_str() == method))
        .map(|(p, _)| text(p))
        .collect()
}

#[test]
fn every_fixture_decodes_with_its_call_ids_and_message_counts() {
    for fixture in FIXTURES {
        let all = messages(fixture.name);

        let mut call_ids: Vec<&str> = all.iter().map(|(_, m)| m.call_id.as_str()).collect();
        call_ids.sort_unstable();
        call_ids.dedup();
        assert_eq!(call_ids, fixture.call_ids, "{}: Call-IDs", fixture.name);

        let mut tally = BTreeMap::new();
        for (_, message) in &all {
            *tally.entry(kind(message)).or_insert(0) += 1;
        }
        let expected: BTreeMap<String, usize> = fixture
            .tally
            .iter()
            .map(|(k, n)| ((*k).to_owned(), *n))
            .collect();
        assert_eq!(tally, expected, "{}: message counts", fixture.name);

        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        for (packet, _) in &all {
            assert_eq!(packet.capture_id, CAPTURE_ID, "{}", fixture.name);
            assert_eq!(packet.src.ip(), loopback, "{}", fixture.name);
            assert_eq!(packet.dst.ip(), loopback, "{}", fixture.name);
            let proxy_leg = packet.src.port() == 15060 || packet.dst.port() == 15060;
            assert!(
                proxy_leg,
                "{}: every datagram is on a proxy leg",
                fixture.name
            );
        }
    }
}

#[test]
fn fork_answered_is_won_by_2002_and_the_other_branches_are_cancelled() {
    let all = messages("fork-answered");

    let branches: Vec<u16> = all
        .iter()
        .filter(|(p, m)| {
            m.method().is_some_and(|x| x.as_str() == "INVITE") && p.src.port() == 15060
        })
        .map(|(p, _)| p.dst.port())
        .collect();
    assert_eq!(branches, [15070, 15071, 15072]);

    let answer = all
        .iter()
        .find(|(p, m)| {
            m.status() == Some(200) && m.cseq_method.as_str() == "INVITE" && p.src.port() != 15060
        })
        .unwrap();
    assert_eq!(answer.0.src.port(), 15071);
    assert_eq!(answer.1.to.tag.as_deref(), Some("agent1p15071"));

    let mut cancelled: Vec<u16> = all
        .iter()
        .filter(|(_, m)| m.method().is_some_and(|x| x.as_str() == "CANCEL"))
        .map(|(p, _)| p.dst.port())
        .collect();
    cancelled.sort_unstable();
    assert_eq!(cancelled, [15070, 15072]);
    assert!(requests(&all, "CANCEL")
        .iter()
        .all(|t| t.contains("Reason: SIP;cause=200;")));
}

#[test]
fn fork_all_busy_gives_the_caller_a_single_486() {
    let all = messages("fork-all-busy");

    let to_caller: Vec<u16> = all
        .iter()
        .filter(|(p, m)| m.status().is_some_and(|s| s >= 300) && p.dst.port() == 15080)
        .map(|(_, m)| m.status().unwrap())
        .collect();
    assert_eq!(to_caller, [486]);
}

#[test]
fn hold_resume_holds_then_resumes_then_refreshes() {
    let all = messages("hold-resume");

    let from_agent: Vec<&str> = all
        .iter()
        .filter(|(p, m)| m.method().is_some() && p.src.port() == 15070)
        .map(|(p, _)| text(p))
        .collect();
    assert_eq!(
        from_agent.len(),
        5,
        "re-INVITE, ACK, re-INVITE, ACK, UPDATE"
    );
    assert!(from_agent[0].starts_with("INVITE ") && from_agent[0].contains("a=sendonly"));
    assert!(from_agent[2].starts_with("INVITE ") && from_agent[2].contains("a=sendrecv"));
    assert!(from_agent[4].starts_with("UPDATE ") && !from_agent[4].contains("v=0"));
}

#[test]
fn refer_blind_names_2003_and_the_new_call_is_referred_by_2001() {
    let all = messages("refer-blind");

    let refer = requests(&all, "REFER");
    assert!(refer[0].contains("Refer-To: <sip:2003@127.0.0.1:15060>\r\n"));

    let sipfrags: Vec<&str> = requests(&all, "NOTIFY");
    assert!(sipfrags[0].ends_with("SIP/2.0 100 Trying\r\n"));
    assert!(sipfrags.last().unwrap().ends_with("SIP/2.0 200 OK\r\n"));

    let transfer = all
        .iter()
        .find(|(_, m)| m.call_id == "refer-blind-transfer-1@127.0.0.1")
        .unwrap();
    assert_eq!(transfer.1.to.user.as_deref(), Some("2003"));
    assert!(text(&transfer.0).contains("Referred-By: <sip:2001@127.0.0.1:15060>"));
}

#[test]
fn refer_attended_replaces_the_consultation_dialog() {
    let all = messages("refer-attended");

    let refer = requests(&all, "REFER");
    assert!(refer[0].contains(
        "?Replaces=refer-attended-consult-1%40127.0.0.1%3Bto-tag%3Dagent1p15072%3Bfrom-tag%3Dconsult1>"
    ));

    let replacing = all
        .iter()
        .find(|(_, m)| m.call_id == "refer-attended-transfer-1@127.0.0.1")
        .unwrap();
    assert!(text(&replacing.0).contains(
        "Replaces: refer-attended-consult-1@127.0.0.1;to-tag=agent1p15072;from-tag=consult1\r\n"
    ));

    let consult_bye = all
        .iter()
        .find(|(_, m)| {
            m.call_id == "refer-attended-consult-1@127.0.0.1"
                && m.method().is_some_and(|x| x.as_str() == "BYE")
        })
        .unwrap();
    assert_eq!(
        consult_bye.0.src.port(),
        15072,
        "2003 ends the consultation"
    );
}

#[test]
fn redirect_302_retries_with_the_same_call_id_and_the_next_cseq() {
    let all = messages("redirect-302");

    let from_caller: Vec<&SipMessage> = all
        .iter()
        .filter(|(p, m)| {
            m.method().is_some_and(|x| x.as_str() == "INVITE") && p.src.port() == 15080
        })
        .map(|(_, m)| m)
        .collect();
    assert_eq!(from_caller.len(), 2);
    assert_eq!((from_caller[0].cseq, from_caller[1].cseq), (101, 102));
    assert_eq!(from_caller[0].from.tag, from_caller[1].from.tag);
    assert!(matches!(
        &from_caller[1].start,
        StartLine::Request { uri_user: Some(user), .. } if user == "2002"
    ));

    let redirect = all.iter().find(|(_, m)| m.status() == Some(302)).unwrap();
    assert!(text(&redirect.0).contains("Contact: <sip:2002@127.0.0.1:15071>"));
}

#[test]
fn cancel_race_still_answers_the_call() {
    let all = messages("cancel-race");

    let to_caller: Vec<(u16, String)> = all
        .iter()
        .filter(|(p, m)| m.status().is_some_and(|s| s >= 200) && p.dst.port() == 15080)
        .map(|(_, m)| (m.status().unwrap(), m.cseq_method.as_str().to_owned()))
        .collect();
    assert_eq!(
        to_caller,
        [
            (200, "CANCEL".to_owned()),
            (200, "INVITE".to_owned()),
            (200, "BYE".to_owned())
        ]
    );
}
