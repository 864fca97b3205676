//! Versioned schema migrations, applied by the engine itself when it opens the store.
//!
//! Each step is SQL text with `{schema}` standing for the configured schema. All pending steps
//! run in ONE transaction that first takes a transaction-scoped advisory lock derived from the
//! schema name, so several service instances starting at once apply each step exactly once and
//! none of them sees a half-migrated schema. Applied steps are recorded in
//! `{schema}.schema_migrations`; a database newer than this engine is refused rather than
//! written to.

use sha2::{Digest, Sha256};
use tokio_postgres::Client;

use crate::StoreError;

/// One versioned step. Versions are 1, 2, 3, … with no gaps; a released step is never edited
/// (a fix is a new step), because databases in the field have already run it.
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every step, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "event log, head row, idempotency keys",
        sql: r#"
CREATE TABLE {schema}.events (
    -- Global position: 1-based, gapless, assigned under the head-row lock (see head).
    position        bigint  PRIMARY KEY CHECK (position >= 1),
    stream_id       text    NOT NULL,
    stream_version  bigint  NOT NULL CHECK (stream_version >= 1),
    event_id        uuid    NOT NULL,
    event_type      text    NOT NULL,
    recorded_at_us  bigint  NOT NULL,
    -- SHA-256 of the record (hash chain); duplicated out of `record` for operators and verify.
    hash            bytea   NOT NULL CHECK (octet_length(hash) = 32),
    -- The canonical encoding of the whole RecordedEvent (the store codec, version byte first):
    -- byte-identical to what the sled backend stores, so the hash covers exactly these bytes.
    record          bytea   NOT NULL,
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);
CREATE UNIQUE INDEX events_event_id_unique ON {schema}.events (event_id);

-- Exactly one row. Every append transaction locks it (SELECT ... FOR UPDATE) before reading
-- the head and assigning positions; see docs/operations.md, "Gapless positions".
CREATE TABLE {schema}.head (
    singleton       boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    position        bigint  NOT NULL CHECK (position >= 0),
    hash            bytea   NOT NULL CHECK (octet_length(hash) = 32),
    recorded_at_us  bigint  NOT NULL
);
INSERT INTO {schema}.head (singleton, position, hash, recorded_at_us)
VALUES (true, 0, decode(repeat('00', 32), 'hex'), -9223372036854775808);

-- Idempotency keys (the command id) with the result first returned for them.
CREATE TABLE {schema}.idempotency (
    key             uuid    PRIMARY KEY,
    stream_id       text    NOT NULL,
    first_position  bigint  NOT NULL,
    last_position   bigint  NOT NULL,
    stream_version  bigint  NOT NULL,
    recorded_at_us  bigint  NOT NULL
);
"#,
    },
    Migration {
        version: 2,
        name: "events are append-only: refuse UPDATE, DELETE and TRUNCATE",
        sql: r#"
CREATE FUNCTION {schema}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'caseledger: % on %.% refused: the event log is append-only; correct a mistake with a new event',
        TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME;
END
$$;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON {schema}.events
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON {schema}.events
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();
CREATE TRIGGER idempotency_append_only BEFORE UPDATE OR DELETE ON {schema}.idempotency
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
"#,
    },
    Migration {
        version: 3,
        name: "durable consumers' checkpoints",
        sql: r#"
-- One row per durable consumer (store::consumer): the highest position it acknowledged.
-- Not part of the log: a checkpoint moves, but only forwards (trigger below).
CREATE TABLE {schema}.consumers (
    name        text        PRIMARY KEY CHECK (octet_length(name) BETWEEN 1 AND 64),
    position    bigint      NOT NULL CHECK (position >= 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE FUNCTION {schema}.refuse_checkpoint_backwards() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.position < OLD.position THEN
        RAISE EXCEPTION 'caseledger: consumer % checkpoint % -> % refused: a checkpoint never moves backwards',
            OLD.name, OLD.position, NEW.position;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER consumers_forward_only BEFORE UPDATE ON {schema}.consumers
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_checkpoint_backwards();
"#,
    },
    Migration {
        version: 4,
        name: "idempotency keys keep the fingerprint of their request",
        sql: r#"
-- SHA-256 of the request that first used the key (for a command: its canonical JSON). NULL
-- for keys given without one and for every key stored before this migration: unknown, so a
-- repeat of such a key is answered as a repeat, as before.
ALTER TABLE {schema}.idempotency
    ADD COLUMN fingerprint bytea CHECK (fingerprint IS NULL OR octet_length(fingerprint) = 32);
"#,
    },
    Migration {
        version: 5,
        name: "key store: persons' wrapped data keys and the KEK id",
        sql: r#"
-- The key store beside the log (store::keystore). NOT append-only: destroying a person's
-- key sets `wrapped` to NULL (the tombstone: no new key is ever made for an erased person).
-- The old row version stays in the table's files until VACUUM reclaims it, and in the WAL
-- and its archives until they are recycled; it is the key wrapped under the KEK, which is
-- never stored here (docs/operations.md "Erasure").
CREATE TABLE {schema}.data_keys (
    subject       text        PRIMARY KEY CHECK (octet_length(subject) BETWEEN 1 AND 128),
    wrapped       bytea       CHECK (wrapped IS NULL OR octet_length(wrapped) = 73),
    created_at    timestamptz NOT NULL DEFAULT now(),
    destroyed_at  timestamptz,
    CHECK ((wrapped IS NULL) = (destroyed_at IS NOT NULL))
);
-- The id of the key-encryption key the data keys are wrapped under (never the key itself).
CREATE TABLE {schema}.key_encryption_key (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    kek_id     text    NOT NULL CHECK (kek_id ~ '^[0-9a-f]{32}$')
);
"#,
    },
];

/// The schema version this engine writes.
pub fn latest_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Advisory-lock key for migrating `schema`: the first 8 bytes of SHA-256("caseledger
/// migrate " + schema), so two schemas in one database do not block each other.
pub fn migration_lock_key(schema: &str) -> i64 {
    let digest = Sha256::digest(format!("caseledger migrate {schema}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// Bring `schema` up to [`latest_version`]. Returns the versions applied by this call (empty
/// when the schema was already current).
pub async fn migrate(client: &mut Client, schema: &str) -> Result<Vec<i32>, StoreError> {
    debug_assert!(super::config::validate_schema(schema).is_ok());
    debug_assert!(MIGRATIONS
        .iter()
        .enumerate()
        .all(|(i, m)| m.version == i as i32 + 1));
    let tx = client
        .transaction()
        .await
        .map_err(backend("begin migration"))?;
    match apply_pending(&tx, schema).await {
        Ok(done) => {
            tx.commit().await.map_err(backend("commit the migration"))?;
            analyze_if_needed(client, schema, !done.is_empty()).await?;
            Ok(done)
        }
        Err(e) => {
            // Roll back now rather than on drop, so the advisory lock and any half-made
            // schema are released before the caller sees the error.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// The tables whose statistics the store keeps fresh itself ([`analyze`]).
const ANALYZED_TABLES: &str = "{schema}.events, {schema}.idempotency, {schema}.head";

/// `ANALYZE` the store's tables, so that queries other than the store's own (operators',
/// reports') get sensible plans even where autovacuum is off. The store's own statements
/// do not depend on it (docs/operations.md "Query plans").
pub(crate) async fn analyze(client: &Client, schema: &str) -> Result<(), StoreError> {
    client
        .batch_execute(&format!(
            "ANALYZE {}",
            ANALYZED_TABLES.replace("{schema}", schema)
        ))
        .await
        .map_err(backend("analyze the event tables"))
}

/// After migrations, or when `events` has never been analysed (a fresh table, a server with
/// autovacuum off, statistics lost in a crash), analyse the tables.
async fn analyze_if_needed(
    client: &Client,
    schema: &str,
    migrated: bool,
) -> Result<(), StoreError> {
    let never_analysed = client
        .query_opt(
            "SELECT 1 FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'events' \
             AND last_analyze IS NULL AND last_autoanalyze IS NULL",
            &[&schema],
        )
        .await
        .map_err(backend("read the statistics of the event table"))?
        .is_some();
    if migrated || never_analysed {
        analyze(client, schema).await?;
    }
    Ok(())
}

async fn apply_pending(
    tx: &tokio_postgres::Transaction<'_>,
    schema: &str,
) -> Result<Vec<i32>, StoreError> {
    tx.execute(
        "SELECT pg_advisory_xact_lock($1)",
        &[&migration_lock_key(schema)],
    )
    .await
    .map_err(backend("take the migration lock"))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
             version    integer     PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         );"
    ))
    .await
    .map_err(backend("create the schema"))?;
    let applied: Vec<i32> = tx
        .query(
            &format!("SELECT version FROM {schema}.schema_migrations ORDER BY version"),
            &[],
        )
        .await
        .map_err(backend("read schema_migrations"))?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let newest = applied.last().copied().unwrap_or(0);
    if newest > latest_version() {
        return Err(StoreError::Backend(format!(
            "PostgreSQL schema {schema} is at version {newest} but this engine knows only up to \
             {}; run a newer caseledger against it",
            latest_version()
        )));
    }
    if applied.iter().enumerate().any(|(i, v)| *v != i as i32 + 1) {
        return Err(StoreError::Backend(format!(
            "PostgreSQL schema {schema} has migrations {applied:?} recorded, which is not 1..=n; \
             the schema was changed by hand, restore it from backup"
        )));
    }
    let mut done = Vec::new();
    for step in MIGRATIONS.iter().filter(|m| m.version > newest) {
        tx.batch_execute(&step.sql.replace("{schema}", schema))
            .await
            .map_err(|e| {
                StoreError::Backend(format!(
                    "migration {} ({}) of schema {schema} failed: {}",
                    step.version,
                    step.name,
                    describe_error(&e)
                ))
            })?;
        tx.execute(
            &format!("INSERT INTO {schema}.schema_migrations (version, name) VALUES ($1, $2)"),
            &[&step.version, &step.name],
        )
        .await
        .map_err(backend("record the migration"))?;
        done.push(step.version);
    }
    Ok(done)
}

/// The message of a PostgreSQL error including the server's text (the default Display of
/// tokio-postgres says only "db error").
pub(crate) fn describe_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}: {})", e, db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        },
    }
}

/// Map a client error to [`StoreError::Backend`], saying what was being done.
pub(crate) fn backend(doing: &'static str) -> impl Fn(tokio_postgres::Error) -> StoreError {
    move |e| {
        StoreError::Backend(format!(
            "PostgreSQL: could not {doing}: {}",
            describe_error(&e)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_versions_are_one_to_n() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(m.version, i as i32 + 1, "{}", m.name);
            assert!(
                m.sql.contains("{schema}."),
                "{} does not use the schema",
                m.name
            );
        }
        assert_eq!(latest_version(), MIGRATIONS.len() as i32);
    }

    #[test]
    fn lock_keys_differ_per_schema_and_are_stable() {
        assert_ne!(migration_lock_key("a"), migration_lock_key("b"));
        assert_eq!(
            migration_lock_key("caseledger"),
            migration_lock_key("caseledger")
        );
    }
}
