//! caseledger-projections: read models rebuilt from the log.
//!
//! - [`projection`]: the contract — a deterministic per-stream fold plus the rows each stream
//!   contributes;
//! - [`memory`]: folding in memory (benchmarks, as-of queries);
//! - [`persisted`]: the sled read-model database with generations, the checkpointed runner,
//!   full and single-case rebuilds;
//! - [`digest`]: SHA-256 over canonical rows;
//! - [`case`]: the case projection and its six read models; [`report`]: the report queries;
//! - [`synthetic`]: valid domain histories from the domain's own `decide` (tests, crash test,
//!   benchmark).

pub mod case;
pub mod codec;
pub mod digest;
pub mod error;
mod framing;
pub mod memory;
mod parallel;
pub mod persisted;
pub mod projection;
pub mod report;
pub mod source;
pub mod synthetic;

pub use error::ProjectionError;
pub use memory::{fold_store, MemoryFold, MemoryReadModels};
pub use persisted::{
    catch_up, consumer_name, rebuild, rebuild_stream, rebuild_with, run_live, ReadModelDb,
    RebuildOptions, RebuildReport, EVENTS_PER_PASS_MAX_DEFAULT, READ_MODEL_CACHE_BYTES_DEFAULT,
    READ_MODEL_CACHE_BYTES_MIN, STREAMS_PER_PASS_MAX_DEFAULT,
};
pub use projection::{Projection, Rows};
pub use source::RowSource;

/// Which part of the log a read model reflects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    /// Everything recorded so far.
    Now,
    /// What the system knew at this instant: records with `recorded_at_us ≤` it (a prefix of
    /// the log, since recorded_at never decreases by position).
    Recorded(i64),
    /// What was true in the world by this instant, as known now: records with
    /// `effective_at_us ≤` it, in position order.
    Effective(i64),
}

/// Receives progress while a projection folds.
pub trait Progress: Send {
    /// `position` of `head` folded so far for `projection`.
    fn update(&mut self, projection: &str, position: u64, head: u64);
}

/// No progress reporting.
pub struct NoProgress;

impl Progress for NoProgress {
    fn update(&mut self, _projection: &str, _position: u64, _head: u64) {}
}

impl<F: FnMut(&str, u64, u64) + Send> Progress for F {
    fn update(&mut self, projection: &str, position: u64, head: u64) {
        self(projection, position, head)
    }
}

/// Rebuild every read model of the case projection `cases` (with the store's keyring, so the
/// young-adult measure can read dates of birth) in the database at `readmodels_path`
/// (usually `<data>/readmodels`) from `store`; returns each projection's report with digests.
pub async fn rebuild_read_models(
    store: &dyn caseledger_store::EventStore,
    cases: &case::CaseProjection,
    readmodels_path: &std::path::Path,
    options: RebuildOptions,
    progress: &mut dyn Progress,
) -> Result<Vec<RebuildReport>, ProjectionError> {
    let db = ReadModelDb::open(readmodels_path)?;
    let report = rebuild_with(store, &db, cases, options, progress).await?;
    db.flush()?;
    Ok(vec![report])
}

/// [`report_read_model_with`] with the default options.
pub async fn report_read_model(
    store: &dyn caseledger_store::EventStore,
    cases: &case::CaseProjection,
    readmodels_path: &std::path::Path,
    name: &str,
    as_of: AsOf,
    today: jiff::civil::Date,
) -> Result<report::Table, ProjectionError> {
    report_read_model_with(
        store,
        cases,
        readmodels_path,
        name,
        &report::ReportOptions::default(),
        as_of,
        today,
    )
    .await
}

/// The table of report `name` on `today` with `options` (caseload grouping): from the
/// persisted read models for [`AsOf::Now`] (caught up with the log first), otherwise folded in
/// memory as of the given instant.
pub async fn report_read_model_with(
    store: &dyn caseledger_store::EventStore,
    cases: &case::CaseProjection,
    readmodels_path: &std::path::Path,
    name: &str,
    options: &report::ReportOptions,
    as_of: AsOf,
    today: jiff::civil::Date,
) -> Result<report::Table, ProjectionError> {
    check_report_name(name)?;
    let db = match as_of {
        AsOf::Now => {
            let db = ReadModelDb::open(readmodels_path)?;
            catch_up(store, &db, cases, &mut NoProgress).await?;
            Some(db)
        }
        _ => None,
    };
    report_from_with(store, cases, db.as_ref(), name, options, as_of, today).await
}

/// The table of report `name` on `today` without catching up first: for [`AsOf::Now`] the
/// rows of the generation in service in `db` as they stand (a process that keeps them
/// current with [`run_live`] serves them this way; the lag is the log's head minus
/// [`RowSource::checkpoint`] of its view); otherwise folded in memory from `store` as of the given
/// instant. `db` is needed only for [`AsOf::Now`].
pub async fn report_from(
    store: &dyn caseledger_store::EventStore,
    cases: &case::CaseProjection,
    db: Option<&ReadModelDb>,
    name: &str,
    as_of: AsOf,
    today: jiff::civil::Date,
) -> Result<report::Table, ProjectionError> {
    report_from_with(
        store,
        cases,
        db,
        name,
        &report::ReportOptions::default(),
        as_of,
        today,
    )
    .await
}

/// [`report_from`] with report options (caseload grouping).
pub async fn report_from_with(
    store: &dyn caseledger_store::EventStore,
    cases: &case::CaseProjection,
    db: Option<&ReadModelDb>,
    name: &str,
    options: &report::ReportOptions,
    as_of: AsOf,
    today: jiff::civil::Date,
) -> Result<report::Table, ProjectionError> {
    check_report_name(name)?;
    match as_of {
        AsOf::Now => {
            let never_built = || {
                ProjectionError::InvalidArgument(
                    "read models were never built; run `caseledger rebuild`".into(),
                )
            };
            let db = db.ok_or_else(never_built)?;
            let view = db.view(cases)?.ok_or_else(never_built)?;
            report::run_with(name, options, &view, today)
        }
        _ => {
            let models = fold_store(cases, store, as_of, &mut NoProgress).await?;
            report::run_with(name, options, &models, today)
        }
    }
}

fn check_report_name(name: &str) -> Result<(), ProjectionError> {
    if report::REPORTS.contains(&name) {
        return Ok(());
    }
    Err(ProjectionError::InvalidArgument(format!(
        "no report {name:?}; choose one of {}",
        report::REPORTS.join(", ")
    )))
}
