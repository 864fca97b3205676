//! Backup and restore through the real binary: `export --keys FILE` carries the exported
//! cases' data keys (wrapped under the key-encryption key, or an erased person's tombstone)
//! and `import-log EXPORT --keys FILE` restores them, on sled and on PostgreSQL; without the
//! keys file every person reads as withheld, and import-log says so (docs/operations.md
//! "Backup and restore").

mod cli_support;
mod engine_support;
mod pg_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use cli_support::{command_file, Cli, Ran};
use serde_json::{json, Value};

const NAME: &str = "Sam Example";
const KEPT: &str = "P510001";
const ERASED: &str = "P510002";

/// Runs on `data` with the key file `key_file` and, when given one, the store URL `store`:
/// `caseledger --data DATA --key-file KEY [--store URL] ARGS…`.
fn cli<'a>(data: &'a Path, key_file: &'a Path, store: Option<&'a str>) -> Cli<'a> {
    Cli::on(data).key_file(Some(key_file)).store(store)
}

/// The person on case `crn`, as `case` prints it.
fn person(cli: &Cli, crn: &str) -> Value {
    cli.case(crn)["person"].clone()
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
    let source = cli(&data, &key_file, store);
    source.init_and_import(dir, &lines);
    let reason = "retention ended (RET-1)";
    source.ok(&["erase", ERASED, "--reason", reason]);
    (data, key_file)
}

/// `export --keys` of the store into `dir/export.jsonl` and `dir/export.keys`.
fn export_with_keys(dir: &Path, source: &Cli) -> (PathBuf, PathBuf) {
    let keys = dir.join("export.keys");
    let out = source.ok(&["export", "--keys", keys.to_str().unwrap()]);
    let export = dir.join("export.jsonl");
    std::fs::write(&export, &out.stdout).unwrap();
    (export, keys)
}

/// `import-log EXPORT [--keys KEYS]` into the store.
fn restore(target: &Cli, export: &Path, keys: Option<&Path>) -> Ran {
    let mut args = vec!["import-log", export.to_str().unwrap()];
    if let Some(keys) = keys {
        args.extend(["--keys", keys.to_str().unwrap()]);
    }
    target.run(&args)
}

/// A restore with the keys file shows the person; an erased person stays erased; the
/// restored log verifies to the source's root; the keys file is private and holds no
/// plaintext key or personal datum.
fn restore_with_keys(dir: &Path, source: Option<&str>, target: Option<&str>) {
    let (data, key_file) = source_store(dir, source);
    let source = cli(&data, &key_file, source);
    let root = source.verified_root();
    let (export, keys) = export_with_keys(dir, &source);
    let mode = std::fs::metadata(&keys).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the keys file is private");
    let held = std::fs::read_to_string(&keys).unwrap();
    let kek = std::fs::read_to_string(&key_file).unwrap();
    assert!(!held.contains(kek.trim()) && !held.contains(NAME), "{held}");
    assert!(held.contains(&format!("\"subject\":\"{ERASED}\",\"key\":\"destroyed\"")));

    let restored = dir.join("restored");
    let target = cli(&restored, &key_file, target);
    let import = restore(&target, &export, Some(&keys)).succeeded("import-log");
    assert!(
        import
            .text()
            .contains("restored the data keys of 2 persons (1 erased)"),
        "{}",
        import.text()
    );
    assert!(!import.text().contains("warning"), "{}", import.text());
    let kept = person(&target, KEPT);
    assert_eq!(kept["name"], NAME, "{kept}");
    assert_eq!(person(&target, ERASED), json!({"sealed": "erased"}));
    assert_eq!(target.verified_root(), root);
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
    let (export, _) = export_with_keys(dir.path(), &cli(&data, &key_file, None));
    let restored = dir.path().join("restored");
    let target = cli(&restored, &key_file, None);
    let import = restore(&target, &export, None).succeeded("import-log");
    let said = &import.stderr;
    assert!(
        said.contains("warning") && said.contains("withheld") && said.contains("--keys"),
        "{said}"
    );
    assert_eq!(person(&target, KEPT), json!({"sealed": "withheld"}));
}

/// Refused with exit `code`, saying each of `says`.
fn assert_refused(output: &Ran, code: i32, says: &[&str]) {
    assert_eq!(output.code, code, "{}", output.text());
    for part in says {
        assert!(output.text().contains(part), "{part}: {}", output.text());
    }
}

#[test]
fn a_keys_file_under_another_kek_malformed_or_for_another_export_is_refused_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (data, key_file) = source_store(dir.path(), None);
    let source = cli(&data, &key_file, None);
    let (export, keys) = export_with_keys(dir.path(), &source);
    let source_kek = printed_kek(&keys);
    let restored = dir.path().join("restored");
    let target = cli(&restored, &key_file, None);

    // Another KEK: the new store's key file is not the one the keys are wrapped under.
    let other_key = dir.path().join("other.key");
    let other = dir.path().join("other");
    cli(&other, &other_key, None).ok(&["init"]);
    let refused = restore(&cli(&restored, &other_key, None), &export, Some(&keys));
    let other_kek = printed_kek_of_store(&other, &other_key);
    assert_refused(&refused, 2, &[&source_kek, &other_kek]);

    // A malformed line: named, exit 3.
    let held = std::fs::read_to_string(&keys).unwrap();
    let broken = dir.path().join("broken.keys");
    let mut lines: Vec<&str> = held.lines().collect();
    lines[1] = "{\"subject\":\"P510001\",\"key\":\"00ff\"}";
    write_private(&broken, &(lines.join("\n") + "\n"));
    let refused = restore(&target, &export, Some(&broken));
    assert_refused(&refused, 3, &["line 2"]);

    // A truncated file (its closing line gone): exit 3.
    let held_lines: Vec<&str> = held.lines().collect();
    write_private(
        &broken,
        &(held_lines[..held_lines.len() - 1].join("\n") + "\n"),
    );
    let refused = restore(&target, &export, Some(&broken));
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
        let file = command_file(&elsewhere, "commands.jsonl", &[line]);
        source.ok(&["import", file.to_str().unwrap()]);
        export_with_keys(&elsewhere, &source)
    };
    let refused = restore(&target, &export, Some(&other_keys));
    assert_refused(&refused, 2, &["belongs to the export"]);

    // Nothing was written: the same target takes the right restore.
    restore(&target, &export, Some(&keys)).succeeded("import-log");
    assert_eq!(person(&target, KEPT)["name"], NAME);
}

#[test]
fn a_keys_file_naming_a_case_not_in_the_export_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (data, key_file) = source_store(dir.path(), None);
    let (export, keys) = export_with_keys(dir.path(), &cli(&data, &key_file, None));
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
    let restored = dir.path().join("restored");
    let target = cli(&restored, &key_file, None);
    let refused = restore(&target, &export, Some(&altered));
    assert_refused(&refused, 3, &["line 4", "P519999"]);
    restore(&target, &export, Some(&keys)).succeeded("import-log");
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
    cli(data, key_file, None).ok(&["export", "--keys", keys.to_str().unwrap()]);
    printed_kek(&keys)
}
