//! Shared by the PostgreSQL test files: find the server (or fail loudly), and give each test
//! its own schema that is dropped afterwards.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use caseledger_store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
use caseledger_store::{Actor, Clock, NewEvent, SystemClock};
use uuid::Uuid;

/// Overrides the server URL (default [`URL_DEFAULT`]).
pub const URL_ENV: &str = "CASELEDGER_PG_URL";
/// Set to 1 to skip the PostgreSQL tests explicitly (they fail when the server is missing).
pub const SKIP_ENV: &str = "CASELEDGER_PG_SKIP";
pub const URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn url() -> String {
    std::env::var(URL_ENV).unwrap_or_else(|_| URL_DEFAULT.to_owned())
}

/// `Some(url)` when the server answers. When it does not: panic with instructions, unless
/// `CASELEDGER_PG_SKIP=1`, in which case print a loud warning and return `None`.
pub async fn server() -> Option<String> {
    let url = url();
    let config = PostgresConfig::from_url(&url).expect("CASELEDGER_PG_URL is not a valid URL");
    let reachable = match tokio_postgres::connect(&url, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| e.to_string())
        }
        Err(e) => Err(e.to_string()),
    };
    match reachable {
        Ok(_) => Some(url),
        Err(why) if std::env::var(SKIP_ENV).as_deref() == Ok("1") => {
            eprintln!(
                "\n!!!!!!!! WARNING: PostgreSQL backend tests SKIPPED ({SKIP_ENV}=1): server at \
                 {} not reachable ({why}). These tests are required in CI. !!!!!!!!\n",
                config.describe()
            );
            None
        }
        Err(why) => panic!(
            "\n\nPostgreSQL not reachable at {} ({why}): the PostgreSQL backend tests must run; \
             start the server (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) \
             main start) or set {SKIP_ENV}=1 to skip explicitly\n",
            config.describe()
        ),
    }
}

static SCHEMA_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A schema of its own for one test; dropped (CASCADE) when this guard is dropped.
pub struct TestSchema {
    pub url: String,
    pub name: String,
}

impl TestSchema {
    pub fn new(url: &str) -> Self {
        let n = SCHEMA_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("caseledger_test_{}_{n}", std::process::id());
        // A schema left by an earlier run that had the same pid is stale; start clean.
        drop_schema_blocking(url, &name);
        TestSchema {
            url: url.to_owned(),
            name,
        }
    }

    pub fn config(&self) -> PostgresConfig {
        PostgresConfig::from_url(&self.url)
            .unwrap()
            .with_schema(&self.name)
            .unwrap()
            .with_head_poll_interval(Duration::from_millis(200))
    }

    pub async fn open(&self) -> PostgresStore {
        self.open_with_clock(Arc::new(SystemClock)).await
    }

    pub async fn open_with_clock(&self, clock: Arc<dyn Clock>) -> PostgresStore {
        PostgresStore::open(self.config(), clock, PostgresOptions::default())
            .await
            .expect("open the PostgreSQL store")
    }

    /// A plain client for checks below the store's API.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        drop_schema_blocking(&self.url, &self.name);
    }
}

/// Drop `schema` from a thread with its own runtime, so it works from sync and async code.
fn drop_schema_blocking(url: &str, schema: &str) {
    let (url, schema) = (url.to_owned(), schema.to_owned());
    let done = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            if let Ok((client, connection)) =
                tokio_postgres::connect(&url, tokio_postgres::NoTls).await
            {
                tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await;
            }
        });
    });
    let _ = done.join();
}

pub fn event(id: u128, event_type: &str, payload: &[u8]) -> NewEvent {
    NewEvent {
        event_id: Uuid::from_u128(id),
        event_type: event_type.to_owned(),
        schema_version: 1,
        effective_at_us: 1_700_000_000_000_000,
        actor: Actor {
            id: "officer-1".into(),
            role: "COM".into(),
            organisation: "N07".into(),
        },
        command_id: Uuid::from_u128(id + 1_000_000),
        correlation_id: Uuid::from_u128(id + 2_000_000),
        causation_id: Uuid::nil(),
        ruleset_id: "unified-2021".into(),
        payload: payload.to_vec(),
    }
}

/// One acknowledged append as printed by `caseledger-pg-writer`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ack {
    pub stream: String,
    pub stream_version: u64,
    pub first_position: u64,
    pub last_position: u64,
    pub event_ids: Vec<Uuid>,
}

/// Parse the writer's stdout. A torn last line (the kill landed mid-write) is not an ack.
pub fn parse_acks(stdout: &str) -> Vec<Ack> {
    stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.split(' ');
            if parts.next()? != "ack" {
                return None;
            }
            let stream = parts.next()?.to_owned();
            let stream_version = parts.next()?.parse().ok()?;
            let first_position = parts.next()?.parse().ok()?;
            let last_position: u64 = parts.next()?.parse().ok()?;
            let event_ids: Vec<Uuid> = parts
                .next()?
                .split(',')
                .map(|id| id.parse().ok())
                .collect::<Option<_>>()?;
            (event_ids.len() as u64 == last_position + 1 - first_position).then_some(Ack {
                stream,
                stream_version,
                first_position,
                last_position,
                event_ids,
            })
        })
        .collect()
}

pub const PG_WRITER: &str = env!("CARGO_BIN_EXE_caseledger-pg-writer");
