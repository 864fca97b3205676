//! The key-encryption key (KEK) through the real binary: `init` creates it beside the data
//! directory (mode 600) and says where; a store that records a KEK refuses to open without
//! it or with another key, naming the key it expects, and writes nothing
//! (docs/operations.md "Key management").
//!
//! (sled itself rewrites the tail of its files whenever a store is opened, so "nothing
//! written" is checked on the log, not on the files' bytes.)

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

fn caseledger(data: &Path, key_file: Option<&Path>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_caseledger"));
    command
        .env_remove("CASELEDGER_KEY_FILE")
        .arg("--data")
        .arg(data);
    if let Some(key_file) = key_file {
        command.arg("--key-file").arg(key_file);
    }
    command.args(args).output().expect("the binary runs")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The KEK id `init` printed.
fn printed_id(init: &str) -> String {
    let after = init
        .split("created key-encryption key ")
        .nth(1)
        .unwrap_or_else(|| panic!("init names the key it created: {init}"));
    after.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn init_creates_a_private_key_file_beside_the_data_and_says_where() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = caseledger(&data, None, &["init"]);
    assert!(init.status.success(), "{}", text(&init));
    let key_file = dir.path().join("data.key");
    let said = text(&init);
    assert!(said.contains(&key_file.display().to_string()), "{said}");
    assert_eq!(printed_id(&said).len(), 32, "{said}");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        !data.join("data.key").exists(),
        "the key is not inside the data"
    );
    // A second init uses the key it finds and says nothing about keys.
    let again = caseledger(&data, None, &["init"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(!text(&again).contains("created key-encryption key"));
    // An explicit --key-file that does not exist is created by init there.
    let other = dir.path().join("elsewhere");
    let named = dir.path().join("kek-elsewhere");
    let init = caseledger(&other, Some(&named), &["init"]);
    assert!(init.status.success(), "{}", text(&init));
    assert!(named.is_file());
    assert!(!dir.path().join("elsewhere.key").exists());
}

#[test]
fn a_store_with_a_kek_refuses_a_missing_or_wrong_key_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = caseledger(&data, None, &["init"]);
    assert!(init.status.success(), "{}", text(&init));
    let expected = printed_id(&text(&init));
    let key_file = dir.path().join("data.key");
    let moved = dir.path().join("kek-moved");
    std::fs::rename(&key_file, &moved).unwrap();

    let missing = caseledger(&data, None, &["tick", "--to", "2024-01-01"]);
    assert_eq!(missing.status.code(), Some(2), "{}", text(&missing));
    let said = text(&missing);
    assert!(said.contains(&expected), "names the expected key: {said}");
    assert!(said.contains("CASELEDGER_KEY_FILE"), "{said}");

    let wrong = dir.path().join("kek-wrong");
    let other = caseledger(&dir.path().join("other"), Some(&wrong), &["init"]);
    assert!(other.status.success(), "{}", text(&other));
    let given = printed_id(&text(&other));
    let refused = caseledger(&data, Some(&wrong), &["tick", "--to", "2024-01-01"]);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    let said = text(&refused);
    assert!(said.contains(&expected) && said.contains(&given), "{said}");

    // init makes no new key for a store that records one: it names the key it expects.
    let nowhere = dir.path().join("nowhere");
    let named_missing = caseledger(&data, Some(&nowhere), &["init"]);
    assert_eq!(
        named_missing.status.code(),
        Some(2),
        "{}",
        text(&named_missing)
    );
    assert!(
        text(&named_missing).contains(&expected),
        "{}",
        text(&named_missing)
    );
    assert!(
        !nowhere.exists(),
        "no key file made for a store that has a key"
    );

    let right = caseledger(&data, Some(&moved), &["init"]);
    assert!(right.status.success(), "{}", text(&right));
    assert!(
        text(&right).contains("(head position 0)"),
        "the refused opens wrote nothing to the log: {}",
        text(&right)
    );
}

#[test]
fn a_readable_or_malformed_key_file_is_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key_file = dir.path().join("kek");
    std::fs::write(&key_file, "0".repeat(64)).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = caseledger(&data, Some(&key_file), &["init"]);
    assert_eq!(open.status.code(), Some(2), "{}", text(&open));
    assert!(text(&open).contains("chmod 600"), "{}", text(&open));
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&key_file, "short").unwrap();
    let open = caseledger(&data, Some(&key_file), &["init"]);
    assert_eq!(open.status.code(), Some(2), "{}", text(&open));
    assert!(text(&open).contains("64 hex digits"), "{}", text(&open));
}
