//! The `agent-server` binary: `migrate` and `user add` on a fresh SQLite file.

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

#[test]
fn migrate_then_add_users_with_generated_and_given_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!(
        "sqlite://{}",
        dir.path().join("nested/dir/ringside.db").display()
    );
    let password_file = dir.path().join("pw");
    std::fs::write(&password_file, "a-very-long-password\n").unwrap();

    let migrate = agent_server(&db, &["migrate"]);
    let add = agent_server(
        &db,
        &["user", "add", "--username", "ann", "--extension", "2001"],
    );
    let again = agent_server(&db, &["user", "add", "--username", "ann"]);
    let same_ext = agent_server(
        &db,
        &["user", "add", "--username", "bob", "--extension", "2001"],
    );
    let with_file = agent_server(
        &db,
        &[
            "user",
            "add",
            "--username",
            "cat",
            "--password-file",
            password_file.to_str().unwrap(),
        ],
    );
    let bad_role = agent_server(&db, &["user", "add", "--username", "dan", "--role", "boss"]);

    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&migrate.stdout),
        "database schema is up to date\n"
    );
    let out = String::from_utf8_lossy(&add.stdout);
    assert!(add.status.success());
    assert!(
        out.starts_with("user ann added with id 1\npassword (shown once): "),
        "{out}"
    );
    assert_eq!(
        out.lines().nth(1).unwrap().len(),
        "password (shown once): ".len() + 20
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("username is already in use"));
    assert!(String::from_utf8_lossy(&same_ext.stderr).contains("extension is already in use"));
    assert!(with_file.status.success());
    assert!(!String::from_utf8_lossy(&with_file.stdout).contains("password"));
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role \"boss\""));
}

#[test]
fn a_bad_setting_stops_the_start_with_a_reason() {
    let output = Command::new(env!("CARGO_BIN_EXE_agent-server"))
        .args(["--default-region", "ZZZ", "migrate"])
        .output()
        .unwrap();

    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not an ISO 3166 region"));
}
