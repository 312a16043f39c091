//! The `agent-server` binary: `migrate`, `user add`, `pbx` and `block` on a fresh SQLite
//! file.

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

#[test]
fn pbx_tokens_are_printed_once_listed_without_the_token_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("ringside.db").display());
    let secret = dir.path().join("secret");
    std::fs::write(&secret, "a-pbx-secret-of-20-chars\n").unwrap();
    let secret = secret.to_str().unwrap();

    let add = agent_server(
        &db,
        &["pbx", "add", "--name", "office", "--format", "zammad"],
    );
    let signed = agent_server(
        &db,
        &[
            "pbx",
            "add",
            "--name",
            "trunk",
            "--format",
            "sipgate",
            "--secret-file",
            secret,
        ],
    );
    let bad_format = agent_server(&db, &["pbx", "add", "--name", "x", "--format", "kazoo"]);
    let revoke = agent_server(&db, &["pbx", "revoke", "1"]);
    let list = agent_server(&db, &["pbx", "list"]);
    let block = agent_server(&db, &["block", "add", "020 123 4567"]);
    let blocked = agent_server(&db, &["block", "list"]);
    let unblock = agent_server(&db, &["block", "remove", "+31201234567"]);
    let not_listed = agent_server(&db, &["block", "remove", "+31201234567"]);

    let added = String::from_utf8_lossy(&add.stdout);
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let token = added
        .split("/api/v1/pbx/zammad/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap();
    assert_eq!(token.len(), 43, "{added}");
    assert!(signed.status.success());
    assert!(!bad_format.status.success());
    assert!(
        String::from_utf8_lossy(&bad_format.stderr).contains("format: ringside, zammad or sipgate")
    );
    assert!(revoke.status.success());
    let listed = String::from_utf8_lossy(&list.stdout);
    assert_eq!(
        listed,
        "1\tzammad\toffice\tunsigned\trevoked\n2\tsipgate\ttrunk\tsigned\tactive\n"
    );
    assert!(!listed.contains(token));
    assert_eq!(
        String::from_utf8_lossy(&block.stdout),
        "+31201234567 blocked\n"
    );
    assert_eq!(String::from_utf8_lossy(&blocked.stdout), "+31201234567\n");
    assert!(unblock.status.success());
    assert!(!not_listed.status.success());
}
