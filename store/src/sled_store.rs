//! `SledStore`: the durable event log on sled `=0.34.7`.
//!
//! On-disk layout 3 (`LAYOUT_V3`, since 2026-11-22; recorded in `docs/operations.md`): ONE
//! sled tree, `log`, holding every kind of entry under a one-byte key prefix. All integers in
//! keys are big-endian so byte order is numeric order.
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
//! (fewer than one full block, [`crate::sled_layout::full_blocks`]) sit under their own `r`
//! keys. Every commit seals the blocks that became full in the SAME atomic batch that writes
//! the new records: a record's bytes move, unchanged, from its `r` key into a block and never
//! back. Readers therefore look a record up under its own key first and then in its block,
//! and a record being sealed is never missed. Why blocks at all: sled holds a page-table
//! entry per page for the whole tree in memory from the moment it opens, and a page holds at
//! most 16 keys (`sled_layout` module doc); one key per record made that grow by ~100 MiB
//! per million events.
//!
//! Stream index: a stream's current version is the last position in its last chunk (one
//! reverse range step). An append rewrites the stream's last chunk (at most
//! `STREAM_CHUNK_POSITIONS_MAX` positions) and starts new ones as it fills. A layout-2 index
//! entry (one position under its version) is a chunk of one, so the format is a superset.
//!
//! Layout 2 (one key per record and per index entry) is upgraded in place on the first open
//! by this build: the layout byte becomes 3 first (with an `m` `upgrading` marker), then the
//! records are sealed into blocks and each stream's entries packed into chunks, in bounded
//! atomic batches; the marker goes last. Every intermediate state is a valid layout-3 log, so
//! a crash during the upgrade is finished by the next open. Layout 1 (four trees `records`,
//! `stream_index`, `stream_heads`, `idempotency` and `meta`, committed by a multi-tree sled
//! transaction) is refused on open with [`StoreError::UnknownLayout`], as is any layout byte
//! this build does not know.
//!
//! Why one tree: `Tree::apply_batch` is atomic after a crash (sled pins its log for the batch
//! and recovers it all or nothing: `pin_log` … `seal_batch` in `Tree::apply_batch_inner`, the
//! same mechanism sled's transactions commit with) without the per-tree write sets
//! and validation of a `Transactional` over four trees, where most of the commit time went;
//! measured in docs/benchmarks.md.
//!
//! Writes: ONE writer owns position assignment — the [`Writer`] state behind a mutex. A batch
//! of appends is decided with the shared planner (a stale expected version fails only that
//! append; later appends see earlier ones), written with ONE `apply_batch` and ONE flush
//! (group commit); then the new head is published and every caller answered.
//!
//! Two ways to reach the writer:
//! - uncontended (no other append in flight, nothing queued, nobody committing, on a
//!   multi-threaded tokio runtime): the caller commits its own append inline under the mutex, saving two thread wake-ups (the
//!   hop to a writer thread and back), which on a small machine cost about as much as the
//!   flush itself;
//! - otherwise the append is queued on a bounded channel ([`APPEND_QUEUE_DEPTH_MAX`]) to a
//!   dedicated writer thread, which drains everything queued into one group commit.
//!
//! On a `current_thread` runtime (the default of `#[tokio::test]`) appends always go to the
//! writer thread: committing inline would block the only thread for a flush, so no other task
//! could queue behind it and group commit would never happen.
//!
//! Readers see only the published head: a record committed but not yet flushed (in a durable
//! mode) is invisible, so nobody can observe an event that a crash could still take back.

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
use crate::planner::{Batch, IdempotencyEntry, Lookup, Tip};
use crate::sled_layout::{
    block_key, decode_chunk, encode_block, encode_chunk, extend_chunks,
    first_position_of_block_key, full_blocks, BlockView, STREAM_CHUNK_POSITIONS_MAX,
};
use crate::validate::validate_append;
use crate::{
    codec, hash, AppendResult, Clock, Durability, EventStore, ExpectedVersion, IdempotencyKey,
    IdempotencyRecord, NewEvent, RecordedEvent, StoreError, StreamId, SystemClock, VerifyReport,
    APPEND_QUEUE_DEPTH_MAX, BATCH_APPENDS_MAX, BATCH_EVENTS_MAX, READ_ALL_PAGE_EVENTS_MAX,
};

/// Name of the lock file caseledger holds (besides sled's own lock) while a store is open.
pub const LOCK_FILE_NAME: &str = "caseledger.lock";
/// How often sled's background thread flushes in `Buffered` mode, in milliseconds.
pub const BUFFERED_FLUSH_EVERY_MS: u64 = 1_000;
/// The previous layout: one key per record and per stream-index entry. Upgraded in place to
/// [`LAYOUT_V3`] on open (module doc).
pub const LAYOUT_V2: u8 = 2;
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
/// Present while an upgrade from layout 2 is under way (module doc).
pub const META_UPGRADING_KEY: &[u8] = b"mupgrading";

/// Most records read into memory at once while sealing on open (an upgrade from layout 2, or
/// finishing one a crash interrupted): bounds the memory and the size of each atomic batch.
pub const SEAL_ON_OPEN_RECORDS_PER_BATCH_MAX: usize = 4_096;
/// Most stream-index entries rewritten in one atomic batch while packing a layout-2 index.
pub const PACK_ON_OPEN_ENTRIES_PER_BATCH_MAX: usize = 8_192;

/// Trees of layout 1; their presence means a log this build cannot read.
const LAYOUT_V1_TREES: [&str; 5] = [
    "records",
    "stream_index",
    "stream_heads",
    "idempotency",
    "meta",
];

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
}

enum Request {
    Append(Append, oneshot::Sender<Result<AppendResult, StoreError>>),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// The stored value of the idempotency index (versioned through the codec like records):
/// format 2 keeps the request's fingerprint; format 1 entries, written before fingerprints
/// were kept, still decode (fingerprint unknown).
#[derive(Serialize, Deserialize)]
struct StoredIdempotency {
    format: u8,
    entry: IdempotencyEntry,
}

/// Format 1 of the idempotency index value.
#[derive(Serialize, Deserialize)]
struct StoredIdempotencyV1 {
    format: u8,
    stream_id: String,
    result: AppendResult,
}

/// The format byte of an idempotency index value that keeps the fingerprint.
const IDEMPOTENCY_FORMAT_V2: u8 = 2;

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

/// How long `open` waits for sled's own file lock once it holds caseledger.lock: long enough
/// for a just-dropped handle's background threads to let go, short enough to fail fast.
const SLED_LOCK_WAIT_MS_MAX: u64 = 2_000;
/// Pause between attempts while waiting for sled's lock.
const SLED_LOCK_RETRY_MS: u64 = 10;

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
    durability: Durability,
    /// Held for the life of the store: a second opener (any process) fails with `InUse`.
    _lock: File,
    /// Set by [`SledStore::open_read_only`]: the original store's shared lock and the scratch
    /// copy this handle reads. Last, so it is dropped after sled has let go of the copy.
    read_only: Option<Box<ReadOnlyCopy>>,
}

/// What a read-only handle holds beside the copy it reads: a shared lock on the original
/// store (writers take it exclusively, so none runs while the copy is read) and the scratch
/// directory, removed when the handle is dropped.
struct ReadOnlyCopy {
    original: PathBuf,
    _shared_lock: File,
    scratch: PathBuf,
}

impl Drop for ReadOnlyCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Files of a store directory that are not part of the log: the lock file and a snapshot sled
/// was still writing (`snap.*.generating`).
fn is_copied(name: &str) -> bool {
    name != LOCK_FILE_NAME && !name.ends_with(".generating")
}

/// Copy the store directory `from` (its files and `blobs/`) into the new directory `to`.
fn copy_store(from: &Path, to: &Path) -> std::io::Result<()> {
    create_private_dir(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_store(&entry.path(), &to.join(&name))?;
        } else if kind.is_file() && is_copied(&name.to_string_lossy()) {
            std::fs::copy(entry.path(), to.join(&name))?;
        }
    }
    Ok(())
}

/// Open the copy a read-only handle reads. sled 0.34 panics while recovering some damaged logs
/// (serialising a snapshot with a page it could not read); on a copy that is a corrupt log to
/// report, not a crash.
fn open_recovered_copy(
    copy: &Path,
    original: &Path,
    cache_capacity_bytes: u64,
) -> Result<SledStore, StoreError> {
    let options = SledOptions {
        durability: Durability::Flush,
        clock: Arc::new(SystemClock),
    };
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        SledStore::open_waiting(copy, options, cache_capacity_bytes, 0)
    }))
    .unwrap_or_else(|panic| {
        let why = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned());
        Err(StoreError::Corrupt {
            position: 0,
            reason: format!(
                "sled cannot recover the log in {} ({why}); the records sled wrote after its \
                 last snapshot are damaged",
                original.display()
            ),
        })
    })
}

/// The error of any write on a read-only handle.
fn read_only_error(original: &Path) -> StoreError {
    StoreError::Backend(format!(
        "the store at {} was opened read-only (verify, export); nothing can be written through \
         this handle",
        original.display()
    ))
}

fn backend(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{context}: {e}"))
}

fn record_key(position: u64) -> [u8; 9] {
    let mut key = [KEY_PREFIX_RECORD; 9];
    key[1..].copy_from_slice(&position.to_be_bytes());
    key
}

fn stream_index_key(stream: &str, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + stream.len() + 9);
    key.push(KEY_PREFIX_STREAM_INDEX);
    key.extend_from_slice(stream.as_bytes());
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

fn idempotency_key(command_id: &Uuid) -> [u8; 17] {
    let mut key = [KEY_PREFIX_IDEMPOTENCY; 17];
    key[1..].copy_from_slice(command_id.as_bytes());
    key
}

fn u64_from(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        position: 0,
        reason: format!("{what} is {} bytes, expected 8", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(array))
}

/// The position in a record key (`r` ‖ u64 BE).
fn position_of_record_key(key: &[u8]) -> Result<u64, StoreError> {
    match key.split_first() {
        Some((&KEY_PREFIX_RECORD, position)) => u64_from(position, "record key"),
        _ => Err(StoreError::Corrupt {
            position: 0,
            reason: format!("{key:?} is not a record key"),
        }),
    }
}

/// Decode the record stored under `key_position`, insisting it says the same position.
fn decode_at(key_position: u64, bytes: &[u8]) -> Result<RecordedEvent, StoreError> {
    let record = codec::decode_record(bytes).map_err(|e| StoreError::Corrupt {
        position: key_position,
        reason: e.to_string(),
    })?;
    if record.position != key_position {
        return Err(StoreError::Corrupt {
            position: key_position,
            reason: format!(
                "record stored under position {key_position} says {}",
                record.position
            ),
        });
    }
    Ok(record)
}

fn encode_idempotency(entry: &IdempotencyEntry) -> Result<Vec<u8>, StoreError> {
    codec::encode_payload(&StoredIdempotency {
        format: IDEMPOTENCY_FORMAT_V2,
        entry: entry.clone(),
    })
}

fn decode_idempotency(bytes: &[u8]) -> Result<IdempotencyEntry, StoreError> {
    let codec_error = |e: StoreError| StoreError::Codec(format!("idempotency index entry: {e}"));
    match bytes.first().copied() {
        Some(codec::RECORD_FORMAT_V1) => {
            let stored: StoredIdempotencyV1 = codec::decode_payload(bytes).map_err(codec_error)?;
            Ok(IdempotencyEntry {
                stream_id: stored.stream_id,
                result: stored.result,
                fingerprint: None,
            })
        }
        Some(IDEMPOTENCY_FORMAT_V2) => {
            let stored: StoredIdempotency = codec::decode_payload(bytes).map_err(codec_error)?;
            Ok(stored.entry)
        }
        other => Err(StoreError::Codec(format!(
            "idempotency index entry has format {other:?}; this build reads 1 and 2"
        ))),
    }
}

/// Mode of a store directory this build creates: the log holds names and dates of birth.
pub const STORE_DIR_MODE: u32 = 0o700;
/// Mode of every file this build (and its vendored sled, PATCHES.md §8) creates in a store.
pub const STORE_FILE_MODE: u32 = 0o600;

/// `create_dir_all` with every directory it creates made [`STORE_DIR_MODE`].
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, STORE_DIR_MODE);
    builder.create(path)
}

/// Open options that create a missing file [`STORE_FILE_MODE`].
pub fn private_file_options() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut options = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, STORE_FILE_MODE);
    options
}

/// Longest [`SledStore::open_waiting`] waits for another process to release a store: one hour.
pub const STORE_LOCK_WAIT_MS_MAX: u64 = 3_600_000;
/// Pause between attempts to take a store's lock while waiting for it.
const STORE_LOCK_RETRY_MS: u64 = 50;

/// Take the exclusive lock on `lock`, trying again for up to `wait_ms` while another holder
/// has it.
fn lock_waiting(lock: &File, path: &Path, wait_ms: u64) -> Result<(), StoreError> {
    lock_waiting_with(lock, path, wait_ms, fs2::FileExt::try_lock_exclusive)
}

/// [`lock_waiting`] for a shared lock: readers share it, a writer holds it exclusively.
fn lock_shared_waiting(lock: &File, path: &Path, wait_ms: u64) -> Result<(), StoreError> {
    lock_waiting_with(lock, path, wait_ms, fs2::FileExt::try_lock_shared)
}

fn lock_waiting_with(
    lock: &File,
    path: &Path,
    wait_ms: u64,
    try_lock: fn(&File) -> std::io::Result<()>,
) -> Result<(), StoreError> {
    let start = std::time::Instant::now();
    loop {
        let error = match try_lock(lock) {
            Ok(()) => return Ok(()),
            Err(e) => lock_error(path, &e),
        };
        let waited_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        if !matches!(error, StoreError::InUse { .. }) || waited_ms >= wait_ms {
            return Err(error);
        }
        let pause_ms = STORE_LOCK_RETRY_MS.min(wait_ms - waited_ms);
        std::thread::sleep(std::time::Duration::from_millis(pause_ms));
    }
}

fn lock_error(path: &Path, e: &std::io::Error) -> StoreError {
    if e.kind() == std::io::ErrorKind::WouldBlock
        || e.raw_os_error() == fs2::lock_contended_error().raw_os_error()
    {
        StoreError::InUse {
            path: path.display().to_string(),
        }
    } else {
        backend(&format!("locking {}", path.display()), e)
    }
}

/// fsync every file under `dir` and the directories themselves: sled's flush uses
/// `sync_file_range`, which does not flush the drive's volatile cache (operations.md).
fn fsync_tree(dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_dir() {
            fsync_tree(&entry.path())?;
        } else if kind.is_file() {
            File::open(entry.path())?.sync_all()?;
        }
    }
    File::open(dir)?.sync_all()
}

/// Check (or, for a new store, write) the layout and format bytes; returns the tree and the
/// layout found (2 or 3). Writes nothing unless the directory holds no log at all.
fn check_layout(db: &sled::Db, path: &Path) -> Result<(sled::Tree, u8), StoreError> {
    let unknown = |found: String| StoreError::UnknownLayout {
        path: path.display().to_string(),
        found,
        supported: LAYOUT_V3,
    };
    // Look before `open_tree`, which would create the tree in a store we must not touch.
    for name in db.tree_names() {
        if LAYOUT_V1_TREES
            .iter()
            .any(|v1| name.as_ref() == v1.as_bytes())
        {
            return Err(unknown("1 (four sled trees)".into()));
        }
    }
    let log = db
        .open_tree(TREE_LOG)
        .map_err(|e| backend(&format!("opening tree {TREE_LOG}"), e))?;
    let layout = log
        .get(META_LAYOUT_KEY)
        .map_err(|e| backend("reading the layout version", e))?;
    let found = match layout.as_deref() {
        Some(&[found @ (LAYOUT_V2 | LAYOUT_V3)]) => found,
        Some(other) => return Err(unknown(format!("{other:?}"))),
        None => {
            let empty = log
                .first()
                .map_err(|e| backend("reading the log", e))?
                .is_none();
            if !empty {
                return Err(unknown("none (entries without a layout version)".into()));
            }
            let mut init = sled::Batch::default();
            init.insert(META_FORMAT_KEY, &[codec::RECORD_FORMAT_V1][..]);
            init.insert(META_LAYOUT_KEY, &[LAYOUT_V3][..]);
            log.apply_batch(init)
                .map_err(|e| backend("writing the layout version", e))?;
            db.flush().map_err(|e| backend("flushing meta", e))?;
            LAYOUT_V3
        }
    };
    match log
        .get(META_FORMAT_KEY)
        .map_err(|e| backend("reading meta", e))?
    {
        Some(v) if v.as_ref() == [codec::RECORD_FORMAT_V1] => Ok((log, found)),
        other => Err(StoreError::Codec(format!(
            "store at {} has record format {:?}; this build reads format {}",
            path.display(),
            other.as_deref(),
            codec::RECORD_FORMAT_V1
        ))),
    }
}

/// Most streams whose last index chunk (and so committed version) the writer keeps in memory.
/// A chunk is at most 256 bytes, so the cache stays under ~25 MiB; when it is full it is
/// emptied and refilled from the stream index on demand.
pub const STREAM_VERSIONS_CACHED_MAX: usize = 65_536;

/// The last index chunk of a stream (first version, positions); `None` for a stream with no
/// events.
type LastChunk = Option<(u64, Vec<u64>)>;

/// Committed last index chunks, so deciding an append, and rewriting the chunk it extends,
/// do not read sled for streams written recently. Only the writer writes the log, so a cached
/// chunk is the committed one.
#[derive(Default)]
struct StreamVersions(BTreeMap<String, LastChunk>);

impl StreamVersions {
    fn insert(&mut self, stream: &str, last: LastChunk) {
        if self.0.len() >= STREAM_VERSIONS_CACHED_MAX && !self.0.contains_key(stream) {
            self.0.clear();
        }
        self.0.insert(stream.to_owned(), last);
        assert!(self.0.len() <= STREAM_VERSIONS_CACHED_MAX);
    }

    fn version(&self, stream: &str) -> Option<u64> {
        self.0.get(stream).map(version_of_last_chunk)
    }
}

/// The version of the last position in a stream's last chunk (0 for no chunk).
fn version_of_last_chunk(last: &LastChunk) -> u64 {
    last.as_ref()
        .map_or(0, |(first, positions)| first + positions.len() as u64 - 1)
}

struct SledLookup<'a> {
    log: &'a sled::Tree,
    versions: &'a mut StreamVersions,
}

impl Lookup for SledLookup<'_> {
    fn stream_version(&mut self, stream: &str) -> Result<u64, StoreError> {
        if let Some(version) = self.versions.version(stream) {
            return Ok(version);
        }
        let last = last_chunk(self.log, stream)?;
        let version = version_of_last_chunk(&last);
        self.versions.insert(stream, last);
        Ok(version)
    }
    fn idempotency(&mut self, key: &Uuid) -> Result<Option<IdempotencyEntry>, StoreError> {
        match self
            .log
            .get(idempotency_key(key))
            .map_err(|e| backend("reading idempotency index", e))?
        {
            Some(bytes) => decode_idempotency(&bytes).map(Some),
            None => Ok(None),
        }
    }
}

/// The version in a stream index key (`s` ‖ stream ‖ 0x00 ‖ version BE).
fn version_of_stream_index_key(key: &[u8]) -> Result<u64, StoreError> {
    u64_from(
        key.get(key.len().saturating_sub(8)..).unwrap_or_default(),
        "stream index key version",
    )
}

/// The last chunk of `stream`'s index: its first version and its positions.
fn last_chunk(log: &sled::Tree, stream: &str) -> Result<Option<(u64, Vec<u64>)>, StoreError> {
    let last = log
        .range(stream_index_key(stream, 0)..=stream_index_key(stream, u64::MAX))
        .next_back()
        .transpose()
        .map_err(|e| backend("reading the stream index", e))?;
    match last {
        Some((key, value)) => Ok(Some((
            version_of_stream_index_key(&key)?,
            decode_chunk(stream, &value)?,
        ))),
        None => Ok(None),
    }
}

/// The block whose first position is the greatest at or below `position` (the block that
/// holds `position`, if it is sealed).
fn block_at_or_before(
    log: &sled::Tree,
    position: u64,
) -> Result<Option<(u64, sled::IVec)>, StoreError> {
    let found = log
        .range(block_key(0)..=block_key(position))
        .next_back()
        .transpose()
        .map_err(|e| backend("reading a block", e))?;
    match found {
        Some((key, value)) => Ok(Some((first_position_of_block_key(&key)?, value))),
        None => Ok(None),
    }
}

/// The last sealed position: the end of the last block (0 when nothing is sealed).
fn last_sealed_position(log: &sled::Tree) -> Result<u64, StoreError> {
    match block_at_or_before(log, u64::MAX)? {
        Some((first, value)) => Ok(BlockView::parse(first, &value)?.last_position()),
        None => Ok(0),
    }
}

/// Add to `writes` one block per full block of `records` (consecutive records, the first at
/// position `first`) and return how many records the blocks hold; the rest stay unsealed.
fn insert_full_blocks(writes: &mut sled::Batch, first: u64, records: &[&[u8]]) -> usize {
    let mut at = 0usize;
    for n in full_blocks(records.iter().map(|r| r.len())) {
        writes.insert(
            &block_key(first + at as u64)[..],
            encode_block(&records[at..at + n]),
        );
        at += n;
    }
    at
}

/// Seal every full block of unsealed records, in atomic batches of at most
/// [`SEAL_ON_OPEN_RECORDS_PER_BATCH_MAX`] records, and return the last sealed position and
/// the records left unsealed (fewer than one full block). Normally there is nothing to seal:
/// the writer seals as it commits. After an upgrade from layout 2 (or a crash during one)
/// every record is unsealed. The records are moved byte for byte; a gap in the unsealed
/// records is corruption and fails the open, naming the position.
fn seal_on_open(log: &sled::Tree) -> Result<(u64, Vec<Vec<u8>>), StoreError> {
    let mut sealed_through = last_sealed_position(log)?;
    loop {
        let first = sealed_through + 1;
        let mut unsealed: Vec<Vec<u8>> = Vec::new();
        for entry in log
            .range(record_key(first)..=record_key(u64::MAX))
            .take(SEAL_ON_OPEN_RECORDS_PER_BATCH_MAX)
        {
            let (key, bytes) = entry.map_err(|e| backend("reading unsealed records", e))?;
            let expected = first + unsealed.len() as u64;
            let position = position_of_record_key(&key)?;
            if position != expected {
                return Err(StoreError::Corrupt {
                    position: expected,
                    reason: format!("record is missing (the next stored one is {position})"),
                });
            }
            unsealed.push(bytes.to_vec());
        }
        let mut writes = sled::Batch::default();
        let records: Vec<&[u8]> = unsealed.iter().map(Vec::as_slice).collect();
        let sealed = insert_full_blocks(&mut writes, first, &records);
        if sealed == 0 {
            assert!(unsealed.len() < SEAL_ON_OPEN_RECORDS_PER_BATCH_MAX);
            return Ok((sealed_through, unsealed));
        }
        for position in first..first + sealed as u64 {
            writes.remove(&record_key(position)[..]);
        }
        log.apply_batch(writes)
            .map_err(|e| backend("sealing records into blocks", e))?;
        sealed_through += sealed as u64;
    }
}

/// Pack each stream's layout-2 index entries (one position per key) into chunks, one atomic
/// batch per group of streams, so every stream is either packed or not. Streams already
/// packed are left alone.
fn pack_stream_index(log: &sled::Tree) -> Result<(), StoreError> {
    let mut cursor = vec![KEY_PREFIX_STREAM_INDEX];
    let mut writes = sled::Batch::default();
    let mut entries_in_batch = 0usize;
    loop {
        let next = log
            .range(cursor.clone()..vec![KEY_PREFIX_STREAM_INDEX + 1])
            .next()
            .transpose()
            .map_err(|e| backend("reading the stream index", e))?;
        let Some((key, _)) = next else { break };
        let separator = key
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| StoreError::Corrupt {
                position: 0,
                reason: format!("stream index key {key:?} has no separator"),
            })?;
        let stream = String::from_utf8_lossy(&key[1..separator]).into_owned();
        let mut chunks: Vec<(u64, Vec<u64>)> = Vec::new();
        for entry in log.scan_prefix(&key[..=separator]) {
            let (key, value) = entry.map_err(|e| backend("reading the stream index", e))?;
            chunks.push((
                version_of_stream_index_key(&key)?,
                decode_chunk(&stream, &value)?,
            ));
        }
        let total: usize = chunks.iter().map(|(_, p)| p.len()).sum();
        if chunks.len() > total.div_ceil(STREAM_CHUNK_POSITIONS_MAX) {
            let mut entries = Vec::with_capacity(total);
            for (first, positions) in &chunks {
                for (i, &position) in positions.iter().enumerate() {
                    let version = first + i as u64;
                    if version != entries.len() as u64 + 1 {
                        return Err(StoreError::Corrupt {
                            position,
                            reason: format!(
                                "stream index of {stream} has version {version} where {} was expected",
                                entries.len() + 1
                            ),
                        });
                    }
                    entries.push((version, position));
                }
            }
            for (first, _) in &chunks {
                writes.remove(stream_index_key(&stream, *first));
            }
            for (first, positions) in extend_chunks(None, &entries) {
                writes.insert(stream_index_key(&stream, first), encode_chunk(&positions));
            }
            entries_in_batch += total;
        }
        if entries_in_batch >= PACK_ON_OPEN_ENTRIES_PER_BATCH_MAX {
            log.apply_batch(std::mem::take(&mut writes))
                .map_err(|e| backend("packing the stream index", e))?;
            entries_in_batch = 0;
        }
        // The next stream: every key of this one starts with `s` ‖ stream ‖ 0x00.
        cursor = key[..=separator].to_vec();
        *cursor.last_mut().unwrap() = 1;
    }
    log.apply_batch(writes)
        .map_err(|e| backend("packing the stream index", e))
}

/// Upgrade a layout-2 log in place (module doc): mark the upgrade and the new layout first,
/// then seal the records, pack the stream index, and remove the marker. Idempotent, so an
/// open after a crash in the middle finishes it.
fn upgrade_from_layout_2(db: &sled::Db, log: &sled::Tree) -> Result<(), StoreError> {
    let mut mark = sled::Batch::default();
    mark.insert(META_LAYOUT_KEY, &[LAYOUT_V3][..]);
    mark.insert(META_UPGRADING_KEY, &[LAYOUT_V2][..]);
    log.apply_batch(mark)
        .map_err(|e| backend("marking the layout upgrade", e))?;
    db.flush()
        .map_err(|e| backend("flushing the layout upgrade", e))?;
    seal_on_open(log)?;
    pack_stream_index(log)?;
    db.flush()
        .map_err(|e| backend("flushing the layout upgrade", e))?;
    log.remove(META_UPGRADING_KEY)
        .map_err(|e| backend("finishing the layout upgrade", e))?;
    db.flush()
        .map_err(|e| backend("flushing the layout upgrade", e))?;
    Ok(())
}

/// True when the caller runs on a multi-threaded tokio runtime, where committing inline
/// blocks one worker while the others keep queueing (module doc).
fn inline_commit_allowed() -> bool {
    matches!(
        tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()),
        Ok(tokio::runtime::RuntimeFlavor::MultiThread)
    )
}

impl SledStore {
    /// Open (or create) the store at `path`. Fails with [`StoreError::InUse`] if another
    /// process (or another handle in this one) has it open, and with
    /// [`StoreError::UnknownLayout`] if the directory holds a log in a layout this build does
    /// not read.
    pub fn open(path: impl AsRef<Path>, options: SledOptions) -> Result<SledStore, StoreError> {
        Self::open_with_cache(path, options, SLED_CACHE_CAPACITY_BYTES_DEFAULT)
    }

    /// [`SledStore::open`] with sled's page cache capped at `cache_capacity_bytes` (clamped to
    /// [`SLED_CACHE_CAPACITY_BYTES_MIN`]..=[`SLED_CACHE_CAPACITY_BYTES_DEFAULT`]). A reader that
    /// pages through the log once, such as a full read-model rebuild, gains nothing from a
    /// large cache: every page is read once, so a small cache bounds its resident memory
    /// without slowing it (operations.md "Memory"). The on-disk layout does not depend on it.
    ///
    /// A separate constructor rather than a field of [`SledOptions`], because callers build
    /// `SledOptions` with struct literals and a new field would break them.
    pub fn open_with_cache(
        path: impl AsRef<Path>,
        options: SledOptions,
        cache_capacity_bytes: u64,
    ) -> Result<SledStore, StoreError> {
        Self::open_waiting(path, options, cache_capacity_bytes, 0)
    }

    /// [`SledStore::open_with_cache`] that, when another process holds the store, waits up
    /// to `lock_wait_ms` (at most [`STORE_LOCK_WAIT_MS_MAX`]) for it to let go before failing
    /// with [`StoreError::InUse`]: a job started while another finishes (a nightly export
    /// behind an import) then queues instead of failing at once.
    pub fn open_waiting(
        path: impl AsRef<Path>,
        options: SledOptions,
        cache_capacity_bytes: u64,
        lock_wait_ms: u64,
    ) -> Result<SledStore, StoreError> {
        let cache_capacity_bytes = cache_capacity_bytes.clamp(
            SLED_CACHE_CAPACITY_BYTES_MIN,
            SLED_CACHE_CAPACITY_BYTES_DEFAULT,
        );
        let path = path.as_ref().to_path_buf();
        create_private_dir(&path)
            .map_err(|e| backend(&format!("creating {}", path.display()), e))?;
        let lock_path = path.join(LOCK_FILE_NAME);
        let lock = private_file_options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| backend(&format!("opening {}", lock_path.display()), e))?;
        lock_waiting(&lock, &path, lock_wait_ms.min(STORE_LOCK_WAIT_MS_MAX))?;

        let flush_every_ms = match options.durability {
            Durability::Buffered => Some(BUFFERED_FLUSH_EVERY_MS),
            // Durable modes flush on every group commit; the background flusher only adds
            // competing I/O.
            Durability::Flush | Durability::Fsync => None,
        };
        // We hold caseledger.lock, so no other caseledger process has this store open. sled's
        // own file lock can still be held for a moment by a handle of THIS process that was
        // just dropped (sled's background threads release their reference asynchronously), so
        // a lock failure here is retried for a bounded time before it is reported as InUse.
        let mut waited_ms: u64 = 0;
        let db = loop {
            let opened = sled::Config::new()
                .path(&path)
                .flush_every_ms(flush_every_ms)
                .cache_capacity(cache_capacity_bytes)
                .open();
            match opened {
                Ok(db) => break db,
                Err(sled::Error::Io(ref io))
                    if io.to_string().contains("could not acquire lock") =>
                {
                    if waited_ms >= SLED_LOCK_WAIT_MS_MAX {
                        return Err(StoreError::InUse {
                            path: path.display().to_string(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(SLED_LOCK_RETRY_MS));
                    waited_ms += SLED_LOCK_RETRY_MS;
                }
                Err(other) => {
                    return Err(backend(
                        &format!("opening sled at {}", path.display()),
                        other,
                    ))
                }
            }
        };
        let (log, layout) = check_layout(&db, &path)?;
        let upgrading = log
            .contains_key(META_UPGRADING_KEY)
            .map_err(|e| backend("reading meta", e))?;
        if layout == LAYOUT_V2 || upgrading {
            upgrade_from_layout_2(&db, &log)?;
        }
        let (sealed_through, unsealed) = seal_on_open(&log)?;
        db.flush()
            .map_err(|e| backend("flushing sealed records", e))?;

        let tip = match unsealed.last() {
            Some(bytes) => Tip::after(&decode_at(sealed_through + unsealed.len() as u64, bytes)?),
            None if sealed_through > 0 => {
                let record =
                    read_record_from(&log, sealed_through, &mut None)?.ok_or_else(|| {
                        StoreError::Corrupt {
                            position: sealed_through,
                            reason: "the last sealed record is missing from its block".into(),
                        }
                    })?;
                Tip::after(&record)
            }
            None => Tip::empty(),
        };
        let consumers = db
            .open_tree(TREE_CONSUMERS)
            .map_err(|e| backend(&format!("opening tree {TREE_CONSUMERS}"), e))?;
        let (head, head_rx) = watch::channel(tip.head);
        let counters = Arc::new(Counters::default());
        let shared = Arc::new(Shared {
            writer: Mutex::new(Writer {
                db: db.clone(),
                path: path.clone(),
                log: log.clone(),
                durability: options.durability,
                clock: options.clock,
                tip,
                head: head.clone(),
                counters: Arc::clone(&counters),
                versions: StreamVersions::default(),
                sealed_through,
                unsealed,
                failed: None,
            }),
            queued: AtomicU64::new(0),
            appends_in_flight: AtomicU64::new(0),
        });
        let (requests, receiver) = std_mpsc::sync_channel(APPEND_QUEUE_DEPTH_MAX);
        let thread_shared = Arc::clone(&shared);
        let writer_thread = std::thread::Builder::new()
            .name("caseledger-writer".into())
            .spawn(move || run_writer_thread(&thread_shared, &receiver))
            .map_err(|e| backend("starting the writer thread", e))?;
        Ok(SledStore {
            path,
            db,
            log,
            head,
            head_rx,
            shared,
            requests: Some(requests),
            writer_thread: Some(writer_thread),
            counters,
            consumers,
            consumers_lock: Mutex::new(()),
            durability: options.durability,
            _lock: lock,
            read_only: None,
        })
    }

    /// Open the store at `path` to read it without writing anything there: no byte of its
    /// files changes and no file is created in it, so it opens on a full disk and on a
    /// read-only mount.
    ///
    /// sled 0.34 has no read-only mode: opening a store recovers it, which zeroes the tail
    /// of its last segment in `db` and writes a new `snap.*` file. So the store's files are
    /// copied into a new private directory under `scratch` (which needs room for one copy of
    /// the store: put it on another filesystem, e.g. `TMPDIR=/dev/shm`, when the store's is
    /// full) and the copy is opened; the copy is removed when the handle is dropped. While the
    /// copy is taken a shared lock on the original's `caseledger.lock` (or, without one, on its
    /// `db`) keeps writers out; a writer holding the store is waited for up to `lock_wait_ms`,
    /// then [`StoreError::InUse`]. Appends and acknowledgements through the handle are refused.
    pub fn open_read_only(
        path: impl AsRef<Path>,
        scratch: &Path,
        cache_capacity_bytes: u64,
        lock_wait_ms: u64,
    ) -> Result<SledStore, StoreError> {
        let original = path.as_ref().to_path_buf();
        let lock_path = [LOCK_FILE_NAME, "db"]
            .into_iter()
            .map(|name| original.join(name))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                backend(
                    &format!("opening {} read-only", original.display()),
                    "no caseledger store there",
                )
            })?;
        let shared_lock = File::open(&lock_path)
            .map_err(|e| backend(&format!("opening {}", lock_path.display()), e))?;
        lock_shared_waiting(
            &shared_lock,
            &original,
            lock_wait_ms.min(STORE_LOCK_WAIT_MS_MAX),
        )?;
        create_private_dir(scratch)
            .map_err(|e| backend(&format!("creating {}", scratch.display()), e))?;
        let copy = scratch.join(format!(
            "caseledger-read-only-{}-{}",
            std::process::id(),
            SystemClock.now_us()
        ));
        let read_only = ReadOnlyCopy {
            original: original.clone(),
            _shared_lock: shared_lock,
            scratch: copy.clone(),
        };
        copy_store(&original, &copy).map_err(|e| {
            backend(
                &format!(
                    "copying {} to {} to read it without writing to it (the scratch directory \
                     needs room for one copy of the store; set TMPDIR to another filesystem)",
                    original.display(),
                    copy.display()
                ),
                e,
            )
        })?;
        let mut store = open_recovered_copy(&copy, &original, cache_capacity_bytes)?;
        store.read_only = Some(Box::new(read_only));
        Ok(store)
    }

    /// Whether this handle was opened with [`SledStore::open_read_only`].
    pub fn is_read_only(&self) -> bool {
        self.read_only.is_some()
    }

    /// Refuse a write on a read-only handle.
    fn writable(&self) -> Result<(), StoreError> {
        match &self.read_only {
            Some(copy) => Err(read_only_error(&copy.original)),
            None => Ok(()),
        }
    }

    /// Events of `stream` from `from_version`, at most `max_count` (version order).
    fn read_stream_up_to(
        &self,
        stream: &StreamId,
        from_version: u64,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let head = self.published_head();
        let from = from_version.max(1);
        let name = stream.as_str();
        // Start at the chunk holding `from` (the last one keyed at or below it).
        let start = self
            .log
            .range(stream_index_key(name, 0)..=stream_index_key(name, from))
            .next_back()
            .transpose()
            .map_err(|e| backend("reading the stream index", e))?
            .map_or_else(|| stream_index_key(name, from), |(key, _)| key.to_vec());
        let end = stream_index_key(name, u64::MAX);
        let mut out = Vec::new();
        let mut cached = None;
        for entry in self.log.range(start..=end) {
            let (key, value) = entry.map_err(|e| backend("reading the stream index", e))?;
            let first = version_of_stream_index_key(&key)?;
            for (i, position) in decode_chunk(name, &value)?.into_iter().enumerate() {
                if first + (i as u64) < from {
                    continue;
                }
                if out.len() >= max_count {
                    return Ok(out);
                }
                if position > head {
                    // Committed but not yet published (still being flushed): not there yet.
                    return Ok(out);
                }
                let record =
                    read_record_from(&self.log, position, &mut cached)?.ok_or_else(|| {
                        StoreError::Corrupt {
                            position,
                            reason: format!("stream index of {stream} points at a missing record"),
                        }
                    })?;
                out.push(record);
            }
        }
        Ok(out)
    }

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

    fn send(&self, request: Request) -> Result<(), StoreError> {
        let requests = self.requests.as_ref().ok_or(StoreError::Closed)?;
        // Count before sending so the writer thread never decrements below zero.
        self.shared.queued.fetch_add(1, Ordering::AcqRel);
        requests.try_send(request).map_err(|e| {
            self.shared.queued.fetch_sub(1, Ordering::AcqRel);
            match e {
                std_mpsc::TrySendError::Full(_) => StoreError::QueueFull {
                    depth_max: APPEND_QUEUE_DEPTH_MAX,
                },
                std_mpsc::TrySendError::Disconnected(_) => StoreError::Closed,
            }
        })
    }

    /// Commit `append` on the calling thread if it is the only append in flight and nobody is
    /// writing or queued; `Err` hands the append back to be queued.
    fn try_commit_inline(
        &self,
        append: Append,
        alone: bool,
    ) -> Result<Result<AppendResult, StoreError>, Append> {
        if !alone || self.shared.queued.load(Ordering::Acquire) != 0 || !inline_commit_allowed() {
            return Err(append);
        }
        let mut writer = match self.shared.writer.try_lock() {
            Ok(writer) => writer,
            Err(TryLockError::WouldBlock) => return Err(append),
            Err(TryLockError::Poisoned(_)) => return Ok(Err(writer_panicked())),
        };
        let batches_before = self.counters.batches.load(Ordering::Relaxed);
        let mut answers = writer.commit(vec![append]);
        assert_eq!(answers.len(), 1, "one answer per append");
        if self.counters.batches.load(Ordering::Relaxed) != batches_before {
            self.counters.inline_batches.fetch_add(1, Ordering::Relaxed);
        }
        Ok(answers.remove(0))
    }

    fn stored_consumer_position(&self, name: &ConsumerName) -> Result<Option<u64>, StoreError> {
        self.consumers
            .get(name.as_str())
            .map_err(|e| backend("reading a consumer checkpoint", e))?
            .map(|v| u64_from(&v, "consumer checkpoint"))
            .transpose()
    }

    fn published_head(&self) -> u64 {
        *self.head_rx.borrow()
    }

    fn read_record(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        read_record_from(&self.log, position, &mut None)
    }

    /// Visit the stored bytes of every record from `from` to `to` in position order, sealed
    /// (from blocks) or not (under their own keys), until `visit` returns false. A record that
    /// cannot be found, or a block that does not parse, is visited as `Err(Corrupt)` and ends
    /// the walk. Backend failures are returned.
    fn visit_records(
        &self,
        from: u64,
        to: u64,
        mut visit: impl FnMut(u64, Result<&[u8], StoreError>) -> bool,
    ) -> Result<(), StoreError> {
        let mut position = from;
        let mut looked_twice_at = None;
        while position <= to {
            if let Some((first, value)) = block_at_or_before(&self.log, position)? {
                match BlockView::parse(first, &value) {
                    Ok(block) if block.last_position() >= position => {
                        let last = block.last_position().min(to);
                        for p in position..=last {
                            let bytes = block.record(p).expect("the block holds p");
                            if !visit(p, Ok(bytes)) {
                                return Ok(());
                            }
                        }
                        position = last + 1;
                        continue;
                    }
                    // The last block ends before `position`: it is unsealed.
                    Ok(_) => {}
                    Err(e) => {
                        visit(position, Err(e));
                        return Ok(());
                    }
                }
            }
            let start = position;
            for entry in self.log.range(record_key(position)..=record_key(to)) {
                let (key, bytes) = entry.map_err(|e| backend("reading records", e))?;
                if position_of_record_key(&key)? != position {
                    // A gap: sealed while we read (the next round finds its block) or missing.
                    break;
                }
                if !visit(position, Ok(&bytes)) {
                    return Ok(());
                }
                position += 1;
            }
            if position == start {
                // Neither in a block nor under its own key: either the writer sealed it
                // between our two reads (so it is in a block now), or it is missing.
                if looked_twice_at == Some(position) {
                    visit(
                        position,
                        Err(StoreError::Corrupt {
                            position,
                            reason: "record is missing".into(),
                        }),
                    );
                    return Ok(());
                }
                looked_twice_at = Some(position);
            }
        }
        Ok(())
    }
}

/// The record at `position`: under its own key if unsealed, else in its block (`cached`
/// keeps the last block read, so reading a stream's records in order reads each block once).
/// Own key first: sealing moves a record from its key into a block in one atomic batch and
/// never back, so in this order a record being sealed is not missed.
fn read_record_from(
    log: &sled::Tree,
    position: u64,
    cached: &mut Option<(u64, sled::IVec)>,
) -> Result<Option<RecordedEvent>, StoreError> {
    if let Some((first, value)) = cached.as_ref() {
        let block = BlockView::parse(*first, value)?;
        if let Some(bytes) = block.record(position) {
            return decode_at(position, bytes).map(Some);
        }
    }
    if let Some(bytes) = log
        .get(record_key(position))
        .map_err(|e| backend("reading a record", e))?
    {
        return decode_at(position, &bytes).map(Some);
    }
    let Some((first, value)) = block_at_or_before(log, position)? else {
        return Ok(None);
    };
    let record = match BlockView::parse(first, &value)?.record(position) {
        Some(bytes) => Some(decode_at(position, bytes)?),
        None => None,
    };
    *cached = Some((first, value));
    Ok(record)
}

fn writer_panicked() -> StoreError {
    StoreError::Backend(
        "the writer stopped after an internal error (a broken invariant); reopen the store".into(),
    )
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
    async fn append_keyed(
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
        };
        let (_in_flight, alone) = InFlight::enter(&self.shared.appends_in_flight);
        let append = match self.try_commit_inline(append, alone) {
            Ok(answer) => return answer,
            Err(append) => append,
        };
        let (reply, answer) = oneshot::channel();
        self.send(Request::Append(append, reply))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }
}

#[async_trait]
impl EventStore for SledStore {
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

    async fn append_fingerprinted(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
        key: IdempotencyKey,
    ) -> Result<AppendResult, StoreError> {
        self.append_keyed(stream, expected, events, Some(key)).await
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

    async fn verify(
        &self,
        from_position: u64,
        to_position: Option<u64>,
    ) -> Result<VerifyReport, StoreError> {
        let head = self.published_head();
        let from = from_position.max(1);
        let to = to_position.unwrap_or(head).min(head);
        if from > to {
            return Ok(VerifyReport {
                from_position: from,
                to_position: to,
                records_checked: 0,
                first_bad: None,
            });
        }
        let mut verifier = if from > 1 {
            match self.read_record(from - 1) {
                Ok(Some(previous)) => hash::ChainVerifier::after(Some(&previous)),
                Ok(None) => {
                    let mut v = hash::ChainVerifier::after(None);
                    v.mark_bad(from - 1, "record is missing");
                    return Ok(v.finish(to));
                }
                Err(e) => {
                    let mut v = hash::ChainVerifier::after(None);
                    v.mark_bad(from - 1, e.to_string());
                    return Ok(v.finish(to));
                }
            }
        } else {
            hash::ChainVerifier::after(None)
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

/// The writer thread: wait for a request, then take the writer and drain everything queued
/// into one group commit. Exits when the store closes the channel (drop).
fn run_writer_thread(shared: &Shared, receiver: &std_mpsc::Receiver<Request>) {
    while let Ok(first) = receiver.recv() {
        // Waiting for the lock (an inline commit in progress) lets more requests queue up,
        // so take the lock before draining.
        let mut writer = lock_writer(shared);
        let mut appends = Vec::new();
        let mut replies = Vec::new();
        let mut flushes = Vec::new();
        let mut taken: u64 = 0;
        let mut events = 0usize;
        let mut next = Some(first);
        while let Some(request) = next.take() {
            taken += 1;
            match request {
                Request::Append(append, reply) => {
                    events += append.events.len();
                    appends.push(append);
                    replies.push(reply);
                }
                Request::Flush(reply) => flushes.push(reply),
            }
            if appends.len() < BATCH_APPENDS_MAX && events < BATCH_EVENTS_MAX {
                next = receiver.try_recv().ok();
            }
        }
        let before = shared.queued.fetch_sub(taken, Ordering::AcqRel);
        assert!(before >= taken, "queued count {before} < taken {taken}");
        let answers = match writer.as_mut() {
            Some(writer) => writer.commit(appends),
            None => appends.iter().map(|_| Err(writer_panicked())).collect(),
        };
        let flushed: Vec<_> = flushes
            .iter()
            .map(|_| match writer.as_ref() {
                Some(writer) => writer.flush(Durability::Flush),
                None => Err(writer_panicked()),
            })
            .collect();
        drop(writer);
        assert_eq!(answers.len(), replies.len(), "one answer per append");
        for (reply, answer) in replies.into_iter().zip(answers) {
            // A caller that gave up (dropped its future) does not undo the commit.
            let _ = reply.send(answer);
        }
        for (reply, answer) in flushes.into_iter().zip(flushed) {
            let _ = reply.send(answer);
        }
    }
    // Queue closed: the store is being dropped. Make buffered appends durable.
    if let Some(writer) = lock_writer(shared).as_ref() {
        let _ = writer.flush(Durability::Flush);
    }
}

/// The writer, or `None` if a commit panicked while holding it (a broken internal
/// invariant): its state can no longer be trusted, so every later append is refused.
fn lock_writer(shared: &Shared) -> Option<MutexGuard<'_, Writer>> {
    shared.writer.lock().ok()
}

/// The single owner of position assignment.
struct Writer {
    db: sled::Db,
    path: PathBuf,
    log: sled::Tree,
    durability: Durability,
    clock: Arc<dyn Clock>,
    tip: Tip,
    head: watch::Sender<u64>,
    counters: Arc<Counters>,
    versions: StreamVersions,
    /// The last position sealed into a block; the records after it are `unsealed`.
    sealed_through: u64,
    /// The stored bytes of the records `sealed_through + 1 ..= head`, fewer than one full
    /// block (at most `BLOCK_RECORDS_MAX - 1` records): kept so sealing them needs no read.
    unsealed: Vec<Vec<u8>>,
    /// Set when a commit's outcome is unknown (the batch or the flush failed): from then on
    /// the writer refuses everything, because it can no longer say what is on disk. Reopen
    /// to recover.
    failed: Option<String>,
}

impl Writer {
    fn flush(&self, durability: Durability) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| backend("sled flush", e))?;
        if durability == Durability::Fsync {
            fsync_tree(&self.path).map_err(|e| backend("fsync of the store directory", e))?;
        }
        Ok(())
    }

    /// Decide and commit `appends` as one group commit; one answer per append, in order.
    fn commit(&mut self, appends: Vec<Append>) -> Vec<Result<AppendResult, StoreError>> {
        if let Some(reason) = &self.failed {
            return appends
                .iter()
                .map(|_| {
                    Err(StoreError::Backend(format!(
                        "the store stopped accepting writes after an earlier failure ({reason}); reopen it"
                    )))
                })
                .collect();
        }
        let mut batch = Batch::begin(self.tip.clone(), self.clock.now_us());
        let mut lookup = SledLookup {
            log: &self.log,
            versions: &mut self.versions,
        };
        let mut answers = Vec::with_capacity(appends.len());
        for a in appends {
            answers.push(batch.decide(
                &mut lookup,
                &a.stream,
                a.expected,
                a.events,
                a.idempotency_key,
            ));
        }
        self.counters
            .appends
            .fetch_add(answers.len() as u64, Ordering::Relaxed);
        if batch.is_empty() {
            return answers;
        }
        if let Err(e) = self.write(&batch) {
            // Nothing of this batch is acknowledged; the writer is stopped (`failed`) because
            // the batch may or may not be on disk.
            return answers
                .into_iter()
                .map(|answer| match answer {
                    Ok(_) => Err(e.clone()),
                    refused => refused,
                })
                .collect();
        }
        let events = batch.records().len() as u64;
        assert_eq!(
            batch.tip().head,
            self.tip.head + events,
            "positions are gapless"
        );
        self.tip = batch.tip().clone();
        // (`write` has put each written stream's new last chunk in `versions`.)
        self.counters.batches.fetch_add(1, Ordering::Relaxed);
        self.counters.events.fetch_add(events, Ordering::Relaxed);
        // Publish only now: in the durable modes the batch is flushed, so no reader ever sees
        // an event a crash could take back.
        self.head.send_replace(self.tip.head);
        answers
    }

    /// ONE atomic sled batch (records, the blocks they fill, stream index chunks,
    /// idempotency) and, in the durable modes, ONE flush.
    fn write(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let mut writes = sled::Batch::default();
        assert_eq!(batch.records().len(), batch.encoded().len());
        let first_unsealed = self.sealed_through + 1;
        if let Some(first) = batch.records().first() {
            assert_eq!(
                first.position,
                first_unsealed + self.unsealed.len() as u64,
                "the batch follows the unsealed records"
            );
        }
        // The unsealed records and this batch's, packed into full blocks from the first
        // unsealed position; what does not fill a block is stored under its own key.
        let unsealed: Vec<&[u8]> = self
            .unsealed
            .iter()
            .chain(batch.encoded())
            .map(Vec::as_slice)
            .collect();
        let sealed = insert_full_blocks(&mut writes, first_unsealed, &unsealed);
        let stored_before = self.unsealed.len();
        for (i, bytes) in unsealed.iter().enumerate() {
            let key = record_key(first_unsealed + i as u64);
            match (i < sealed, i < stored_before) {
                // Stored under its own key by an earlier commit, now in a block.
                (true, true) => writes.remove(&key[..]),
                // New and not in a full block yet.
                (false, false) => writes.insert(&key[..], *bytes),
                // New and sealed straight into a block, or stored and still unsealed.
                _ => {}
            }
        }
        let still_unsealed: Vec<Vec<u8>> = unsealed[sealed..].iter().map(|r| r.to_vec()).collect();
        // Stream index: each stream's new entries extend its last chunk.
        let mut per_stream: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
        for (stream, version, position) in batch.index() {
            per_stream
                .entry(stream.as_str())
                .or_default()
                .push((*version, *position));
        }
        let mut last_chunks: Vec<(&str, LastChunk)> = Vec::with_capacity(per_stream.len());
        for (stream, entries) in per_stream {
            let last = match self.versions.0.get(stream) {
                Some(cached) => cached.clone(),
                None => last_chunk(&self.log, stream)?,
            };
            let chunks = extend_chunks(last, &entries);
            for (first, positions) in &chunks {
                writes.insert(stream_index_key(stream, *first), encode_chunk(positions));
            }
            last_chunks.push((stream, chunks.into_iter().next_back()));
        }
        for (key, entry) in batch.keys() {
            writes.insert(&idempotency_key(key)[..], encode_idempotency(entry)?);
        }
        let outcome = self
            .log
            .apply_batch(writes)
            .map_err(|e| backend("committing a batch", e))
            .and_then(|()| match self.durability {
                Durability::Buffered => Ok(()),
                durable => self.flush(durable),
            });
        match &outcome {
            Ok(()) => {
                self.sealed_through += sealed as u64;
                self.unsealed = still_unsealed;
                for (stream, last) in last_chunks {
                    self.versions.insert(stream, last);
                }
            }
            Err(e) => self.failed = Some(e.to_string()),
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_idempotency_entry_of_format_1_decodes_with_an_unknown_fingerprint() {
        let result = AppendResult {
            first_position: 3,
            last_position: 4,
            stream_version: 2,
            recorded_at_us: 7,
            deduplicated: false,
        };
        let v1 = codec::encode_payload(&StoredIdempotencyV1 {
            format: codec::RECORD_FORMAT_V1,
            stream_id: "X000001".into(),
            result,
        })
        .unwrap();
        let entry = decode_idempotency(&v1).unwrap();
        assert_eq!(entry.stream_id, "X000001");
        assert_eq!(entry.result, result);
        assert_eq!(entry.fingerprint, None);
        let v2 = encode_idempotency(&IdempotencyEntry {
            fingerprint: Some([9; 32]),
            ..entry
        })
        .unwrap();
        assert_eq!(v2[0], IDEMPOTENCY_FORMAT_V2);
        assert_eq!(decode_idempotency(&v2).unwrap().fingerprint, Some([9; 32]));
        assert!(decode_idempotency(&[7, 0, 0]).is_err());
    }
    use crate::sled_layout::KEY_PREFIX_BLOCK;

    #[test]
    fn the_stream_version_cache_stays_within_its_limit() {
        let mut versions = StreamVersions::default();
        for n in 0..=STREAM_VERSIONS_CACHED_MAX as u64 {
            versions.insert(&format!("S{n}"), Some((1, vec![n + 1])));
        }
        assert_eq!(versions.0.len(), 1, "emptied when full, then refilled");
        versions.insert("S0", Some((1, vec![5; 9])));
        versions.insert("S0", Some((33, vec![7, 8])));
        assert_eq!(versions.version("S0"), Some(34));
        versions.insert("S1", None);
        assert_eq!(versions.version("S1"), Some(0));
        assert_eq!(versions.version("S2"), None);
    }

    #[test]
    fn keys_of_each_kind_sort_apart_and_in_numeric_order() {
        assert!(record_key(1) < record_key(2));
        assert!(record_key(255) < record_key(256));
        assert!(stream_index_key("X1", 9) < stream_index_key("X1", 10));
        // A stream that is a prefix of another never interleaves with it (0x00 separator).
        assert!(stream_index_key("X1", u64::MAX) < stream_index_key("X10", 0));
        let prefixes = [
            record_key(7)[0],
            block_key(7)[0],
            stream_index_key("X1", 1)[0],
            idempotency_key(&Uuid::nil())[0],
            META_LAYOUT_KEY[0],
        ];
        let distinct: std::collections::BTreeSet<u8> = prefixes.iter().copied().collect();
        assert_eq!(distinct.len(), prefixes.len(), "{prefixes:?}");
        assert_eq!(position_of_record_key(&record_key(300)), Ok(300));
        assert!(position_of_record_key(&stream_index_key("X1", 1)).is_err());
        assert!(position_of_record_key(&block_key(1)).is_err());
        assert_eq!(first_position_of_block_key(&block_key(300)), Ok(300));
        assert!(block_key(255) < block_key(256));
        assert_eq!(block_key(1)[0], KEY_PREFIX_BLOCK);
    }
}
