//! `SledStore`: the durable event log on sled `=0.34.7`.
//!
//! Layout (all keys fixed-width big-endian so byte order is numeric order):
//!
//! | tree           | key                                   | value                          |
//! |----------------|---------------------------------------|--------------------------------|
//! | `records`      | position (u64 BE)                     | `codec::encode_record`         |
//! | `stream_index` | stream id ‖ 0x00 ‖ version (u64 BE)   | position (u64 BE)              |
//! | `stream_heads` | stream id                             | current version (u64 BE)       |
//! | `idempotency`  | command id (16 bytes)                 | codec-encoded stream + result  |
//! | `meta`         | `format`                              | record format version byte     |
//!
//! Stream ids are printable ASCII, so the 0x00 separator makes stream prefixes unambiguous.
//!
//! Writes: ONE writer thread owns position assignment. Callers queue appends on a bounded
//! channel ([`APPEND_QUEUE_DEPTH_MAX`]); the writer drains a batch, decides each append with
//! the shared planner (a stale expected version fails only that append; later appends see
//! earlier ones), commits all accepted appends in ONE sled transaction over the four trees and
//! ONE flush (group commit), then publishes the new head and answers every caller.
//!
//! The writer is a dedicated OS thread rather than a tokio task: sled's transaction and flush
//! block, and blocking inside a tokio task would stall a `current_thread` runtime (the default
//! of `#[tokio::test]`) and starve other tasks on a multi-threaded one.
//!
//! Readers see only the published head: a record committed but not yet flushed (in a durable
//! mode) is invisible, so nobody can observe an event that a crash could still take back.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError, Transactional};
use tokio::sync::{mpsc, oneshot, watch};
use uuid::Uuid;

use crate::planner::{Batch, IdempotencyEntry, Lookup, Tip};
use crate::validate::validate_append;
use crate::{
    codec, hash, AppendResult, Clock, Durability, EventStore, ExpectedVersion, NewEvent,
    RecordedEvent, StoreError, StreamId, SystemClock, VerifyReport, APPEND_QUEUE_DEPTH_MAX,
    BATCH_APPENDS_MAX, BATCH_EVENTS_MAX, READ_ALL_PAGE_EVENTS_MAX,
};

/// Name of the lock file caseledger holds (besides sled's own lock) while a store is open.
pub const LOCK_FILE_NAME: &str = "caseledger.lock";
/// How often sled's background thread flushes in `Buffered` mode, in milliseconds.
pub const BUFFERED_FLUSH_EVERY_MS: u64 = 1_000;

const TREE_RECORDS: &str = "records";
const TREE_STREAM_INDEX: &str = "stream_index";
const TREE_STREAM_HEADS: &str = "stream_heads";
const TREE_IDEMPOTENCY: &str = "idempotency";
const TREE_META: &str = "meta";
const META_FORMAT: &[u8] = b"format";

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
    /// Group commits made (one transaction + one flush each).
    pub batches: u64,
    /// Appends answered (accepted, refused or deduplicated).
    pub appends: u64,
    /// Events written.
    pub events: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    appends: AtomicU64,
    events: AtomicU64,
}

#[derive(Clone)]
struct Trees {
    records: sled::Tree,
    stream_index: sled::Tree,
    stream_heads: sled::Tree,
    idempotency: sled::Tree,
}

struct AppendRequest {
    stream: StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    idempotency_key: Option<Uuid>,
    reply: oneshot::Sender<Result<AppendResult, StoreError>>,
}

enum Request {
    Append(AppendRequest),
    Flush(oneshot::Sender<Result<(), StoreError>>),
}

/// The stored value of the idempotency index (versioned through the codec like records).
#[derive(Serialize, Deserialize)]
struct StoredIdempotency {
    format: u8,
    entry: IdempotencyEntry,
}

/// The durable event log.
pub struct SledStore {
    path: PathBuf,
    db: sled::Db,
    trees: Trees,
    head: watch::Sender<u64>,
    head_rx: watch::Receiver<u64>,
    requests: Option<mpsc::Sender<Request>>,
    writer: Option<JoinHandle<()>>,
    counters: Arc<Counters>,
    /// Held for the life of the store: a second opener (any process) fails with `InUse`.
    _lock: File,
}

fn backend(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(format!("{context}: {e}"))
}

fn position_key(position: u64) -> [u8; 8] {
    position.to_be_bytes()
}

fn stream_index_key(stream: &str, version: u64) -> Vec<u8> {
    let mut key = Vec::with_capacity(stream.len() + 9);
    key.extend_from_slice(stream.as_bytes());
    key.push(0);
    key.extend_from_slice(&version.to_be_bytes());
    key
}

fn u64_from(bytes: &[u8], what: &str) -> Result<u64, StoreError> {
    let array: [u8; 8] = bytes.try_into().map_err(|_| StoreError::Corrupt {
        position: 0,
        reason: format!("{what} is {} bytes, expected 8", bytes.len()),
    })?;
    Ok(u64::from_be_bytes(array))
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
        format: codec::RECORD_FORMAT_V1,
        entry: entry.clone(),
    })
}

fn decode_idempotency(bytes: &[u8]) -> Result<IdempotencyEntry, StoreError> {
    let stored: StoredIdempotency = codec::decode_payload(bytes)
        .map_err(|e| StoreError::Codec(format!("idempotency index entry: {e}")))?;
    if stored.format != codec::RECORD_FORMAT_V1 {
        return Err(StoreError::Codec(format!(
            "idempotency index entry has format {}; this build reads {}",
            stored.format,
            codec::RECORD_FORMAT_V1
        )));
    }
    Ok(stored.entry)
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

struct SledLookup<'a>(&'a Trees);

impl Lookup for SledLookup<'_> {
    fn stream_version(&mut self, stream: &str) -> Result<u64, StoreError> {
        match self
            .0
            .stream_heads
            .get(stream.as_bytes())
            .map_err(|e| backend("reading stream head", e))?
        {
            Some(bytes) => u64_from(&bytes, "stream head"),
            None => Ok(0),
        }
    }
    fn idempotency(&mut self, key: &Uuid) -> Result<Option<IdempotencyEntry>, StoreError> {
        match self
            .0
            .idempotency
            .get(key.as_bytes())
            .map_err(|e| backend("reading idempotency index", e))?
        {
            Some(bytes) => decode_idempotency(&bytes).map(Some),
            None => Ok(None),
        }
    }
}

impl SledStore {
    /// Open (or create) the store at `path`. Fails with [`StoreError::InUse`] if another
    /// process (or another handle in this one) has it open.
    pub fn open(path: impl AsRef<Path>, options: SledOptions) -> Result<SledStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path)
            .map_err(|e| backend(&format!("creating {}", path.display()), e))?;
        let lock_path = path.join(LOCK_FILE_NAME);
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| backend(&format!("opening {}", lock_path.display()), e))?;
        fs2::FileExt::try_lock_exclusive(&lock).map_err(|e| lock_error(&path, &e))?;

        let flush_every_ms = match options.durability {
            Durability::Buffered => Some(BUFFERED_FLUSH_EVERY_MS),
            // Durable modes flush on every group commit; the background flusher only adds
            // competing I/O.
            Durability::Flush | Durability::Fsync => None,
        };
        let db = sled::Config::new()
            .path(&path)
            .flush_every_ms(flush_every_ms)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(ref io) if io.to_string().contains("could not acquire lock") => {
                    StoreError::InUse {
                        path: path.display().to_string(),
                    }
                }
                other => backend(&format!("opening sled at {}", path.display()), other),
            })?;
        let open_tree = |name: &str| {
            db.open_tree(name)
                .map_err(|e| backend(&format!("opening tree {name}"), e))
        };
        let trees = Trees {
            records: open_tree(TREE_RECORDS)?,
            stream_index: open_tree(TREE_STREAM_INDEX)?,
            stream_heads: open_tree(TREE_STREAM_HEADS)?,
            idempotency: open_tree(TREE_IDEMPOTENCY)?,
        };
        let meta = open_tree(TREE_META)?;
        match meta
            .get(META_FORMAT)
            .map_err(|e| backend("reading meta", e))?
        {
            Some(v) if v.as_ref() == [codec::RECORD_FORMAT_V1] => {}
            Some(v) => {
                return Err(StoreError::Codec(format!(
                    "store at {} has format {:?}; this build reads format {}",
                    path.display(),
                    v.as_ref(),
                    codec::RECORD_FORMAT_V1
                )))
            }
            None => {
                meta.insert(META_FORMAT, &[codec::RECORD_FORMAT_V1])
                    .map_err(|e| backend("writing meta", e))?;
                db.flush().map_err(|e| backend("flushing meta", e))?;
            }
        }

        let tip = match trees
            .records
            .last()
            .map_err(|e| backend("reading the last record", e))?
        {
            Some((key, bytes)) => {
                let position = u64_from(&key, "record key")?;
                Tip::after(&decode_at(position, &bytes)?)
            }
            None => Tip::empty(),
        };
        let (head, head_rx) = watch::channel(tip.head);
        let (requests, receiver) = mpsc::channel(APPEND_QUEUE_DEPTH_MAX);
        let counters = Arc::new(Counters::default());
        let writer = Writer {
            db: db.clone(),
            path: path.clone(),
            trees: trees.clone(),
            durability: options.durability,
            clock: options.clock,
            tip,
            head: head.clone(),
            counters: Arc::clone(&counters),
            failed: None,
        };
        let writer = std::thread::Builder::new()
            .name("caseledger-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|e| backend("starting the writer thread", e))?;
        Ok(SledStore {
            path,
            db,
            trees,
            head,
            head_rx,
            requests: Some(requests),
            writer: Some(writer),
            counters,
            _lock: lock,
        })
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
        requests.try_send(request).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => StoreError::QueueFull {
                depth_max: APPEND_QUEUE_DEPTH_MAX,
            },
            mpsc::error::TrySendError::Closed(_) => StoreError::Closed,
        })
    }

    fn published_head(&self) -> u64 {
        *self.head_rx.borrow()
    }

    fn read_record(&self, position: u64) -> Result<Option<RecordedEvent>, StoreError> {
        match self
            .trees
            .records
            .get(position_key(position))
            .map_err(|e| backend("reading a record", e))?
        {
            Some(bytes) => decode_at(position, &bytes).map(Some),
            None => Ok(None),
        }
    }
}

impl Drop for SledStore {
    fn drop(&mut self) {
        // Closing the queue lets the writer finish what is queued, flush and exit; joining it
        // means the sled files are released when drop returns, so the path can be reopened.
        drop(self.requests.take());
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        let _ = self.db.flush();
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
        validate_append(stream, expected, &events)?;
        let (reply, answer) = oneshot::channel();
        self.send(Request::Append(AppendRequest {
            stream: stream.clone(),
            expected,
            events,
            idempotency_key,
            reply,
        }))?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn read_stream(
        &self,
        stream: &StreamId,
        from_version: u64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let head = self.published_head();
        let start = stream_index_key(stream.as_str(), from_version.max(1));
        let end = stream_index_key(stream.as_str(), u64::MAX);
        let mut out = Vec::new();
        for entry in self.trees.stream_index.range(start..=end) {
            let (_, value) = entry.map_err(|e| backend("reading the stream index", e))?;
            let position = u64_from(&value, "stream index entry")?;
            if position > head {
                // Committed but not yet published (still being flushed): not there yet.
                break;
            }
            let record = self
                .read_record(position)?
                .ok_or_else(|| StoreError::Corrupt {
                    position,
                    reason: format!("stream index of {stream} points at a missing record"),
                })?;
            out.push(record);
        }
        Ok(out)
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
        for entry in self
            .trees
            .records
            .range(position_key(from)..=position_key(to))
        {
            let (key, bytes) = entry.map_err(|e| backend("reading records", e))?;
            out.push(decode_at(u64_from(&key, "record key")?, &bytes)?);
        }
        Ok(out)
    }

    async fn head(&self) -> Result<u64, StoreError> {
        Ok(self.published_head())
    }

    fn watch_head(&self) -> watch::Receiver<u64> {
        self.head.subscribe()
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
            let mut expected = page_from;
            for entry in self
                .trees
                .records
                .range(position_key(page_from)..=position_key(page_to))
            {
                let (key, bytes) = entry.map_err(|e| backend("reading records", e))?;
                let position = u64_from(&key, "record key")?;
                match decode_at(position, &bytes) {
                    Ok(record) => {
                        if !verifier.check(&record) {
                            break;
                        }
                    }
                    Err(e) => {
                        verifier.mark_bad(position.min(expected), e.to_string());
                        break;
                    }
                }
                expected = position + 1;
            }
            if !verifier.failed() && verifier.next_position() <= page_to {
                let missing = verifier.next_position();
                verifier.mark_bad(missing, "record is missing");
            }
        }
        Ok(verifier.finish(to))
    }
}

/// The single owner of position assignment.
struct Writer {
    db: sled::Db,
    path: PathBuf,
    trees: Trees,
    durability: Durability,
    clock: Arc<dyn Clock>,
    tip: Tip,
    head: watch::Sender<u64>,
    counters: Arc<Counters>,
    /// Set when a commit's durability is unknown (flush failed): from then on the writer
    /// refuses everything, because it can no longer say what is on disk. Reopen to recover.
    failed: Option<String>,
}

impl Writer {
    fn run(mut self, mut receiver: mpsc::Receiver<Request>) {
        while let Some(first) = receiver.blocking_recv() {
            let mut appends = Vec::new();
            let mut flushes = Vec::new();
            let mut events = 0usize;
            let mut next = Some(first);
            while let Some(request) = next.take() {
                match request {
                    Request::Append(a) => {
                        events += a.events.len();
                        appends.push(a);
                    }
                    Request::Flush(reply) => flushes.push(reply),
                }
                if appends.len() < BATCH_APPENDS_MAX && events < BATCH_EVENTS_MAX {
                    next = receiver.try_recv().ok();
                }
            }
            self.commit(appends);
            for reply in flushes {
                let _ = reply.send(self.flush(Durability::Flush));
            }
        }
        // Queue closed: the store is being dropped. Make buffered appends durable.
        let _ = self.flush(Durability::Flush);
    }

    fn flush(&self, durability: Durability) -> Result<(), StoreError> {
        self.db.flush().map_err(|e| backend("sled flush", e))?;
        if durability == Durability::Fsync {
            fsync_tree(&self.path).map_err(|e| backend("fsync of the store directory", e))?;
        }
        Ok(())
    }

    fn commit(&mut self, appends: Vec<AppendRequest>) {
        if appends.is_empty() {
            return;
        }
        if let Some(reason) = &self.failed {
            for a in appends {
                let _ = a.reply.send(Err(StoreError::Backend(format!(
                    "the store stopped accepting writes after an earlier failure ({reason}); reopen it"
                ))));
            }
            return;
        }
        let mut batch = Batch::begin(self.tip.clone(), self.clock.now_us());
        let mut lookup = SledLookup(&self.trees);
        let mut answers = Vec::with_capacity(appends.len());
        for a in appends {
            let result = batch.decide(
                &mut lookup,
                &a.stream,
                a.expected,
                a.events,
                a.idempotency_key,
            );
            answers.push((a.reply, result));
        }
        self.counters
            .appends
            .fetch_add(answers.len() as u64, Ordering::Relaxed);

        if !batch.is_empty() {
            if let Err(e) = self.write(&batch) {
                // Nothing of this batch is acknowledged. If the transaction failed nothing was
                // written; if the flush failed the batch may or may not be on disk, so stop.
                for (reply, result) in answers {
                    let _ = reply.send(match result {
                        Ok(_) => Err(e.clone()),
                        refused => refused,
                    });
                }
                return;
            }
            let events = batch.records().len() as u64;
            assert_eq!(
                batch.tip().head,
                self.tip.head + events,
                "positions are gapless"
            );
            self.tip = batch.tip().clone();
            self.counters.batches.fetch_add(1, Ordering::Relaxed);
            self.counters.events.fetch_add(events, Ordering::Relaxed);
            // Publish only now: in the durable modes the batch is flushed, so no reader ever
            // sees an event a crash could take back.
            self.head.send_replace(self.tip.head);
        }
        for (reply, result) in answers {
            // A caller that gave up (dropped its future) does not undo the commit.
            let _ = reply.send(result);
        }
    }

    fn write(&mut self, batch: &Batch) -> Result<(), StoreError> {
        let mut records = Vec::with_capacity(batch.records().len());
        for record in batch.records() {
            records.push((position_key(record.position), codec::encode_record(record)?));
        }
        let mut keys = Vec::with_capacity(batch.keys().len());
        for (key, entry) in batch.keys() {
            keys.push((*key, encode_idempotency(entry)?));
        }
        let t = &self.trees;
        (&t.records, &t.stream_index, &t.stream_heads, &t.idempotency)
            .transaction(|(records_tx, index_tx, heads_tx, keys_tx)| {
                for (key, bytes) in &records {
                    records_tx.insert(key, bytes.as_slice())?;
                }
                for (stream, version, position) in batch.index() {
                    index_tx.insert(stream_index_key(stream, *version), &position.to_be_bytes())?;
                }
                for (stream, version) in batch.heads() {
                    heads_tx.insert(stream.as_bytes(), &version.to_be_bytes())?;
                }
                for (key, bytes) in &keys {
                    keys_tx.insert(key.as_bytes(), bytes.as_slice())?;
                }
                Ok::<(), ConflictableTransactionError<()>>(())
            })
            .map_err(|e: TransactionError<()>| backend("committing a batch", format!("{e:?}")))?;
        if self.durability != Durability::Buffered {
            if let Err(e) = self.flush(self.durability) {
                self.failed = Some(e.to_string());
                return Err(e);
            }
        }
        Ok(())
    }
}
