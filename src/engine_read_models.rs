//! Read models through the [`Engine`]: a report from the persisted read models (or as of an
//! instant), keeping the read models level with the log while a service runs, and how far
//! behind the log they are.
//!
//! Thin wrappers over `caseledger_projections` on the engine's own store, so a shell (the
//! CLI, the HTTP server) never reaches into the store itself.

use std::sync::Arc;

use caseledger_projections::case::CaseProjection;
use caseledger_projections::report::Table;
use caseledger_projections::{
    report_from, run_live, AsOf, ProjectionError, ReadModelDb, RowSource,
};
use jiff::civil::Date;

use crate::engine::{Engine, EngineError};

impl Engine {
    /// The head of the log: the position of the last record appended (0: empty).
    pub async fn head(&self) -> Result<u64, EngineError> {
        Ok(self.store().head().await?)
    }

    /// The case projection over this engine's keyring (it opens persons' sealed data).
    pub fn case_projection(&self) -> CaseProjection {
        CaseProjection::with_keys(Arc::clone(self.keyring()))
    }

    /// Report `name` judged on `today`: for [`AsOf::Now`] the rows of `readmodels` as they
    /// stand (kept current by [`Engine::follow_read_models`]; not caught up here), otherwise
    /// folded from the log as of the given instant.
    pub async fn report(
        &self,
        readmodels: Option<&ReadModelDb>,
        name: &str,
        as_of: AsOf,
        today: Date,
    ) -> Result<Table, ProjectionError> {
        report_from(
            self.store().as_ref(),
            &self.case_projection(),
            readmodels,
            name,
            as_of,
            today,
        )
        .await
    }

    /// Keep `readmodels` level with the log until `shutdown` turns true: catch up (building
    /// the first generation if there is none), then fold every new record as it is
    /// appended. `on_checkpoint` hears each new checkpoint. Returns the last checkpoint.
    pub async fn follow_read_models(
        &self,
        readmodels: &ReadModelDb,
        shutdown: tokio::sync::watch::Receiver<bool>,
        mut on_checkpoint: impl FnMut(u64) + Send,
    ) -> Result<u64, ProjectionError> {
        let mut progress = |_: &str, position: u64, _head: u64| on_checkpoint(position);
        let store = Arc::clone(self.store());
        let cases = self.case_projection();
        run_live(store, readmodels, &cases, shutdown, &mut progress).await
    }

    /// How many records of the log the read models in service have not folded yet (`None`
    /// when they were never built).
    pub async fn read_model_lag(
        &self,
        readmodels: &ReadModelDb,
    ) -> Result<Option<u64>, ProjectionError> {
        let Some(view) = readmodels.view(&CaseProjection::default())? else {
            return Ok(None);
        };
        let checkpoint = view.checkpoint();
        let head = self.store().head().await?;
        Ok(Some(head.saturating_sub(checkpoint)))
    }
}
