//! Every statement the PostgreSQL store prepares reaches `events` (and `idempotency`) through
//! an index, on a table the planner knows nothing about: a fresh schema, autovacuum off for
//! its tables, 100,000 events appended through the store with its own analyser off, so no
//! column statistics exist. Each statement is EXPLAINed with the exact text the store
//! prepares (`caseledger_store::postgres::statements`), as a custom plan and as the generic
//! plan a prepared statement switches to, and no `Seq Scan` on those tables may appear.
//!
//! The control: the writer's earlier lookup (`stream_id = ANY($1) … GROUP BY`) is EXPLAINed on
//! the same table and does choose a sequential scan, so the table does expose the problem the
//! statements are shaped to avoid.

mod postgres_support;

use std::sync::Arc;

use caseledger_store::postgres::statements::{self, READER_STATEMENTS, WRITER_STATEMENTS};
use caseledger_store::postgres::{PostgresOptions, PostgresStore, SESSION_OPTIONS};
use caseledger_store::{Durability, EventStore, ExpectedVersion, StreamId, SystemClock};
use postgres_support::{event, server, TestSchema};
use serde_json::Value;
use uuid::Uuid;

/// Events appended before the plans are checked.
const EVENTS: u64 = 100_000;
const STREAMS: u64 = 2_000;
const EVENTS_PER_APPEND: u64 = 10;
/// Appends in flight at once (they share the writer's batches).
const TASKS: u64 = 32;
/// Keys per lookup in the EXPLAINed statements: a writer batch of that many appends.
const BATCH_KEYS: u64 = 64;

fn stream_name(n: u64) -> String {
    format!("P{n:06}")
}

fn event_uuid(stream: u64, version: u64) -> Uuid {
    Uuid::from_u128(u128::from(stream) << 32 | u128::from(version))
}

fn key_uuid(stream: u64, append: u64) -> Uuid {
    Uuid::from_u128(1 << 100 | u128::from(stream) << 32 | u128::from(append))
}

async fn fill(store: Arc<PostgresStore>) {
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for s in (task..STREAMS).step_by(TASKS as usize) {
                let stream = StreamId::new(stream_name(s)).unwrap();
                let appends = EVENTS / STREAMS / EVENTS_PER_APPEND;
                for a in 0..appends {
                    let events = (0..EVENTS_PER_APPEND)
                        .map(|i| {
                            let version = a * EVENTS_PER_APPEND + i + 1;
                            let mut e = event(0, "CaseNoteAdded", b"note");
                            e.event_id = event_uuid(s, version);
                            e
                        })
                        .collect();
                    let expected = if a == 0 {
                        ExpectedVersion::NoStream
                    } else {
                        ExpectedVersion::Exact(a * EVENTS_PER_APPEND)
                    };
                    store
                        .append(&stream, expected, events, Some(key_uuid(s, a)))
                        .await
                        .expect("append");
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// SQL literal `'{a,b,…}'::type[]`.
fn array<T: ToString>(items: impl IntoIterator<Item = T>, sql_type: &str) -> String {
    let items: Vec<String> = items.into_iter().map(|i| i.to_string()).collect();
    format!("'{{{}}}'::{sql_type}[]", items.join(","))
}

/// EXECUTE arguments for each statement, shaped like one writer batch against the filled log.
fn arguments(name: &str) -> String {
    let streams = || (0..BATCH_KEYS).map(|i| i * (STREAMS / BATCH_KEYS));
    let new_positions = || (0..BATCH_KEYS).map(|i| EVENTS + 1 + i);
    match name {
        "lock_head" | "head" => String::new(),
        "stream_versions" => array(streams().map(stream_name), "text"),
        "stored_keys" => array(streams().map(|s| key_uuid(s, 0)), "uuid"),
        "stored_event_ids" => array(streams().map(|s| event_uuid(s, 1)), "uuid"),
        "write_batch" => [
            array(new_positions(), "bigint"),
            array(streams().map(stream_name), "text"),
            array(streams().map(|_| 51), "bigint"),
            array(streams().map(|s| event_uuid(s, 51)), "uuid"),
            array(streams().map(|_| "CaseNoteAdded"), "text"),
            array(streams().map(|_| 1), "bigint"),
            array(
                streams().map(|_| format!("\"\\\\x{}\"", "00".repeat(32))),
                "bytea",
            ),
            array(streams().map(|_| "\"\\\\x00\""), "bytea"),
            array(streams().map(|s| key_uuid(s, 5)), "uuid"),
            array(streams().map(stream_name), "text"),
            array(new_positions(), "bigint"),
            array(new_positions(), "bigint"),
            array(streams().map(|_| 51), "bigint"),
            array(streams().map(|_| 1), "bigint"),
            (EVENTS + BATCH_KEYS).to_string(),
            format!("'\\x{}'::bytea", "00".repeat(32)),
            "1".into(),
            "'plans_test_head'".into(),
            array(
                streams().map(|_| format!("\"\\\\x{}\"", "11".repeat(32))),
                "bytea",
            ),
        ]
        .join(", "),
        "read_all" => "50000, 1000".into(),
        "read_stream" => format!("'{}', 1", stream_name(7)),
        "read_stream_page" => format!("'{}', 11, 256", stream_name(7)),
        "record_at" => "50000".into(),
        other => panic!(
            "statement {other} has no EXPLAIN arguments here: add them so its plan is checked"
        ),
    }
}

/// Every plan node, depth first.
fn nodes(plan: &Value, out: &mut Vec<Value>) {
    out.push(plan.clone());
    if let Some(children) = plan.get("Plans").and_then(Value::as_array) {
        for child in children {
            nodes(child, out);
        }
    }
}

/// `(node type, relation)` of every node that reads a table, for the plan of `sql` with
/// `args`, under `plan_cache_mode`.
async fn scans(
    client: &tokio_postgres::Client,
    sql: &str,
    args: &str,
    mode: &str,
) -> Vec<(String, String)> {
    client
        .batch_execute(&format!(
            "DEALLOCATE ALL; SET plan_cache_mode = {mode}; PREPARE checked AS {sql}"
        ))
        .await
        .unwrap_or_else(|e| panic!("PREPARE {sql}: {e:?}"));
    explain_prepared(client, "checked", args).await
}

/// The scans of prepared statement `name` executed with `args`, as this session would run it.
async fn explain_prepared(
    client: &tokio_postgres::Client,
    name: &str,
    args: &str,
) -> Vec<(String, String)> {
    let execute = if args.is_empty() {
        format!("EXECUTE {name}")
    } else {
        format!("EXECUTE {name}({args})")
    };
    // The simple protocol hands the `json` column over as text.
    let text = client
        .simple_query(&format!("EXPLAIN (FORMAT JSON) {execute}"))
        .await
        .unwrap_or_else(|e| panic!("EXPLAIN {execute}: {e:?}"))
        .into_iter()
        .find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
            _ => None,
        })
        .expect("a plan row");
    let plan: Value = serde_json::from_str(&text).expect("EXPLAIN JSON");
    let mut all = Vec::new();
    nodes(&plan[0]["Plan"], &mut all);
    all.iter()
        .filter_map(|n| {
            let relation = n.get("Relation Name")?.as_str()?.to_owned();
            Some((n["Node Type"].as_str().unwrap_or("?").to_owned(), relation))
        })
        .collect()
}

/// A connection with the session settings the store gives its own.
async fn store_like_session(url: &str) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = url.parse().unwrap();
    config.options(SESSION_OPTIONS);
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

fn sequential_on_log(scans: &[(String, String)]) -> bool {
    scans.iter().any(|(node, relation)| {
        node == "Seq Scan" && (relation == "events" || relation == "idempotency")
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_statement_uses_an_index_on_a_never_analysed_100k_event_log() {
    let Some(url) = server().await else { return };
    let schema = TestSchema::new(&url);
    let options = PostgresOptions {
        durability: Durability::Buffered,
        analyze_after_events_min: None,
        ..PostgresOptions::default()
    };
    let store = PostgresStore::open(schema.config(), Arc::new(SystemClock), options)
        .await
        .expect("open");
    let client = schema.client().await;
    let s = &schema.name;
    client
        .batch_execute(&format!(
            "ALTER TABLE {s}.events SET (autovacuum_enabled = false); \
             ALTER TABLE {s}.idempotency SET (autovacuum_enabled = false)"
        ))
        .await
        .unwrap();
    // Statements prepared and run while the log is empty, in a session set up as the store's
    // are: a plan cached then (a sequential scan of a tiny table) must not outlive the table's
    // growth.
    let session = store_like_session(&url).await;
    let all: Vec<(&str, &str)> = WRITER_STATEMENTS
        .iter()
        .chain(READER_STATEMENTS)
        .copied()
        .collect();
    for (i, (name, template)) in all.iter().enumerate() {
        let sql = statements::sql(template, s);
        session
            .batch_execute(&format!("PREPARE early_{i} AS {sql}"))
            .await
            .unwrap_or_else(|e| panic!("PREPARE {name}: {e:?}"));
        // Run it (all but the write) often enough for PostgreSQL to consider a generic plan.
        let args = arguments(name);
        if *name != "write_batch" {
            for _ in 0..8 {
                let execute = if args.is_empty() {
                    format!("EXECUTE early_{i}")
                } else {
                    format!("EXECUTE early_{i}({args})")
                };
                session
                    .batch_execute(&execute)
                    .await
                    .unwrap_or_else(|e| panic!("{execute}: {e:?}"));
            }
        }
    }
    let store = Arc::new(store);
    fill(store.clone()).await;
    assert_eq!(store.head().await.unwrap(), EVENTS);

    // The planner has no statistics about the data it is about to plan for.
    let row = client
        .query_one(
            "SELECT count(*) FROM pg_stats WHERE schemaname = $1 AND tablename = 'events'",
            &[s],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 0, "events has column statistics");
    let row = client
        .query_one(
            "SELECT last_autoanalyze IS NULL FROM pg_stat_user_tables \
             WHERE schemaname = $1 AND relname = 'events'",
            &[s],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "events was auto-analysed");

    // Control: the earlier lookup shape scans the whole table here.
    let earlier = format!(
        "SELECT stream_id, max(stream_version) FROM {s}.events \
         WHERE stream_id = ANY($1::text[]) GROUP BY stream_id"
    );
    let control = scans(
        &client,
        &earlier,
        &arguments("stream_versions"),
        "force_custom_plan",
    )
    .await;
    assert!(
        control.contains(&("Seq Scan".into(), "events".into())),
        "the control query did not scan sequentially, so this table does not expose the \
         problem: {control:?}"
    );

    for (i, (name, _)) in all.iter().enumerate() {
        let scans = explain_prepared(&session, &format!("early_{i}"), &arguments(name)).await;
        assert!(
            !sequential_on_log(&scans),
            "{name}, prepared on the empty log, now scans sequentially: {scans:?}"
        );
    }

    let mut checked = 0;
    for (name, template) in WRITER_STATEMENTS.iter().chain(READER_STATEMENTS) {
        let sql = statements::sql(template, s);
        let args = arguments(name);
        for mode in ["force_custom_plan", "force_generic_plan"] {
            let scans = scans(&client, &sql, &args, mode).await;
            for (node, relation) in &scans {
                assert!(
                    !(node == "Seq Scan" && (relation == "events" || relation == "idempotency")),
                    "{name} ({mode}) scans {relation} sequentially: {scans:?}\n{sql}"
                );
            }
            let reads_events = template.contains("FROM {schema}.events");
            if reads_events {
                assert!(
                    scans.iter().any(|(node, relation)| relation == "events"
                        && (node.starts_with("Index") || node == "Bitmap Heap Scan")),
                    "{name} ({mode}) does not read events through an index: {scans:?}"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked,
        2 * (WRITER_STATEMENTS.len() + READER_STATEMENTS.len())
    );
}

#[tokio::test]
async fn opening_a_store_analyses_a_never_analysed_log() {
    let Some(url) = server().await else { return };
    let schema = TestSchema::new(&url);
    let store = schema.open().await;
    let stream = StreamId::new("A000001").unwrap();
    let events = (1..=3).map(|i| event(i, "CaseNoteAdded", b"x")).collect();
    store
        .append(&stream, ExpectedVersion::NoStream, events, None)
        .await
        .unwrap();
    drop(store);
    let client = schema.client().await;
    let s = &schema.name;
    // Statistics lost (a crash resets them; a restore starts without them).
    client
        .query(
            "SELECT pg_stat_reset_single_table_counters($1::text::regclass)",
            &[&format!("{s}.events")],
        )
        .await
        .unwrap();
    client
        .batch_execute(&format!(
            "DELETE FROM pg_statistic WHERE starelid = '{s}.events'::regclass"
        ))
        .await
        .unwrap();
    let _store = schema.open().await;
    let row = client
        .query_one(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables \
             WHERE schemaname = $1 AND relname = 'events'",
            &[s],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "open did not analyse events");
    let row = client
        .query_one(
            "SELECT count(*) FROM pg_stats WHERE schemaname = $1 AND tablename = 'events'",
            &[s],
        )
        .await
        .unwrap();
    assert!(row.get::<_, i64>(0) > 0, "no column statistics after open");
}
