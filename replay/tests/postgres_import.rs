//! Export from one backend, import into PostgreSQL (the real server at 127.0.0.1:5432, database
//! `test`, its own schema): byte-identical records and the same Merkle root, whatever the
//! backend. Set CASELEDGER_PG_URL to point elsewhere.

mod support;

use std::sync::Arc;

use caseledger_domain::risk::RoshLevel;
use caseledger_domain::ruleset::RulesetId;
use caseledger_replay::domain_payload::DomainPayloads;
use caseledger_replay::export::export_log;
use caseledger_replay::import::stage_import;
use caseledger_replay::verify::verify_log;
use caseledger_store::codec::encode_record;
use caseledger_store::postgres::{PostgresConfig, PostgresOptions, PostgresStore};
use caseledger_store::{Clock, Durability, EventStore, ManualClock};
use support::events::*;
use support::*;

const URL_DEFAULT: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A schema of its own, dropped at the end of the test.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn new() -> Schema {
        let url = std::env::var("CASELEDGER_PG_URL").unwrap_or_else(|_| URL_DEFAULT.to_owned());
        let name = format!("caseledger_replay_import_{}", std::process::id());
        let schema = Schema { url, name };
        schema.drop_it().await;
        schema
    }

    async fn drop_it(&self) {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL not reachable at {} ({e}); start the server",
                    self.url
                )
            });
        let task = tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name))
            .await
            .expect("drop schema");
        drop(client);
        let _ = task.await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_memory_imports_into_postgresql_with_the_same_root() {
    let mut log = new_log();
    let officer = actor("PO-0001", "probation_officer");
    log.open_case("X000001", "2025-01-06", officer.clone())
        .await;
    for (day, rosh) in [
        ("2025-01-10", RoshLevel::Medium),
        ("2025-02-10", RoshLevel::High),
    ] {
        log.append(
            "X000001",
            risk_assessed(day, rosh, RulesetId::Unified2021),
            day_us(day),
            us(&format!("{day}T10:00:00Z")),
            officer.clone(),
        )
        .await;
    }
    log.append_audit(
        "close_case refused: open breach",
        us("2025-02-11T08:00:00Z"),
    )
    .await;
    let mut export = Vec::new();
    export_log(log.store.as_ref(), &DomainPayloads, &mut export)
        .await
        .expect("export");
    let source = verify_log(log.store.as_ref(), None).await.expect("verify");

    let schema = Schema::new().await;
    let clock = Arc::new(ManualClock::new(0));
    let config = PostgresConfig::from_url(&schema.url)
        .expect("url")
        .with_schema(&schema.name)
        .expect("schema");
    let target = PostgresStore::open(
        config,
        clock.clone() as Arc<dyn Clock>,
        PostgresOptions {
            durability: Durability::Flush,
            ..PostgresOptions::default()
        },
    )
    .await
    .expect("open PostgreSQL");
    let staged = stage_import(export.as_slice(), &DomainPayloads).expect("checks out");
    staged
        .commit(&target, &clock, &DomainPayloads)
        .await
        .expect("imported");
    let imported = verify_log(&target, None).await.expect("verify");
    assert!(imported.is_ok(), "{imported:?}");
    assert_eq!(imported.root, source.root);
    assert_eq!(imported.head, 4);
    let a = log.store.read_all(1, 10).await.expect("read");
    let b = target.read_all(1, 10).await.expect("read");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(
            encode_record(x).expect("encode"),
            encode_record(y).expect("encode")
        );
    }
    drop(target);
    schema.drop_it().await;
}
