//! `agent-server replay` on the lab's hepdump captures: the exact JSON lines, bad files,
//! and `--send` to a UDP socket.

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::{Command, Output};

use ringside_sip::hep;

fn fixture(name: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "sip",
        "tests",
        "fixtures",
        name,
    ]
    .iter()
    .collect();
    path.to_str().unwrap().to_owned()
}

fn replay(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_agent-server"))
        .args(["--default-region", "NL", "replay"])
        .args(args)
        .env("RINGSIDE_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn lab_captures_print_their_events_as_json_lines() {
    let output = replay(&[
        &fixture("answered.hep"),
        &fixture("busy.hep"),
        &fixture("abandoned.hep"),
    ]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout_lines(&output), EXPECTED_ANSWERED_BUSY_ABANDONED);
    assert!(stderr.contains("answered.hep: "), "{stderr}");
    assert!(stderr.contains("0 malformed SIP"), "{stderr}");
}

/// `(call_id, event, detail)` per line, the detail being the key that says the most
/// about the event.
fn summary(output: &Output) -> Vec<(String, String, String)> {
    stdout_lines(output)
        .iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
            let detail = match text("event").as_str() {
                "ringing" => format!(
                    "{}->{} {}",
                    text("from"),
                    text("to"),
                    text("transferred_from")
                ),
                "offered" => text("target"),
                "answered" => text("answered_by"),
                "transferred" => format!("{} attended={}", text("transfer_to"), value["attended"]),
                _ => format!("{} by {}", text("cause"), text("hangup_by")),
            };
            (text("call_id"), text("event"), detail.trim().to_owned())
        })
        .collect()
}

fn line(call_id: &str, event: &str, detail: &str) -> (String, String, String) {
    (call_id.to_owned(), event.to_owned(), detail.to_owned())
}

#[test]
fn a_pcap_gives_the_same_call_as_its_hep_mirror() {
    let from_pcap = replay(&[&fixture("answered.pcap")]);
    let from_hep = replay(&[&fixture("answered.hep")]);

    assert!(from_pcap.status.success());
    assert_eq!(stdout_lines(&from_pcap), stdout_lines(&from_hep));
    assert_eq!(
        stdout_lines(&from_pcap),
        EXPECTED_ANSWERED_BUSY_ABANDONED[..3]
    );
}

#[test]
fn a_forked_call_names_every_offer_and_the_agent_that_answered() {
    let output = replay(&[&fixture("shapes/fork-answered.hep")]);

    let id = "fork-answered-1@127.0.0.1";
    assert_eq!(
        summary(&output),
        [
            line(id, "ringing", "+31201234567->2100"),
            line(id, "offered", "2001"),
            line(id, "offered", "2002"),
            line(id, "offered", "2003"),
            line(id, "answered", "2002"),
            line(id, "ended", "completed by caller"),
        ]
    );
}

#[test]
fn a_blind_transfer_links_the_new_call_to_the_old_one() {
    let output = replay(&[&fixture("shapes/refer-blind.hep")]);

    let old = "refer-blind-1@127.0.0.1";
    let new = "refer-blind-transfer-1@127.0.0.1";
    assert_eq!(
        summary(&output),
        [
            line(old, "ringing", "+31201234567->2001"),
            line(old, "answered", "2001"),
            line(old, "transferred", "2003 attended=false"),
            line(new, "ringing", &format!("+31201234567->2003 {old}")),
            line(new, "answered", "2003"),
            line(old, "ended", "transferred by callee"),
            line(new, "ended", "completed by caller"),
        ]
    );
}

#[test]
fn withheld_and_asserted_callers_are_shown_as_the_lookup_sees_them() {
    let output = replay(&[&fixture("anonymous.hep"), &fixture("pai.hep")]);

    assert!(output.status.success());
    assert_eq!(stdout_lines(&output), EXPECTED_ANONYMOUS_PAI);
}

#[test]
fn a_bad_file_is_named_and_the_others_are_still_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.hep");
    std::fs::write(&garbage, b"this is not a capture at all").unwrap();
    let cut = dir.path().join("cut.hep");
    let mut cut_bytes = std::fs::read(fixture("busy.hep")).unwrap();
    cut_bytes.truncate(cut_bytes.len() - 10);
    std::fs::write(&cut, cut_bytes).unwrap();
    let missing = dir.path().join("missing.pcap");

    let output = replay(&[
        garbage.to_str().unwrap(),
        missing.to_str().unwrap(),
        &fixture("answered.hep"),
        cut.to_str().unwrap(),
    ]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("garbage.hep: not a capture"), "{stderr}");
    assert!(stderr.contains("missing.pcap: "), "{stderr}");
    assert!(
        stderr.contains("cut.hep: hepdump record at offset"),
        "{stderr}"
    );
    assert!(
        stderr.contains("3 of 4 capture files could not be replayed in full"),
        "{stderr}"
    );
    let lines = stdout_lines(&output);
    assert_eq!(lines[..3], EXPECTED_ANSWERED_BUSY_ABANDONED[..3]);
    // The cut capture still gives the events of the records before the cut.
    assert!(lines[3].contains(r#""event":"ringing""#), "{lines:?}");
}

#[test]
fn send_plays_every_datagram_in_order_as_hepv3() {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let target = socket.local_addr().unwrap().to_string();
    let dump = std::fs::read(fixture("answered.hep")).unwrap();
    let originals: Vec<hep::HepPacket> = hep::dump_records(&dump)
        .map(|record| hep::decode(record.unwrap()).unwrap())
        .collect();

    let output = replay(&["--send", &target, "--speed", "50", &fixture("answered.hep")]);

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(output.stdout.is_empty());
    assert!(
        stderr.contains(&format!("sent {} datagrams", originals.len())),
        "{stderr}"
    );
    let mut buf = vec![0u8; 65_535];
    let mut previous_ms = 0;
    for original in &originals {
        let (len, _) = socket.recv_from(&mut buf).unwrap();
        let packet = hep::decode(&buf[..len]).unwrap();
        assert_eq!(packet.payload, original.payload);
        assert_eq!(packet.src, original.src);
        assert_eq!(packet.proto_type, hep::PROTO_SIP);
        // Stamped when sent, so never before the previous one.
        assert!(packet.timestamp_ms() >= previous_ms);
        previous_ms = packet.timestamp_ms();
    }
}

#[test]
fn a_negative_speed_is_refused() {
    let output = replay(&["--send", "127.0.0.1:9", "--speed=-1", &fixture("busy.hep")]);

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--speed"));
}

const EXPECTED_ANSWERED_BUSY_ABANDONED: &[&str] = &[
    r#"{"call_id":"1-9262@127.0.0.1","event":"ringing","at":"2026-12-03T15:37:49.761Z","from":"+31201234567","to":"2001"}"#,
    r#"{"call_id":"1-9262@127.0.0.1","event":"answered","at":"2026-12-03T15:37:50.768Z","from":"+31201234567","to":"2001","answered_by":"2001"}"#,
    r#"{"call_id":"1-9262@127.0.0.1","event":"ended","at":"2026-12-03T15:37:51.772Z","from":"+31201234567","to":"2001","cause":"completed","hangup_by":"caller","timed_out":false}"#,
    r#"{"call_id":"1-10892@127.0.0.1","event":"ringing","at":"2026-12-03T15:38:08.748Z","from":"+31201234567","to":"2001"}"#,
    r#"{"call_id":"1-10892@127.0.0.1","event":"ended","at":"2026-12-03T15:38:08.751Z","from":"+31201234567","to":"2001","cause":"busy","hangup_by":"unknown","timed_out":false}"#,
    r#"{"call_id":"1-10313@127.0.0.1","event":"ringing","at":"2026-12-03T15:38:02.077Z","from":"+31201234567","to":"2001"}"#,
    r#"{"call_id":"1-10313@127.0.0.1","event":"ended","at":"2026-12-03T15:38:03.585Z","from":"+31201234567","to":"2001","cause":"abandoned","hangup_by":"unknown","timed_out":false}"#,
];

const EXPECTED_ANONYMOUS_PAI: &[&str] = &[
    r#"{"call_id":"1-11894@127.0.0.1","event":"ringing","at":"2026-12-03T15:38:19.740Z","from":"withheld","to":"2001"}"#,
    r#"{"call_id":"1-11894@127.0.0.1","event":"answered","at":"2026-12-03T15:38:20.749Z","from":"withheld","to":"2001","answered_by":"2001"}"#,
    r#"{"call_id":"1-11894@127.0.0.1","event":"ended","at":"2026-12-03T15:38:21.756Z","from":"withheld","to":"2001","cause":"completed","hangup_by":"caller","timed_out":false}"#,
    r#"{"call_id":"1-12647@127.0.0.1","event":"ringing","at":"2026-12-03T15:38:31.780Z","from":"+31201234567","to":"2002"}"#,
    r#"{"call_id":"1-12647@127.0.0.1","event":"answered","at":"2026-12-03T15:38:32.788Z","from":"+31201234567","to":"2002","answered_by":"2002"}"#,
    r#"{"call_id":"1-12647@127.0.0.1","event":"ended","at":"2026-12-03T15:38:33.796Z","from":"+31201234567","to":"2002","cause":"completed","hangup_by":"caller","timed_out":false}"#,
];

/// The shared SIP corpus beside the workspace (or under `RINGSIDE_SHARED_DIR`).
fn corpus_file(name: &str) -> Option<String> {
    let beside = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/sip");
    let dir = if beside.is_dir() {
        beside
    } else {
        PathBuf::from(std::env::var_os("RINGSIDE_SHARED_DIR")?).join("corpus/sip")
    };
    let path = dir.join(name);
    path.is_file().then(|| path.to_str().unwrap().to_owned())
}

/// Per Call-ID, the events in order and, when it ended, its cause and who hung up.
fn calls_of(output: &Output) -> std::collections::BTreeMap<String, (Vec<String>, String)> {
    let mut calls = std::collections::BTreeMap::new();
    for line in stdout_lines(output) {
        let line: serde_json::Value = serde_json::from_str(&line).unwrap();
        let entry: &mut (Vec<String>, String) = calls
            .entry(line["call_id"].as_str().unwrap().to_owned())
            .or_default();
        entry.0.push(line["event"].as_str().unwrap().to_owned());
        if line["event"] == "ended" {
            entry.1 = format!(
                "{} by {}{}",
                line["cause"].as_str().unwrap(),
                line["hangup_by"].as_str().unwrap(),
                if line["timed_out"] == true {
                    ", timed out"
                } else {
                    ""
                }
            );
        }
    }
    calls
}

/// One call a capture must show: Call-ID, its events in order, and how it ended.
type ExpectedCall = (&'static str, &'static [&'static str], &'static str);

/// Replays each shared-corpus capture on its own, timers included (the sip crate's corpus
/// test has none), and checks the outcome its MANIFEST.md expects for each call.
#[test]
fn shared_corpus_captures_replay_to_the_manifest_outcomes() {
    let expected: &[(&str, &[ExpectedCall])] = &[
        (
            "tcp_answered_callee_bye_q850.pcap",
            &[(
                "158936656982201062716@10.33.6.100",
                &["ringing", "answered", "ended"],
                "completed by callee",
            )],
        ),
        (
            "udp_two_calls_with_rtp.pcap",
            &[
                ("12013223@200.57.7.195", &["ringing", "answered"], ""),
                ("12015624@200.57.7.195", &["ringing"], ""),
            ],
        ),
        (
            "sctp_rejected_403_pai_tel.pcap",
            &[(
                "717B2539AD2002C9152DC497@0870ffffffff",
                &["ringing", "ended"],
                "rejected by unknown",
            )],
        ),
        (
            "ipv6_udp_answered_broken_timestamps.pcap",
            &[(
                "c3eF6f58-363323Cd-8058EB88-10300252@fe80:0:0:0:21a:a0ff:fe07:32e0",
                &["ringing", "answered", "ended"],
                "completed by caller",
            )],
        ),
        (
            "udp_failed_attempts_cancel408_407_403_480.pcap",
            &[
                (
                    "105090259-446faf7a@192.168.1.2",
                    &["ringing", "ended"],
                    "abandoned by unknown",
                ),
                (
                    "85216695-42dcdb1d@192.168.1.2",
                    &["ringing", "ended"],
                    "rejected by unknown",
                ),
                (
                    "24487391-449bf2a0@192.168.1.2",
                    &["ringing", "ended"],
                    "rejected by unknown",
                ),
                (
                    "11894297-4432a9f8@192.168.1.2",
                    &["ringing", "ended"],
                    "failed by unknown",
                ),
            ],
        ),
        (
            "ipv6_fragmented_100rel_update_pai.pcap",
            &[(
                "71846-1647924829-397430@fd17:625c:f037:2:a00:27ff:feb9:1521",
                &["ringing", "answered", "ended"],
                "completed by caller",
            )],
        ),
        (
            "ipip_tunnel_tcp_partial_call.pcap",
            &[(
                "1RLuVzzBClYCf2",
                &["ringing", "answered", "ended"],
                "completed by caller",
            )],
        ),
    ];
    for (file, calls) in expected {
        let Some(path) = corpus_file(file) else {
            eprintln!(
                "skipped: no SIP corpus at ../shared/corpus/sip (nor under \
                 RINGSIDE_SHARED_DIR); {file} not replayed"
            );
            continue;
        };
        let output = replay(&[&path]);
        assert!(output.status.success(), "{file}");
        let seen = calls_of(&output);

        assert_eq!(seen.len(), calls.len(), "{file}: {seen:?}");
        for (call_id, events, end) in *calls {
            let (got_events, got_end) = &seen[*call_id];
            assert_eq!(got_events, events, "{file} {call_id}");
            assert_eq!(got_end, end, "{file} {call_id}");
        }
    }
}
