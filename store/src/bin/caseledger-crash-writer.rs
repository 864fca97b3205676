//! Test helper for the crash test (`store/tests/crash.rs`): opens a `SledStore` in `Flush`
//! mode at the given path, appends forever from several tasks to several streams, and prints
//! one line per acknowledged event — `ack <stream> <version> <position>` — flushing stdout
//! after each, so the parent knows exactly what was acknowledged when it kills us (SIGKILL).
//!
//! Exit codes: 2 usage, 3 the store is in use, 4 any other error.

use std::io::Write;
use std::sync::Arc;

use caseledger_store::{
    Actor, EventStore, ExpectedVersion, NewEvent, SledOptions, SledStore, StoreError, StreamId,
    SystemClock,
};
use uuid::Uuid;

/// Concurrent appending tasks (so acknowledgements come from real group commits).
const WRITER_TASKS: u32 = 4;
/// Safety net: stop by ourselves after this many appends per task if nobody kills us.
const APPENDS_PER_TASK_MAX: u64 = 200_000;

fn main() {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: caseledger-crash-writer <store-directory>");
        std::process::exit(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start runtime: {e}");
            std::process::exit(4);
        }
    };
    let code = runtime.block_on(run(path));
    std::process::exit(code);
}

async fn run(path: String) -> i32 {
    let options = SledOptions {
        durability: caseledger_store::Durability::Flush,
        clock: Arc::new(SystemClock),
    };
    let store = match SledStore::open(&path, options) {
        Ok(s) => Arc::new(s),
        Err(e @ StoreError::InUse { .. }) => {
            eprintln!("{e}");
            return 3;
        }
        Err(e) => {
            eprintln!("{e}");
            return 4;
        }
    };
    let mut tasks = Vec::new();
    for task in 0..WRITER_TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move { write_loop(store, task).await }));
    }
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("{e}");
                return 4;
            }
            Err(e) => {
                eprintln!("writer task failed: {e}");
                return 4;
            }
        }
    }
    0
}

async fn write_loop(store: Arc<SledStore>, task: u32) -> Result<(), StoreError> {
    let stream = StreamId::new(format!("CRASH-{task}"))?;
    // Each task is its stream's only writer, so the version it read at start is exact.
    let mut version = store.read_stream(&stream, 1).await?.len() as u64;
    for _ in 0..APPENDS_PER_TASK_MAX {
        let event = NewEvent {
            event_id: Uuid::new_v4(),
            event_type: "CrashTestEvent".into(),
            schema_version: 1,
            effective_at_us: 0,
            actor: Actor {
                id: "crash-writer".into(),
                role: "system".into(),
                organisation: "test".into(),
            },
            command_id: Uuid::new_v4(),
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            ruleset_id: String::new(),
            payload: vec![task as u8; 100],
        };
        let result = store
            .append(&stream, ExpectedVersion::Exact(version), vec![event], None)
            .await?;
        version = result.stream_version;
        let mut out = std::io::stdout().lock();
        // If the parent has gone, stop.
        if writeln!(out, "ack {stream} {version} {}", result.last_position).is_err()
            || out.flush().is_err()
        {
            return Ok(());
        }
    }
    Ok(())
}
