//! `SledStore`: the durable event log on sled `=0.34.7`.
//!
//! On-disk layout 3 (`LAYOUT_V3`, recorded in `docs/operations.md`): ONE sled tree, `log`,
//! holding every kind of entry under a one-byte key prefix. All integers in keys are
//! big-endian so byte order is numeric order.
//!
//! | key                                         | value                                        |
//! |---------------------------------------------|----------------------------------------------|
//! | `b` ‖ first position (u64 BE)               | a block of consecutive sealed records        |
//! | `r` ‖ position (u64 BE)                     | one unsealed record (`codec::encode_record`) |
//! | `s` ‖ stream id ‖ 0x00 ‖ first version (BE) | chunk: positions of consecutive versions     |
//! | `i` ‖ command id (16 bytes)                 | codec-encoded stream + original result       |
//! | `m` ‖ `format`                              | record format version byte (1)               |
//! | `m` ‖ `layout`                              | layout version byte (3)                      |
//!
//! Records: blocks cover positions 1..=`sealed_through` back to back; the records after that
//! (fewer than one full block, [`layout::full_blocks`]) sit under their own `r` keys. Every
//! commit seals the blocks that became full in the SAME atomic batch that writes the new
//! records: a record's bytes move, unchanged, from its `r` key into a block and never back.
//! Readers therefore look a record up under its own key first and then in its block, and a
//! record being sealed is never missed. Why blocks: [`layout`] module doc and
//! docs/decisions/0003-layout-3.md.
//!
//! Stream index: a stream's current version is the last position in its last chunk (one
//! reverse range step). An append rewrites the stream's last chunk (at most
//! `STREAM_CHUNK_POSITIONS_MAX` positions) and starts new ones as it fills.
//!
//! Why one tree: `Tree::apply_batch` is atomic after a crash (sled pins its log for the batch
//! and recovers it all or nothing: `pin_log` … `seal_batch` in `Tree::apply_batch_inner`, the
//! same mechanism sled's transactions commit with) without the per-tree write sets and
//! validation of a `Transactional` over several trees.
//!
//! Writes ([`writer`]): ONE writer owns position assignment — the `Writer` state behind a
//! mutex. A batch of appends is decided with the shared planner (a stale expected version
//! fails only that append; later appends see earlier ones), written with ONE `apply_batch`
//! and ONE flush (group commit); then the new head is published and every caller answered.
//!
//! Two ways to reach the writer:
//! - uncontended (no other append in flight, nothing queued, nobody committing, on a
//!   multi-threaded tokio runtime): the caller commits its own append inline under the
//!   mutex, saving two thread wake-ups (the hop to a writer thread and back), which on a
//!   small machine cost about as much as the flush itself;
//! - otherwise the append is queued on a bounded channel ([`APPEND_QUEUE_DEPTH_MAX`]) to a
//!   dedicated writer thread, which drains everything queued into one group commit.
//!
//! On a `current_thread` runtime (the default of `#[tokio::test]`) appends always go to the
//! writer thread: committing inline would block the only thread for a flush, so no other task
//! could queue behind it and group commit would never happen.
//!
//! Readers ([`read`]) see only the published head: a record committed but not yet flushed (in
//! a durable mode) is invisible, so nobody can observe an event that a crash could still take
//! back.
//!
//! Files: [`open`] (locks, file modes, opening a writable store), [`read_only`] (the read-only
//! open over a private copy), [`upgrade`] (the layout check and the in-place upgrade of older
//! layouts), [`keys`] (key and idempotency-value encodings), [`layout`] (blocks and chunks).

mod data_keys;
mod keys;
pub mod layout;
mod open;
mod read;
mod read_only;
mod upgrade;
mod writer;

pub use data_keys::{KEK_ID_KEY, TREE_DATA_KEYS};
use keys::*;
use open::*;
pub use open::{
    create_private_dir, private_file_options, STORE_DIR_MODE, STORE_FILE_MODE,
    STORE_LOCK_WAIT_MS_MAX,
};
use read::*;
use read_only::*;
use upgrade::*;
pub use upgrade::{
    LAYOUT_V2, META_UPGRADING_KEY, PACK_ON_OPEN_ENTRIES_PER_BATCH_MAX,
    SEAL_ON_OPEN_RECORDS_PER_BATCH_MAX,
};
pub use writer::STREAM_VERSIONS_CACHED_MAX;
use writer::*;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::thread::JoinHandle;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};
use uuid::Uuid;

use crate::consumer::{check_acknowledgement, ConsumerCheckpoint, ConsumerName, CONSUMERS_MAX};
use crate::key_filter::{KeyFilter, KEY_FILTER_BITS_LOG2_WRITER};
use crate::planner::{Batch, IdempotencyEntry, Lookup, Tip};
use crate::validate::validate_append;
use crate::{
    codec, hash, AppendResult, Clock, Durability, EventStore, ExpectedVersion, GroupedAppend,
    IdempotencyKey, IdempotencyRecord, NewEvent, RecordedEvent, StoreError, StreamId, SystemClock,
    VerifyReport, APPEND_QUEUE_DEPTH_MAX, BATCH_APPENDS_MAX, BATCH_EVENTS_MAX,
    READ_ALL_PAGE_EVENTS_MAX,
};
use layout::{
    block_key, decode_chunk, encode_block, encode_chunk, extend_chunks,
    first_position_of_block_key, full_blocks, BlockView, STREAM_CHUNK_POSITIONS_MAX,
};

/// Name of the lock file caseledger holds (besides sled's own lock) while a store is open.
pub const LOCK_FILE_NAME: &str = "caseledger.lock";
/// How often sled's background thread flushes in `Buffered` mode, in milliseconds.
pub const BUFFERED_FLUSH_EVERY_MS: u64 = 1_000;
/// The on-disk layout this build writes: one tree, records sealed into blocks, stream index
/// in chunks (module doc).
pub const LAYOUT_V3: u8 = 3;
/// The one tree of layouts 2 and 3.
pub const TREE_LOG: &str = "log";
/// Durable consumers' checkpoints: key the consumer name, value the acknowledged position
/// (u64 BE). A tree of its own beside the log, so the log's layout is unchanged by it.
pub const TREE_CONSUMERS: &str = "consumers";

/// Key prefix of an unsealed record (`r` ‖ position).
pub const KEY_PREFIX_RECORD: u8 = b'r';
/// Key prefix of a stream index chunk (`s` ‖ stream ‖ 0x00 ‖ first version).
pub const KEY_PREFIX_STREAM_INDEX: u8 = b's';
/// Key prefix of an idempotency entry (`i` ‖ command id).
pub const KEY_PREFIX_IDEMPOTENCY: u8 = b'i';
/// Key of the record format version byte.
pub const META_FORMAT_KEY: &[u8] = b"mformat";
/// Key of the layout version byte.
pub const META_LAYOUT_KEY: &[u8] = b"mlayout";

/// sled's page cache size when none is given: sled's own default (1 GiB). Right for a
/// long-running writer with many readers; too much for a one-pass reader.
pub const SLED_CACHE_CAPACITY_BYTES_DEFAULT: u64 = 1024 * 1024 * 1024;
/// Smallest page cache [`SledStore::open_with_cache`] accepts: below a few MiB sled evicts
/// pages it is about to read again within one `read_all` page.
pub const SLED_CACHE_CAPACITY_BYTES_MIN: u64 = 4 * 1024 * 1024;
/// A page cache that suits a one-pass reader (full read-model rebuild, verify, export): it
/// reads each page once, so the cache only has to hold the pages of one `read_all` page.
/// 16 MiB rather than 64: the same rebuild time, less resident memory.
pub const SLED_CACHE_CAPACITY_BYTES_ONE_PASS: u64 = 16 * 1024 * 1024;

/// How to open a [`SledStore`].
#[derive(Clone)]
pub struct SledOptions {
    pub durability: Durability,
    pub clock: Arc<dyn Clock>,
}

impl Default for SledOptions {
    fn default() -> Self {
        SledOptions {
            durability: Durability::Flush,
            clock: Arc::new(SystemClock),
        }
    }
}

/// Counters kept by the writer (for operations and the benchmark).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Group commits made (one atomic batch + one flush each).
    pub batches: u64,
    /// Appends answered (accepted, refused or deduplicated).
    pub appends: u64,
    /// Events written.
    pub events: u64,
    /// Of `batches`, those committed inline by an uncontended caller rather than by the
    /// writer thread.
    pub inline_batches: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    inline_batches: AtomicU64,
    appends: AtomicU64,
    events: AtomicU64,
}

/// One append as the writer decides it.
struct Append {
    stream: StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    idempotency_key: Option<IdempotencyKey>,
    /// Of a group: the earlier append of the same commit that must have been written
    /// (its index in the commit, its index in the group), [`GroupedAppend::after`].
    after: Option<(usize, usize)>,
    /// Of a group: why the append was refused before reaching the writer (bad arguments).
    refused: Option<Box<StoreError>>,
}

type Answer = Result<AppendResult, StoreError>;

enum Request {
    Append(Append, oneshot::Sender<Answer>),
    /// [`EventStore::append_group`]: committed whole, in one group commit.
    Group(Vec<Append>, oneshot::Sender<Vec<Answer>>),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// What the store and its writer thread share.
struct Shared {
    writer: Mutex<Writer>,
    /// Requests sent to the writer thread and not yet taken off the channel by it (so the
    /// thread never counts below zero: asserted).
    queued: AtomicU64,
    /// Appends between entering `append` and receiving their answer, on either path. An
    /// append commits inline only when it is the only one: then there is nobody to share a
    /// group commit with, and under load (callers re-appending as soon as they are answered)
    /// appends keep going to the writer thread, whose batches stay large.
    appends_in_flight: AtomicU64,
}

/// Counts one append in [`Shared::appends_in_flight`] until dropped (also when the caller's
/// future is dropped mid-append).
struct InFlight<'a>(&'a AtomicU64);

impl InFlight<'_> {
    /// Count an append in; true when it is the only one in flight.
    fn enter(counter: &AtomicU64) -> (InFlight<'_>, bool) {
        let before = counter.fetch_add(1, Ordering::AcqRel);
        (InFlight(counter), before == 0)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let before = self.0.fetch_sub(1, Ordering::AcqRel);
        assert!(before > 0, "appends in flight never go below zero");
    }
}

/// The durable event log.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    log: sled::Tree,
    head: watch::Sender<u64>,
    head_rx: watch::Receiver<u64>,
    shared: Arc<Shared>,
    requests: Option<std_mpsc::SyncSender<Request>>,
    writer_thread: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    /// Durable consumers' checkpoints ([`TREE_CONSUMERS`]).
    consumers: sled::Tree,
    /// Serialises acknowledgements, so "never backwards" and the count limit hold.
    consumers_lock: Mutex<()>,
    /// The key store ([`TREE_DATA_KEYS`], `data_keys` module).
    data_keys: sled::Tree,
    /// Serialises key store writes, so an insert never replaces another's key or a tombstone.
    keys_lock: Mutex<()>,
    durability: Durability,
    /// Held for the life of the store: a second opener (any process) fails with `InUse`.
    _lock: File,
    /// Set by [`SledStore::open_read_only`]: the original store's shared lock and the scratch
    /// copy this handle reads. Last, so it is dropped after sled has let go of the copy.
    read_only: Option<Box<ReadOnlyCopy>>,
}

impl SledStore {
    /// The directory this store lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the writer has done since open.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            appends: self.counters.appends.load(Ordering::Relaxed),
            events: self.counters.events.load(Ordering::Relaxed),
            inline_batches: self.counters.inline_batches.load(Ordering::Relaxed),
        }
    }

    /// Make everything acknowledged so far durable (needed only in `Buffered` mode; in the
    /// durable modes every acknowledged append already is).
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        self.send(Request::Flush(reply))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    fn stored_consumer_position(&self, name: &ConsumerName) -> Result<Option<u64>, StoreError> {
        self.consumers
            .get(name.as_str())
            .map_err(|e| backend("reading a consumer checkpoint", e))?
            .map(|v| u64_from(&v, "consumer checkpoint"))
            .transpose()
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued, flush and exit; joining it
        // means the sled files are released when drop returns, so the path can be reopened.
        drop(self.requests.take());
        if let Some(writer) = self.writer_thread.take() {
            let _ = writer.join();
        }
        let _ = self.db.flush();
    }
}

impl SledStore {
    /// One append: committed inline when uncontended, else through the writer thread.
    async fn submit_append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        idempotency_key: Option<IdempotencyKey>,
    ) -> Result<AppendResult, StoreError> {
        self.writable()?;
        validate_append(stream, expected, &events)?;
        let append = Append {
            stream: stream.clone(),
            expected,
            events,
            idempotency_key,
            after: None,
            refused: None,
        };
        let (_in_flight, alone) = InFlight::enter(&self.shared.appends_in_flight);
        let append = match self.try_commit_inline(append, alone) {
            Ok(answer) => return answer,
            Err(append) => *append,
        };
        let (reply, answer) = oneshot::channel();
        self.send(Request::Append(append, reply))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

#[async_trait]
impl EventStore for SledStore {
    async fn append_keyed(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: Option<IdempotencyKey>,
    ) -> Result<AppendResult, StoreError> {
        self.submit_append(stream, expected, events, key).await
    }

    /// The whole group goes to the writer thread as one request and is committed in one
    /// atomic batch and one flush, after whatever was queued before it.
    async fn append_group(&self, group: Vec<GroupedAppend>) -> Result<Vec<Answer>, StoreError> {
        self.writable()?;
        crate::check_group(&group)?;
        if group.is_empty() {
            return Ok(Vec::new());
        }
        let appends = group
            .into_iter()
            .map(|a| Append {
                refused: validate_append(&a.stream, a.expected, &a.events)
                    .err()
                    .map(Box::new),
                stream: a.stream,
                expected: a.expected,
                events: a.events,
                idempotency_key: a.key,
                after: a.after.map(|i| (i, i)),
            })
            .collect();
        let (_in_flight, _) = InFlight::enter(&self.shared.appends_in_flight);
        let (reply, answer) = oneshot::channel();
        self.send(Request::Group(appends, reply))?;
        answer.await.map_err(|_| StoreError::Closed)
    }

    async fn idempotency_record(&self, key: Uuid) -> Result<Option<IdempotencyRecord>, StoreError> {
        let stored = self
            .log
            .get(idempotency_key(&key))
            .map_err(|e| backend("reading idempotency index", e))?;
        Ok(match stored {
            None => None,
            Some(bytes) => {
                let entry = decode_idempotency(&bytes)?;
                Some(IdempotencyRecord {
                    stream_id: entry.stream_id,
                    fingerprint: entry.fingerprint,
                })
            }
        })
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_stream_up_to(stream, from_version, usize::MAX)
    }

    async fn read_stream_page(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read_stream_up_to(stream, from_version, max_count as usize)
    }

    async fn read_all(
        &self,
        from_position: u64,
        max_count: u32,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let head = self.published_head();
        let from = from_position.max(1);
        let count = u64::from(max_count.min(READ_ALL_PAGE_EVENTS_MAX));
        if count == 0 || from > head {
            return Ok(Vec::new());
        }
        let to = head.min(from.saturating_add(count - 1));
        let mut out = Vec::with_capacity((to - from + 1) as usize);
        let mut failed = None;
        self.visit_records(from, to, |position, bytes| {
            match bytes.and_then(|bytes| decode_at(position, bytes)) {
                Ok(record) => out.push(record),
                Err(e) => failed = Some(e),
            }
            failed.is_none()
        })?;
        match failed {
            Some(e) => Err(e),
            None => Ok(out),
        }
    }

    async fn head(&self) -> Result<u64, StoreError> {
        Ok(self.published_head())
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
    }

    async fn consumer_position(&self, name: &ConsumerName) -> Result<Option<u64>, StoreError> {
        self.stored_consumer_position(name)
    }

    async fn acknowledge(&self, name: &ConsumerName, position: u64) -> Result<u64, StoreError> {
        self.writable()?;
        let _serial = self
            .consumers_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let stored = self.stored_consumer_position(name)?;
        let count = self.consumers.len();
        check_acknowledgement(
            name,
            position,
            self.published_head(),
            stored.is_some(),
            count,
        )?;
        if stored.is_some_and(|s| s >= position) {
            return Ok(stored.unwrap_or(position));
        }
        self.consumers
            .insert(name.as_str(), &position.to_be_bytes())
            .map_err(|e| backend("writing a consumer checkpoint", e))?;
        match self.durability {
            Durability::Buffered => {}
            Durability::Flush => {
                self.db
                    .flush()
                    .map_err(|e| backend("flushing a consumer checkpoint", e))?;
            }
            Durability::Fsync => {
                self.db
                    .flush()
                    .map_err(|e| backend("flushing a consumer checkpoint", e))?;
                fsync_tree(&self.path).map_err(|e| backend("fsync of the store directory", e))?;
            }
        }
        Ok(position)
    }

    async fn consumers(&self) -> Result<Vec<ConsumerCheckpoint>, StoreError> {
        let mut out = Vec::new();
        for entry in self.consumers.iter().take(CONSUMERS_MAX) {
            let (key, value) = entry.map_err(|e| backend("reading consumer checkpoints", e))?;
            let name = String::from_utf8(key.to_vec())
                .map_err(|_| StoreError::Corrupt {
                    position: 0,
                    reason: format!("consumer name {key:?} is not UTF-8"),
                })
                .and_then(ConsumerName::new)?;
            out.push(ConsumerCheckpoint {
                name,
                position: u64_from(&value, "consumer checkpoint")?,
            });
        }
        Ok(out)
    }

    fn key_store(&self) -> &dyn crate::keystore::KeyStore {
        self
    }

    async fn verify(
        &self,
        from_position: u64,
        to_position: Option<u64>,
    ) -> Result<VerifyReport, StoreError> {
        let (from, to) =
            match hash::verify_bounds(from_position, to_position, self.published_head()) {
                Ok(range) => range,
                Err(empty) => return Ok(empty),
            };
        let previous = match from {
            1 => Ok(None),
            _ => self.read_record(from - 1).map_err(|e| e.to_string()),
        };
        let mut verifier = match hash::ChainVerifier::for_range(from, to, previous) {
            Ok(verifier) => verifier,
            Err(report) => return Ok(report),
        };
        // Page through so memory stays bounded over any range.
        while verifier.next_position() <= to && !verifier.failed() {
            let page_from = verifier.next_position();
            let page_to = to.min(page_from.saturating_add(u64::from(READ_ALL_PAGE_EVENTS_MAX) - 1));
            self.visit_records(page_from, page_to, |position, bytes| {
                match bytes.and_then(|bytes| decode_at(position, bytes)) {
                    Ok(record) => verifier.check(&record),
                    Err(StoreError::Corrupt { reason, .. }) => {
                        verifier.mark_bad(position, reason);
                        false
                    }
                    Err(e) => {
                        verifier.mark_bad(position, e.to_string());
                        false
                    }
                }
            })?;
            if !verifier.failed() && verifier.next_position() <= page_to {
                let missing = verifier.next_position();
                verifier.mark_bad(missing, "record is missing");
            }
        }
        Ok(verifier.finish(to))
    }
}

#[cfg(test)]
mod tests;
