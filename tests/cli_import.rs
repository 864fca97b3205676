//! The operator CLI through the real binary: import with a malformed line, idempotent
//! re-runs, an import killed with SIGKILL while it decides and writes, then re-run to the log
//! of an uninterrupted import, exec, tick, case, store in use.

mod cli_support;
mod engine_support;
mod fault_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use caseledger::{Engine, EngineConfig};
use cli_support::{caseledger, Cli};
use engine_support::*;

const NOTTINGHAM_CITY: u8 = 79;
/// Longest a test waits for the child to acknowledge something before killing it.
const ACK_WAIT_MAX: Duration = Duration::from_secs(60);

/// `cases` cases of `1 + 1 + 1 + reviews` commands each, interleaved across cases so that
/// batches mix cases (per-case order is still file order).
fn cohort(cases: u32, reviews: u32) -> Vec<String> {
    let mut per_case: Vec<Vec<String>> = Vec::new();
    for i in 0..cases {
        let crn = format!("K{:06}", 100_000 + i);
        let mut lines = vec![
            command(
                &crn,
                "case_administrator",
                "nps",
                "2022-03-01",
                open_case(&crn, NOTTINGHAM_CITY, "2022-03-01"),
            ),
            command(
                &crn,
                "court_officer",
                "court",
                "2022-03-01",
                community_order("2022-03-01"),
            ),
            command(
                &crn,
                "probation_officer",
                "nps",
                "2022-03-02",
                assess("2022-03-02", "initial", "low"),
            ),
        ];
        for r in 0..reviews {
            let on = jiff::civil::date(2022, 4, 1)
                .checked_add(jiff::Span::new().days(i64::from(r)))
                .unwrap()
                .to_string();
            let rosh = if r % 2 == 0 { "medium" } else { "low" };
            lines.push(command(
                &crn,
                "probation_officer",
                "nps",
                &on,
                assess(&on, "review", rosh),
            ));
        }
        per_case.push(lines);
    }
    let longest = per_case.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::new();
    for step in 0..longest {
        for lines in &per_case {
            if let Some(line) = lines.get(step) {
                out.push(line.clone());
            }
        }
    }
    out
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::fs::File::create(path).unwrap();
    for line in lines {
        writeln!(f, "{line}").unwrap();
    }
}

fn command_id(line: &str) -> String {
    serde_json::from_str::<serde_json::Value>(line).unwrap()["command_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn ack_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("ack lines are JSON"))
        .collect()
}

/// Events per command id over the whole log.
fn events_per_command(engine_dir: &Path) -> BTreeMap<String, u64> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let engine = Engine::open(EngineConfig::sled(engine_dir)).unwrap();
        count_events(&engine).await
    })
}

async fn count_events(engine: &Engine) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    let mut from = 1;
    loop {
        let page = engine.store().read_all(from, 4096).await.unwrap();
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for record in page {
            // Refusals and the operator sessions of each run are not a command's events.
            if record.stream_id != caseledger::commands::REFUSALS_STREAM
                && record.stream_id != caseledger::commands::SESSIONS_STREAM
            {
                *counts.entry(record.command_id.to_string()).or_insert(0) += 1;
            }
        }
    }
    counts
}

#[test]
fn import_stops_at_a_malformed_line_naming_it_and_reruns_idempotently() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("commands.jsonl");
    let ack = dir.path().join("ack.jsonl");
    let mut lines = cohort(3, 3);
    assert_eq!(lines.len(), 18);
    let good_line_16 = lines[15].clone();
    lines[15] = lines[15]
        .replace("\"medium\"", "\"extreme\"")
        .replace("\"low\"", "\"extreme\"");
    write_lines(&file, &lines);

    let out = caseledger(
        &data,
        &[
            "import",
            file.to_str().unwrap(),
            "--ack-log",
            ack.to_str().unwrap(),
        ],
    );
    let stderr = &out.stderr;
    assert_eq!(out.code, 3, "{stderr}");
    let expected = format!(
        "{}:16: command.rosh: unknown variant `extreme`",
        file.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");

    // Everything before line 16 is committed and acknowledged; nothing after it is applied.
    let acks = ack_lines(&ack);
    assert_eq!(acks.len(), 15);
    for (i, a) in acks.iter().enumerate() {
        assert_eq!(a["line"], i as u64 + 1);
        assert_eq!(a["status"], "applied");
        assert_eq!(a["command_id"], command_id(&lines[i]));
        assert!(a["first_position"].as_u64().unwrap() >= 1);
    }
    let counts = events_per_command(&data);
    for (i, line) in lines.iter().enumerate() {
        let applied = counts.contains_key(&command_id(line));
        assert_eq!(applied, i < 15, "line {}", i + 1);
    }

    // Re-running: the same stop, and the first 15 are duplicates that write nothing.
    let out = caseledger(
        &data,
        &[
            "import",
            file.to_str().unwrap(),
            "--ack-log",
            ack.to_str().unwrap(),
        ],
    );
    assert_eq!(out.code, 3);
    let acks = ack_lines(&ack);
    assert_eq!(acks.len(), 30);
    assert!(acks[15..].iter().all(|a| a["status"] == "duplicate"));
    assert_eq!(events_per_command(&data), counts);

    // With the line fixed, the rest is applied once.
    lines[15] = good_line_16;
    write_lines(&file, &lines);
    let out = caseledger(&data, &["import", file.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let stdout = &out.stdout;
    assert!(
        stdout.contains("3 applied, 15 already applied, 0 refused"),
        "{stdout}"
    );
    let counts = events_per_command(&data);
    assert!(lines.iter().all(|l| counts.contains_key(&command_id(l))));
}

/// A FIFO at `path` (the import reads it as its file): what is written to it reaches the
/// child, and the child cannot reach the end of its input while the FIFO is held open.
fn make_fifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a NUL-terminated path and a mode; mkfifo reads nothing else.
    let made = unsafe { libc::mkfifo(name.as_ptr(), 0o600) };
    assert_eq!(made, 0, "mkfifo {}", path.display());
}

#[test]
fn an_import_killed_with_sigkill_and_rerun_applies_every_command_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("cohort.jsonl");
    let fifo = dir.path().join("cohort.fifo");
    let ack = dir.path().join("ack.jsonl");
    // 120 cases × 15 commands = 1,800 commands: several groups.
    let lines = cohort(120, 12);
    write_lines(&file, &lines);
    make_fifo(&fifo);

    // The reference: the same file through an in-memory engine.
    let reference = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let engine = Engine::open(EngineConfig::memory()).unwrap();
        for line in &lines {
            engine
                .execute_json(line)
                .await
                .expect("every command applies");
        }
        count_events(&engine).await
    });

    // The import to be killed reads the FIFO: half the commands, then, once some are
    // acknowledged, the rest while it is killed — with groups being decided and written.
    let mut child = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .arg("--data")
        .arg(&data)
        .args([
            "import",
            fifo.to_str().unwrap(),
            "--ack-log",
            ack.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (first, rest) = lines.split_at(lines.len() / 2);
    let mut input = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    input
        .write_all((first.join("\n") + "\n").as_bytes())
        .unwrap();
    let started = Instant::now();
    while ack_lines(&ack).is_empty() && started.elapsed() < ACK_WAIT_MAX {
        std::thread::sleep(Duration::from_millis(5));
    }
    let writer = {
        let rest = rest.join("\n") + "\n";
        // The child dies mid-write: the write fails (broken pipe), which is expected.
        std::thread::spawn(move || input.write_all(rest.as_bytes()).is_ok())
    };
    // SIGKILL: no destructor, no flush.
    child.kill().unwrap();
    let _ = child.wait();
    let _ = writer.join();
    let acked_before: Vec<serde_json::Value> = ack_lines(&ack);
    assert!(!acked_before.is_empty(), "the child acknowledged nothing");
    assert!(
        acked_before.len() < lines.len(),
        "the child could not have read every command"
    );

    // Everything acknowledged before the kill survived it.
    let after_kill = events_per_command(&data);
    for a in &acked_before {
        assert!(
            after_kill.contains_key(a["command_id"].as_str().unwrap()),
            "acknowledged then lost: {a}"
        );
    }

    let rerun = |data: &Path| {
        let out = caseledger(
            data,
            &[
                "import",
                file.to_str().unwrap(),
                "--ack-log",
                ack.to_str().unwrap(),
            ],
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
    };
    rerun(&data);
    assert_eq!(events_per_command(&data), reference);
    let acks = ack_lines(&ack);
    let rerun_acks = &acks[acked_before.len()..];
    assert_eq!(rerun_acks.len(), lines.len());
    assert!(rerun_acks
        .iter()
        .all(|a| a["status"] == "applied" || a["status"] == "duplicate"));

    // Every case holds exactly what an import that was never interrupted writes.
    let clean = dir.path().join("clean");
    rerun(&clean);
    let contents_of = |data: &Path| {
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let engine = Engine::open(EngineConfig::sled(data)).unwrap();
            fault_support::contents(engine.store().as_ref(), engine.keyring()).await
        })
    };
    fault_support::assert_same(&contents_of(&clean), &contents_of(&data));
}

#[test]
fn exec_tick_and_case_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = caseledger(&data, &["init"]);
    assert_eq!(init.code, 0);

    let exec = |line: String| Cli::on(&data).input(line.as_bytes()).run(&["exec"]);
    let crn = "E300001";
    let out = exec(as_case_administrator(
        crn,
        "2022-03-01",
        open_case(crn, NOTTINGHAM_CITY, "2022-03-01"),
    ));
    assert_eq!(out.code, 0, "{}", out.stderr);
    let receipt: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(receipt["event_types"][0], "CaseOpened");

    // Refused by role: exit 5, recorded.
    let out = exec(command(
        crn,
        "regulator",
        "hmi_probation",
        "2022-03-02",
        assess("2022-03-02", "initial", "low"),
    ));
    assert_eq!(out.code, 5);
    assert!(out.stderr.contains("never change them"));
    // Bad input: exit 3, the field named.
    let out = exec(as_probation_officer(
        crn,
        "not-a-date",
        assess("2022-03-02", "initial", "low"),
    ));
    assert_eq!(out.code, 3);
    assert!(out.stderr.contains("stdin: effective_at:"));

    let out = caseledger(&data, &["case", crn]);
    assert_eq!(out.code, 0);
    let state: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(state["crn"], crn);
    let out = caseledger(&data, &["case", "E399999"]);
    assert_eq!(out.code, 1);

    let out = caseledger(&data, &["tick", "--to", "2023-01-01", "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["cases"], 1);
    // A --to that is not a date is an argument that cannot be used: exit 2.
    let out = caseledger(&data, &["tick", "--to", "2023-13-01"]);
    assert_eq!(out.code, 2);
}

#[test]
fn a_second_process_gets_store_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let _engine = Engine::open(EngineConfig::sled(&data)).unwrap();
    let out = caseledger(&data, &["case", "X123456"]);
    assert_eq!(out.code, 4);
    let stderr = &out.stderr;
    assert!(stderr.contains("store is in use"), "{stderr}");
}
