//! `caseledger rebuild --streams-per-pass N` / `--events-per-pass N` (bounded memory):
//! a log with more cases (or events) than N is rebuilt in several passes over the log and gives the same read models, digest for
//! digest, as a rebuild in one pass; an unusable N is refused before anything is touched.
use std::path::Path;
use std::process::{Command, Output};

fn caseledger(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run caseledger")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// K in the `rebuilt … in K pass(es)` line of `rebuild`.
fn pass_count(out: &str) -> u32 {
    out.split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("pass count in {out}"))
}

/// The `<model> <sha256>` lines of `rebuild --digest`.
fn digests(out: &str) -> Vec<&str> {
    out.lines().filter(|l| !l.starts_with("rebuilt ")).collect()
}

#[test]
fn a_rebuild_in_several_passes_gives_the_same_digests_as_one_pass() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cohort = dir.path().join("cohort.jsonl");
    let generated = caseledger(&data, &["generate", "--people", "40", "--seed", "5"]);
    std::fs::write(&cohort, stdout(&generated)).unwrap();
    stdout(&caseledger(&data, &["import", cohort.to_str().unwrap()]));

    let one = stdout(&caseledger(&data, &["rebuild", "--digest"]));
    assert!(one.contains(" in 1 pass\n"), "{one}");
    let several = stdout(&caseledger(
        &data,
        &["rebuild", "--digest", "--streams-per-pass", "7"],
    ));
    // 40 people are 40 case streams (and the refusals stream, if any, is one more): at 7 a
    // pass, at least 6 passes.
    let passes = pass_count(&several);
    assert!(passes >= 6, "{several}");
    assert_eq!(digests(&one).len(), 6, "{one}");
    assert_eq!(digests(&one), digests(&several));

    // Bounded by events instead (the log is counted first): more passes, the same digests.
    let by_events = stdout(&caseledger(
        &data,
        &["rebuild", "--digest", "--events-per-pass", "500"],
    ));
    let passes = pass_count(&by_events);
    assert!(passes >= 2, "{by_events}");
    assert_eq!(digests(&one), digests(&by_events));

    // The reports read the generation the multi-pass rebuild put in service.
    let report = stdout(&caseledger(
        &data,
        &["report", "caseload", "--format", "json"],
    ));
    assert!(report.starts_with('['), "{report}");
}

#[test]
fn zero_streams_or_events_per_pass_is_refused_before_the_store_is_opened() {
    for flag in ["--streams-per-pass", "--events-per-pass"] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let out = caseledger(&data, &["rebuild", flag, "0"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(flag),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!data.exists(), "nothing created for a refused rebuild");
    }
}
