//! PostgreSQL for the end-to-end tests: find the server (or FAIL loudly), and give each test
//! a schema of its own that is dropped afterwards. Same policy and variables as the store's
//! PostgreSQL tests (`store/tests/postgres_support`): `CASELEDGER_PG_URL` overrides the
//! server, `CASELEDGER_PG_SKIP=1` is the only way to skip, and says so.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

pub const URL_ENV: &str = "CASELEDGER_PG_URL";
pub const SKIP_ENV: &str = "CASELEDGER_PG_SKIP";
pub const URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn url() -> String {
    std::env::var(URL_ENV).unwrap_or_else(|_| URL_DEFAULT.to_owned())
}

/// `Some(url)` when the server answers. When it does not: panic with instructions, unless
/// `CASELEDGER_PG_SKIP=1`, in which case print a loud warning and return `None`.
pub fn server() -> Option<String> {
    let url = url();
    let probe = url.clone();
    let reachable = std::thread::spawn(move || {
        runtime().block_on(async {
            match tokio_postgres::connect(&probe, tokio_postgres::NoTls).await {
                Ok((client, connection)) => {
                    tokio::spawn(connection);
                    client
                        .simple_query("SELECT 1")
                        .await
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                }
                Err(e) => Err(e.to_string()),
            }
        })
    })
    .join()
    .expect("probe thread");
    match reachable {
        Ok(()) => Some(url),
        Err(why) if std::env::var(SKIP_ENV).as_deref() == Ok("1") => {
            eprintln!(
                "\n!!!!!!!! WARNING: Engine/CLI PostgreSQL tests SKIPPED ({SKIP_ENV}=1): server \
                 not reachable ({why}). These tests are required in CI. !!!!!!!!\n"
            );
            None
        }
        Err(why) => panic!(
            "\n\nPostgreSQL not reachable ({why}): the Engine/CLI PostgreSQL tests must run; \
             start the server (pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) \
             main start), point {URL_ENV} at one, or set {SKIP_ENV}=1 to skip explicitly\n"
        ),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

static SCHEMA_COUNTER: AtomicU32 = AtomicU32::new(0);

/// A schema of its own for one test; dropped (CASCADE) when this guard is dropped. Declare
/// it before the engine that uses it, so the engine is dropped first.
pub struct TestSchema {
    pub server_url: String,
    pub name: String,
}

impl TestSchema {
    pub fn new(server_url: &str) -> Self {
        let n = SCHEMA_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("caseledger_e2e_{}_{n}", std::process::id());
        // A schema left by an earlier run that had the same pid is stale; start clean.
        drop_schema(server_url, &name);
        TestSchema {
            server_url: server_url.to_owned(),
            name,
        }
    }

    /// The server URL with `?schema=` (or `&schema=`) for this test's schema.
    pub fn url(&self) -> String {
        let separator = if self.server_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{}{separator}schema={}", self.server_url, self.name)
    }

    /// Whether the schema exists on the server right now.
    pub fn exists(&self) -> bool {
        let (url, name) = (self.server_url.clone(), self.name.clone());
        std::thread::spawn(move || {
            runtime().block_on(async {
                let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("connect");
                tokio::spawn(connection);
                let row = client
                    .query_one(
                        "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1",
                        &[&name],
                    )
                    .await
                    .expect("query");
                row.get::<_, i64>(0) == 1
            })
        })
        .join()
        .expect("thread")
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        drop_schema(&self.server_url, &self.name);
    }
}

/// Drop `schema` from a thread with its own runtime, so it works from sync and async code.
fn drop_schema(url: &str, schema: &str) {
    let (url, schema) = (url.to_owned(), schema.to_owned());
    let _ = std::thread::spawn(move || {
        runtime().block_on(async {
            if let Ok((client, connection)) =
                tokio_postgres::connect(&url, tokio_postgres::NoTls).await
            {
                tokio::spawn(connection);
                let _ = client
                    .batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                    .await;
            }
        });
    })
    .join();
}
