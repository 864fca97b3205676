//! The key-encryption key (KEK) through the real binary: `init` creates it beside the data
//! directory (mode 600) and says where; a store that records a KEK refuses to open without
//! it or with another key, naming the key it expects, and writes nothing
//! (docs/operations.md "Key management").
//!
//! (sled itself rewrites the tail of its files whenever a store is opened, so "nothing
//! written" is checked on the log, not on the files' bytes.)

mod cli_support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use cli_support::{Cli, Ran};

/// `caseledger --data DATA [--key-file KEY] ARGS…`.
fn caseledger(data: &Path, key_file: Option<&Path>, args: &[&str]) -> Ran {
    Cli::on(data).key_file(key_file).run(args)
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
    assert!(init.success(), "{}", init.text());
    let key_file = dir.path().join("data.key");
    let said = init.text();
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
    assert!(again.success(), "{}", again.text());
    assert!(!again.text().contains("created key-encryption key"));
    // An explicit --key-file that does not exist is created by init there.
    let other = dir.path().join("elsewhere");
    let named = dir.path().join("kek-elsewhere");
    let init = caseledger(&other, Some(&named), &["init"]);
    assert!(init.success(), "{}", init.text());
    assert!(named.is_file());
    assert!(!dir.path().join("elsewhere.key").exists());
}

#[test]
fn a_store_with_a_kek_refuses_a_missing_or_wrong_key_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = caseledger(&data, None, &["init"]);
    assert!(init.success(), "{}", init.text());
    let expected = printed_id(&init.text());
    let key_file = dir.path().join("data.key");
    let moved = dir.path().join("kek-moved");
    std::fs::rename(&key_file, &moved).unwrap();

    let missing = caseledger(&data, None, &["tick", "--to", "2024-01-01"]);
    assert_eq!(missing.code, 2, "{}", missing.text());
    let said = missing.text();
    assert!(said.contains(&expected), "names the expected key: {said}");
    assert!(said.contains("CASELEDGER_KEY_FILE"), "{said}");

    let wrong = dir.path().join("kek-wrong");
    let other = caseledger(&dir.path().join("other"), Some(&wrong), &["init"]);
    assert!(other.success(), "{}", other.text());
    let given = printed_id(&other.text());
    let refused = caseledger(&data, Some(&wrong), &["tick", "--to", "2024-01-01"]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    let said = refused.text();
    assert!(said.contains(&expected) && said.contains(&given), "{said}");

    // init makes no new key for a store that records one: it names the key it expects.
    let nowhere = dir.path().join("nowhere");
    let named_missing = caseledger(&data, Some(&nowhere), &["init"]);
    assert_eq!(named_missing.code, 2, "{}", named_missing.text());
    assert!(
        named_missing.text().contains(&expected),
        "{}",
        named_missing.text()
    );
    assert!(
        !nowhere.exists(),
        "no key file made for a store that has a key"
    );

    let right = caseledger(&data, Some(&moved), &["init"]);
    assert!(right.success(), "{}", right.text());
    assert!(
        right.text().contains("(head position 0)"),
        "the refused opens wrote nothing to the log: {}",
        right.text()
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
    assert_eq!(open.code, 2, "{}", open.text());
    assert!(open.text().contains("chmod 600"), "{}", open.text());
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&key_file, "short").unwrap();
    let open = caseledger(&data, Some(&key_file), &["init"]);
    assert_eq!(open.code, 2, "{}", open.text());
    assert!(open.text().contains("64 hex digits"), "{}", open.text());
}
