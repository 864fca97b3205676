//! Audit replay through the [`Engine`]:
//! a case's history, the case as of a recorded and an effective instant, the explanation of a
//! decision, verification of the log, export, and any read model as of (R, E).
//!
//! Thin wrappers over `caseledger_replay` (and through it `caseledger_projections`) on the
//! engine's own store: the algorithms live there, the engine only finds the records. Nothing
//! here reads a clock: `today` and every as-of bound are arguments.
//!
//! ```
//! use caseledger::engine::{Engine, EngineConfig};
//! use caseledger::replay::asof::AsOf;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let engine = Engine::open(EngineConfig::memory()).unwrap();
//! engine
//!     .execute_json(r#"{"command_id": "0b7f3c8e-2f1a-4c55-9d5e-1d2c3b4a5f60", "crn": "X123456",
//!         "actor": {"id": "clerk1", "role": "case_administrator", "organisation": "nps"},
//!         "effective_at": "2016-03-01",
//!         "command": {"type": "open_case", "crn": "X123456", "pdu": 1, "team": null,
//!                     "on": "2016-03-01",
//!                     "person": {"name": "Alex Example", "date_of_birth": "1990-05-04",
//!                                "gender": "male"}}}"#)
//!     .await
//!     .unwrap();
//!
//! // The timeline of the case, everything recorded so far.
//! let history = engine.history("X123456", AsOf::now()).await.unwrap();
//! assert_eq!(history.entries[0].event_type, "CaseOpened");
//!
//! // The case as it stood on 29 February 2016 (effective time): not yet opened.
//! let before = "2016-02-29T23:59:59Z".parse().unwrap();
//! let case = engine.case_as_of("X123456", None, Some(before)).await.unwrap().unwrap();
//! assert_eq!(case.opened_on, None);
//!
//! // The chain is intact; publish ROOT@POSITION.
//! let outcome = engine.verify(None).await.unwrap();
//! assert!(outcome.is_ok());
//! assert_eq!(outcome.head, history.entries.len() as u64); // one case, nothing else
//!
//! // The caseload read model as of now, judged on a given day.
//! let table = engine
//!     .read_model_as_of("caseload", AsOf::now(), jiff::civil::date(2016, 3, 2))
//!     .await
//!     .unwrap();
//! assert!(!table.columns.is_empty());
//! # });
//! ```

use std::io::Write;
use std::sync::Arc;

use caseledger_domain::identity::Crn;
use caseledger_domain::CaseState;
use caseledger_projections::report::{ReportOptions, Table};
use caseledger_replay::asof::AsOf;
use caseledger_replay::backup_keys::{write_keys, KeysSummary};
use caseledger_replay::domain_model::DomainCase;
use caseledger_replay::domain_payload::DomainPayloads;
use caseledger_replay::explain::{explain_decision, stream_of_event, Explanation};
use caseledger_replay::export::{export_log, ExportSummary};
use caseledger_replay::history::{case_history, state_as_of, CaseHistory, HistoryOptions};
use caseledger_replay::read_models::{report_as_of, report_as_of_with};
use caseledger_replay::verify::{verify_log, Checkpoint, VerifyOutcome};
use caseledger_replay::ReplayError;
use caseledger_store::{RecordedEvent, StreamId};
use jiff::civil::Date;
use jiff::Timestamp;
use uuid::Uuid;

use crate::engine::Engine;

/// One record of an engine audit stream (`audit-refusals`: a [`CommandRefused`];
/// `audit-sessions`: an [`OperatorSession`]): where and when it was recorded, the correlation
/// id that links it to the events and refusals of the same session, and the record itself.
/// `caseledger replay audit-refusals --format json` prints one per line.
///
/// [`CommandRefused`]: caseledger_commands::CommandRefused
/// [`OperatorSession`]: caseledger_commands::OperatorSession
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct AuditRecord<T> {
    pub position: u64,
    /// RFC 3339, UTC.
    pub recorded_at: String,
    pub event_type: String,
    pub correlation_id: Uuid,
    pub record: T,
}

/// Decode one stored audit record; a payload that is not a `T` is [`ReplayError::Undecodable`]
/// naming its position.
pub fn audit_record<T: serde::de::DeserializeOwned>(
    record: &RecordedEvent,
) -> Result<AuditRecord<T>, AuditError> {
    let undecodable = |reason: String| ReplayError::Undecodable {
        position: record.position,
        reason,
    };
    let body: T = caseledger_store::codec::decode_payload(&record.payload)
        .map_err(|e| undecodable(format!("{} record: {e}", record.event_type)))?;
    let recorded_at = Timestamp::from_microsecond(record.recorded_at_us)
        .map_err(|e| undecodable(format!("recorded_at: {e}")))?;
    Ok(AuditRecord {
        position: record.position,
        recorded_at: recorded_at.to_string(),
        event_type: record.event_type.clone(),
        correlation_id: record.correlation_id,
        record: body,
    })
}

/// Why an audit query could not be answered.
#[derive(thiserror::Error, Debug)]
pub enum AuditError {
    #[error("{0:?} is not a CRN: one capital letter then six digits, e.g. X123456")]
    BadCrn(String),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The person's data key cannot be read (docs/operations.md "Key management").
    #[error(transparent)]
    Keyring(#[from] caseledger_store::KeyringError),
}

impl From<caseledger_store::StoreError> for AuditError {
    fn from(error: caseledger_store::StoreError) -> Self {
        AuditError::Replay(ReplayError::Store(error))
    }
}

/// The stream id of case `crn`, refusing anything that is not a CRN (system streams such as
/// `audit-refusals` are not cases and do not replay as one).
fn case_stream(crn: &str) -> Result<StreamId, AuditError> {
    let crn = Crn::new(crn).map_err(|_| AuditError::BadCrn(crn.chars().take(32).collect()))?;
    Ok(StreamId::new(crn.as_str())?)
}

impl Engine {
    async fn case_records(&self, crn: &str) -> Result<Vec<RecordedEvent>, AuditError> {
        let stream = case_stream(crn)?;
        Ok(self.store().read_stream(&stream, 1).await?)
    }

    /// Replay of case `crn` with its person's key fetched (its sealed data opens).
    async fn case_model(&self, crn: &str) -> Result<DomainCase, AuditError> {
        let stream = StreamId::new(crn)?;
        Ok(DomainCase::for_case(Arc::clone(self.keyring()), &stream).await?)
    }

    /// The timeline of case `crn` as of (R, E): every event recorded by R, each with its
    /// times, actor, ruleset, reason and what it changed; events effective after E are listed
    /// but not applied. `AsOf::now()` for the whole current history.
    pub async fn history(&self, crn: &str, as_of: AsOf) -> Result<CaseHistory, AuditError> {
        let records = self.case_records(crn).await?;
        if records.is_empty() {
            return Err(ReplayError::NoSuchCase {
                stream_id: crn.to_owned(),
            }
            .into());
        }
        let model = self.case_model(crn).await?;
        Ok(case_history(
            &model,
            &records,
            as_of,
            HistoryOptions::default(),
        )?)
    }

    /// Case `crn` as the service knew it at `recorded_through` (inclusive; `None`: everything
    /// recorded so far), with only the events effective by `effective_through` applied
    /// (`None`: whatever their effective time). `None` when nothing of the case had been
    /// recorded by then: the service did not know the case.
    pub async fn case_as_of(
        &self,
        crn: &str,
        recorded_through: Option<Timestamp>,
        effective_through: Option<Timestamp>,
    ) -> Result<Option<CaseState>, AuditError> {
        let as_of = AsOf {
            recorded_through_us: recorded_through.map(|t| t.as_microsecond()),
            effective_through_us: effective_through.map(|t| t.as_microsecond()),
        };
        let records = self.case_records(crn).await?;
        if as_of.known_prefix(&records).is_empty() {
            return Ok(None);
        }
        let model = self.case_model(crn).await?;
        Ok(Some(state_as_of(&model, &records, as_of)?))
    }

    /// Explain the decision event `event_id`: its inputs as they stood, ruleset, reason and
    /// actor, a re-evaluation under the rules of its time and, labelled, under the rules in
    /// force on `today` (an argument: the library reads no clock).
    pub async fn explain(&self, event_id: Uuid, today: Date) -> Result<Explanation, AuditError> {
        let stream = StreamId::new(stream_of_event(&**self.store(), event_id).await?)?;
        let records = self.store().read_stream(&stream, 1).await?;
        let model = self.case_model(stream.as_str()).await?;
        Ok(explain_decision(&model, &records, event_id, today)?)
    }

    /// Explain every decision event of case `crn` (facts are skipped), in log order, at most
    /// `max` of them: the inspector's timeline shows each decision's explanation inline.
    pub async fn explain_case_decisions(
        &self,
        crn: &str,
        today: Date,
        max: usize,
    ) -> Result<Vec<Explanation>, AuditError> {
        let records = self.case_records(crn).await?;
        let model = self.case_model(crn).await?;
        let mut out = Vec::new();
        for record in &records {
            if out.len() >= max {
                break;
            }
            match explain_decision(&model, &records, record.event_id, today) {
                Ok(explanation) => out.push(explanation),
                Err(ReplayError::NotADecision { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }

    /// Recompute the hash chain and the Merkle root over the whole log; with `extends`, also
    /// check the log still extends that published `ROOT@POSITION`. A broken chain is reported
    /// in the outcome (`first_bad`), not as an error.
    pub async fn verify(&self, extends: Option<Checkpoint>) -> Result<VerifyOutcome, AuditError> {
        Ok(verify_log(self.store().as_ref(), extends).await?)
    }

    /// Write the whole log to `out` as self-describing JSON Lines (the format `import-log`
    /// reads). A log whose chain is broken is refused before anything is written.
    pub async fn export<W: Write>(&self, out: W) -> Result<ExportSummary, AuditError> {
        Ok(export_log(self.store().as_ref(), &DomainPayloads, out).await?)
    }

    /// Write the data keys of the cases in the export `summary` describes to `out`, in the
    /// keys file format `import-log --keys` reads: each wrapped under the KEK, or the
    /// tombstone of an erased person, never a plaintext key. Call it right after
    /// [`Engine::export`]; without these keys a restore reads every person as withheld.
    pub async fn export_keys<W: Write>(
        &self,
        summary: &ExportSummary,
        out: W,
    ) -> Result<KeysSummary, AuditError> {
        let export = Checkpoint {
            root: summary.root,
            position: summary.head,
        };
        let store = self.store();
        Ok(write_keys(store.as_ref(), &export.to_string(), summary.head, out).await?)
    }

    /// Read model `name` (caseload, mappa, handovers, … as the projections' reports name
    /// them) as of (R, E), judged on `today`.
    pub async fn read_model_as_of(
        &self,
        name: &str,
        as_of: AsOf,
        today: Date,
    ) -> Result<Table, AuditError> {
        Ok(report_as_of(
            self.store().as_ref(),
            &self.case_projection(),
            name,
            as_of,
            today,
        )
        .await?)
    }

    /// [`Engine::read_model_as_of`] with report options (the caseload grouped by provider,
    /// PDU, team, region or practitioner).
    pub async fn read_model_as_of_with(
        &self,
        name: &str,
        options: &ReportOptions,
        as_of: AsOf,
        today: Date,
    ) -> Result<Table, AuditError> {
        Ok(report_as_of_with(
            self.store().as_ref(),
            &self.case_projection(),
            name,
            options,
            as_of,
            today,
        )
        .await?)
    }

    /// The refused commands recorded in `audit-refusals` by `recorded_through` (inclusive;
    /// `None`: all), oldest first: what `caseledger replay audit-refusals` shows.
    pub async fn audit_refusals(
        &self,
        recorded_through: Option<Timestamp>,
    ) -> Result<Vec<AuditRecord<caseledger_commands::CommandRefused>>, AuditError> {
        let stream = StreamId::new(caseledger_commands::REFUSALS_STREAM)?;
        let bound = recorded_through.map(|t| t.as_microsecond());
        self.store()
            .read_stream(&stream, 1)
            .await?
            .iter()
            .filter(|r| bound.is_none_or(|b| r.recorded_at_us <= b))
            .map(audit_record)
            .collect()
    }
}
