//! Folding in memory: full rebuilds for benchmarks and digests, and as-of queries.
//!
//! Memory is bounded by the number of streams: one state per stream while folding, then the
//! rows derived once per stream at the end (rows are a pure function of the final state, so
//! deriving them once is equivalent to deriving them after every event).

use std::collections::BTreeMap;

use caseledger_store::{EventStore, RecordedEvent, READ_ALL_PAGE_EVENTS_MAX};

use crate::projection::{check_models, model_row_key, Projection, Rows};
use crate::source::{RowSource, RowVisitor};
use crate::{AsOf, Progress, ProjectionError};

/// Rows of every model of one projection, in memory.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryReadModels {
    models: Vec<String>,
    rows: Vec<BTreeMap<Vec<u8>, Vec<u8>>>,
    checkpoint: u64,
    events_folded: u64,
}

impl MemoryReadModels {
    pub fn events_folded(&self) -> u64 {
        self.events_folded
    }
    pub fn rows_in(&self, model: u8) -> u64 {
        self.rows
            .get(usize::from(model))
            .map_or(0, |m| m.len() as u64)
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
        for (k, v) in rows {
            visit(k, v)?;
        }
        Ok(())
    }
}

/// A fold in progress: per-stream states only.
pub struct MemoryFold<'p, P: Projection> {
    projection: &'p P,
    states: BTreeMap<String, P::State>,
    checkpoint: u64,
    events_folded: u64,
}

impl<'p, P: Projection> MemoryFold<'p, P> {
    pub fn new(projection: &'p P) -> Result<Self, ProjectionError> {
        check_models(projection)?;
        Ok(Self {
            projection,
            states: BTreeMap::new(),
            checkpoint: 0,
            events_folded: 0,
        })
    }

    /// Fold the next record of the log. Records must come in position order, gapless.
    pub fn fold(&mut self, record: &RecordedEvent) -> Result<(), ProjectionError> {
        if record.position != self.checkpoint + 1 {
            return Err(ProjectionError::LogGap {
                checkpoint: self.checkpoint,
                got: record.position,
            });
        }
        self.skip(record);
        let state = match self.states.get_mut(record.stream_id.as_str()) {
            Some(state) => state,
            None => self.states.entry(record.stream_id.clone()).or_default(),
        };
        self.projection.apply(state, record)?;
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

    /// The per-stream states folded so far, by stream id.
    pub(crate) fn states(&self) -> &BTreeMap<String, P::State> {
        &self.states
    }

    /// Derive every stream's rows, on [`FINISH_THREADS_MAX`] threads (rows are a pure function
    /// of each stream's state, so the split changes nothing in the result).
    pub fn finish(self) -> Result<MemoryReadModels, ProjectionError> {
        let models = self.projection.models();
        let states: Vec<(&String, &P::State)> = self.states.iter().collect();
        let chunk = states.len().div_ceil(FINISH_THREADS_MAX).max(1);
        let projection = self.projection;
        let parts: Vec<Result<ModelRows, ProjectionError>> = std::thread::scope(|scope| {
            let workers: Vec<_> = states
                .chunks(chunk)
                .map(|part| scope.spawn(move || derive_rows(projection, models.len(), part)))
                .collect();
            workers
                .into_iter()
                .map(|w| match w.join() {
                    Ok(rows) => rows,
                    Err(panic) => std::panic::resume_unwind(panic),
                })
                .collect()
        });
        let mut rows: ModelRows = vec![BTreeMap::new(); models.len()];
        // Parts cover consecutive stream ranges in order, and a row key starts with its stream
        // id and a 0 byte, so each part's keys sort after the previous part's: appending
        // keeps key order (and BTreeMap::append merges in linear time).
        for part in parts {
            for (all, mut part) in rows.iter_mut().zip(part?) {
                debug_assert!(match (all.last_key_value(), part.first_key_value()) {
                    (Some((a, _)), Some((b, _))) => a < b,
                    _ => true,
                });
                all.append(&mut part);
            }
        }
        Ok(MemoryReadModels {
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            rows,
            checkpoint: self.checkpoint,
            events_folded: self.events_folded,
        })
    }
}

/// Threads deriving rows at the end of a fold: the machines this runs on have two cores or
/// more, and rows of 10,000 cases are ~1 s of work per core.
pub const FINISH_THREADS_MAX: usize = 2;

/// Rows by model index, each model's rows by full key.
type ModelRows = Vec<BTreeMap<Vec<u8>, Vec<u8>>>;

fn derive_rows<P: Projection>(
    projection: &P,
    models: usize,
    states: &[(&String, &P::State)],
) -> Result<ModelRows, ProjectionError> {
    let mut rows: ModelRows = vec![BTreeMap::new(); models];
    let mut stream_rows = Rows::new();
    for (stream, state) in states {
        stream_rows.clear();
        projection.rows(stream, state, &mut stream_rows);
        stream_rows.check(stream, models)?;
        for (model, key, value) in stream_rows.drain() {
            rows[usize::from(model)].insert(model_row_key(stream, &key), value);
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

/// `read_all` pages read ahead of the fold: while one page is folded on the caller's thread,
/// the next is read (and its envelopes decoded) on a helper thread. One page bounds the extra
/// memory at one page of records (`READ_ALL_PAGE_EVENTS_MAX` events) and is enough to overlap
/// the two on two cores.
pub const READ_AHEAD_PAGES_MAX: u32 = 1;

type PageRead<'s> = std::pin::Pin<
    Box<
        dyn std::future::Future<Output = Result<Vec<RecordedEvent>, caseledger_store::StoreError>>
            + Send
            + 's,
    >,
>;

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
    page: &[RecordedEvent],
    head: u64,
    as_of: AsOf,
) -> Result<bool, ProjectionError> {
    for record in page {
        if record.position > head {
            return Ok(true);
        }
        match as_of {
            AsOf::Now => fold.fold(record)?,
            // recorded_at is non-decreasing by position: the first later record ends the prefix.
            AsOf::Recorded(at_us) if record.recorded_at_us > at_us => return Ok(true),
            AsOf::Recorded(_) => fold.fold(record)?,
            AsOf::Effective(at_us) if record.effective_at_us > at_us => fold.skip(record),
            AsOf::Effective(_) => fold.fold(record)?,
        }
    }
    Ok(false)
}

/// Fold records from `fold`'s checkpoint up to `head` (as of `as_of`) into `fold`, one
/// `read_all` page at a time, reading the next page on a helper thread while this one folds
/// (memory: [`READ_AHEAD_PAGES_MAX`] + 1 pages plus the per-stream states). The fold itself
/// stays on the caller's thread, in position order, so the result is the same as a plain
/// sequential fold.
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
    // A helper thread that polls a read must see the caller's runtime (PostgreSQL reads).
    let runtime = tokio::runtime::Handle::try_current().ok();
    let mut page = store.read_all(first, READ_ALL_PAGE_EVENTS_MAX).await?;
    while let Some(last) = page.last().map(|r| r.position) {
        // The next page starts after this one whatever the fold does with it; if the fold
        // stops, the page read ahead is dropped unread.
        let ahead: Option<PageRead<'_>> =
            (last < head).then(|| store.read_all(last + 1, READ_ALL_PAGE_EVENTS_MAX));
        let (folded, ahead) = std::thread::scope(|scope| {
            let reader = ahead.map(|read| {
                let runtime = runtime.clone();
                scope.spawn(move || {
                    let _context = runtime.as_ref().map(|r| r.enter());
                    poll_once(read)
                })
            });
            let folded = fold_page(fold, &page, head, as_of);
            let ahead = reader.map(|r| match r.join() {
                Ok(ahead) => ahead,
                Err(panic) => std::panic::resume_unwind(panic),
            });
            (folded, ahead)
        });
        let stop = folded?;
        progress.update(fold.projection.name(), fold.checkpoint, head);
        if stop {
            break;
        }
        page = match ahead {
            None => break,
            Some(Ok(page)) => page?,
            Some(Err(unfinished)) => unfinished.await?,
        };
        debug_assert!(page.first().is_none_or(|r| r.position == last + 1));
    }
    Ok(())
}
