//! `caseledger_payload` is the one place a domain event becomes payload bytes and back: outside
//! it, the store's payload codec is called only by the files below, for records that are not
//! domain events (command refusals, operator sessions, the store's own index values).

use std::path::{Path, PathBuf};

/// Files (relative to the workspace) that may call the store's payload codec, and why.
const ALLOWED: &[(&str, &str)] = &[
    ("commands/src/handler.rs", "CommandRefused audit records"),
    ("src/engine.rs", "OperatorSession audit records"),
    ("src/engine_audit.rs", "reading audit records"),
    (
        "replay/tests/support/mod.rs",
        "CommandRefused records in test logs",
    ),
    (
        "tests/fault_support/mod.rs",
        "reading CommandRefused records",
    ),
];

/// Directories not searched: the codec's own crate, this crate, vendored and built code.
const SKIPPED: &[&str] = &["store", "payload", "vendor", "target", ".git"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_the_payload_crate_encodes_domain_events() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&root).expect("workspace").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !SKIPPED.contains(&name.as_str()) && !name.starts_with('.') {
            rust_files(&entry.path(), &mut files);
        }
    }
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut offenders = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&file).unwrap();
        let calls = text.contains("encode_payload") || text.contains("decode_payload");
        if calls && !ALLOWED.iter().any(|(allowed, _)| *allowed == relative) {
            offenders.push(relative);
        }
    }
    assert!(
        offenders.is_empty(),
        "these files call the store's payload codec; encode and decode domain events with \
         caseledger_payload instead: {offenders:?}"
    );
}
