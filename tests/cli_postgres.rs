//! The operator CLI on PostgreSQL through the real binary: `--store
//! postgres://…?schema=…` instead of `--data`'s sled store; init, import (with ack log and an
//! idempotent re-run), case, tick, rebuild and report work unchanged, and the read models
//! stay local; the read-only commands on a schema without a log create nothing. Bad URLs and
//! unreachable servers are typed, actionable and never print the password. Against the real
//! local server; unreachable means FAIL (see `pg_support`).

mod engine_support;
mod pg_support;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use engine_support::*;
use pg_support::TestSchema;
use serde_json::json;

/// Nottingham City (TOM Annex C), served by DLNR CRC in the TR era (seed 001 l.10).
const NOTTINGHAM_CITY: u8 = 79;

/// Run the binary; (exit code, stdout, stderr).
fn caseledger(global: &[&str], args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .args(global)
        .args(args)
        .output()
        .expect("run caseledger");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Two TR-era community cases (one escalated to the NPS, seed 001 l.55–68) and one refused
/// command: 9 commands.
fn command_file(path: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for crn in ["P100001", "P100002"] {
        lines.push(as_case_administrator(
            crn,
            "2016-03-01",
            open_case(crn, NOTTINGHAM_CITY, "2016-03-01"),
        ));
        lines.push(as_court_officer(
            crn,
            "2016-03-01",
            community_order("2016-03-01"),
        ));
        lines.push(as_probation_officer(
            crn,
            "2016-03-02",
            assess("2016-03-02", "initial", "medium"),
        ));
        lines.push(as_probation_officer(
            crn,
            "2016-03-03",
            json!({"type": "allocate_to_provider", "on": "2016-03-03", "crc": "DLNR CRC",
                   "deportation_order": false, "notoriety": false}),
        ));
    }
    // BR-A11: only the NPS decides an escalation; this one is refused (and recorded).
    lines.push(command(
        "P100001",
        "senior_probation_officer",
        "crc:DLNR CRC",
        "2016-09-05",
        json!({"type": "decide_risk_escalation", "on": "2016-09-05", "confirmed_rosh": "high"}),
    ));
    let mut f = std::fs::File::create(path).unwrap();
    for line in &lines {
        writeln!(f, "{line}").unwrap();
    }
    lines
}

#[test]
fn the_cli_imports_and_reports_on_a_postgres_log_with_read_models_kept_locally() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let schema = TestSchema::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("commands.jsonl");
    let ack = dir.path().join("ack.jsonl");
    let lines = command_file(&file);
    let url = schema.url();
    let global = ["--data", data.to_str().unwrap(), "--store", url.as_str()];

    let (code, out, err) = caseledger(&global, &["init"]);
    assert_eq!(code, 0, "init: {out}{err}");
    assert!(out.contains(&format!("(schema {}, ", schema.name)), "{out}");
    assert!(out.contains("(head position 0)"), "{out}");
    assert!(schema.exists(), "init creates the schema");

    let (code, out, err) = caseledger(
        &global,
        &[
            "import",
            file.to_str().unwrap(),
            "--ack-log",
            ack.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "import: {out}{err}");
    assert!(
        out.contains("8 applied, 0 already applied, 1 refused"),
        "{out}"
    );
    assert!(err.contains("BR-A11"), "{err}");
    let acks: Vec<serde_json::Value> = std::fs::read_to_string(&ack)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(acks.len(), lines.len());
    // Re-running the same file applies nothing twice (command ids).
    let (code, out, err) = caseledger(&global, &["import", file.to_str().unwrap()]);
    assert_eq!(code, 0, "re-import: {out}{err}");
    assert!(out.contains("0 applied, 8 already applied"), "{out}");

    let (code, out, err) = caseledger(&global, &["case", "P100002"]);
    assert_eq!(code, 0, "case: {out}{err}");
    let state: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(state["crn"], "P100002");
    assert!(out.contains("DLNR CRC"), "allocated to the CRC: {out}");
    // Nothing of this log is in a sled store under --data.
    let (code, _, err) = caseledger(&["--data", data.to_str().unwrap()], &["case", "P100002"]);
    assert_ne!(
        code, 0,
        "the sled store in --data is a different, empty log: {err}"
    );

    let (code, out, err) = caseledger(&global, &["tick", "--to", "2017-01-01", "--format", "json"]);
    assert_eq!(code, 0, "tick: {out}{err}");
    let tick: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tick["cases"], 2, "{out}");

    let (code, out, err) = caseledger(&global, &["rebuild", "--digest"]);
    assert_eq!(code, 0, "rebuild: {out}{err}");
    assert!(out.lines().any(|l| l.starts_with("caseload ")), "{out}");
    let readmodels = data
        .join("postgres")
        .join(format!("127.0.0.1-5432-test-{}", schema.name))
        .join("readmodels");
    if pg_support::url() == pg_support::URL_DEFAULT {
        assert!(
            readmodels.is_dir(),
            "read models at {}",
            readmodels.display()
        );
    }
    assert!(
        !data.join("readmodels").exists(),
        "no sled-side read models were written"
    );
    let (code, out, err) = caseledger(
        &global,
        &[
            "report",
            "caseload",
            "--today",
            "2016-04-01",
            "--format",
            "json",
        ],
    );
    assert_eq!(code, 0, "report: {out}{err}");
    let rows: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let cases: u64 = rows.iter().map(|r| r["cases"].as_u64().unwrap()).sum();
    assert_eq!(cases, 2, "both imported cases are on a caseload: {out}");
}

#[test]
fn bad_store_urls_and_unreachable_servers_are_actionable_and_hide_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    let (code, _, err) = caseledger(
        &[
            "--data",
            data,
            "--store",
            "mysql://clerk:hunter22@db/probation",
        ],
        &["init"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--store: ") && err.contains("postgres://"),
        "{err}"
    );
    assert!(!err.contains("hunter22"), "{err}");

    // Nothing listens on port 1 of the loopback.
    let (code, _, err) = caseledger(
        &[
            "--data",
            data,
            "--store",
            "postgres://clerk:hunter22@127.0.0.1:1/probation",
        ],
        &["case", "P100001"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("127.0.0.1:1/probation"), "{err}");
    assert!(err.contains("check that the server is running"), "{err}");
    assert!(!err.contains("hunter22"), "{err}");

    // Replay commands read the PostgreSQL log: an unreachable one is a failure naming it.
    let (code, _, err) = caseledger(
        &[
            "--data",
            data,
            "--store",
            "postgres://clerk:hunter22@127.0.0.1:1/probation",
        ],
        &["verify"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("127.0.0.1:1/probation"), "{err}");
    assert!(!err.contains("hunter22"), "{err}");

    // The shared `public` schema only when asked for explicitly.
    let (code, _, err) = caseledger(
        &[
            "--data",
            data,
            "--store",
            "postgres://clerk@127.0.0.1:1/probation?schema=public",
        ],
        &["init"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("allow_public_schema=true"), "{err}");
}

/// The global arguments for the log at `url` with read models under `data`.
fn on<'a>(data: &'a str, url: &'a str) -> [&'a str; 4] {
    ["--data", data, "--store", url]
}

/// `caseledger` with extra environment variables; (exit code, stdout, stderr).
fn caseledger_env(global: &[&str], args: &[&str], env: &[(&str, &Path)]) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_caseledger"));
    command.args(global).args(args);
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().expect("run caseledger");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn verify_export_replay_explain_and_import_log_work_on_a_postgres_log() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let source = TestSchema::new(&server);
    let target = TestSchema::new(&server);
    let missing = TestSchema::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let file = dir.path().join("commands.jsonl");
    command_file(&file);
    let (source_url, target_url, missing_url) = (source.url(), target.url(), missing.url());
    let data_arg = data.to_str().unwrap();

    // A read-only command never creates a log.
    let (code, _, err) = caseledger(&on(data_arg, &missing_url), &["verify"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no caseledger log"), "{err}");
    assert!(!missing.exists(), "verify created the schema");

    let (code, out, err) = caseledger(
        &on(data_arg, &source_url),
        &["import", file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "import: {out}{err}");
    let (code, verified, err) = caseledger(&on(data_arg, &source_url), &["verify"]);
    assert_eq!(code, 0, "verify: {verified}{err}");
    let root = verified
        .split_whitespace()
        .find(|w| w.contains('@'))
        .unwrap_or_else(|| panic!("no ROOT@POSITION in {verified}"))
        .to_owned();

    let (code, export, err) = caseledger(&on(data_arg, &source_url), &["export"]);
    assert_eq!(code, 0, "export: {err}");
    let records: Vec<serde_json::Value> = export
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(records.len() >= 9, "{} records", records.len());
    let assessed = records
        .iter()
        .find(|r| r["payload"]["event_type"] == "RiskAssessed" && r["stream_id"] == "P100001")
        .expect("a RiskAssessed record");

    let (code, out, err) = caseledger(&on(data_arg, &source_url), &["replay", "P100001"]);
    assert_eq!(code, 0, "replay: {err}");
    assert!(out.contains("RiskAssessed"), "{out}");
    let event_id = assessed["event_id"].as_str().unwrap();
    let (code, out, err) = caseledger(
        &on(data_arg, &source_url),
        &["explain", event_id, "--today", "2026-11-22"],
    );
    assert_eq!(code, 0, "explain: {err}");
    assert!(out.contains("decision RiskAssessed"), "{out}");

    // The export restores into another PostgreSQL log with the same root.
    let export_file = dir.path().join("export.jsonl");
    std::fs::write(&export_file, &export).unwrap();
    let (code, out, err) = caseledger(
        &on(data_arg, &target_url),
        &["import-log", export_file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "import-log: {out}{err}");
    assert!(
        out.contains(&root),
        "import-log root differs: {out} vs {root}"
    );
    let (code, out, err) = caseledger(&on(data_arg, &target_url), &["verify"]);
    assert_eq!(code, 0, "verify the copy: {err}");
    assert!(out.contains(&root), "{out} vs {root}");
    // ... and into a sled store, the same root.
    let sled = dir.path().join("sled");
    let (code, out, err) = caseledger(
        &["--data", sled.to_str().unwrap()],
        &["import-log", export_file.to_str().unwrap()],
    );
    assert_eq!(code, 0, "import-log into sled: {out}{err}");
    assert!(out.contains(&root), "{out} vs {root}");

    // The password file is libpq's: one that others may read is refused before connecting.
    let passfile = dir.path().join("pgpass");
    std::fs::write(&passfile, "*:*:*:*:not-used\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (code, _, err) = caseledger_env(
            &on(data_arg, &source_url),
            &["verify"],
            &[("PGPASSFILE", passfile.as_path())],
        );
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("chmod 0600"), "{err}");
        assert!(!err.contains("not-used"), "{err}");
        std::fs::set_permissions(&passfile, std::fs::Permissions::from_mode(0o600)).unwrap();
        let (code, _, err) = caseledger_env(
            &on(data_arg, &source_url),
            &["verify"],
            &[("PGPASSFILE", passfile.as_path())],
        );
        assert_eq!(code, 0, "{err}");
    }
}

/// The read-only commands on a schema that holds no log: each is exit 2 (as other usage
/// errors) naming the schema, and creates nothing — no schema in the database, no read-model
/// directory under `--data`.
#[test]
fn read_only_commands_on_a_missing_schema_create_nothing_and_name_it() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let missing = TestSchema::new(&server);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = missing.url();
    let event_id = "00000000-0000-0000-0000-000000000001";
    let commands: [&[&str]; 6] = [
        &["report", "caseload", "--today", "2026-11-22"],
        &["case", "P100001"],
        &["replay", "P100001"],
        &["verify"],
        &["export"],
        &["explain", event_id, "--today", "2026-11-22"],
    ];
    for args in commands {
        let (code, out, err) = caseledger(&on(data.to_str().unwrap(), &url), args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains("no caseledger log"), "{args:?}: {err}");
        assert!(
            err.contains(&format!("(schema {},", missing.name)),
            "{args:?} does not name the schema: {err}"
        );
        assert!(!missing.exists(), "{args:?} created the schema");
        assert!(!data.exists(), "{args:?} created {}", data.display());
    }
}
