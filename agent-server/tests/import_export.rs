//! `agent-server import customers` and `export customers` on a fresh SQLite file.

#![allow(clippy::unwrap_used)]

use std::process::Command;

fn agent_server(db: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_agent-server"))
        .args(args)
        .env("RINGSIDE_DATABASE_URL", db)
        .env("RINGSIDE_LOG", "warn")
        .output()
        .unwrap()
}

const FILE: &str = "\
external_id,name,organisation,phones,emails,tags,consent_marketing,consent_marketing_at
c-1,Jan Jansen,Jansen BV,work:020 123 4567 x12|mobile:06 1234 5678,jan@jansen.example,vip,granted,2026-03-01
c-2,Piet Pieters,Jansen BV,+31 20 123 4567,,,,
c-3,Kapot Nummer,,work:+31 12,,,,
c-4,,,,,,,
,Els Evers,,\"+31 (0)30 123 45 67\",els@evers.example,,refused,
c-1,Jan Jansen again,,,,,,
,\"Multi
Line\",,030 765 4321,,,,
";

#[test]
fn rows_are_imported_rejects_listed_by_line_and_a_rerun_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("ringside.db").display());
    let csv = dir.path().join("customers.csv");
    std::fs::write(&csv, FILE).unwrap();
    let csv = csv.to_str().unwrap();

    let first = agent_server(&db, &["import", "customers", csv]);
    let again = agent_server(&db, &["import", "customers", csv]);
    let exported = dir.path().join("export.csv");
    let export = agent_server(
        &db,
        &["export", "customers", "-o", exported.to_str().unwrap()],
    );

    let out = String::from_utf8(first.stdout).unwrap();
    assert!(first.status.success(), "{out}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[..4],
        [
            "line 4: phone 1 (\"+31 12\"): not a valid number for its country",
            "line 5: name: required",
            "line 6: consent_marketing_at: the date of the consent is required",
            "line 7: the same customer as line 2",
        ]
    );
    assert!(
        lines[4].starts_with("3 new, 0 updated, 4 rejected in "),
        "{out}"
    );
    let again = String::from_utf8(again.stdout).unwrap();
    assert!(
        again
            .lines()
            .last()
            .unwrap()
            .starts_with("0 new, 3 updated, 4 rejected"),
        "{again}"
    );

    assert!(export.status.success());
    let text = std::fs::read_to_string(&exported).unwrap();
    let mut rows = csv::Reader::from_reader(text.as_bytes());
    let header = rows.headers().unwrap().clone();
    assert_eq!(header.get(0), Some("external_id"));
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 3);
    let jan = &records[0];
    assert_eq!(jan.get(1), Some("Jan Jansen"));
    assert_eq!(jan.get(2), Some("Jansen BV"));
    assert_eq!(
        jan.get(3),
        Some("work:020 123 4567 x12|mobile:06 1234 5678")
    );
    assert_eq!(jan.get(18), Some("granted"));
    assert_eq!(jan.get(19), Some("2026-03-01T00:00:00Z"));
    assert_eq!(records[2].get(1), Some("Multi\nLine"));

    // The export reads back as an import of the same customers: nothing new.
    let round = agent_server(&db, &["import", "customers", exported.to_str().unwrap()]);
    let round = String::from_utf8(round.stdout).unwrap();
    assert!(round.starts_with("0 new, 3 updated, 0 rejected"), "{round}");
}

#[test]
fn a_file_with_an_unknown_column_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("ringside.db").display());
    let csv = dir.path().join("customers.csv");
    std::fs::write(&csv, "name,fax_number\nJan,0201234567\n").unwrap();

    let import = agent_server(&db, &["import", "customers", csv.to_str().unwrap()]);
    let export = agent_server(&db, &["export", "customers"]);

    assert!(!import.status.success());
    let err = String::from_utf8(import.stderr).unwrap();
    assert!(err.contains("unknown column \"fax_number\""), "{err}");
    assert_eq!(
        String::from_utf8(export.stdout).unwrap().lines().count(),
        1,
        "only the header row"
    );
}
