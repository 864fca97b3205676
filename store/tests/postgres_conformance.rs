//! The one store conformance suite (`caseledger_store::conformance`) against PostgresStore on a
//! real server. Every check gets a fresh schema; all are dropped at the end.

mod postgres_support;

use std::sync::{Arc, Mutex};

use caseledger_store::conformance::{self, SharedStore};
use caseledger_store::Clock;
use postgres_support::{server, TestSchema};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_passes_the_conformance_suite() {
    let Some(url) = server().await else { return };
    let schemas: Arc<Mutex<Vec<TestSchema>>> = Arc::default();
    let made = schemas.clone();
    conformance::run_all(move |clock: Arc<dyn Clock>| {
        let schema = TestSchema::new(&url);
        let config = schema.config();
        made.lock().unwrap().push(schema);
        async move {
            let store = caseledger_store::postgres::PostgresStore::open(
                config,
                clock,
                caseledger_store::postgres::PostgresOptions::default(),
            )
            .await
            .expect("open the PostgreSQL store");
            Arc::new(store) as SharedStore
        }
    })
    .await;
    assert!(
        schemas.lock().unwrap().len() >= 10,
        "the suite ran its checks"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_reopens_with_everything_committed() {
    let Some(url) = server().await else { return };
    let schema = TestSchema::new(&url);
    let config = schema.config();
    conformance::check_reopen(move |clock: Arc<dyn Clock>| {
        let config = config.clone();
        async move {
            let store = caseledger_store::postgres::PostgresStore::open(
                config,
                clock,
                caseledger_store::postgres::PostgresOptions::default(),
            )
            .await
            .expect("reopen the PostgreSQL store");
            Arc::new(store) as SharedStore
        }
    })
    .await;
}
