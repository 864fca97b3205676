//! Any read model as of (recorded instant R, effective instant E): the
//! projections' in-memory fold fed with the records recorded by R — a prefix of the log, so the
//! walk stops at the first later one — folding those effective by E and skipping the others,
//! in position order. The projections crate alone offers one axis at a time; this combines
//! both with the same semantics as the case-level [`crate::history::state_as_of`].

use caseledger_projections::case::CaseProjection;
use caseledger_projections::report::{self, Table};
use caseledger_projections::{MemoryFold, MemoryReadModels, Projection};
use caseledger_store::{EventStore, ReadAll, READ_ALL_PAGE_EVENTS_MAX};
use jiff::civil::Date;

use crate::asof::AsOf;
use crate::error::ReplayError;

/// Fold `projection` over the log as of (R, E), in bounded pages.
pub async fn read_models_as_of<P: Projection, S: EventStore + ?Sized>(
    projection: &P,
    store: &S,
    as_of: AsOf,
) -> Result<MemoryReadModels, ReplayError> {
    let head = store.head().await?;
    let mut fold = MemoryFold::new(projection)?;
    let mut pages = ReadAll::new(store, 1, READ_ALL_PAGE_EVENTS_MAX).through(head);
    while let Some(page) = pages.next_page().await? {
        // Recorded after R: so is everything after it (recorded_at never decreases).
        let known = page.iter().take_while(|r| as_of.knows(r)).count();
        projection.prepare(&page[..known]).await?;
        for record in &page[..known] {
            fold_as_of(projection, &mut fold, record, as_of)?;
        }
        if known < page.len() {
            break;
        }
    }
    Ok(fold.finish()?)
}

/// Fold (or skip, when it is not effective by E) one record known by R.
fn fold_as_of<P: Projection>(
    projection: &P,
    fold: &mut MemoryFold<'_, P>,
    record: &caseledger_store::RecordedEvent,
    as_of: AsOf,
) -> Result<(), ReplayError> {
    match as_of.effective_through_us {
        None => fold.fold(record)?,
        Some(at_us) => {
            // Effective by E as the projection dates the fact (ASOF-1).
            match projection.decode(record) {
                Ok(d) if !projection.effective_by(record, &d, at_us) => fold.skip(record),
                decoded => fold.fold_decoded(record, decoded)?,
            }
        }
    }
    Ok(())
}

/// Report `name` (one of the projections' reports: caseload, mappa, handovers, …) as of
/// (R, E), judged on `today`, folded by `cases` (with the store's keyring, so the
/// young-adult measure can read dates of birth).
pub async fn report_as_of<S: EventStore + ?Sized>(
    store: &S,
    cases: &CaseProjection,
    name: &str,
    as_of: AsOf,
    today: Date,
) -> Result<Table, ReplayError> {
    report_as_of_with(
        store,
        cases,
        name,
        &report::ReportOptions::default(),
        as_of,
        today,
    )
    .await
}

/// [`report_as_of`] with options (`caseload` grouped `--by` provider, PDU, team, …).
pub async fn report_as_of_with<S: EventStore + ?Sized>(
    store: &S,
    cases: &CaseProjection,
    name: &str,
    options: &report::ReportOptions,
    as_of: AsOf,
    today: Date,
) -> Result<Table, ReplayError> {
    let models = read_models_as_of(cases, store, as_of).await?;
    Ok(report::run_with(name, options, &models, today)?)
}
