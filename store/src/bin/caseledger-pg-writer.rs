//! Test helper for the PostgreSQL multi-process and crash tests (`store/tests/postgres_*.rs`):
//! opens a `PostgresStore` (durability Flush) on `<url>` in `<schema>`, and appends from
//! several tasks, each to its own stream `PG-<writer>-<task>` with an exact expected version,
//! 1 to 3 events per append. After each acknowledged append it prints and flushes
//!
//! `ack <stream> <stream version after> <first position> <last position> <event id>,…`
//!
//! so a parent that SIGKILLs it knows exactly what was acknowledged. It stops by itself after
//! `<appends per task>` appends per task.
//!
//! Usage: `caseledger-pg-writer <url> <schema> <writer name> <appends per task>`.
//! Exit codes: 2 usage, 4 any store error.

use std::io::Write;
use std::sync::Arc;

use caseledger_store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
use caseledger_store::{
    Actor, EventStore, ExpectedVersion, NewEvent, StoreError, StreamId, SystemClock,
};
use uuid::Uuid;

/// Concurrent appending tasks, so acknowledgements come from real group commits.
const WRITER_TASKS: u32 = 3;
/// Upper bound on `<appends per task>`, so a mistyped argument cannot run for hours.
const APPENDS_PER_TASK_MAX: u64 = 100_000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = || {
        eprintln!(
            "usage: caseledger-pg-writer <postgres-url> <schema> <writer name> <appends per task, 1..={APPENDS_PER_TASK_MAX}>"
        );
        std::process::exit(2);
    };
    let [url, schema, writer, appends] = args.as_slice() else {
        usage();
        return;
    };
    let appends = match appends.parse::<u64>() {
        Ok(n) if (1..=APPENDS_PER_TASK_MAX).contains(&n) => n,
        _ => {
            usage();
            return;
        }
    };
    let config = match PostgresConfig::from_url(url).and_then(|c| c.with_schema(schema)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
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
    let code = runtime.block_on(run(config, writer.clone(), appends));
    std::process::exit(code);
}

async fn run(config: PostgresConfig, writer: String, appends: u64) -> i32 {
    let store = match PostgresStore::open(config, Arc::new(SystemClock), PostgresOptions::default())
        .await
    {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("{e}");
            return 4;
        }
    };
    let mut tasks = Vec::new();
    for task in 0..WRITER_TASKS {
        let store = Arc::clone(&store);
        let writer = writer.clone();
        tasks.push(tokio::spawn(async move {
            write_loop(store, &writer, task, appends).await
        }));
    }
    let mut code = 0;
    for t in tasks {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                eprintln!("{e}");
                code = 4;
            }
            Err(e) => {
                eprintln!("writer task failed: {e}");
                code = 4;
            }
        }
    }
    code
}

async fn write_loop(
    store: Arc<PostgresStore>,
    writer: &str,
    task: u32,
    appends: u64,
) -> Result<(), StoreError> {
    let stream = StreamId::new(format!("PG-{writer}-{task}"))?;
    // Each task is its stream's only writer, so the version read at start stays exact.
    let mut version = store.read_stream(&stream, 1).await?.len() as u64;
    for n in 0..appends {
        let events: Vec<NewEvent> = (0..1 + n % 3).map(|_| event(writer, task)).collect();
        let ids: Vec<String> = events.iter().map(|e| e.event_id.to_string()).collect();
        let result = store
            .append(&stream, ExpectedVersion::Exact(version), events, None)
            .await?;
        version = result.stream_version;
        let mut out = std::io::stdout().lock();
        // If the parent has gone, stop.
        if writeln!(
            out,
            "ack {stream} {version} {} {} {}",
            result.first_position,
            result.last_position,
            ids.join(",")
        )
        .is_err()
            || out.flush().is_err()
        {
            return Ok(());
        }
    }
    Ok(())
}

fn event(writer: &str, task: u32) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "PostgresWriterTestEvent".into(),
        schema_version: 1,
        effective_at_us: 0,
        actor: Actor {
            id: format!("pg-writer-{writer}"),
            role: "system".into(),
            organisation: "test".into(),
        },
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::nil(),
        causation_id: Uuid::nil(),
        ruleset_id: String::new(),
        payload: vec![task as u8; 64],
    }
}
