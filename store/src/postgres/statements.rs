//! The SQL text of every statement the PostgreSQL store prepares, with `{schema}` standing for
//! the configured schema (validated by [`super::config::validate_schema`] before it is spliced
//! in). Public so that a test can `EXPLAIN` exactly the text that runs: every one of them must
//! reach `events` through an index whatever the planner's statistics (docs/operations.md,
//! "Query plans").

pub use super::writer::{
    LOCK_HEAD_SQL, STORED_EVENT_IDS_SQL, STORED_KEYS_SQL, STREAM_VERSIONS_SQL, WRITER_STATEMENTS,
    WRITE_BATCH_SQL,
};

/// A page of the log from position `$1`, at most `$2` records (primary key order).
pub const READ_ALL_SQL: &str = "SELECT position, record, hash FROM {schema}.events \
     WHERE position >= $1 ORDER BY position LIMIT $2";

/// One stream from version `$2` on, through the `(stream_id, stream_version)` unique index.
pub const READ_STREAM_SQL: &str = "SELECT position, record FROM {schema}.events \
     WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version";

/// At most `$3` records of one stream from version `$2` on (`EventStore::read_stream_page`).
pub const READ_STREAM_PAGE_SQL: &str = "SELECT position, record FROM {schema}.events \
     WHERE stream_id = $1 AND stream_version >= $2 ORDER BY stream_version LIMIT $3";

/// The committed head.
pub const HEAD_SQL: &str = "SELECT position FROM {schema}.head WHERE singleton";

/// The record at position `$1`.
pub const RECORD_AT_SQL: &str = "SELECT position, record FROM {schema}.events WHERE position = $1";

/// The idempotency entry of key `$1` (primary key): its stream and its fingerprint.
pub const IDEMPOTENCY_RECORD_SQL: &str =
    "SELECT stream_id, fingerprint FROM {schema}.idempotency WHERE key = $1";

/// Every statement the readers prepare, by name.
pub const READER_STATEMENTS: &[(&str, &str)] = &[
    ("read_all", READ_ALL_SQL),
    ("read_stream", READ_STREAM_SQL),
    ("read_stream_page", READ_STREAM_PAGE_SQL),
    ("head", HEAD_SQL),
    ("record_at", RECORD_AT_SQL),
];

/// The checkpoint of durable consumer `$1` (primary key).
pub const CONSUMER_POSITION_SQL: &str = "SELECT position FROM {schema}.consumers WHERE name = $1";

/// What an acknowledgement of consumer `$1` is checked against: the head, how many consumers
/// there are, and whether `$1` is one of them.
pub const CONSUMER_CHECK_SQL: &str =
    "SELECT (SELECT position FROM {schema}.head WHERE singleton), \
     (SELECT count(*) FROM {schema}.consumers), \
     EXISTS (SELECT 1 FROM {schema}.consumers WHERE name = $1)";

/// Move consumer `$1`'s checkpoint up to `$2` (never down); returns the checkpoint stored.
pub const CONSUMER_ACKNOWLEDGE_SQL: &str = "INSERT INTO {schema}.consumers (name, position) \
     VALUES ($1, $2) ON CONFLICT (name) DO UPDATE \
     SET position = GREATEST({schema}.consumers.position, EXCLUDED.position), updated_at = now() \
     RETURNING position";

/// Every consumer by name, at most `$1`.
pub const CONSUMERS_SQL: &str =
    "SELECT name, position FROM {schema}.consumers ORDER BY name LIMIT $1";

/// The statements of durable consumers (they never touch `events`).
pub const CONSUMER_STATEMENTS: &[(&str, &str)] = &[
    ("consumer_position", CONSUMER_POSITION_SQL),
    ("consumer_check", CONSUMER_CHECK_SQL),
    ("consumer_acknowledge", CONSUMER_ACKNOWLEDGE_SQL),
    ("consumers", CONSUMERS_SQL),
];

/// The id of the store's KEK, if recorded.
pub const KEK_ID_SQL: &str = "SELECT kek_id FROM {schema}.key_encryption_key WHERE singleton";

/// Record `$1` as the store's KEK id unless one is recorded (the first wins).
pub const CLAIM_KEK_ID_SQL: &str = "INSERT INTO {schema}.key_encryption_key (singleton, kek_id) \
     VALUES (true, $1) ON CONFLICT (singleton) DO NOTHING";

/// Subject `$1`'s wrapped data key (NULL: destroyed); no row: never made.
pub const DATA_KEY_SQL: &str = "SELECT wrapped FROM {schema}.data_keys WHERE subject = $1";

/// Store `$2` as subject `$1`'s key unless it has an entry (a key or a tombstone).
pub const INSERT_DATA_KEY_SQL: &str = "INSERT INTO {schema}.data_keys (subject, wrapped) \
     VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING";

/// Destroy subject `$1`'s key, leaving a tombstone; returns a row when a key was destroyed
/// now (an existing tombstone keeps its time).
pub const DESTROY_DATA_KEY_SQL: &str =
    "INSERT INTO {schema}.data_keys (subject, wrapped, destroyed_at) VALUES ($1, NULL, now()) \
     ON CONFLICT (subject) DO UPDATE SET wrapped = NULL, destroyed_at = now() \
     WHERE {schema}.data_keys.wrapped IS NOT NULL RETURNING (xmax <> 0) AS replaced";

/// At most `$2` entries (subject, wrapped; NULL: destroyed) with subjects after `$1`, in
/// subject order: one page of a key store backup.
pub const DATA_KEYS_PAGE_SQL: &str = "SELECT subject, wrapped FROM {schema}.data_keys \
     WHERE subject > $1 ORDER BY subject LIMIT $2";

/// The key store's statements (they never touch `events`).
pub const KEY_STORE_STATEMENTS: &[(&str, &str)] = &[
    ("kek_id", KEK_ID_SQL),
    ("claim_kek_id", CLAIM_KEK_ID_SQL),
    ("data_key", DATA_KEY_SQL),
    ("insert_data_key", INSERT_DATA_KEY_SQL),
    ("destroy_data_key", DESTROY_DATA_KEY_SQL),
    ("data_keys_page", DATA_KEYS_PAGE_SQL),
];

/// `template` with `{schema}` replaced by `schema`.
pub fn sql(template: &str, schema: &str) -> String {
    debug_assert!(super::config::validate_schema(schema).is_ok());
    template.replace("{schema}", schema)
}
