//! Backup and restore through the real binary: `export --keys FILE` carries the exported
//! cases' data keys (wrapped under the key-encryption key, or an erased person's tombstone)
//! and `import-log EXPORT --keys FILE` restores them, on sled and on PostgreSQL; without the
//! keys file every person reads as withheld, and import-log says so (docs/operations.md
//! "Backup and restore").

mod engine_support;
mod pg_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{json, Value};

const NAME: &str = "Sam Example";
const KEPT: &str = "P510001";
const ERASED: &str = "P510002";

/// `caseledger --data DATA [--key-file KEY] ARGS…`; `store` adds `--store URL`.
fn caseledger(data: &Path, key_file: &Path, store: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_caseledger"));
    command
        .env_remove("CASELEDGER_KEY_FILE")
        .env_remove("CASELEDGER_STORE")
        .arg("--data")
        .arg(data)
        .arg("--key-file")
        .arg(key_file);
    if let Some(url) = store {
        command.arg("--store").arg(url);
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

fn ok(output: Output) -> Output {
    assert!(output.status.success(), "{}", text(&output));
    output
}

fn person(data: &Path, key_file: &Path, store: Option<&str>, crn: &str) -> Value {
    let case = ok(caseledger(data, key_file, store, &["case", crn]));
    let case: Value = serde_json::from_slice(&case.stdout).expect("case prints JSON");
    case["person"].clone()
}

/// `ROOT@POSITION` from `verify`'s output.
fn verified_root(data: &Path, key_file: &Path, store: Option<&str>) -> String {
    let verify = ok(caseledger(data, key_file, store, &["verify"]));
    String::from_utf8_lossy(&verify.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("root "))
        .expect("verify prints a root line")
        .to_owned()
}

/// The source store (made by `init` with its key file `dir/source.key`) holding two cases,
/// the second erased; returns (data, key file).
fn source_store(dir: &Path, store: Option<&str>) -> (PathBuf, PathBuf) {
    use engine_support::*;
    let data = dir.join("source");
    let key_file = dir.join("source.key");
    let lines: Vec<String> = [KEPT, ERASED]
        .iter()
        .map(|crn| as_case_administrator(crn, "2022-03-01", open_case(crn, 79, "2022-03-01")))
        .collect();
    let file = dir.join("commands.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    ok(caseledger(&data, &key_file, store, &["init"]));
    ok(caseledger(
        &data,
        &key_file,
        store,
        &["import", file.to_str().unwrap()],
    ));
    let reason = "retention ended (RET-1)";
    ok(caseledger(
        &data,
        &key_file,
        store,
        &["erase", ERASED, "--reason", reason],
    ));
    (data, key_file)
}

/// `export --keys` of `data` into `dir/export.jsonl` and `dir/export.keys`.
fn export_with_keys(
    dir: &Path,
    data: &Path,
    key_file: &Path,
    store: Option<&str>,
) -> (PathBuf, PathBuf) {
    let keys = dir.join("export.keys");
    let out = ok(caseledger(
        data,
        key_file,
        store,
        &["export", "--keys", keys.to_str().unwrap()],
    ));
    let export = dir.join("export.jsonl");
    std::fs::write(&export, &out.stdout).unwrap();
    (export, keys)
}

fn restore(
    data: &Path,
    key_file: &Path,
    store: Option<&str>,
    export: &Path,
    keys: Option<&Path>,
) -> Output {
    let mut args = vec!["import-log", export.to_str().unwrap()];
    if let Some(keys) = keys {
        args.extend(["--keys", keys.to_str().unwrap()]);
    }
    caseledger(data, key_file, store, &args)
}

/// A restore with the keys file shows the person; an erased person stays erased; the
/// restored log verifies to the source's root; the keys file is private and holds no
/// plaintext key or personal datum.
fn restore_with_keys(dir: &Path, source: Option<&str>, target: Option<&str>) {
    let (data, key_file) = source_store(dir, source);
    let root = verified_root(&data, &key_file, source);
    let (export, keys) = export_with_keys(dir, &data, &key_file, source);
    let mode = std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the keys file is private");
    let held = std::fs::read_to_string(&keys).unwrap();
    let kek = std::fs::read_to_string(&key_file).unwrap();
    assert!(!held.contains(kek.trim()) && !held.contains(NAME), "{held}");
    assert!(held.contains(&format!("\"subject\":\"{ERASED}\",\"key\":\"destroyed\"")));

    let restored = dir.join("restored");
    let import = ok(restore(&restored, &key_file, target, &export, Some(&keys)));
    assert!(
        text(&import).contains("restored the data keys of 2 persons (1 erased)"),
        "{}",
        text(&import)
    );
    assert!(!text(&import).contains("warning"), "{}", text(&import));
    let kept = person(&restored, &key_file, target, KEPT);
    assert_eq!(kept["name"], NAME, "{kept}");
    assert_eq!(
        person(&restored, &key_file, target, ERASED),
        json!({"sealed": "erased"})
    );
    assert_eq!(verified_root(&restored, &key_file, target), root);
}

#[test]
fn a_restore_with_its_keys_file_shows_the_person_and_keeps_the_erased_one_erased() {
    let dir = tempfile::tempdir().unwrap();
    restore_with_keys(dir.path(), None, None);
}

#[test]
fn a_restore_without_its_keys_file_reads_every_person_withheld_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (data, key_file) = source_store(dir.path(), None);
    let (export, _) = export_with_keys(dir.path(), &data, &key_file, None);
    let restored = dir.path().join("restored");
    let import = ok(restore(&restored, &key_file, None, &export, None));
    let said = String::from_utf8_lossy(&import.stderr);
    assert!(
        said.contains("warning") && said.contains("withheld") && said.contains("--keys"),
        "{said}"
    );
    assert_eq!(
        person(&restored, &key_file, None, KEPT),
        json!({"sealed": "withheld"})
    );
}

/// Refused with exit `code`, saying each of `says`.
fn assert_refused(output: &Output, code: i32, says: &[&str]) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
    for part in says {
        assert!(text(output).contains(part), "{part}: {}", text(output));
    }
}

#[test]
fn a_keys_file_under_another_kek_malformed_or_for_another_export_is_refused_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, key_file) = source_store(dir.path(), None);
    let (export, keys) = export_with_keys(dir.path(), &data, &key_file, None);
    let source_kek = printed_kek(&keys);
    let target = dir.path().join("restored");

    // Another KEK: the new store's key file is not the one the keys are wrapped under.
    let other_key = dir.path().join("other.key");
    ok(caseledger(
        &dir.path().join("other"),
        &other_key,
        None,
        &["init"],
    ));
    let refused = restore(&target, &other_key, None, &export, Some(&keys));
    let other_kek = printed_kek_of_store(&dir.path().join("other"), &other_key);
    assert_refused(&refused, 2, &[&source_kek, &other_kek]);

    // A malformed line: named, exit 3.
    let held = std::fs::read_to_string(&keys).unwrap();
    let broken = dir.path().join("broken.keys");
    let mut lines: Vec<&str> = held.lines().collect();
    lines[1] = "{\"subject\":\"P510001\",\"key\":\"00ff\"}";
    write_private(&broken, &(lines.join("\n") + "\n"));
    let refused = restore(&target, &key_file, None, &export, Some(&broken));
    assert_refused(&refused, 3, &["line 2"]);

    // A truncated file (its closing line gone): exit 3.
    let held_lines: Vec<&str> = held.lines().collect();
    write_private(
        &broken,
        &(held_lines[..held_lines.len() - 1].join("\n") + "\n"),
    );
    let refused = restore(&target, &key_file, None, &export, Some(&broken));
    assert_refused(&refused, 3, &["truncated"]);

    // Keys of another export: exit 2.
    let (_, other_keys) = {
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let crn = "P510003";
        let line = engine_support::as_case_administrator(
            crn,
            "2022-03-01",
            engine_support::open_case(crn, 79, "2022-03-01"),
        );
        let file = elsewhere.join("commands.jsonl");
        std::fs::write(&file, line + "\n").unwrap();
        ok(caseledger(
            &data,
            &key_file,
            None,
            &["import", file.to_str().unwrap()],
        ));
        export_with_keys(&elsewhere, &data, &key_file, None)
    };
    let refused = restore(&target, &key_file, None, &export, Some(&other_keys));
    assert_refused(&refused, 2, &["belongs to the export"]);

    // Nothing was written: the same target takes the right restore.
    ok(restore(&target, &key_file, None, &export, Some(&keys)));
    assert_eq!(person(&target, &key_file, None, KEPT)["name"], NAME);
}

#[test]
fn a_keys_file_naming_a_case_not_in_the_export_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (data, key_file) = source_store(dir.path(), None);
    let (export, keys) = export_with_keys(dir.path(), &data, &key_file, None);
    let held = std::fs::read_to_string(&keys).unwrap();
    let mut lines: Vec<String> = held.lines().map(str::to_owned).collect();
    // The tombstone of a case the export does not hold, the count kept right.
    lines.insert(
        3,
        "{\"subject\":\"P519999\",\"key\":\"destroyed\"}".to_owned(),
    );
    let last = lines.len() - 1;
    lines[last] = "{\"keys\":3}".to_owned();
    let altered = dir.path().join("altered.keys");
    write_private(&altered, &(lines.join("\n") + "\n"));
    let target = dir.path().join("restored");
    let refused = restore(&target, &key_file, None, &export, Some(&altered));
    assert_refused(&refused, 3, &["line 4", "P519999"]);
    ok(restore(&target, &key_file, None, &export, Some(&keys)));
}

#[test]
fn a_postgresql_log_is_backed_up_and_restored_with_its_keys() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let source = pg_support::TestSchema::new(&server);
    let target = pg_support::TestSchema::new(&server);
    let dir = tempfile::tempdir().unwrap();
    restore_with_keys(dir.path(), Some(&source.url()), Some(&target.url()));
}

fn write_private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// The KEK id a keys file's header names.
fn printed_kek(keys: &Path) -> String {
    let held = std::fs::read_to_string(keys).unwrap();
    let header: Value = serde_json::from_str(held.lines().next().unwrap()).unwrap();
    header["kek_id"].as_str().unwrap().to_owned()
}

/// The KEK id of a store: from the header of its own keys file.
fn printed_kek_of_store(data: &Path, key_file: &Path) -> String {
    let keys = data.with_extension("keys");
    let out = caseledger(
        data,
        key_file,
        None,
        &["export", "--keys", keys.to_str().unwrap()],
    );
    assert!(out.status.success(), "{}", text(&out));
    printed_kek(&keys)
}
