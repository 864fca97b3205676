//! The PostgreSQL write path against its peer, in one run, side by side.
//!
//! Row 1: `caseledger --store postgres://… import` (the release binary, as an operator runs it)
//! of `caseledger generate --people N --seed S` into a fresh schema, durable
//! (`synchronous_commit = on`). Row 2: the same command file through cqrs-es + postgres-es
//! (benches/peer-cqrs-es, its own package, built here with `cargo build --release`), an
//! aggregate of the same shape (load the case's events, decide, append), `--tasks` tasks, on
//! the same server. Both print commands/s; the ratio is caseledger's over the peer's.
//!
//!     cargo bench --bench pg_write_path
//!     PEOPLE=600 SEED=11 ROUNDS=3 TASKS=64 CASELEDGER_PG_URL=postgres://… cargo bench --bench pg_write_path
//!
//! Numbers and how to read them: docs/benchmarks.md, "PostgreSQL write path and its peer".

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;
use support::env_or;

const URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA: &str = "bench_write_path";
const PEER_SCHEMA: &str = "bench_write_path_peer";

fn run(command: &mut Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn psql(url: &str, sql: &str) -> String {
    run(
        Command::new("psql").args([url, "-XAtqc", sql]),
        &format!("psql -c {sql}"),
    )
    .trim()
    .to_owned()
}

/// One caseledger import into a fresh schema: (seconds, seq scans and index scans on events).
fn caseledger_import(url: &str, commands: &Path, work: &Path) -> (f64, i64, i64) {
    psql(url, &format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"));
    let data = work.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let store = format!("{url}?schema={SCHEMA}");
    let started = Instant::now();
    run(
        Command::new(env!("CARGO_BIN_EXE_caseledger"))
            .arg("--data")
            .arg(&data)
            .arg("--store")
            .arg(&store)
            .arg("import")
            .arg(commands),
        "caseledger import",
    );
    let seconds = started.elapsed().as_secs_f64();
    let scans = psql(
        url,
        &format!(
            "SELECT seq_scan || ' ' || coalesce(idx_scan, 0) FROM pg_stat_user_tables \
             WHERE schemaname = '{SCHEMA}' AND relname = 'events'"
        ),
    );
    let mut parts = scans.split(' ').map(|n| n.parse::<i64>().unwrap_or(-1));
    (
        seconds,
        parts.next().unwrap_or(-1),
        parts.next().unwrap_or(-1),
    )
}

fn peer_binary(target: &Path) -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/peer-cqrs-es/Cargo.toml");
    run(
        Command::new(env!("CARGO"))
            .args(["build", "--release", "--quiet", "--manifest-path"])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", target),
        "cargo build the cqrs-es peer",
    );
    target.join("release/peer-cqrs-es")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let url = std::env::var("CASELEDGER_PG_URL").unwrap_or_else(|_| URL_DEFAULT.to_owned());
    let people: u64 = env_or("PEOPLE", 600);
    let seed: u64 = env_or("SEED", 11);
    let rounds: usize = env_or("ROUNDS", 3);
    let tasks: usize = env_or("TASKS", 64);
    let work = std::env::temp_dir().join(format!(
        "caseledger-bench-write-path-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&work).unwrap();
    let commands = work.join("commands.jsonl");
    let text = run(
        Command::new(env!("CARGO_BIN_EXE_caseledger")).args([
            "generate",
            "--people",
            &people.to_string(),
            "--seed",
            &seed.to_string(),
        ]),
        "caseledger generate",
    );
    std::fs::write(&commands, &text).unwrap();
    let count = text.lines().filter(|l| !l.trim().is_empty()).count();
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("peer-cqrs-es");
    let peer = peer_binary(&target);

    println!(
        "PostgreSQL write path: generate --people {people} --seed {seed} = {count} commands; \
         {rounds} rounds, peer with {tasks} tasks; server {}",
        psql(&url, "SHOW server_version")
    );
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        let (seconds, seq, idx) = caseledger_import(&url, &commands, &work);
        let ours_rate = count as f64 / seconds;
        let line = run(
            Command::new(&peer)
                .args(["--url", &url, "--tasks", &tasks.to_string()])
                .args(["--schema", PEER_SCHEMA, "--commands"])
                .arg(&commands),
            "peer-cqrs-es",
        );
        let theirs_rate: f64 = line
            .split_whitespace()
            .find_map(|f| f.strip_prefix("commands_per_s="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("peer printed no rate: {line}"));
        println!(
            "round {round}: caseledger import {seconds:7.2} s {ours_rate:8.0} commands/s \
             (events: {seq} seq scans, {idx} index scans) | {} | ratio {:.2}×",
            line.trim(),
            ours_rate / theirs_rate
        );
        ours.push(ours_rate);
        theirs.push(theirs_rate);
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "median: caseledger (PostgreSQL import) {ours:.0} commands/s | cqrs-es + postgres-es \
         ({tasks} tasks) {theirs:.0} commands/s | ratio {:.2}×",
        ours / theirs
    );
    psql(&url, &format!("DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"));
    psql(
        &url,
        &format!("DROP SCHEMA IF EXISTS {PEER_SCHEMA} CASCADE"),
    );
    let _ = std::fs::remove_dir_all(&work);
}
