//! Shared helpers for end-to-end tests: locating `../shared` and running the real
//! `caseledger` binary.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

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

/// Run the real `caseledger` binary with `args`, feeding `stdin`; returns (exit code, stdout, stderr).
pub fn run_cli(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the caseledger binary");
    let mut child_stdin = child.stdin.take().expect("stdin");
    let input = stdin.to_owned();
    // Write from another thread so a large output cannot deadlock against a full stdin pipe.
    let writer = std::thread::spawn(move || {
        let _ = child_stdin.write_all(input.as_bytes());
    });
    let out = child.wait_with_output().expect("wait for caseledger");
    writer.join().expect("stdin writer");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    )
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
    let (code, stdout, stderr) = run_cli(&["policy", calculator], &(inputs.join("\n") + "\n"));
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
