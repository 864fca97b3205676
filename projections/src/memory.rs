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

    /// Derive every stream's rows.
    pub fn finish(self) -> Result<MemoryReadModels, ProjectionError> {
        let models = self.projection.models();
        let mut rows: Vec<BTreeMap<Vec<u8>, Vec<u8>>> = vec![BTreeMap::new(); models.len()];
        let mut stream_rows = Rows::new();
        for (stream, state) in &self.states {
            stream_rows.clear();
            self.projection.rows(stream, state, &mut stream_rows);
            stream_rows.check(stream, models.len())?;
            for (model, key, value) in stream_rows.iter() {
                rows[usize::from(model)].insert(model_row_key(stream, key), value.to_vec());
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

/// Fold records from `fold`'s checkpoint up to `head` (as of `as_of`) into `fold`, one
/// `read_all` page at a time (memory: one page plus the per-stream states).
pub(crate) async fn fold_pages<P: Projection>(
    fold: &mut MemoryFold<'_, P>,
    store: &dyn EventStore,
    head: u64,
    as_of: AsOf,
    progress: &mut dyn Progress,
) -> Result<(), ProjectionError> {
    let mut next = fold.checkpoint + 1;
    'pages: while next <= head {
        let page = store.read_all(next, READ_ALL_PAGE_EVENTS_MAX).await?;
        if page.is_empty() {
            break;
        }
        for record in &page {
            if record.position > head {
                break 'pages;
            }
            match as_of {
                AsOf::Now => fold.fold(record)?,
                // recorded_at is non-decreasing by position: the first later record ends the prefix.
                AsOf::Recorded(at_us) if record.recorded_at_us > at_us => break 'pages,
                AsOf::Recorded(_) => fold.fold(record)?,
                AsOf::Effective(at_us) if record.effective_at_us > at_us => fold.skip(record),
                AsOf::Effective(_) => fold.fold(record)?,
            }
        }
        next = fold.checkpoint + 1;
        progress.update(fold.projection.name(), fold.checkpoint, head);
    }
    Ok(())
}
