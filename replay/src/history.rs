//! Case history and the case-level bitemporal as-of (item 2).
//!
//! The history is the ordered timeline of one case: every event recorded by R (all of them
//! when no bound is given), in position order, with its effective and recorded times, actor,
//! ruleset and reason, its payload, the case state after it and what it changed. An event
//! effective after E is listed but not applied (`applied: false`), so the auditor sees that the
//! service knew of it but that it did not yet hold on E. A correction is linked both ways:
//! the correcting entry says what it corrects, the corrected entry lists what corrected it,
//! and the original stays in the timeline exactly as recorded (design.md invariant 1).

use std::collections::BTreeMap;

use caseledger_store::{Actor, RecordedEvent};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::asof::AsOf;
use crate::diff::{diff, Change};
use crate::error::ReplayError;
use crate::export::format_instant_us;
use crate::model::CaseModel;

/// Most events replayed for one case. A case over decades has hundreds; the bound keeps one
/// request from holding an unbounded timeline in memory.
pub const CASE_EVENTS_MAX: usize = 100_000;

/// One side of a correction link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CorrectionLink {
    pub event_id: Uuid,
    /// `None` when the corrected event is not in this case's known timeline.
    pub position: Option<u64>,
    pub reason: String,
}

/// One event of the timeline.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEntry {
    pub position: u64,
    pub stream_version: u64,
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u16,
    pub recorded_at: String,
    pub effective_at: String,
    pub actor: Actor,
    pub ruleset_id: String,
    pub reason_code: Option<String>,
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    /// False when the event is effective after the as-of effective bound: known, not applied.
    pub applied: bool,
    pub payload: Value,
    /// Set on a correction: the event it corrects.
    pub corrects: Option<CorrectionLink>,
    /// Corrections of this event recorded by R, in position order.
    pub corrected_by: Vec<CorrectionLink>,
    /// What this event changed in the case state (empty when not applied).
    pub changes: Vec<Change>,
    pub state_after: Value,
}

/// The timeline of a case as of (R, E).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CaseHistory {
    pub stream_id: String,
    pub as_of: AsOf,
    /// Events of the case recorded after R, left out.
    pub recorded_later: u64,
    pub entries: Vec<HistoryEntry>,
    /// The case state as of (R, E).
    pub state: Value,
}

fn instant(record: &RecordedEvent, us: i64) -> Result<String, ReplayError> {
    format_instant_us(us).map_err(|reason| ReplayError::Undecodable {
        position: record.position,
        reason,
    })
}

fn check_stream_order(records: &[RecordedEvent], stream_id: &str) -> Result<(), ReplayError> {
    if records.len() > CASE_EVENTS_MAX {
        return Err(ReplayError::CaseTooLong {
            stream_id: stream_id.to_owned(),
            events: records.len() as u64,
            max: CASE_EVENTS_MAX as u64,
        });
    }
    for (index, pair) in records.windows(2).enumerate() {
        let ordered = pair[0].position < pair[1].position
            && pair[0].stream_version + 1 == pair[1].stream_version
            && pair[0].recorded_at_us <= pair[1].recorded_at_us;
        if !ordered {
            return Err(ReplayError::LogNotIntact {
                position: pair[1].position,
                reason: format!(
                    "event {} of stream {stream_id} is out of order (position, stream version or recorded_at goes backwards)",
                    index + 2
                ),
            });
        }
    }
    Ok(())
}

/// The case state as of (R, E): records recorded by R, applied in position order when
/// effective by E. `records` is the case's stream in version order. The fast path: no JSON.
pub fn state_as_of<M: CaseModel>(
    model: &M,
    records: &[RecordedEvent],
    as_of: AsOf,
) -> Result<M::State, ReplayError> {
    let stream_id = records.first().map_or("", |r| r.stream_id.as_str());
    check_stream_order(records, stream_id)?;
    let mut state = model.initial();
    for record in as_of.known_prefix(records) {
        if !as_of.applies(record) {
            continue;
        }
        let event = model
            .decode(record)
            .map_err(|reason| ReplayError::Undecodable {
                position: record.position,
                reason,
            })?;
        state = model
            .apply(state, &event)
            .map_err(|reason| ReplayError::Undecodable {
                position: record.position,
                reason: format!("cannot be applied to the case: {reason}"),
            })?;
    }
    Ok(state)
}

/// The full timeline of the case `records` (its stream, version order) as of (R, E).
pub fn case_history<M: CaseModel>(
    model: &M,
    records: &[RecordedEvent],
    as_of: AsOf,
) -> Result<CaseHistory, ReplayError> {
    let stream_id = records
        .first()
        .map_or_else(String::new, |r| r.stream_id.clone());
    check_stream_order(records, &stream_id)?;
    let known = as_of.known_prefix(records);
    let mut state = model.initial();
    let mut state_value = model.state_json(&state);
    let mut entries: Vec<HistoryEntry> = Vec::with_capacity(known.len());
    // Event id → index in `entries`, to link corrections to what they correct.
    let mut index_of: BTreeMap<Uuid, usize> = BTreeMap::new();
    for record in known {
        let event = model
            .decode(record)
            .map_err(|reason| ReplayError::Undecodable {
                position: record.position,
                reason,
            })?;
        let applied = as_of.applies(record);
        let mut changes = Vec::new();
        if applied {
            state = model
                .apply(state, &event)
                .map_err(|reason| ReplayError::Undecodable {
                    position: record.position,
                    reason: format!("cannot be applied to the case: {reason}"),
                })?;
            let after = model.state_json(&state);
            changes = diff(&state_value, &after);
            state_value = after;
        }
        let corrects = model.correction(&event).map(|c| CorrectionLink {
            event_id: c.corrected_event_id,
            position: index_of
                .get(&c.corrected_event_id)
                .map(|&i| entries[i].position),
            reason: c.reason,
        });
        if let Some(link) = &corrects {
            if let Some(&i) = index_of.get(&link.event_id) {
                entries[i].corrected_by.push(CorrectionLink {
                    event_id: record.event_id,
                    position: Some(record.position),
                    reason: link.reason.clone(),
                });
            }
        }
        let decision = model.decision(&event);
        index_of.insert(record.event_id, entries.len());
        entries.push(HistoryEntry {
            position: record.position,
            stream_version: record.stream_version,
            event_id: record.event_id,
            event_type: record.event_type.clone(),
            schema_version: record.schema_version,
            recorded_at: instant(record, record.recorded_at_us)?,
            effective_at: instant(record, record.effective_at_us)?,
            actor: record.actor.clone(),
            ruleset_id: record.ruleset_id.clone(),
            reason_code: decision.map(|d| d.reason_code),
            command_id: record.command_id,
            correlation_id: record.correlation_id,
            causation_id: record.causation_id,
            applied,
            payload: model.event_json(&event),
            corrects,
            corrected_by: Vec::new(),
            changes,
            state_after: state_value.clone(),
        });
    }
    Ok(CaseHistory {
        stream_id,
        as_of,
        recorded_later: (records.len() - known.len()) as u64,
        entries,
        state: state_value,
    })
}
