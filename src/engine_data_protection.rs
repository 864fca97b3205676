//! Data protection on the `Engine`: which cases' retention has ended (rule RET-1,
//! `caseledger_domain::retention`), what the log holds about one person (subject access,
//! UK GDPR Art. 15 / Data Protection Act 2018 s.45), and the erasure of their personal data
//! (ERASE-1, UK GDPR Art. 17 / DPA 2018 s.47). docs/operations.md "Retention", "Subject
//! access" and "Erasure".

use caseledger_commands::audit::{CommandRefused, RefusalKind};
use caseledger_commands::handler::{CommandError, ExecutionTiming, Receipt};
use caseledger_commands::role::authorise;
use caseledger_commands::{CommandEnvelope, Role};
use caseledger_domain::retention::RetentionRule;
use caseledger_domain::{CaseState, DomainError};
use caseledger_store::{DataKeyEntry, KeyringError, StoreError, StreamId};
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
            // Erased, nothing personal is left to keep or erase.
            if case.personal_data_erased_on.is_some() {
                continue;
            }
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
        self.keyring()
            .prefetch(&[&stream])
            .await
            .map_err(CommandError::from)?;
        for record in self.case_events(crn).await? {
            let event = caseledger_payload::decode_opened(
                &record.event_type,
                record.schema_version,
                &record.payload,
                stream.as_str(),
                Some(self.keyring()),
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

/// The event an erasure records.
const PERSONAL_DATA_ERASED: &str = "PersonalDataErased";

impl Engine {
    /// Erase the person's personal data on the envelope's case (`erase_personal_data`, ERASE-1;
    /// docs/decisions/0009-crypto-shredding.md): `PersonalDataErased` is appended first, then
    /// the person's data key is destroyed, so a crash between the two leaves the erasure
    /// recorded and the key to be destroyed by the next erase. An erased case is erased
    /// again as a no-op: the key is destroyed again and nothing is written (the receipt is
    /// the first erasure's, `deduplicated`). Refused and recorded in `audit-refusals`, as
    /// any command is: a role other than the data protection officer, no key-encryption key
    /// configured (there is no data key to destroy, so nothing would be erased), and an
    /// unknown case (naming the CRN).
    pub(crate) async fn erase(&self, envelope: &CommandEnvelope) -> Result<Receipt, CommandError> {
        // Only the data protection officer learns whether a case exists or is erased.
        if envelope.actor.role == Role::System
            || authorise(envelope.actor.role, &envelope.command).is_err()
        {
            return self.handler().execute_erasure(envelope).await;
        }
        if self.keyring().kek_id().is_none() {
            let why = format!("cannot erase: {}", KeyringError::NoKek);
            return Err(self
                .handler()
                .refuse(envelope, RefusalKind::Rule, &why)
                .await);
        }
        let stream = StreamId::new(envelope.crn.as_str())?;
        let state = self.handler().current_case(&stream).await?;
        if state.version == 0 {
            let why = DomainError::NoSuchCase {
                crn: envelope.crn.to_string(),
            };
            let why = format!("{why}; nothing was erased");
            return Err(self
                .handler()
                .refuse(envelope, RefusalKind::Rule, &why)
                .await);
        }
        if state.personal_data_erased_on.is_none() {
            let receipt = self.handler().execute_erasure(envelope).await?;
            self.destroy_data_key(&stream).await?;
            return Ok(receipt);
        }
        self.destroy_data_key(&stream).await?;
        self.erased_before(envelope, &stream).await
    }

    /// Destroy the data key of `stream`'s person (a tombstone is left, so none is made again).
    async fn destroy_data_key(&self, stream: &StreamId) -> Result<(), CommandError> {
        match self.keyring().destroy(stream).await {
            Ok(_) => Ok(()),
            Err(KeyringError::Store(e)) => Err(CommandError::Store(e)),
            Err(other) => Err(CommandError::Store(StoreError::Backend(other.to_string()))),
        }
    }

    /// The receipt of an erasure of an erased case: the first erasure's record, nothing
    /// written now.
    async fn erased_before(
        &self,
        envelope: &CommandEnvelope,
        stream: &StreamId,
    ) -> Result<Receipt, CommandError> {
        let records = self.store().read_stream(stream, 1).await?;
        let first = records
            .iter()
            .find(|r| r.event_type == PERSONAL_DATA_ERASED)
            .ok_or_else(|| CommandError::RepeatWithoutEvents {
                crn: stream.to_string(),
                command_id: envelope.command_id,
            })?;
        Ok(Receipt {
            command_id: envelope.command_id,
            crn: envelope.crn.to_string(),
            first_position: first.position,
            last_position: first.position,
            stream_version: records.len() as u64,
            event_types: vec![PERSONAL_DATA_ERASED.to_owned()],
            derived_events: 0,
            deduplicated: true,
            timing: ExecutionTiming::default(),
        })
    }
}
