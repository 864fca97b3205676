//! `caseledger rebuild --streams-per-pass N` / `--events-per-pass N` (bounded memory):
//! a log with more cases (or events) than N is rebuilt in several passes over the log and gives the same read models, digest for
//! digest, as a rebuild in one pass; an unusable N is refused before anything is touched.
mod cli_support;

use cli_support::{caseledger, Cli};

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
    let generated = Cli::on(&data).ok(&["generate", "--people", "40", "--seed", "5"]);
    std::fs::write(&cohort, generated.stdout).unwrap();
    Cli::on(&data).ok(&["import", cohort.to_str().unwrap()]);

    let one = Cli::on(&data).ok(&["rebuild", "--digest"]).stdout;
    assert!(one.contains(" in 1 pass\n"), "{one}");
    let several = Cli::on(&data)
        .ok(&["rebuild", "--digest", "--streams-per-pass", "7"])
        .stdout;
    // 40 people are 40 case streams (and the refusals stream, if any, is one more): at 7 a
    // pass, at least 6 passes.
    let passes = pass_count(&several);
    assert!(passes >= 6, "{several}");
    assert_eq!(digests(&one).len(), 6, "{one}");
    assert_eq!(digests(&one), digests(&several));

    // Bounded by events instead (the log is counted first): more passes, the same digests.
    let by_events = Cli::on(&data)
        .ok(&["rebuild", "--digest", "--events-per-pass", "500"])
        .stdout;
    let passes = pass_count(&by_events);
    assert!(passes >= 2, "{by_events}");
    assert_eq!(digests(&one), digests(&by_events));

    // The reports read the generation the multi-pass rebuild put in service.
    let report = Cli::on(&data)
        .ok(&["report", "caseload", "--format", "json"])
        .stdout;
    assert!(report.starts_with('['), "{report}");
}

#[test]
fn zero_streams_or_events_per_pass_is_refused_before_the_store_is_opened() {
    for flag in ["--streams-per-pass", "--events-per-pass"] {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let out = caseledger(&data, &["rebuild", flag, "0"]);
        assert_eq!(out.code, 2);
        assert!(out.stderr.contains(flag), "{}", out.stderr);
        assert!(!data.exists(), "nothing created for a refused rebuild");
    }
}
