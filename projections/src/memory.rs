//! Folding in memory: full rebuilds for benchmarks and digests, and as-of queries.
//!
//! Memory is bounded by the number of streams: one state per stream while folding, then the
//! rows derived once per stream at the end (rows are a pure function of the final state, so
//! deriving them once is equivalent to deriving them after every event).

use std::collections::BTreeMap;

use caseledger_store::{EventStore, ReadAll, RecordedEvent};

use crate::projection::{check_models, Projection, Rows};
use crate::source::{RowSource, RowVisitor};
use crate::{framing, parallel};
use crate::{AsOf, Progress, ProjectionError};

/// Rows of every model of one projection, in memory.
///
/// Each model's rows are held framed ([`crate::framing`]: full key, value) in a few large
/// buffers, in key order: no allocation per row, and the model's digest is the SHA-256 of
/// those bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryReadModels {
    models: Vec<String>,
    rows: Vec<FramedRows>,
    /// SHA-256 of each model's rows, computed as they were derived.
    digests: Vec<String>,
    checkpoint: u64,
    events_folded: u64,
}

/// One model's rows, framed, in key order, in chunks of about [`FRAMED_CHUNK_BYTES`]: a
/// model grows to hundreds of MiB in a large rebuild, and one growing buffer would copy
/// itself at every doubling and need twice its size at the moment it did. A row never spans
/// two chunks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct FramedRows {
    chunks: Vec<Vec<u8>>,
    rows: u64,
}

/// Largest chunk of framed rows, in bytes.
const FRAMED_CHUNK_BYTES: usize = 256 * 1024;
/// First chunk of a model's rows in a batch, in bytes.
const FRAMED_CHUNK_BYTES_FIRST: usize = 16 * 1024;

impl FramedRows {
    fn push(&mut self, key_parts: &[&[u8]], value: &[u8]) {
        let needed = 8 + key_parts.iter().map(|p| p.len()).sum::<usize>() + value.len();
        let fits = self
            .chunks
            .last()
            .is_some_and(|c| c.capacity() - c.len() >= needed);
        if !fits {
            // Chunks start small and double up to FRAMED_CHUNK_BYTES: a batch of streams has
            // megabytes of performance rows but only kilobytes of caseload rows.
            let size = self
                .chunks
                .last()
                .map_or(FRAMED_CHUNK_BYTES_FIRST, |c| c.capacity() * 2)
                .min(FRAMED_CHUNK_BYTES);
            self.chunks.push(Vec::with_capacity(needed.max(size)));
        }
        if let Some(chunk) = self.chunks.last_mut() {
            framing::push_row(chunk, key_parts, value);
        }
        self.rows += 1;
    }

    /// Move `other`'s rows after these (they must sort after them).
    fn append(&mut self, mut other: FramedRows) {
        self.chunks.append(&mut other.chunks);
        self.rows += other.rows;
    }

    fn bytes(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
    }
}

impl MemoryReadModels {
    pub fn events_folded(&self) -> u64 {
        self.events_folded
    }
    pub fn rows_in(&self, model: u8) -> u64 {
        self.rows.get(usize::from(model)).map_or(0, |m| m.rows)
    }
    /// Bytes of `model`'s rows (keys, values and framing).
    pub fn bytes_in(&self, model: u8) -> u64 {
        self.rows
            .get(usize::from(model))
            .map_or(0, FramedRows::bytes)
    }
}

impl RowSource for MemoryReadModels {
    fn models(&self) -> Vec<String> {
        self.models.clone()
    }
    fn checkpoint(&self) -> u64 {
        self.checkpoint
    }
    fn for_each_row(&self, model: u8, visit: &mut RowVisitor<'_>) -> Result<(), ProjectionError> {
        let rows = self.rows.get(usize::from(model)).ok_or_else(|| {
            ProjectionError::InvalidArgument(format!("no read model with index {model}"))
        })?;
        for chunk in &rows.chunks {
            framing::for_each_row(chunk, &mut *visit)?;
        }
        Ok(())
    }
    /// Computed by [`MemoryFold::finish`] over the framed rows, which are exactly the bytes
    /// [`crate::digest::RowDigest`] hashes, in the same order.
    fn digests(&self) -> Result<BTreeMap<String, String>, ProjectionError> {
        Ok(self
            .models
            .iter()
            .cloned()
            .zip(self.digests.iter().cloned())
            .collect())
    }
}

/// A fold in progress: per-stream states only.
///
/// States live in a vector in first-seen order, found through a hash index by stream id: a
/// rebuild looks a stream up once per event, and hashing a short CRN is cheaper than a
/// BTreeMap descent over thousands of them. Key order (which the digests and the persisted
/// generation need) is restored once, by [`MemoryFold::states`], when rows are derived.
pub struct MemoryFold<'p, P: Projection> {
    projection: &'p P,
    index: std::collections::HashMap<String, usize>,
    states: Vec<(String, P::State)>,
    /// Events folded into each state (same index as `states`): a rebuild cuts its write
    /// batches by events, since a stream's rows and state grow with its history.
    events: Vec<u64>,
    checkpoint: u64,
    events_folded: u64,
    /// One pass of a bounded rebuild folds only the streams whose ids lie in this inclusive
    /// range (passes are planned over the sorted stream ids, `persisted::plan_passes`); the
    /// records of other streams are skipped. `None`: every stream.
    streams: Option<(String, String)>,
}

impl<'p, P: Projection> MemoryFold<'p, P> {
    pub fn new(projection: &'p P) -> Result<Self, ProjectionError> {
        check_models(projection)?;
        Ok(Self {
            projection,
            index: std::collections::HashMap::new(),
            states: Vec::new(),
            events: Vec::new(),
            checkpoint: 0,
            events_folded: 0,
            streams: None,
        })
    }

    /// One pass of a bounded rebuild: fold only the streams from `first` to `last` (inclusive,
    /// in byte order of their ids).
    pub(crate) fn for_streams(
        projection: &'p P,
        first: String,
        last: String,
    ) -> Result<Self, ProjectionError> {
        if first > last {
            return Err(ProjectionError::InvalidArgument(format!(
                "a rebuild pass from stream {first} to {last} holds no stream"
            )));
        }
        let mut fold = Self::new(projection)?;
        fold.streams = Some((first, last));
        Ok(fold)
    }

    /// Whether this fold keeps a state for `stream`.
    fn admits(&self, stream: &str) -> bool {
        in_range(self.streams.as_ref(), stream)
    }

    /// Advance past the next record, of a stream this fold does not hold, without its
    /// payload decoded. Positions must still be gapless.
    fn pass_over(&mut self, record: &RecordedEvent) -> Result<(), ProjectionError> {
        if record.position != self.checkpoint + 1 {
            return Err(ProjectionError::LogGap {
                checkpoint: self.checkpoint,
                got: record.position,
            });
        }
        // The readers decode every record of a stream this fold holds (`decode_page`); an
        // undecoded one here would be an event silently left out of the read models.
        assert!(
            !self.admits(record.stream_id.as_str()),
            "record {} of stream {} was not decoded for a fold that holds it",
            record.position,
            record.stream_id
        );
        self.skip(record);
        Ok(())
    }

    /// Fold the next record of the log. Records must come in position order, gapless.
    pub fn fold(&mut self, record: &RecordedEvent) -> Result<(), ProjectionError> {
        if !self.admits(record.stream_id.as_str()) {
            return self.pass_over(record);
        }
        let decoded = self.projection.decode(record);
        self.fold_decoded(record, decoded)
    }

    /// Fold the next record with what [`Projection::decode`] made of it (decoded elsewhere,
    /// e.g. on the read-ahead thread). A decode error is reported here, for a record that is
    /// folded, never for one that is skipped.
    pub fn fold_decoded(
        &mut self,
        record: &RecordedEvent,
        decoded: Result<P::Decoded, ProjectionError>,
    ) -> Result<(), ProjectionError> {
        if record.position != self.checkpoint + 1 {
            return Err(ProjectionError::LogGap {
                checkpoint: self.checkpoint,
                got: record.position,
            });
        }
        let at = match self.index.get(record.stream_id.as_str()) {
            Some(&at) => at,
            None => {
                // A stream of another pass: not folded here (its decode error, if any, is
                // reported by the pass that folds it).
                if !self.admits(record.stream_id.as_str()) {
                    self.skip(record);
                    return Ok(());
                }
                self.states
                    .push((record.stream_id.clone(), P::State::default()));
                self.events.push(0);
                self.index
                    .insert(record.stream_id.clone(), self.states.len() - 1);
                self.states.len() - 1
            }
        };
        self.projection
            .apply(&mut self.states[at].1, record, decoded?)?;
        self.events[at] += 1;
        self.skip(record);
        self.events_folded += 1;
        Ok(())
    }

    /// Advance past a record without folding it (as-of filters).
    pub fn skip(&mut self, record: &RecordedEvent) {
        self.checkpoint = record.position;
    }

    pub fn streams(&self) -> usize {
        self.states.len()
    }

    /// Last position folded (or skipped).
    pub fn checkpoint(&self) -> u64 {
        self.checkpoint
    }

    /// The per-stream states folded so far, in stream-id order.
    pub(crate) fn states(&self) -> Vec<(&String, &P::State)> {
        let mut states: Vec<(&String, &P::State)> =
            self.states.iter().map(|(k, v)| (k, v)).collect();
        states.sort_unstable_by(|a, b| a.0.cmp(b.0));
        states
    }

    /// Events folded into `stream`'s state (0 for a stream this fold does not hold).
    pub(crate) fn events_of(&self, stream: &str) -> u64 {
        self.index.get(stream).map_or(0, |&at| self.events[at])
    }

    /// Derive every stream's rows and each model's digest.
    ///
    /// Streams are cut, in key order, into batches of [`STREAMS_PER_ROW_BATCH_MAX`], derived
    /// on [`FINISH_THREADS_MAX`] threads and taken in key order on this one
    /// (`parallel::map_in_order`), which appends them to the models and feeds the digests
    /// while the workers derive the next ones. Rows are a pure function of each stream's
    /// state, so the split changes nothing in the result.
    pub fn finish(self) -> Result<MemoryReadModels, ProjectionError> {
        let models = self.projection.models();
        let states = self.states();
        let batches: Vec<&[(&String, &P::State)]> =
            states.chunks(STREAMS_PER_ROW_BATCH_MAX).collect();
        let projection = self.projection;
        let mut rows: Vec<FramedRows> = vec![FramedRows::default(); models.len()];
        let mut digests: Vec<sha2::Sha256> = vec![sha2::Sha256::default(); models.len()];
        parallel::map_in_order(
            &batches,
            FINISH_THREADS_MAX,
            |batch| derive_rows(projection, models.len(), batch),
            |batch| {
                for ((model, digest), part) in rows.iter_mut().zip(&mut digests).zip(batch) {
                    for chunk in &part.chunks {
                        sha2::Digest::update(digest, chunk);
                    }
                    model.append(part);
                }
                Ok(())
            },
        )?;
        Ok(MemoryReadModels {
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            rows,
            digests: digests
                .into_iter()
                .map(|d| hex::encode(sha2::Digest::finalize(d)))
                .collect(),
            checkpoint: self.checkpoint,
            events_folded: self.events_folded,
        })
    }
}

/// Threads deriving rows at the end of a fold: the machines this runs on have two cores or
/// more, and rows of 10,000 cases are ~1 s of work for one core.
pub const FINISH_THREADS_MAX: usize = 2;

/// Streams whose rows are derived as one batch: enough work (a few ms) to amortise handing
/// it over, small enough that the batches in flight (two per worker) stay a few MiB.
pub const STREAMS_PER_ROW_BATCH_MAX: usize = 128;

/// The rows of `states` (in stream order), framed per model.
fn derive_rows<P: Projection>(
    projection: &P,
    models: usize,
    states: &[(&String, &P::State)],
) -> Result<Vec<FramedRows>, ProjectionError> {
    let mut rows: Vec<FramedRows> = vec![FramedRows::default(); models];
    let mut stream_rows = Rows::new();
    let mut previous: Option<&str> = None;
    for (stream, state) in states {
        // Key order of the framed buffers rests on streams coming in order, each once.
        assert!(previous < Some(stream.as_str()), "streams out of order");
        previous = Some(stream.as_str());
        stream_rows.clear();
        projection.rows(stream, state, &mut stream_rows);
        stream_rows.check(stream, models)?;
        for (model, key, value) in stream_rows.iter() {
            rows[usize::from(model)].push(&[stream.as_bytes(), &[0], key], value);
        }
    }
    Ok(rows)
}

/// Fold the log (as of `as_of`) into read models in memory.
pub async fn fold_store<P: Projection>(
    projection: &P,
    store: &dyn EventStore,
    as_of: AsOf,
    progress: &mut dyn Progress,
) -> Result<MemoryReadModels, ProjectionError> {
    let head = store.head().await?;
    let mut fold = MemoryFold::new(projection)?;
    fold_pages(&mut fold, store, head, as_of, progress).await?;
    fold.finish()
}

/// Pages each read-ahead thread may have read and decoded but not yet handed to the fold.
pub const READ_AHEAD_PAGES_MAX: u32 = 4;

/// Threads reading (and decoding) the log ahead of the fold, page by page in turn: reading
/// sled and decoding records is the larger half of a rebuild's work, so two readers keep the
/// one fold thread fed on two cores. Memory: each reader holds at most
/// [`READ_AHEAD_PAGES_MAX`] + 1 pages of [`FOLD_PAGE_EVENTS`] records.
pub const READ_AHEAD_THREADS: usize = 2;

/// Records per page read for a fold: smaller than the store's largest page
/// (`READ_ALL_PAGE_EVENTS_MAX`) on purpose. A page and its decoded events are allocated and
/// freed once per page; at 4,096 records they passed a megabyte, which the allocator serves
/// straight from the operating system, so every page paid for faulting in fresh, zeroed
/// memory (a quarter of a rebuild's time, measured with `perf`). Pages of 512 records are
/// reused from the allocator's free lists.
pub const FOLD_PAGE_EVENTS: u32 = 512;

type PageRead<'s> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<Vec<RecordedEvent>, caseledger_store::StoreError>>
            + Send
            + 's,
    >,
>;

/// Whether `stream` lies in the inclusive range of stream ids (`None`: every stream).
fn in_range(streams: Option<&(String, String)>, stream: &str) -> bool {
    match streams {
        None => true,
        Some((first, last)) => first.as_str() <= stream && stream <= last.as_str(),
    }
}

/// A page of records, each with what the projection decoded from it (or why it could not);
/// `None` for a record of a stream outside the fold's range, which is not decoded.
type DecodedPage<D> = Vec<(RecordedEvent, Option<Result<D, ProjectionError>>)>;

/// Decode the payloads of the records of the streams in `streams`. One pass of a bounded
/// rebuild holds a small range of the streams but reads every record of the log: decoding
/// only its own saves the payload decoding of all the others, on every pass.
fn decode_page<P: Projection>(
    projection: &P,
    streams: Option<&(String, String)>,
    page: Vec<RecordedEvent>,
) -> DecodedPage<P::Decoded> {
    page.into_iter()
        .map(|record| {
            let decoded =
                in_range(streams, record.stream_id.as_str()).then(|| projection.decode(&record));
            (record, decoded)
        })
        .collect()
}

/// Poll a page read once on the current thread. Stores that read synchronously (sled, memory)
/// finish here; a network store (PostgreSQL) returns the read unfinished, to be awaited.
fn poll_once<'s>(
    mut read: PageRead<'s>,
) -> Result<Result<Vec<RecordedEvent>, caseledger_store::StoreError>, PageRead<'s>> {
    use std::task::{Context, Poll, Waker};
    match read.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(page) => Ok(page),
        Poll::Pending => Err(read),
    }
}

/// Fold one page; `Ok(true)` when the fold must stop (head passed, or as-of prefix ended).
fn fold_page<P: Projection>(
    fold: &mut MemoryFold<'_, P>,
    page: DecodedPage<P::Decoded>,
    head: u64,
    as_of: AsOf,
) -> Result<bool, ProjectionError> {
    for (record, decoded) in page {
        if record.position > head {
            return Ok(true);
        }
        match as_of {
            // recorded_at is non-decreasing by position: the first later record ends the prefix.
            AsOf::Recorded(at_us) if record.recorded_at_us > at_us => return Ok(true),
            AsOf::Effective(at_us) if !effective_by(fold.projection, &record, &decoded, at_us) => {
                fold.skip(&record)
            }
            AsOf::Now | AsOf::Recorded(_) | AsOf::Effective(_) => match decoded {
                Some(decoded) => fold.fold_decoded(&record, decoded)?,
                None => fold.pass_over(&record)?,
            },
        }
    }
    Ok(false)
}

/// Whether `record` applies as of the effective instant `at_us`: the projection judges a
/// record it decoded; one it did not (another pass's stream, or undecodable — the fold then
/// reports the error) by its envelope.
fn effective_by<P: Projection>(
    projection: &P,
    record: &RecordedEvent,
    decoded: &Option<Result<P::Decoded, ProjectionError>>,
    at_us: i64,
) -> bool {
    match decoded {
        Some(Ok(d)) => projection.effective_by(record, d, at_us),
        _ => record.effective_at_us <= at_us,
    }
}

/// What the read-ahead thread hands the fold.
enum Ahead<'s, D> {
    /// The next page, decoded.
    Page(DecodedPage<D>),
    /// The store could not read the next page at once (a network store): the caller awaits it
    /// and goes on without the helper.
    Unfinished(PageRead<'s>),
    Failed(caseledger_store::StoreError),
}

/// Fold records from `fold`'s checkpoint up to `head` (as of `as_of`) into `fold`, one
/// `read_all` page at a time.
///
/// A store that reads synchronously (sled, memory) is read by [`READ_AHEAD_THREADS`] helper
/// threads that live for the whole fold: page `k` (records `first + k·P ..`, `P` =
/// [`FOLD_PAGE_EVENTS`]; positions are gapless) is read and decoded by reader
/// `k mod READ_AHEAD_THREADS` and handed over its channel; the fold takes pages from the
/// channels in turn, so in position order. Long-lived threads rather than one per page: a new
/// thread gets fresh allocator pages for everything it decodes, and faulting those in cost
/// more than the decoding. A network store (PostgreSQL) is read on the caller's task. The fold
/// itself stays on the caller's thread, in position order (and checks that positions are
/// gapless), so the result is the same as a plain sequential fold.
///
/// The helpers read `read_all` pages at positions computed from the page number, several at
/// once, which [`ReadAll`] (one page after the other) cannot; the fold itself checks that each
/// record is the next position (`LogGap`). What remains after a network store's unfinished read is read
/// through `ReadAll`.
pub(crate) async fn fold_pages<P: Projection>(
    fold: &mut MemoryFold<'_, P>,
    store: &dyn EventStore,
    head: u64,
    as_of: AsOf,
    progress: &mut dyn Progress,
) -> Result<(), ProjectionError> {
    let first = fold.checkpoint + 1;
    if first > head {
        return Ok(());
    }
    let projection = fold.projection;
    let streams = fold.streams.clone();
    let streams = streams.as_ref();
    let page_events = u64::from(FOLD_PAGE_EVENTS);
    let first_page = match poll_once(store.read_all(first, FOLD_PAGE_EVENTS)) {
        Ok(page) => page?,
        Err(unfinished) => {
            let page = unfinished.await?;
            return fold_on_this_task(fold, store, page, head, as_of, progress).await;
        }
    };
    if first_page.last().is_none_or(|r| r.position >= head) {
        return fold_on_this_task(fold, store, first_page, head, as_of, progress).await;
    }
    let pages_total = (head - first) / page_events + 1;
    // A helper thread that polls a read must see the caller's runtime (the memory store and
    // sled do not need it, but a store may).
    let runtime = tokio::runtime::Handle::try_current().ok();
    let unfinished =
        std::thread::scope(|scope| -> Result<Option<PageRead<'_>>, ProjectionError> {
            let mut first_page = Some(first_page);
            let mut channels = Vec::with_capacity(READ_AHEAD_THREADS);
            for reader in 0..READ_AHEAD_THREADS as u64 {
                let (pages, received) = std::sync::mpsc::sync_channel::<Ahead<'_, P::Decoded>>(
                    usize::try_from(READ_AHEAD_PAGES_MAX).unwrap_or(1),
                );
                channels.push(received);
                // Reader 0 starts with the page already read.
                let mut ready = if reader == 0 { first_page.take() } else { None };
                let runtime = runtime.clone();
                scope.spawn(move || {
                    let _context = runtime.as_ref().map(|r| r.enter());
                    let mut k = reader;
                    // Each send fails only once the fold has stopped and dropped the receiver.
                    while k < pages_total {
                        let page = match ready.take() {
                            Some(page) => page,
                            None => {
                                let from = first + k * page_events;
                                match poll_once(store.read_all(from, FOLD_PAGE_EVENTS)) {
                                    Ok(Ok(page)) => page,
                                    Ok(Err(e)) => {
                                        let _ = pages.send(Ahead::Failed(e));
                                        return;
                                    }
                                    Err(unfinished) => {
                                        let _ = pages.send(Ahead::Unfinished(unfinished));
                                        return;
                                    }
                                }
                            }
                        };
                        if pages
                            .send(Ahead::Page(decode_page(projection, streams, page)))
                            .is_err()
                        {
                            return;
                        }
                        k += READ_AHEAD_THREADS as u64;
                    }
                });
            }
            for k in 0..pages_total {
                let from_reader = usize::try_from(k % READ_AHEAD_THREADS as u64).unwrap_or(0);
                // A reader only stops early after sending why; a closed channel here means it
                // panicked, which the scope re-raises.
                let Ok(ahead) = channels[from_reader].recv() else {
                    break;
                };
                match ahead {
                    Ahead::Page(page) => {
                        let stop = fold_page(fold, page, head, as_of)?;
                        progress.update(projection.name(), fold.checkpoint, head);
                        if stop {
                            return Ok(None);
                        }
                    }
                    Ahead::Unfinished(read) => return Ok(Some(read)),
                    Ahead::Failed(e) => return Err(e.into()),
                }
            }
            Ok(None)
        })?;
    match unfinished {
        Some(read) => {
            let page = read.await?;
            fold_on_this_task(fold, store, page, head, as_of, progress).await
        }
        None => Ok(()),
    }
}

/// Read, decode and fold page by page on the caller's task, starting with `page`.
async fn fold_on_this_task<P: Projection>(
    fold: &mut MemoryFold<'_, P>,
    store: &dyn EventStore,
    mut page: Vec<RecordedEvent>,
    head: u64,
    as_of: AsOf,
    progress: &mut dyn Progress,
) -> Result<(), ProjectionError> {
    let projection = fold.projection;
    let streams = fold.streams.clone();
    let mut rest: Option<ReadAll<&dyn EventStore>> = None;
    while let Some(last) = page.last().map(|r| r.position) {
        projection.prepare(&page).await?;
        let decoded = decode_page(projection, streams.as_ref(), page);
        let stop = fold_page(fold, decoded, head, as_of)?;
        progress.update(projection.name(), fold.checkpoint, head);
        if stop {
            break;
        }
        let reader = rest
            .get_or_insert_with(|| ReadAll::new(store, last + 1, FOLD_PAGE_EVENTS).through(head));
        match reader.next_page().await? {
            Some(next) => page = next,
            None => break,
        }
    }
    Ok(())
}
