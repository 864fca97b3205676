//! `import` into PostgreSQL while the server drops its connections: the test itself
//! terminates the importing child process's connections through SQL (`pg_terminate_backend`
//! on `pg_stat_activity` by application name) during each run, re-runs the import until it
//! exits 0, and compares every case stream with a clean sled import of the same commands. No
//! difference is allowed. Against the real local server (see `pg_support`).

mod fault_support;
mod pg_support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use caseledger::{Engine, EngineConfig};
use fault_support::*;
use pg_support::TestSchema;

/// Longest one import run may take before the test gives up on it.
const RUN_WAIT_MAX: Duration = Duration::from_secs(180);
/// Runs with connection kills before the import is left to finish.
const KILLED_RUNS_MAX: u32 = 6;
/// Runs in all before the import must have converged.
const RUNS_MAX: u32 = 20;

fn spawn(global: &[&str], file: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_caseledger"))
        .args(global)
        .arg("import")
        .arg(file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run caseledger")
}

/// Terminate every backend of `application` now; how many were terminated.
async fn terminate(client: &tokio_postgres::Client, application: &str) -> i64 {
    let rows = client
        .query(
            "select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1",
            &[&application],
        )
        .await
        .expect("terminate");
    rows.len() as i64
}

/// Wait for `child`, terminating its connections every `every` from `after` on, when `kill`.
async fn run(
    mut child: Child,
    client: &tokio_postgres::Client,
    application: &str,
    kill: bool,
) -> (Output, i64) {
    let started = Instant::now();
    let mut terminated = 0;
    // Let the first run open its schema and get going before the first kill.
    let mut next_kill = started + Duration::from_millis(700);
    loop {
        if let Some(_status) = child.try_wait().unwrap() {
            return (child.wait_with_output().unwrap(), terminated);
        }
        assert!(
            started.elapsed() < RUN_WAIT_MAX,
            "an import run took longer than {RUN_WAIT_MAX:?}"
        );
        if kill && Instant::now() >= next_kill {
            terminated += terminate(client, application).await;
            next_kill = Instant::now() + Duration::from_millis(400);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_connections_are_killed_converges_to_the_clean_import() {
    let Some(server) = pg_support::server() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cohort.jsonl");
    let lines = write_cohort(&file, 120);
    assert!(lines > 3_000, "{lines} commands");

    // The clean import, on sled, through the binary.
    let clean_dir = dir.path().join("clean");
    let clean_dir_arg = clean_dir.to_str().unwrap().to_owned();
    let out = spawn(&["--data", &clean_dir_arg], &file)
        .wait_with_output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let clean = {
        let engine = Engine::open(EngineConfig::sled(&clean_dir)).unwrap();
        contents(engine.store().as_ref(), engine.keyring()).await
    };

    // The faulty import, on PostgreSQL. The child's connections carry an application name of
    // their own (a caseledger one: `caseledger` plus this process's id), so the kills reach
    // this import and not other tests using the same server at the same time.
    let schema = TestSchema::new(&server);
    let application = format!("caseledger_faults_{}", std::process::id());
    let url = format!("{}&application_name={application}", schema.url());
    let data = dir.path().join("pgdata");
    let global = ["--data", data.to_str().unwrap(), "--store", url.as_str()];
    let (client, connection) = tokio_postgres::connect(&server, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);

    let mut terminated_total = 0;
    let mut failed_runs = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(
            runs <= RUNS_MAX,
            "the import did not converge in {RUNS_MAX} runs"
        );
        let kill = runs <= KILLED_RUNS_MAX;
        let (out, terminated) = run(spawn(&global, &file), &client, &application, kill).await;
        terminated_total += terminated;
        if out.status.success() {
            break;
        }
        failed_runs += 1;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        // Either it could not open the store, or it names the line it stopped at.
        let names_line = stderr.contains(&format!("{}:", file.display()));
        let at_open = stderr.contains("cannot open the PostgreSQL store");
        assert!(names_line || at_open, "{stderr}");
        if names_line {
            assert!(stderr.contains("run the same import again"), "{stderr}");
        }
    }
    assert!(terminated_total > 0, "no connection was terminated");
    assert!(failed_runs > 0, "no run failed: the kills came too late");

    // The KEK the child created beside its PostgreSQL log's directory under --data.
    let location = caseledger::store::postgres::PostgresConfig::from_url(&url)
        .unwrap()
        .location_key();
    let key_file =
        caseledger::store::crypto::default_key_file(&data.join("postgres").join(location));
    let config = EngineConfig::postgres(&schema.url()).unwrap();
    let engine = Engine::open_async(config.with_key_file(key_file))
        .await
        .unwrap();
    let faulty = contents(engine.store().as_ref(), engine.keyring()).await;
    assert_same(&clean, &faulty);
    eprintln!(
        "{lines} commands: {failed_runs} failed runs of {runs}, {terminated_total} connections terminated"
    );
}
