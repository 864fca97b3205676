//! Data protection on the `Engine`: which cases' retention has ended (rule RET-1,
//! `caseledger_domain::retention`) and what the log holds about one person (subject access,
//! UK GDPR Art. 15 / Data Protection Act 2018 s.45). docs/operations.md "Retention" and
//! "Subject access".

use caseledger_commands::audit::CommandRefused;
use caseledger_commands::handler::CommandError;
use caseledger_domain::retention::RetentionRule;
use caseledger_domain::CaseState;
use caseledger_store::DataKeyEntry;
use jiff::civil::Date;
use serde::Serialize;

use crate::engine::{case_stream, Engine, EngineError};

/// A case whose retention period has ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RetentionDue {
    pub crn: String,
    pub closed_on: Date,
    /// The day its retention ended (RET-1).
    pub retention_ended_on: Date,
}

/// One recorded event of the person's case, readable.
#[derive(Clone, Debug, Serialize)]
pub struct RecordedFact {
    pub position: u64,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: u16,
    pub recorded_at_us: i64,
    pub effective_at_us: i64,
    pub actor_id: String,
    pub actor_role: String,
    /// The event as the domain reads it (every field, personal or not).
    pub event: serde_json::Value,
}

/// Everything the log holds about one person: their case's current state, every event
/// recorded on it, every refusal addressed to it, and the state of their data key.
#[derive(Clone, Debug, Serialize)]
pub struct SubjectAccess {
    pub crn: String,
    /// `live`, `destroyed` (erased) or `none` (nothing sealed for them yet).
    pub data_key: &'static str,
    pub case: CaseState,
    pub events: Vec<RecordedFact>,
    pub refusals: Vec<CommandRefused>,
}

impl Engine {
    /// Every case whose retention under `rule` has ended by `as_of`, in CRN order.
    pub async fn retention_due(
        &self,
        rule: RetentionRule,
        as_of: Date,
    ) -> Result<Vec<RetentionDue>, EngineError> {
        let mut due = Vec::new();
        for crn in self.case_ids().await? {
            let Some(case) = self.case(&crn).await? else {
                continue;
            };
            if let (Some(ended), Some(closed_on)) = (rule.ended(&case, as_of), case.closed_on) {
                due.push(RetentionDue {
                    crn,
                    closed_on,
                    retention_ended_on: ended,
                });
            }
        }
        Ok(due)
    }

    /// What the log holds about the person of case `crn`; `None` when there is no such case.
    pub async fn subject_access(&self, crn: &str) -> Result<Option<SubjectAccess>, EngineError> {
        let stream = case_stream(crn)?;
        let Some(case) = self.case(crn).await? else {
            return Ok(None);
        };
        let mut events = Vec::new();
        for record in self.case_events(crn).await? {
            let event = caseledger_payload::decode(
                &record.event_type,
                record.schema_version,
                &record.payload,
            )
            .map_err(|e| {
                EngineError::Command(CommandError::UnreadableEvent {
                    position: record.position,
                    reason: e.to_string(),
                })
            })?;
            events.push(RecordedFact {
                position: record.position,
                stream_version: record.stream_version,
                event_type: record.event_type,
                schema_version: record.schema_version,
                recorded_at_us: record.recorded_at_us,
                effective_at_us: record.effective_at_us,
                actor_id: record.actor.id,
                actor_role: record.actor.role,
                event: serde_json::to_value(&event).unwrap_or(serde_json::Value::Null),
            });
        }
        let refusals = self
            .refusals()
            .await?
            .into_iter()
            .filter(|r| r.crn == crn)
            .collect();
        let data_key = match self.store().key_store().data_key(&stream).await? {
            DataKeyEntry::Absent => "none",
            DataKeyEntry::Wrapped(_) => "live",
            DataKeyEntry::Destroyed => "destroyed",
        };
        Ok(Some(SubjectAccess {
            crn: crn.to_owned(),
            data_key,
            case,
            events,
            refusals,
        }))
    }
}
