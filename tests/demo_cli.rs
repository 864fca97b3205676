//! `caseledger generate` and `caseledger demo` through the real binary.
//!
//! A cohort is byte-identical per seed, imports with zero refusals and `verify` passes. A debug
//! build imports a few hundred commands a second, so these tests use 50–150 people; the
//! release figures (10,000 people generated, the demo's import) are in docs/benchmarks.md.

use std::path::Path;
use std::process::{Command, Output};

use caseledger::{Engine, EngineConfig};

fn caseledger(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .args(args)
        .output()
        .expect("run caseledger")
}

fn generate(people: &str, seed: &str) -> Vec<u8> {
    let out = caseledger(&["generate", "--people", people, "--seed", seed]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn generate_is_byte_identical_across_runs_and_seeds_differ() {
    let a = generate("150", "1");
    let b = generate("150", "1");
    assert!(a.len() > 100_000, "{} bytes", a.len());
    assert_eq!(a, b);
    assert_ne!(a, generate("150", "2"));
    // The same bytes as the library: the CLI adds nothing.
    let mut library = Vec::new();
    caseledger::fixtures::generate(150, 1, &mut library).expect("generate");
    assert_eq!(a, library);
}

#[test]
fn a_generated_cohort_imports_with_zero_refusals_and_the_chain_verifies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("cohort.jsonl");
    std::fs::write(&file, generate("50", "1")).expect("write");
    let lines = std::fs::read_to_string(&file)
        .expect("read")
        .lines()
        .count();
    let data = dir.path().join("data");
    let data_arg = data.to_str().expect("utf-8 path");
    let out = caseledger(&["--data", data_arg, "import", file.to_str().expect("path")]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("{lines} applied, 0 already applied, 0 refused")),
        "{stdout}"
    );
    // Re-importing is idempotent: every command id is already applied.
    let again = caseledger(&["--data", data_arg, "import", file.to_str().expect("path")]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(
        stdout.contains(&format!("0 applied, {lines} already applied, 0 refused")),
        "{stdout}"
    );
    verify(&data, lines);
    // `caseledger verify` (replay) recomputes the chain and the Merkle root.
    let verified = caseledger(&["--data", data_arg, "verify"]);
    let stdout = String::from_utf8_lossy(&verified.stdout);
    assert!(verified.status.success(), "{stdout}");
    assert!(stdout.contains("chain intact"), "{stdout}");
}

fn verify(data: &Path, commands: usize) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let engine = Engine::open(EngineConfig::sled(data)).expect("open");
        let head = engine.store().head().await.expect("head");
        assert!(
            head >= commands as u64,
            "{head} events for {commands} commands"
        );
        let report = engine.store().verify(1, None).await.expect("verify");
        assert!(report.is_ok(), "{report:?}");
        assert_eq!(report.records_checked, head);
        assert!(engine.refusals().await.expect("refusals").is_empty());
    });
}

#[test]
fn demo_runs_on_a_fresh_directory_and_prints_the_summaries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_dir = dir.path().join("demo");
    let demo_arg = demo_dir.to_str().expect("path");
    let out = caseledger(&["demo", "--dir", demo_arg, "--people", "40"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "0 refused",
        "rebuilt the read models",
        "Caseload (caseledger report caseload)",
        "MAPPA register (caseledger report mappa)",
        "Performance measures (caseledger report performance)",
        "hash chain intact",
        "Where to look next",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    // The store it leaves is usable by the commands it suggests.
    let data = demo_dir.join("data");
    let case = caseledger(&["--data", data.to_str().expect("path"), "case", "A000001"]);
    assert!(
        case.status.success(),
        "{}",
        String::from_utf8_lossy(&case.stderr)
    );

    // A second demo into the same (now non-empty) directory: --dir cannot be used (exit 2).
    let again = caseledger(&["demo", "--dir", demo_arg, "--people", "40"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

#[test]
fn bad_arguments_are_refused_with_exit_code_2() {
    let out = caseledger(&["generate", "--people", "99999999999", "--seed", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--people"));
    assert!(out.stdout.is_empty());
    let out = caseledger(&["demo", "--people", "0"]);
    assert_eq!(out.status.code(), Some(2));
}
