//! caseledger-store: the append-only, hash-chained event log.
//!
//! This crate stores *bytes plus envelope metadata*; it knows nothing of probation, of
//! the domain's event types or of JSON. Everything above it (commands, projections, replay)
//! talks to the log only through the [`EventStore`] trait defined here.
//!
//! Invariants kept here (see `docs/architecture.md` and `../shared/design.md`):
//! 1. A stored record is never changed or deleted. (The sled backend moves a record's bytes,
//!    unchanged, from its own key into a block in one atomic batch: `sled` module doc.)
//! 2. Global positions are 1..=head, gapless, in commit order; one writer assigns them.
//! 3. Stream versions are 1..=n, gapless; a stale expected version writes nothing.
//! 4. An append acknowledged in a durable mode survives a crash of the process.
//! 9. Every record is hash-chained over the global log (`previous_hash` → `hash`).
//!
//! Modules: [`codec`] (the ONE bincode configuration, version byte per record), [`hash`] (the
//! chain and its verifier), [`memory`] and [`sled`] (backends; [`sled::layout`] the byte formats of layout 3), [`subscription`]
//! (`Subscription`, `ReadAll`, and `subscribe` for every backend via [`EventStoreExt`]),
//! [`consumer`] (durable named consumers: checkpoints kept in the store, `subscribe_durable`),
//! [`conformance`] (the one suite every backend must pass), [`clock`] (injected clocks),
//! [`crypto`] and [`keystore`] (persons' data keys beside the log, for crypto-shredding),
//! [`key_filter`] (the Bloom filter that spares writers idempotency lookups that find nothing).
//! `validate` and `planner` are the input checks and the append decision shared by all
//! backends. Operations: `docs/operations.md`; numbers: `docs/benchmarks.md`.

use std::fmt;

use async_trait::async_trait;

pub mod clock;
pub mod codec;
pub mod conformance;
pub mod consumer;
pub mod crypto;
pub mod hash;
pub mod key_filter;
pub mod keystore;
pub mod memory;
mod planner;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sled;
pub mod subscription;
mod validate;

pub use crate::sled::{
    create_private_dir, private_file_options, SledOptions, SledStore, WriterStats,
    SLED_CACHE_CAPACITY_BYTES_DEFAULT, SLED_CACHE_CAPACITY_BYTES_MIN,
    SLED_CACHE_CAPACITY_BYTES_ONE_PASS, STORE_DIR_MODE, STORE_FILE_MODE, STORE_LOCK_WAIT_MS_MAX,
};
pub use clock::{ManualClock, SystemClock};
pub use consumer::{
    ConsumerCheckpoint, ConsumerName, DurableSubscription, CONSUMERS_MAX, CONSUMER_NAME_BYTES_MAX,
};
pub use keystore::{DataKeyEntry, KeyStore, Keyring, KeyringError};
pub use memory::MemoryStore;
pub use subscription::{EventStoreExt, ReadAll, Subscription};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Longest stream id accepted, in bytes. A CRN is 7 bytes; 128 leaves room for audit and
/// system streams without letting a caller store an unbounded key.
pub const STREAM_ID_BYTES_MAX: usize = 128;
/// Largest payload of one event, in bytes. Domain events are small (hundreds of bytes);
/// anything near this limit is a bug upstream, not a probation fact.
pub const EVENT_PAYLOAD_BYTES_MAX: usize = 64 * 1024;
/// Most events accepted in one `append` call (one command rarely emits more than a handful).
pub const EVENTS_PER_APPEND_MAX: usize = 1_024;
/// Most events returned by one `read_all` page, so a reader's memory is bounded.
pub const READ_ALL_PAGE_EVENTS_MAX: u32 = 4_096;
/// Sum of the payload sizes of one append, in bytes. Without it one call could queue
/// `EVENTS_PER_APPEND_MAX × EVENT_PAYLOAD_BYTES_MAX` = 64 MiB in the writer's memory.
pub const APPEND_PAYLOAD_BYTES_MAX: usize = 4 * 1024 * 1024;
/// Longest event type name, in bytes (`SentenceImposed` is 15).
pub const EVENT_TYPE_BYTES_MAX: usize = 128;
/// Longest actor id, role or organisation, in bytes each.
pub const ACTOR_FIELD_BYTES_MAX: usize = 256;
/// Longest ruleset id, in bytes (e.g. `omic-handover-2023-04`).
pub const RULESET_ID_BYTES_MAX: usize = 128;
/// Largest encoded record, in bytes: the payload limit plus room for every bounded envelope
/// field. The codec refuses to decode anything larger, so a corrupt length prefix cannot make
/// a reader allocate without bound.
pub const RECORD_BYTES_MAX: u64 = EVENT_PAYLOAD_BYTES_MAX as u64 + 8 * 1024;
/// Highest position or stream version the log will ever assign. Positions and versions are
/// `u64` in Rust but `bigint` (signed 64-bit) in PostgreSQL; capping both at `i64::MAX` keeps
/// every backend able to store every log.
pub const POSITION_MAX: u64 = i64::MAX as u64;
/// Appends that may wait for the writer at once; one more is refused with
/// [`StoreError::QueueFull`] so memory stays bounded under overload.
pub const APPEND_QUEUE_DEPTH_MAX: usize = 8_192;
/// Most appends the writer commits in one group commit (one atomic sled batch, one flush).
pub const BATCH_APPENDS_MAX: usize = 1_024;
/// Most events the writer commits in one group commit; bounds the size of one atomic batch.
pub const BATCH_EVENTS_MAX: usize = 8_192;
/// Most appends in one [`EventStore::append_group`] call: one group is committed whole, in
/// one group commit, so it is bounded like one.
pub const GROUP_APPENDS_MAX: usize = BATCH_APPENDS_MAX;
/// Most events in one [`EventStore::append_group`] call (all its appends together).
pub const GROUP_EVENTS_MAX: usize = BATCH_EVENTS_MAX;

/// Identity of a stream: for a case, its CRN; otherwise a system stream such as `audit-refusals`.
///
/// Valid ids are 1..=[`STREAM_ID_BYTES_MAX`] bytes of printable ASCII without spaces.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

impl TryFrom<String> for StreamId {
    type Error = StoreError;
    fn try_from(id: String) -> Result<Self, StoreError> {
        StreamId::new(id)
    }
}

impl From<StreamId> for String {
    fn from(id: StreamId) -> String {
        id.0
    }
}

impl StreamId {
    pub fn new(id: impl Into<String>) -> Result<Self, StoreError> {
        let id = id.into();
        if id.is_empty() {
            return Err(StoreError::InvalidStreamId {
                stream: id,
                reason: "must not be empty".into(),
            });
        }
        if id.len() > STREAM_ID_BYTES_MAX {
            return Err(StoreError::InvalidStreamId {
                reason: format!(
                    "is {} bytes; at most {STREAM_ID_BYTES_MAX} allowed",
                    id.len()
                ),
                stream: id.chars().take(32).collect::<String>() + "…",
            });
        }
        if let Some(bad) = id.chars().find(|c| !c.is_ascii_graphic()) {
            return Err(StoreError::InvalidStreamId {
                reason: format!("contains {bad:?}; only printable ASCII without spaces is allowed"),
                stream: id,
            });
        }
        Ok(StreamId(id))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Who caused an event: the person or system, their role, and their organisation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Actor {
    pub id: String,
    pub role: String,
    pub organisation: String,
}

/// An event as a caller hands it to [`EventStore::append`]: everything except what the store
/// assigns (position, stream version, recorded_at, hashes).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEvent {
    pub event_id: Uuid,
    /// e.g. `SentenceImposed`; the domain's name for the payload's type.
    pub event_type: String,
    /// Version of the payload schema for this event type.
    pub schema_version: u16,
    /// When the fact took effect in the world, microseconds since the Unix epoch (UTC).
    /// Supplied by the caller; may be earlier than `recorded_at_us` (late recording).
    pub effective_at_us: i64,
    pub actor: Actor,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    /// The event or command that caused this one; `Uuid::nil()` when none.
    pub causation_id: Uuid,
    /// The policy version that produced a decision; empty for facts that are not decisions.
    pub ruleset_id: String,
    pub payload: Vec<u8>,
}

/// The stored record (envelope). Fixed for the life of the log: see `design.md`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// Global position, 1-based, gapless, in commit order.
    pub position: u64,
    pub stream_id: String,
    /// Version of this event within its stream, 1-based, gapless.
    pub stream_version: u64,
    /// When the store committed it, microseconds since the Unix epoch (UTC), from the injected clock.
    pub recorded_at_us: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u16,
    pub effective_at_us: i64,
    pub actor: Actor,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub ruleset_id: String,
    pub payload: Vec<u8>,
    /// Hash of the record at `position - 1` (all zeros for position 1).
    pub previous_hash: [u8; 32],
    /// SHA-256 over the canonical encoding of every other field (including `previous_hash`).
    pub hash: [u8; 32],
}

impl RecordedEvent {
    /// The event as its caller handed it to the store: every field except those the store
    /// assigned (position, stream version, recorded_at, hashes). Appending it at the same
    /// place and instant records it again byte for byte (a restore, a copy of a log).
    pub fn as_appended(&self) -> NewEvent {
        NewEvent {
            event_id: self.event_id,
            event_type: self.event_type.clone(),
            schema_version: self.schema_version,
            effective_at_us: self.effective_at_us,
            actor: self.actor.clone(),
            command_id: self.command_id,
            correlation_id: self.correlation_id,
            causation_id: self.causation_id,
            ruleset_id: self.ruleset_id.clone(),
            payload: self.payload.clone(),
        }
    }
}

/// What the caller believes the stream's version to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExpectedVersion {
    /// No check.
    Any,
    /// The stream must not exist yet (version 0).
    NoStream,
    /// The stream's current version must be exactly this (0 = empty).
    Exact(u64),
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any"),
            ExpectedVersion::NoStream => f.write_str("no stream (0)"),
            ExpectedVersion::Exact(v) => write!(f, "{v}"),
        }
    }
}

/// SHA-256 of the canonical form of what an idempotency key was first used for (for a
/// command: its canonical JSON). Kept with the key so a different request under the same key
/// is refused instead of answered with the first one's result.
pub type Fingerprint = [u8; 32];

/// An idempotency key and, when the caller gives one, the fingerprint of its request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub id: Uuid,
    pub fingerprint: Option<Fingerprint>,
}

impl From<Uuid> for IdempotencyKey {
    fn from(id: Uuid) -> IdempotencyKey {
        IdempotencyKey {
            id,
            fingerprint: None,
        }
    }
}

/// What the idempotency index holds for a key: where it was used, and the fingerprint of the
/// request (`None`: given without one, or stored before fingerprints were kept — unknown).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub stream_id: String,
    pub fingerprint: Option<Fingerprint>,
}

/// One append of a group handed to [`EventStore::append_group`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupedAppend {
    pub stream: StreamId,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
    pub key: Option<IdempotencyKey>,
    /// Apply this append only if the append at this index of the same group (an earlier one,
    /// on the same stream) was written: refused or deduplicated, it is not, and this one is
    /// answered [`StoreError::PrecedingAppendNotApplied`] without being decided. A caller that
    /// decided this append on the state the earlier one would leave must not have it decided
    /// on any other state (another writer may have moved the stream to the same version).
    pub after: Option<usize>,
}

/// The answer to a successful append.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendResult {
    pub first_position: u64,
    pub last_position: u64,
    /// The stream's version after the append.
    pub stream_version: u64,
    pub recorded_at_us: i64,
    /// True when this call repeated an earlier idempotency key: nothing was written and the
    /// original result is returned.
    pub deduplicated: bool,
}

/// How hard an append is pushed to disk before it is acknowledged (docs/operations.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Durability {
    /// sled flush before acknowledging (default).
    #[default]
    Flush,
    /// flush, then fsync sled's files (survives power loss with volatile drive caches).
    Fsync,
    /// acknowledge before durability; bulk import only.
    Buffered,
}

/// Result of recomputing the hash chain over a range of positions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyReport {
    pub from_position: u64,
    pub to_position: u64,
    pub records_checked: u64,
    /// The first position whose stored hash or chain link does not match, with why.
    pub first_bad: Option<(u64, String)>,
}

impl VerifyReport {
    /// True when every checked record matched.
    pub fn is_ok(&self) -> bool {
        self.first_bad.is_none()
    }
}

/// Source of `recorded_at`. Injected so tests and replays are deterministic.
pub trait Clock: Send + Sync + 'static {
    fn now_us(&self) -> i64;
}

#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    #[error("stream id {stream:?} {reason}")]
    InvalidStreamId { stream: String, reason: String },
    #[error("wrong expected version on stream {stream}: expected {expected}, actual {actual}; reload the stream and decide again")]
    WrongExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        actual: u64,
    },
    #[error("invalid expected version {expected} for stream {stream}: {reason}")]
    InvalidExpectedVersion {
        stream: String,
        expected: ExpectedVersion,
        reason: String,
    },
    #[error("idempotency key {key} was first used on stream {original_stream}, now on stream {stream}; use a fresh command id for a different command")]
    IdempotencyKeyReused {
        key: Uuid,
        original_stream: String,
        stream: String,
    },
    #[error("idempotency key {key} was first used on stream {stream} for a different request (fingerprint {stored}), now for fingerprint {given}; use a fresh key for a different request")]
    IdempotencyConflict {
        key: Uuid,
        stream: String,
        /// Hex of the stored and the given fingerprints.
        stored: String,
        given: String,
    },
    #[error("append payloads total {bytes} bytes; at most {max} allowed in one append; split it")]
    AppendTooLarge { bytes: usize, max: usize },
    #[error("an append must carry at least one event")]
    EmptyAppend,
    #[error("too many events in one append: {count}; at most {max} allowed")]
    TooManyEvents { count: usize, max: usize },
    #[error("event {index} payload is {bytes} bytes; at most {max} allowed")]
    EventTooLarge {
        index: usize,
        bytes: usize,
        max: usize,
    },
    #[error("invalid event {index}: {reason}")]
    InvalidEvent { index: usize, reason: String },
    #[error("append queue is full ({depth_max} appends waiting); retry later")]
    QueueFull { depth_max: usize },
    #[error("corrupt record at position {position}: {reason}")]
    Corrupt { position: u64, reason: String },
    #[error("codec: {0}")]
    Codec(String),
    #[error(
        "store is in use by another process ({path}); stop it or use another --data directory"
    )]
    InUse { path: String },
    #[error(
        "store at {path} uses on-disk layout {found}; this build reads layout {supported} only: \
         open it with the caseledger build that wrote it, or point --data at another directory"
    )]
    UnknownLayout {
        path: String,
        found: String,
        supported: u8,
    },
    #[error("consumer name {name:?} {reason}")]
    InvalidConsumerName { name: String, reason: String },
    #[error("consumer {consumer} cannot acknowledge position {position}: the log's head is {head}; a checkpoint never runs ahead of the log")]
    CheckpointBeyondHead {
        consumer: String,
        position: u64,
        head: u64,
    },
    #[error("consumer {consumer} cannot acknowledge position {position}: it has been delivered only up to {delivered}")]
    AcknowledgedUndelivered {
        consumer: String,
        position: u64,
        delivered: u64,
    },
    #[error("consumer {consumer} would be one more than the {max} durable consumers a store keeps; reuse an existing name")]
    TooManyConsumers { consumer: String, max: usize },
    #[error("not appended to stream {stream}: it was decided after append {index} of the same group, which was not written; decide it again on the stream as it is")]
    PrecedingAppendNotApplied { stream: String, index: usize },
    #[error("append group {index_or_size} cannot be used: {reason}")]
    InvalidGroup {
        index_or_size: String,
        reason: String,
    },
    #[error("storage backend: {0}")]
    Backend(String),
    #[error("store is closed")]
    Closed,
}

/// Check a group for [`EventStore::append_group`]: at most [`GROUP_APPENDS_MAX`] appends
/// and [`GROUP_EVENTS_MAX`] events, each `after` naming an earlier append of the same stream.
/// Each append's own arguments are checked when it is decided, as in `append`.
pub fn check_group(group: &[GroupedAppend]) -> Result<(), StoreError> {
    let events: usize = group.iter().map(|a| a.events.len()).sum();
    if group.len() > GROUP_APPENDS_MAX || events > GROUP_EVENTS_MAX {
        return Err(StoreError::InvalidGroup {
            index_or_size: format!("of {} appends and {events} events", group.len()),
            reason: format!(
                "at most {GROUP_APPENDS_MAX} appends and {GROUP_EVENTS_MAX} events in one group; split it"
            ),
        });
    }
    for (index, append) in group.iter().enumerate() {
        let Some(earlier) = append.after else {
            continue;
        };
        if earlier >= index || group[earlier].stream != append.stream {
            return Err(StoreError::InvalidGroup {
                index_or_size: format!("append {index}"),
                reason: format!(
                    "`after` {earlier} must name an earlier append of the same stream {}",
                    append.stream
                ),
            });
        }
    }
    Ok(())
}

/// The refusal of an append of `stream` that comes after the append at group index `index`,
/// given that append's answer (`None`: it has none), when that append was not written.
pub(crate) fn not_written_before(
    stream: &StreamId,
    index: usize,
    earlier: Option<&Result<AppendResult, StoreError>>,
) -> Option<StoreError> {
    match earlier {
        Some(Ok(result)) if !result.deduplicated => None,
        _ => Some(StoreError::PrecedingAppendNotApplied {
            stream: stream.to_string(),
            index,
        }),
    }
}

/// The event log. One conformance suite (`conformance`) is run against every implementation.
#[async_trait]
pub trait EventStore: Send + Sync + 'static {
    /// Append `events` to `stream` atomically if its version matches `expected`: the one
    /// append every store implements ([`EventStore::append`] and
    /// [`EventStore::append_fingerprinted`] are its two forms).
    ///
    /// With a key, repeating the call returns the original result with `deduplicated = true`
    /// and writes nothing; the key's first use stores its fingerprint, if it has one, and a
    /// repeat with another fingerprint is [`StoreError::IdempotencyConflict`] (an entry or a
    /// key without a fingerprint cannot be told apart and is answered as a repeat).
    async fn append_keyed(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<IdempotencyKey>,
    ) -> Result<AppendResult, StoreError>;

    /// [`EventStore::append_keyed`] with a plain idempotency key (the command id).
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<Uuid>,
    ) -> Result<AppendResult, StoreError> {
        self.append_keyed(stream, expected, events, idempotency_key.map(Into::into))
            .await
    }

    /// [`EventStore::append_keyed`] with a key that carries the request's fingerprint.
    async fn append_fingerprinted(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: IdempotencyKey,
    ) -> Result<AppendResult, StoreError> {
        self.append_keyed(stream, expected, events, Some(key)).await
    }

    /// Append each of `group`, in order, as ONE group commit where the backend has one (sled,
    /// PostgreSQL): positions follow the group's order, and nothing of the group is answered
    /// before all of it is durable. One answer per append, in order: an append's refusal does
    /// not stop the others (a later append on the same stream meets its own version check, or
    /// its [`GroupedAppend::after`]). `Err` only for a group that cannot be used at all
    /// ([`check_group`]): nothing was written.
    ///
    /// The default appends one by one (the memory store and test wrappers).
    async fn append_group(
        &self,
        group: Vec<GroupedAppend>,
    ) -> Result<Vec<Result<AppendResult, StoreError>>, StoreError> {
        check_group(&group)?;
        let mut answers: Vec<Result<AppendResult, StoreError>> = Vec::with_capacity(group.len());
        for append in group {
            let refused = append
                .after
                .and_then(|i| not_written_before(&append.stream, i, answers.get(i)));
            let answer = match refused {
                Some(refused) => Err(refused),
                None => {
                    self.append_keyed(&append.stream, append.expected, append.events, append.key)
                        .await
                }
            };
            answers.push(answer);
        }
        Ok(answers)
    }

    /// What the idempotency index holds for `key`, if it was used.
    async fn idempotency_record(&self, key: Uuid) -> Result<Option<IdempotencyRecord>, StoreError>;

    /// Events of `stream` with version ≥ `from_version`, in version order.
    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// At most `max_count` events of `stream` with version ≥ `from_version`, in version
    /// order: a long stream read page by page (replay of one case) holds one page at a time.
    /// The default reads the rest of the stream and keeps the page; backends that can stop
    /// early should.
    async fn read_stream_page(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let mut records = self.read_stream(stream, from_version).await?;
        records.truncate(max_count as usize);
        Ok(records)
    }

    /// One page of the global log: at most `max_count` (≤ [`READ_ALL_PAGE_EVENTS_MAX`])
    /// records with position ≥ `from_position`, in position order.
    async fn read_all(
        &self,
        from_position: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The highest committed position (0 when empty).
    async fn head(&self) -> Result<u64, StoreError>;

    /// A receiver that changes whenever the head moves; used by subscriptions.
    fn watch_head(&self) -> tokio::sync::watch::Receiver<u64>;

    /// Recompute the hash chain over positions `from..=to` (`to = None`: to the head): the
    /// records as [`ReadAll`] reads them, through the one [`hash::ChainVerifier`]; a record
    /// that cannot be read (or is missing) is the first bad position, not an error.
    ///
    /// The memory store uses this. sled and PostgreSQL keep their own, sharing the range
    /// ([`hash::verify_bounds`]) and the check ([`hash::ChainVerifier`]) with it, because
    /// their checks truly differ: they read the stored bytes themselves so that a damaged
    /// record is reported with its own position and reason while the walk goes on from the
    /// store's raw pages (sled: the published head, not a head that waits for the writer),
    /// and PostgreSQL also checks the hash column operators and the head row see against the
    /// record's hash, which `read_all` does not return.
    async fn verify(
        &self,
        from_position: u64,
        to_position: Option<u64>,
    ) -> Result<VerifyReport, StoreError> {
        let (from, to) = match hash::verify_bounds(from_position, to_position, self.head().await?) {
            Ok(range) => range,
            Err(empty) => return Ok(empty),
        };
        let previous = match from {
            1 => Ok(None),
            _ => self
                .read_all(from - 1, 1)
                .await
                .map(|page| page.into_iter().find(|r| r.position == from - 1))
                .map_err(|e| e.to_string()),
        };
        let mut verifier = match hash::ChainVerifier::for_range(from, to, previous) {
            Ok(verifier) => verifier,
            Err(report) => return Ok(report),
        };
        let mut records = ReadAll::new(self, from, READ_ALL_PAGE_EVENTS_MAX).through(to);
        while !verifier.failed() {
            match records.next().await {
                Ok(Some(record)) => {
                    verifier.check(&record);
                }
                Ok(None) => break,
                Err(e) => verifier.mark_bad(verifier.next_position(), e.to_string()),
            }
        }
        if !verifier.failed() && verifier.next_position() <= to {
            verifier.mark_bad(verifier.next_position(), "record is missing");
        }
        Ok(verifier.finish(to))
    }

    /// The checkpoint of durable consumer `name`: the highest position it acknowledged, or
    /// `None` when it has never acknowledged anything ([`consumer`] module).
    async fn consumer_position(&self, name: &ConsumerName) -> Result<Option<u64>, StoreError>;

    /// Durably move `name`'s checkpoint up to `position` and return the checkpoint now stored.
    /// It never moves backwards (a lower position leaves it as it is) and never beyond the
    /// head ([`StoreError::CheckpointBeyondHead`]); at most [`CONSUMERS_MAX`] names are kept.
    /// Durable in the store's durability mode, like an append.
    async fn acknowledge(&self, name: &ConsumerName, position: u64) -> Result<u64, StoreError>;

    /// Every durable consumer and its checkpoint, by name.
    async fn consumers(&self) -> Result<Vec<ConsumerCheckpoint>, StoreError>;

    /// The key store beside this log: persons' data keys and the KEK id ([`keystore`]).
    fn key_store(&self) -> &dyn KeyStore;
}
