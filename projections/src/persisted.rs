//! Persisted read models: a sled database of their own beside the log, with generations.
//!
//! Layout (one sled database, usually `<data>/readmodels`):
//! - tree `meta`: `current/<projection>` → generation in service (u64 BE);
//!   `next/<projection>` → next generation number to hand out (never reused).
//! - tree `<projection>/gen/<generation>`: `c` → checkpoint (u64 BE, last folded position);
//!   `s<stream>` → the stream's state (JSON); `r<model byte><stream>\0` → every row the
//!   stream contributes to that model, as one blob of `u32 BE key length ‖ local key ‖ u32 BE
//!   value length ‖ value` in local-key order. One sled entry per (model, stream) instead of
//!   one per row: a case has dozens of performance rows, and sled's cost is per entry.
//!
//! Rows, states and the checkpoint of a batch are written in ONE sled transaction, so a reader
//! or a restart never sees rows without their checkpoint or the reverse (design.md invariant 7).
//! A full rebuild folds into a fresh generation and moves `current` only once it has caught
//! up with the head; until then readers keep using the previous generation, and a crash
//! mid-way leaves an abandoned generation that the next rebuild deletes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use caseledger_store::{
    ConsumerName, DurableSubscription, EventStore, EventStoreExt, ReadAll, RecordedEvent, StreamId,
    READ_ALL_PAGE_EVENTS_MAX,
};
use serde::{de::DeserializeOwned, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionError};

use crate::framing;
use crate::memory::{fold_pages, MemoryFold};
use crate::projection::{check_models, model_row_key, Projection, Rows};
use crate::source::{RowSource, RowVisitor};
use crate::{AsOf, Progress, ProjectionError};

/// Most events folded into one transaction. One `read_all` page: large enough that the
/// transaction cost is amortised, small enough that a batch's dirty states stay small.
pub const EVENTS_PER_BATCH_MAX: u32 = READ_ALL_PAGE_EVENTS_MAX;

/// sled page cache of the read-model database, in bytes. sled's default (1 GiB) would let a
/// rebuild's resident memory grow with the size of the read models; a rebuild writes the new
/// generation in key order and reports scan it, which a small cache serves as well. 16 MiB
/// rather than 64: the same rebuild time, ~50 MiB less resident memory at every log size.
pub const READ_MODEL_CACHE_BYTES_DEFAULT: u64 = 16 * 1024 * 1024;
/// Smallest read-model page cache [`ReadModelDb::open_with_cache`] accepts: the vendored sled
/// splits a cache into shards of 2 MiB (vendor/sled/PATCHES.md §3), and a shard never evicts
/// its most recent page, so a cache of one or two shards holds its capacity plus up to a leaf
/// of rows (hundreds of KiB for a long history) each; below 4 MiB that slack would be most of
/// the cache. Smaller caches were not measured.
pub const READ_MODEL_CACHE_BYTES_MIN: u64 = 4 * 1024 * 1024;

/// Longest wait for another handle's lock on the read-model database, in milliseconds.
pub const OPEN_LOCK_WAIT_MS_MAX: u64 = 1_000;
/// Pause between attempts to take the lock, in milliseconds.
const OPEN_LOCK_RETRY_MS: u64 = 10;

const META_TREE: &str = "meta";
const CHECKPOINT_KEY: &[u8] = b"c";
const STATE_PREFIX: u8 = b's';
const ROW_PREFIX: u8 = b'r';

/// The read-model database.
pub struct ReadModelDb {
    db: sled::Db,
    meta: sled::Tree,
    path: PathBuf,
    /// One writer at a time per database: batches, rebuilds and single-case repairs of the
    /// same projection must not interleave.
    writer: tokio::sync::Mutex<()>,
}

impl ReadModelDb {
    /// Open (or create) the database at `path`.
    ///
    /// sled releases its file lock only when its background flusher has let go of a dropped
    /// handle, a few milliseconds later; so a lock conflict is retried for up to
    /// [`OPEN_LOCK_WAIT_MS_MAX`] before it is reported as [`ProjectionError::DatabaseInUse`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ProjectionError> {
        Self::open_with_cache(path, READ_MODEL_CACHE_BYTES_DEFAULT)
    }

    /// [`ReadModelDb::open`] with a sled page cache of `cache_capacity_bytes` instead of
    /// [`READ_MODEL_CACHE_BYTES_DEFAULT`] (at least [`READ_MODEL_CACHE_BYTES_MIN`]).
    pub fn open_with_cache(
        path: impl AsRef<Path>,
        cache_capacity_bytes: u64,
    ) -> Result<Self, ProjectionError> {
        if cache_capacity_bytes < READ_MODEL_CACHE_BYTES_MIN {
            return Err(ProjectionError::InvalidArgument(format!(
                "a read-model page cache of {cache_capacity_bytes} bytes is below the \
                 minimum of {READ_MODEL_CACHE_BYTES_MIN}"
            )));
        }
        let path = path.as_ref().to_path_buf();
        let mut waited_ms = 0;
        let db = loop {
            let opened = sled::Config::new()
                .path(&path)
                .cache_capacity(cache_capacity_bytes)
                .open();
            match opened {
                Ok(db) => break db,
                Err(e) => {
                    let text = e.to_string();
                    if !(text.contains("lock") || text.contains("WouldBlock")) {
                        return Err(ProjectionError::Database(format!(
                            "{}: {text}",
                            path.display()
                        )));
                    }
                    if waited_ms >= OPEN_LOCK_WAIT_MS_MAX {
                        return Err(ProjectionError::DatabaseInUse {
                            path: path.display().to_string(),
                        });
                    }
                    std::thread::sleep(std::time::Duration::from_millis(OPEN_LOCK_RETRY_MS));
                    waited_ms += OPEN_LOCK_RETRY_MS;
                }
            }
        };
        let meta = db.open_tree(META_TREE)?;
        Ok(Self {
            db,
            meta,
            path,
            writer: tokio::sync::Mutex::new(()),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The generation in service for `projection`, if it was ever built.
    pub fn current_generation(&self, projection: &str) -> Result<Option<u64>, ProjectionError> {
        read_u64(&self.meta, format!("current/{projection}").as_bytes())
    }

    /// Generations of `projection` present on disk (in service or abandoned), ascending.
    pub fn generations(&self, projection: &str) -> Vec<u64> {
        let prefix = format!("{projection}/gen/");
        let mut out: Vec<u64> = self
            .db
            .tree_names()
            .iter()
            .filter_map(|name| {
                std::str::from_utf8(name)
                    .ok()?
                    .strip_prefix(&prefix)?
                    .parse()
                    .ok()
            })
            .collect();
        out.sort_unstable();
        out
    }

    fn generation_tree(
        &self,
        projection: &str,
        generation: u64,
    ) -> Result<sled::Tree, ProjectionError> {
        Ok(self
            .db
            .open_tree(format!("{projection}/gen/{generation:020}"))?)
    }

    fn drop_generation(&self, projection: &str, generation: u64) -> Result<(), ProjectionError> {
        self.db
            .drop_tree(format!("{projection}/gen/{generation:020}"))?;
        Ok(())
    }

    /// A read-only view of the generation in service, or `None` if never built.
    pub fn view<P: Projection>(
        &self,
        projection: &P,
    ) -> Result<Option<PersistedView>, ProjectionError> {
        let Some(generation) = self.current_generation(projection.name())? else {
            return Ok(None);
        };
        let tree = self.generation_tree(projection.name(), generation)?;
        Ok(Some(PersistedView {
            tree,
            models: projection
                .models()
                .iter()
                .map(|m| (*m).to_owned())
                .collect(),
            generation,
        }))
    }

    /// Flush everything to disk.
    pub fn flush(&self) -> Result<(), ProjectionError> {
        self.db.flush()?;
        Ok(())
    }
}

/// The rows of one generation, read from sled.
pub struct PersistedView {
    tree: sled::Tree,
    models: Vec<String>,
    generation: u64,
}

impl PersistedView {
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl RowSource for PersistedView {
    fn models(&self) -> Vec<String> {
        self.models.clone()
    }

    fn checkpoint(&self) -> u64 {
        read_u64(&self.tree, CHECKPOINT_KEY)
            .ok()
            .flatten()
            .unwrap_or(0)
    }

    fn for_each_row(&self, model: u8, visit: &mut RowVisitor<'_>) -> Result<(), ProjectionError> {
        let mut full = Vec::new();
        for item in self.tree.scan_prefix([ROW_PREFIX, model]) {
            let (k, blob) = item?;
            // `r ‖ model ‖ stream ‖ 0`: the stream part ends with the separator.
            let stream_and_separator = k.get(2..).unwrap_or_default();
            framing::for_each_row(&blob, |local, value| {
                full.clear();
                full.extend_from_slice(stream_and_separator);
                full.extend_from_slice(local);
                visit(&full, value)
            })?;
        }
        Ok(())
    }
}

fn read_u64(tree: &sled::Tree, key: &[u8]) -> Result<Option<u64>, ProjectionError> {
    match tree.get(key)? {
        None => Ok(None),
        Some(v) => {
            let bytes: [u8; 8] = v
                .as_ref()
                .try_into()
                .map_err(|_| ProjectionError::Corrupt {
                    what: format!("counter {}", String::from_utf8_lossy(key)),
                    reason: format!("{} bytes, expected 8", v.len()),
                })?;
            Ok(Some(u64::from_be_bytes(bytes)))
        }
    }
}

fn state_key(stream: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + stream.len());
    k.push(STATE_PREFIX);
    k.extend_from_slice(stream.as_bytes());
    k
}

/// Key of the blob holding `stream`'s rows of `model`.
fn blob_key(model: u8, stream: &str) -> Vec<u8> {
    let mut k = vec![ROW_PREFIX, model];
    k.extend_from_slice(&model_row_key(stream, b""));
    k
}

/// The blobs of one stream's rows, one per model that has rows (index = model), framed
/// ([`crate::framing`]) with local keys.
fn row_blobs(rows: &Rows, models: usize) -> Vec<Option<Vec<u8>>> {
    let mut blobs: Vec<Option<Vec<u8>>> = vec![None; models];
    for (model, key, value) in rows.iter() {
        if let Some(slot) = blobs.get_mut(usize::from(model)) {
            framing::push_row(slot.get_or_insert_with(Vec::new), &[key], value);
        }
    }
    blobs
}

fn encode_state<S: Serialize>(state: &S) -> Result<Vec<u8>, ProjectionError> {
    serde_json::to_vec(state).map_err(|e| ProjectionError::Corrupt {
        what: "projection state".to_owned(),
        reason: e.to_string(),
    })
}

fn decode_state<S: DeserializeOwned>(stream: &str, bytes: &[u8]) -> Result<S, ProjectionError> {
    serde_json::from_slice(bytes).map_err(|e| ProjectionError::Corrupt {
        what: format!("state of stream {stream}"),
        reason: e.to_string(),
    })
}

/// State of one stream touched by the batch in progress.
struct Dirty<S> {
    state: S,
    /// Rows the stream contributed when the batch loaded it (what is on disk now).
    rows_before: Rows,
}

/// Fold the log into `tree` from its checkpoint up to `until` (inclusive), one transaction per
/// page. Returns the new checkpoint.
async fn fold_into<P: Projection>(
    store: &dyn EventStore,
    tree: &sled::Tree,
    projection: &P,
    until: u64,
    progress: &mut dyn Progress,
) -> Result<u64, ProjectionError> {
    let mut checkpoint = read_u64(tree, CHECKPOINT_KEY)?.unwrap_or(0);
    let mut pages = ReadAll::new(store, checkpoint + 1, EVENTS_PER_BATCH_MAX).through(until);
    while let Some(page) = pages.next_page().await? {
        projection.prepare(&page).await?;
        checkpoint = fold_batch(tree, projection, checkpoint, &page)?;
        progress.update(projection.name(), checkpoint, until);
    }
    if checkpoint < until {
        // The head said there was more; the log never shrinks, so this is a store fault.
        return Err(ProjectionError::LogGap {
            checkpoint,
            got: until,
        });
    }
    Ok(checkpoint)
}

/// Fold `records` (which must start right after `checkpoint`, gapless) into `tree`: rows,
/// states and the new checkpoint in ONE transaction. Returns the new checkpoint.
fn fold_batch<P: Projection>(
    tree: &sled::Tree,
    projection: &P,
    checkpoint: u64,
    records: &[RecordedEvent],
) -> Result<u64, ProjectionError> {
    let models = projection.models().len();
    let mut dirty: BTreeMap<&str, Dirty<P::State>> = BTreeMap::new();
    let mut batch_checkpoint = checkpoint;
    for record in records {
        if record.position != batch_checkpoint + 1 {
            return Err(ProjectionError::LogGap {
                checkpoint: batch_checkpoint,
                got: record.position,
            });
        }
        let entry = match dirty.entry(record.stream_id.as_str()) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(e) => {
                let state: P::State = match tree.get(state_key(&record.stream_id))? {
                    Some(bytes) => decode_state(&record.stream_id, &bytes)?,
                    None => P::State::default(),
                };
                let mut rows_before = Rows::new();
                projection.rows(&record.stream_id, &state, &mut rows_before);
                e.insert(Dirty { state, rows_before })
            }
        };
        projection.decode_and_apply(&mut entry.state, record)?;
        batch_checkpoint = record.position;
    }
    if batch_checkpoint == checkpoint {
        return Ok(checkpoint);
    }
    let mut batch = sled::Batch::default();
    let mut rows_after = Rows::new();
    for (stream, entry) in &dirty {
        rows_after.clear();
        projection.rows(stream, &entry.state, &mut rows_after);
        rows_after.check(stream, models)?;
        if rows_after != entry.rows_before {
            let before = row_blobs(&entry.rows_before, models);
            for (index, after) in row_blobs(&rows_after, models).into_iter().enumerate() {
                if before.get(index) == Some(&after) {
                    continue;
                }
                let key = blob_key(u8::try_from(index).unwrap_or(u8::MAX), stream);
                match after {
                    Some(blob) => batch.insert(key, blob),
                    None => batch.remove(key),
                }
            }
        }
        batch.insert(state_key(stream), encode_state(&entry.state)?);
    }
    batch.insert(CHECKPOINT_KEY, &batch_checkpoint.to_be_bytes());
    commit(tree, &batch)?;
    Ok(batch_checkpoint)
}

/// Most streams written to a new generation in one sled batch: bounds the batch's memory
/// (at most five batches are alive at once: two being derived, two done and waiting — one
/// per deriving thread, `parallel::map_in_order` — and one being digested and written). At
/// 1,024 streams (~30 MiB a batch at 100 events a case) a rebuild at 1,000,000 events peaked
/// ~250 MiB higher.
pub const STREAMS_PER_WRITE_BATCH_MAX: usize = 128;

/// Most events (folded into the streams of the batch) in one write batch of a full rebuild; a
/// stream with more is a batch of its own. A stream's rows and state grow with its history,
/// so batches of a fixed number of streams would grow with the histories, and with them the
/// memory a rebuild holds for writing; this keeps that memory bounded whatever the histories.
/// 12,800 is [`STREAMS_PER_WRITE_BATCH_MAX`] streams of 100 events, ~4 MiB of rows and
/// states. (At 200 to 400 events a case it did not lower the benchmark's peak measurably:
/// the batches are small beside what sled retains of the pages written.)
pub const EVENTS_PER_WRITE_BATCH_MAX: u64 = 12_800;

/// Cut `items` (streams in key order) into consecutive batches of at most
/// [`STREAMS_PER_WRITE_BATCH_MAX`] items and, but for a single item, at most
/// [`EVENTS_PER_WRITE_BATCH_MAX`] events, as `events` counts them. Greedy: a batch ends only
/// when the next item would break a limit.
fn write_batches<T>(items: &[T], events: impl Fn(&T) -> u64) -> Vec<&[T]> {
    let mut batches = Vec::new();
    let (mut start, mut total) = (0, 0u64);
    for (at, item) in items.iter().enumerate() {
        let n = events(item);
        if at > start
            && (at - start == STREAMS_PER_WRITE_BATCH_MAX
                || total.saturating_add(n) > EVENTS_PER_WRITE_BATCH_MAX)
        {
            batches.push(&items[start..at]);
            (start, total) = (at, 0);
        }
        total = total.saturating_add(n);
    }
    if start < items.len() {
        batches.push(&items[start..]);
    }
    batches
}

/// Flush `tree` to disk with sled's blocking `flush` on a blocking-pool thread. Not
/// `flush_async`: in sled 0.34.7 concurrent `flush_async` calls can wait forever
/// (spacejam/sled#1308, fixed upstream only after the release), and a rebuild flushes while
/// `run_live` and other handles may be flushing the same database.
async fn flush_durably(tree: &sled::Tree) -> Result<(), ProjectionError> {
    let tree = tree.clone();
    tokio::task::spawn_blocking(move || tree.flush())
        .await
        .map_err(|e| ProjectionError::Database(format!("flushing the read models: {e}")))??;
    Ok(())
}

/// Write every stream's state and rows from `fold` into the (not yet in service) generation
/// `tree`. Returns each model's digest over the streams written, computed on the way: streams
/// come in key order and each stream's rows in local-key order, and a model row key is
/// `stream ‖ 0 ‖ local key` (0 sorts below every stream-id byte), so every model's rows are
/// met in exactly the order a scan of the tree would give.
///
/// Batches of [`STREAMS_PER_WRITE_BATCH_MAX`] streams are derived (rows, blobs, state JSON)
/// on [`crate::memory::FINISH_THREADS_MAX`] threads, then digested and written into sled, in
/// key order, on this thread: the digests are cheap, so a separate writer thread would only
/// add a thread and a channel.
fn write_generation<P: Projection>(
    tree: &sled::Tree,
    projection: &P,
    fold: &MemoryFold<'_, P>,
    digests: &mut [sha2::Sha256],
) -> Result<(), ProjectionError> {
    let models = projection.models().len();
    let states = fold.states();
    let batches = write_batches(&states, |(stream, _)| fold.events_of(stream));
    assert_eq!(digests.len(), models, "one digest per model");
    let mut unflushed_batches = 0;
    crate::parallel::map_in_order(
        &batches,
        crate::memory::FINISH_THREADS_MAX,
        |batch| derive_write_batch(projection, models, batch),
        |(batch, framed)| {
            for (digest, rows) in digests.iter_mut().zip(&framed) {
                sha2::Digest::update(digest, rows);
            }
            tree.apply_batch(batch)?;
            unflushed_batches += 1;
            // sled can only evict pages it has written out: without a flush now and then,
            // a rebuild's memory grows with everything it wrote since sled's last
            // background flush.
            if unflushed_batches == WRITE_BATCHES_PER_FLUSH {
                tree.flush()?;
                unflushed_batches = 0;
            }
            Ok(())
        },
    )
}

/// Write batches between two flushes of the new generation (each batch at most
/// [`EVENTS_PER_WRITE_BATCH_MAX`] events, ~4 MiB of rows and states).
/// Measured at 1,000,000 events (batches of 256 then): peak memory 663 → 619 MiB, time
/// unchanged.
const WRITE_BATCHES_PER_FLUSH: usize = 2;

/// One write batch: the sled batch (row blobs and states of `states`) and, per model, the
/// same rows framed with full keys for the digest.
fn derive_write_batch<P: Projection>(
    projection: &P,
    models: usize,
    states: &[(&String, &P::State)],
) -> Result<(sled::Batch, Vec<Vec<u8>>), ProjectionError> {
    let mut batch = sled::Batch::default();
    let mut framed: Vec<Vec<u8>> = vec![Vec::new(); models];
    let mut rows = Rows::new();
    for (stream, state) in states {
        rows.clear();
        projection.rows(stream, state, &mut rows);
        rows.check(stream, models)?;
        for (model, key, value) in rows.iter() {
            if let Some(framed) = framed.get_mut(usize::from(model)) {
                framing::push_row(framed, &[stream.as_bytes(), &[0], key], value);
            }
        }
        for (index, blob) in row_blobs(&rows, models).into_iter().enumerate() {
            if let Some(blob) = blob {
                batch.insert(
                    blob_key(u8::try_from(index).unwrap_or(u8::MAX), stream),
                    blob,
                );
            }
        }
        batch.insert(state_key(stream), encode_state(state)?);
    }
    Ok((batch, framed))
}

fn commit(tree: &sled::Tree, batch: &sled::Batch) -> Result<(), ProjectionError> {
    tree.transaction(|tx| {
        tx.apply_batch(batch)?;
        Ok::<(), ConflictableTransactionError<ProjectionError>>(())
    })
    .map_err(|e| match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => ProjectionError::from(e),
    })
}

/// Outcome of a rebuild.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RebuildReport {
    pub projection: String,
    pub generation: u64,
    pub previous_generation: Option<u64>,
    pub checkpoint: u64,
    /// Passes over the log (more than one when the log has more streams than
    /// [`RebuildOptions::streams_per_pass_max`]).
    pub passes: u32,
    /// SHA-256 of each read model, by model name.
    pub digests: BTreeMap<String, String>,
}

/// Bring the generation in service up to the head of the log. Builds the first generation
/// (through [`rebuild`]) when there is none. Returns the new checkpoint.
pub async fn catch_up<P: Projection>(
    store: &dyn EventStore,
    db: &ReadModelDb,
    projection: &P,
    progress: &mut dyn Progress,
) -> Result<u64, ProjectionError> {
    check_models(projection)?;
    let Some(generation) = db.current_generation(projection.name())? else {
        return Ok(rebuild(store, db, projection, progress).await?.checkpoint);
    };
    let _writer = db.writer.lock().await;
    let tree = db.generation_tree(projection.name(), generation)?;
    let head = store.head().await?;
    fold_into(store, &tree, projection, head, progress).await
}

/// Most streams (cases) a full rebuild holds in memory at once, by default. A case's state is
/// a few KiB (~8 KiB with 100 events; docs/benchmarks.md), so 50,000 is a few hundred MiB;
/// a log with more streams is rebuilt in several passes over the log.
pub const STREAMS_PER_PASS_MAX_DEFAULT: usize = 50_000;

/// Most events (of the cases held) a full rebuild folds in one pass, by default. A case's
/// state and rows grow with its history — about 250 bytes per event in the benchmark's
/// cohorts (docs/benchmarks.md, "Projections") — so this bounds a pass to a few hundred MiB
/// however long the histories are.
pub const EVENTS_PER_PASS_MAX_DEFAULT: u64 = 2_000_000;

/// How a full rebuild may use memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RebuildOptions {
    /// Most stream states held in memory at once.
    pub streams_per_pass_max: usize,
    /// Most events, summed over the streams of one pass, folded in that pass; a single
    /// stream with more events than this is a pass of its own.
    ///
    /// A log with more events than either limit is first read once to count each stream's
    /// events (memory: one entry per stream, only while planning); the stream ids, sorted,
    /// are then cut into passes within both limits. Each pass reads the whole log, folds only
    /// its own range of streams, writes their states and rows, carries each model's digest on
    /// (the ranges are in key order, so nothing is read back) and forgets them. A pass's
    /// memory then no longer grows with the log, whether it grows by more cases or by longer
    /// histories; time grows with the number of passes.
    pub events_per_pass_max: u64,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        Self {
            streams_per_pass_max: STREAMS_PER_PASS_MAX_DEFAULT,
            events_per_pass_max: EVENTS_PER_PASS_MAX_DEFAULT,
        }
    }
}

/// The number of events of every stream in positions 1..=`head`, read page by page (memory:
/// one entry per stream).
async fn count_events_per_stream(
    store: &dyn EventStore,
    head: u64,
) -> Result<std::collections::HashMap<String, u64>, ProjectionError> {
    let mut counts: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut records = ReadAll::new(store, 1, READ_ALL_PAGE_EVENTS_MAX).through(head);
    while let Some(record) = records.next().await? {
        match counts.get_mut(record.stream_id.as_str()) {
            Some(n) => *n += 1,
            None => {
                counts.insert(record.stream_id, 1);
            }
        }
    }
    Ok(counts)
}

/// Cut the streams, in byte order of their ids, into passes (first id, last id) holding at
/// most `streams_per_pass_max` streams and `events_per_pass_max` events each; a stream with
/// more events than that is a pass of its own. Every stream is in exactly one pass.
fn plan_passes(
    counts: std::collections::HashMap<String, u64>,
    options: RebuildOptions,
) -> Vec<Option<(String, String)>> {
    let mut streams: Vec<(String, u64)> = counts.into_iter().collect();
    streams.sort_unstable();
    let mut passes = Vec::new();
    let mut current: Option<(String, String, usize, u64)> = None;
    for (stream, events) in streams {
        if let Some((first, last, n, total)) = current.take() {
            if n < options.streams_per_pass_max
                && total.saturating_add(events) <= options.events_per_pass_max
            {
                current = Some((first, stream, n + 1, total + events));
                continue;
            }
            passes.push(Some((first, last)));
        }
        current = Some((stream.clone(), stream, 1, events));
    }
    passes.extend(current.map(|(first, last, _, _)| Some((first, last))));
    if passes.is_empty() {
        // An empty log still makes one (empty) pass, so the generation is written.
        passes.push(None);
    }
    passes
}

/// Fold the whole log into a new generation and put it in service once it has caught up,
/// with the default [`RebuildOptions`].
///
/// Readers keep the previous generation until the switch, which is one sled insert. An
/// abandoned generation (a crash in an earlier rebuild) is deleted first.
pub async fn rebuild<P: Projection>(
    store: &dyn EventStore,
    db: &ReadModelDb,
    projection: &P,
    progress: &mut dyn Progress,
) -> Result<RebuildReport, ProjectionError> {
    rebuild_with(store, db, projection, RebuildOptions::default(), progress).await
}

/// [`rebuild`] with explicit [`RebuildOptions`].
pub async fn rebuild_with<P: Projection>(
    store: &dyn EventStore,
    db: &ReadModelDb,
    projection: &P,
    options: RebuildOptions,
    progress: &mut dyn Progress,
) -> Result<RebuildReport, ProjectionError> {
    check_models(projection)?;
    if options.streams_per_pass_max == 0 {
        return Err(ProjectionError::InvalidArgument(
            "streams per pass must be at least 1".to_owned(),
        ));
    }
    if options.events_per_pass_max == 0 {
        return Err(ProjectionError::InvalidArgument(
            "events per pass must be at least 1".to_owned(),
        ));
    }
    let name = projection.name();
    let _writer = db.writer.lock().await;
    let previous = db.current_generation(name)?;
    for abandoned in db.generations(name) {
        if Some(abandoned) != previous {
            db.drop_generation(name, abandoned)?;
        }
    }
    let next_key = format!("next/{name}");
    let generation = read_u64(&db.meta, next_key.as_bytes())?
        .unwrap_or(1)
        .max(previous.map_or(1, |p| p + 1));
    db.meta
        .insert(next_key.as_bytes(), &(generation + 1).to_be_bytes())?;
    let tree = db.generation_tree(name, generation)?;
    // Fold the log up to the head in memory, then write states and rows into the new
    // generation, and the checkpoint last. Nobody reads the generation until the switch
    // below, and a crash before the switch only leaves an abandoned generation, so it is
    // written in plain batches.
    //
    // A log that may hold more than one pass's worth (more events than either limit, since
    // a stream has at least one event) is counted first and cut into passes over the SORTED
    // stream ids: each pass folds a contiguous range of streams, so its rows all sort after
    // the previous pass's and every model's digest is carried from pass to pass in key
    // order, without reading the generation back.
    let head = store.head().await?;
    let streams_per_pass_max = u64::try_from(options.streams_per_pass_max).unwrap_or(u64::MAX);
    let pass_ranges = if head > options.events_per_pass_max.min(streams_per_pass_max) {
        let counts = count_events_per_stream(store, head).await?;
        plan_passes(counts, options)
    } else {
        vec![None]
    };
    let mut digests = vec![sha2::Sha256::default(); projection.models().len()];
    let mut folded = 0;
    let mut passes: u32 = 0;
    for range in pass_ranges {
        passes += 1;
        let mut fold = match range {
            Some((first, last)) => MemoryFold::for_streams(projection, first, last)?,
            None => MemoryFold::new(projection)?,
        };
        fold_pages(&mut fold, store, head, AsOf::Now, progress).await?;
        write_generation(&tree, projection, &fold, &mut digests)?;
        folded = fold.checkpoint();
    }
    assert_eq!(folded, head, "every pass folds the log up to the head");
    let digests: BTreeMap<String, String> = projection
        .models()
        .iter()
        .map(|m| (*m).to_owned())
        .zip(
            digests
                .into_iter()
                .map(|d| hex::encode(sha2::Digest::finalize(d))),
        )
        .collect();
    tree.insert(CHECKPOINT_KEY, &folded.to_be_bytes())?;
    let mut checkpoint = folded;
    // Catch up with a head that moved while we folded; switch only when level with it.
    loop {
        let head = store.head().await?;
        if checkpoint >= head {
            break;
        }
        checkpoint = fold_into(store, &tree, projection, head, progress).await?;
    }
    // Make the new generation durable before anyone can be pointed at it.
    flush_durably(&tree).await?;
    db.meta.insert(
        format!("current/{name}").as_bytes(),
        &generation.to_be_bytes(),
    )?;
    flush_durably(&db.meta).await?;
    if let Some(old) = previous {
        db.drop_generation(name, old)?;
    }
    let view = PersistedView {
        tree,
        models: projection
            .models()
            .iter()
            .map(|m| (*m).to_owned())
            .collect(),
        generation,
    };
    Ok(RebuildReport {
        projection: name.to_owned(),
        generation,
        previous_generation: previous,
        checkpoint,
        passes,
        // Appends that arrived during the fold were folded incrementally, after the rows
        // were digested: digest the tree then.
        digests: if checkpoint == folded {
            digests
        } else {
            view.digests()?
        },
    })
}

/// Re-fold one stream from its own events up to the checkpoint of the generation in service
/// and replace its state and rows, in one transaction. Used to repair one case without a
/// full rebuild.
pub async fn rebuild_stream<P: Projection>(
    store: &dyn EventStore,
    db: &ReadModelDb,
    projection: &P,
    stream: &StreamId,
) -> Result<(), ProjectionError> {
    check_models(projection)?;
    let _writer = db.writer.lock().await;
    let Some(generation) = db.current_generation(projection.name())? else {
        return Err(ProjectionError::InvalidArgument(format!(
            "projection {} was never built; run a full rebuild first",
            projection.name()
        )));
    };
    let tree = db.generation_tree(projection.name(), generation)?;
    let checkpoint = read_u64(&tree, CHECKPOINT_KEY)?.unwrap_or(0);
    let mut state = P::State::default();
    // Events after the checkpoint are folded by the runner later; folding them here would
    // count them twice.
    let records = store.read_stream(stream, 1).await?;
    projection.prepare(&records).await?;
    for record in records {
        if record.position <= checkpoint {
            projection.decode_and_apply(&mut state, &record)?;
        }
    }
    let mut rows = Rows::new();
    projection.rows(stream.as_str(), &state, &mut rows);
    rows.check(stream.as_str(), projection.models().len())?;
    let mut batch = sled::Batch::default();
    for (index, blob) in row_blobs(&rows, projection.models().len())
        .into_iter()
        .enumerate()
    {
        let key = blob_key(u8::try_from(index).unwrap_or(u8::MAX), stream.as_str());
        match blob {
            Some(blob) => batch.insert(key, blob),
            None => batch.remove(key),
        }
    }
    batch.insert(state_key(stream.as_str()), encode_state(&state)?);
    commit(&tree, &batch)
}

/// The durable consumer (`caseledger_store::consumer`) under which the live runner of
/// `projection` acknowledges what it has folded: `projection.<name>`, listed by
/// `caseledger consumers`.
pub fn consumer_name(projection: &str) -> String {
    format!("projection.{projection}")
}

/// Acknowledge `checkpoint` (folded and committed) under the projection's durable consumer,
/// then resume that consumer: it delivers from `checkpoint + 1`.
///
/// The read-model generation's own checkpoint, written in the same transaction as its rows,
/// stays what the fold resumes from (invariant 7); the store's checkpoint follows it, one
/// acknowledgement per committed batch, so operators see the runner's position and lag beside
/// every other consumer. A stored checkpoint ahead of the generation's after a catch-up
/// (which folds to the head) means a second runner uses the same name: refused.
async fn resume_durable(
    store: &Arc<dyn EventStore>,
    name: &str,
    checkpoint: u64,
) -> Result<DurableSubscription, ProjectionError> {
    let consumer = ConsumerName::new(name)?;
    store.acknowledge(&consumer, checkpoint).await?;
    let subscription = store.subscribe_durable(name).await?;
    if subscription.acknowledged() != checkpoint {
        return Err(ProjectionError::InvalidArgument(format!(
            "durable consumer {name} is at position {} but this runner's read models are at \
             {checkpoint}: another runner acknowledges under the same name; run one live \
             runner per read-model database",
            subscription.acknowledged()
        )));
    }
    Ok(subscription)
}

/// Keep the generation in service level with the log until `shutdown` becomes true.
///
/// Catches up first (building the first generation if there is none), then follows the
/// store's durable subscription `projection.<name>` ([`consumer_name`]): each wake-up folds
/// every record up to the head seen then (at most [`EVENTS_PER_BATCH_MAX`]) in one
/// transaction and then acknowledges it. If a rebuild switched generations meanwhile, the
/// runner re-synchronises from the new generation's checkpoint.
pub async fn run_live<P: Projection>(
    store: Arc<dyn EventStore>,
    db: &ReadModelDb,
    projection: &P,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    progress: &mut dyn Progress,
) -> Result<u64, ProjectionError> {
    let consumer = consumer_name(projection.name());
    let mut checkpoint = catch_up(&*store, db, projection, progress).await?;
    let mut subscription = resume_durable(&store, &consumer, checkpoint).await?;
    let mut records: Vec<RecordedEvent> = Vec::new();
    loop {
        if *shutdown.borrow_and_update() {
            return Ok(checkpoint);
        }
        let first = tokio::select! {
            next = subscription.next() => match next {
                Ok(record) => record,
                // The store was closed: nothing more will arrive.
                Err(caseledger_store::StoreError::Closed) => return Ok(checkpoint),
                Err(e) => return Err(e.into()),
            },
            changed = shutdown.changed() => {
                if changed.is_err() {
                    // Nobody can ask us to stop any more: stop now.
                    return Ok(checkpoint);
                }
                continue;
            }
        };
        // Everything up to the head published now is readable without waiting.
        let head = *store.watch_head().borrow();
        let last = head.min(first.position + u64::from(EVENTS_PER_BATCH_MAX) - 1);
        records.clear();
        records.push(first);
        while subscription.next_position() <= last {
            records.push(subscription.next().await?);
        }
        let writer = db.writer.lock().await;
        let Some(generation) = db.current_generation(projection.name())? else {
            return Err(ProjectionError::InvalidArgument(format!(
                "projection {} disappeared from the read-model database while running",
                projection.name()
            )));
        };
        let tree = db.generation_tree(projection.name(), generation)?;
        let in_service = read_u64(&tree, CHECKPOINT_KEY)?.unwrap_or(0);
        if records[0].position != in_service + 1 {
            // A rebuild put a generation in service that is not where this runner is:
            // follow it from its own checkpoint.
            drop(writer);
            checkpoint = catch_up(&*store, db, projection, progress).await?;
            subscription = resume_durable(&store, &consumer, checkpoint).await?;
            continue;
        }
        projection.prepare(&records).await?;
        checkpoint = fold_batch(&tree, projection, in_service, &records)?;
        drop(writer);
        subscription.acknowledge(checkpoint).await?;
        progress.update(projection.name(), checkpoint, head);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(counts: &[(&str, u64)], streams: usize, events: u64) -> Vec<Option<(String, String)>> {
        plan_passes(
            counts.iter().map(|(s, n)| ((*s).to_owned(), *n)).collect(),
            RebuildOptions {
                streams_per_pass_max: streams,
                events_per_pass_max: events,
            },
        )
    }

    fn range(first: &str, last: &str) -> Option<(String, String)> {
        Some((first.to_owned(), last.to_owned()))
    }

    #[test]
    fn passes_are_ranges_of_sorted_stream_ids_within_both_limits() {
        let counts = [("X3", 5), ("X1", 5), ("X10", 5), ("X2", 20), ("X4", 1)];
        // By streams only: two per pass, in byte order (X1 < X10 < X2 < X3 < X4).
        assert_eq!(
            plan(&counts, 2, u64::MAX),
            vec![range("X1", "X10"), range("X2", "X3"), range("X4", "X4")]
        );
        // By events: X2 (20 > 10) is a pass of its own; the others fill passes up to 10.
        assert_eq!(
            plan(&counts, usize::MAX, 10),
            vec![range("X1", "X10"), range("X2", "X2"), range("X3", "X4")]
        );
        // An empty log is one empty pass.
        assert_eq!(plan(&[], 1, 1), vec![None]);
    }

    proptest::proptest! {
        /// Write batches are the streams in order, each within both limits (or one stream),
        /// and end only where the next stream would break a limit.
        #[test]
        fn write_batches_keep_order_and_both_limits(
            events in proptest::collection::vec(0u64..20_000, 0..600),
        ) {
            let batches = write_batches(&events, |n| *n);
            let joined: Vec<u64> = batches.iter().flat_map(|b| b.iter().copied()).collect();
            proptest::prop_assert_eq!(&joined, &events);
            for (at, batch) in batches.iter().enumerate() {
                let total: u64 = batch.iter().sum();
                proptest::prop_assert!(!batch.is_empty());
                proptest::prop_assert!(batch.len() <= STREAMS_PER_WRITE_BATCH_MAX);
                proptest::prop_assert!(batch.len() == 1 || total <= EVENTS_PER_WRITE_BATCH_MAX);
                if let Some(next) = batches.get(at + 1) {
                    proptest::prop_assert!(
                        batch.len() == STREAMS_PER_WRITE_BATCH_MAX
                            || total + next[0] > EVENTS_PER_WRITE_BATCH_MAX
                    );
                }
            }
        }
    }

    #[test]
    fn write_batches_of_long_histories_hold_fewer_streams() {
        // 100 events a stream: 128 streams a batch; 400 events: 32.
        let short = vec![100u64; 300];
        let sizes: Vec<usize> = write_batches(&short, |n| *n)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, vec![128, 128, 44]);
        let long = vec![400u64; 70];
        let sizes: Vec<usize> = write_batches(&long, |n| *n)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, vec![32, 32, 6]);
        // A stream longer than a batch is a batch of its own.
        let sizes: Vec<usize> = write_batches(&[5, 20_000, 5], |n| *n)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, vec![1, 1, 1]);
    }

    #[test]
    fn row_blobs_round_trip_and_a_malformed_blob_is_a_typed_error() {
        let mut rows = Rows::new();
        rows.put(0, b"b", b"2");
        rows.put(0, b"a", b"");
        rows.put(2, Vec::new(), b"x");
        let blobs = row_blobs(&rows, 3);
        assert!(blobs[1].is_none());
        let mut seen = Vec::new();
        framing::for_each_row(blobs[0].as_ref().unwrap(), |k, v| {
            seen.push((k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            vec![
                (b"a".to_vec(), b"".to_vec()),
                (b"b".to_vec(), b"2".to_vec())
            ]
        );
        let blob = blobs[0].as_ref().unwrap();
        for cut in 1..blob.len() {
            let result = framing::for_each_row(&blob[..cut], |_, _| Ok(()));
            if cut != 9 {
                // Only the cut after the first whole row (4 + 1 + 4 + 0 bytes) is well formed.
                assert!(
                    matches!(result, Err(ProjectionError::Corrupt { .. })),
                    "cut {cut}"
                );
            }
        }
    }
}
