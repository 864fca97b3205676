//! Shared helpers for the reference-vector tests: locating `../shared` and checking its
//! vectors through the real binary. The binary runs through `tests/cli_support`, which a test
//! using this module declares too (`mod cli_support;`).

#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

/// The `shared/` folder beside the repository (CI clones the repo with `shared/` beside it).
/// `CASELEDGER_SHARED` overrides it.
pub fn shared_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("CASELEDGER_SHARED") {
        return PathBuf::from(dir);
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    assert!(
        dir.join("vectors").is_dir(),
        "the reference vectors are missing: expected {} (set CASELEDGER_SHARED to their folder)",
        dir.display()
    );
    dir
}

/// Run every vector of `shared/vectors/<file>` through `caseledger policy <calculator>` and
/// compare, for each line, only the keys listed in its `expect`. Returns the number of vectors.
/// `expect` and `source` are stripped from the input (they are not part of the contract).
pub fn check_vectors(file: &str, calculator: &str) -> usize {
    let path = shared_dir().join("vectors").join(file);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut inputs = Vec::new();
    let mut expects = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let mut v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{file}:{}: {e}", n + 1));
        let obj = v.as_object_mut().expect("vector line is an object");
        let expect = obj
            .remove("expect")
            .unwrap_or_else(|| panic!("{file}:{}: no expect", n + 1));
        obj.remove("source");
        inputs.push(serde_json::to_string(&v).unwrap());
        expects.push((n + 1, v["id"].clone(), expect));
    }
    let (code, stdout, stderr) =
        crate::cli_support::policy(calculator, &(inputs.join("\n") + "\n")).parts();
    assert_eq!(code, 0, "exit status; stderr: {stderr}");
    let outputs: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("output line is JSON"))
        .collect();
    assert_eq!(
        outputs.len(),
        expects.len(),
        "one output line per input line"
    );
    let mut failures = Vec::new();
    for ((line, id, expect), got) in expects.iter().zip(&outputs) {
        if &got["id"] != id {
            failures.push(format!("{file}:{line}: id {id} echoed as {}", got["id"]));
            continue;
        }
        for (key, want) in expect.as_object().expect("expect is an object") {
            let matches = if key == "error" {
                // Conformance compares the stated prefix of error texts.
                let want = want.as_str().unwrap_or_default();
                got.get("error")
                    .and_then(Value::as_str)
                    .is_some_and(|g| g.starts_with(want))
            } else {
                got.get(key) == Some(want)
            };
            if !matches {
                failures.push(format!(
                    "{file}:{line} ({id}): {key} expected {want}, got {}",
                    got.get(key).unwrap_or(&Value::Null)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        expects.len(),
        failures.join("\n")
    );
    expects.len()
}
