//! Case history and the case-level bitemporal as-of (item 2).
//!
//! The history is the ordered timeline of one case: every event recorded by R (all of them
//! when no bound is given), in position order, with its effective and recorded times, actor,
//! ruleset and reason, its payload, the case state after it and what it changed. An event
//! effective after E is listed but not applied (`applied: false`), so the auditor sees that the
//! service knew of it but that it did not yet hold on E. A correction is linked both ways:
//! the correcting entry says what it corrects, the corrected entry lists what corrected it,
//! and the original stays in the timeline exactly as recorded (design.md invariant 1).
//!
//! Streaming: [`HistoryWalker`] turns one record at a time into its entry, holding only the case
//! state, the previous record and the corrections of the case (found by [`Corrections`] in a
//! first pass, because an entry names the later corrections of its event). An entry carries
//! what its event changed, not the state after it, unless [`HistoryOptions::full_state`] asks
//! for it — a state per entry would make a long case cost its length squared.

use std::collections::BTreeMap;

use caseledger_store::{Actor, RecordedEvent};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::asof::AsOf;
use crate::diff::Change;
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
    /// The whole case state after this event, only with [`HistoryOptions::full_state`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_after: Option<Value>,
}

/// What a history holds beyond each event and its changes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryOptions {
    /// Put the whole case state after each event into its entry (memory and output grow with
    /// the case's length times its state; for short cases and tests).
    pub full_state: bool,
}

/// The timeline of a case as of (R, E), collected ([`case_history`]).
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

/// What is known once every record of a streamed history has been seen.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HistoryEnd {
    /// Events of the case recorded after R, left out.
    pub recorded_later: u64,
    /// The case state as of (R, E).
    pub state: Value,
}

/// The corrections of one case recorded by R, by the event they correct: what an entry needs
/// to know about records after it. Memory: one link per correction.
#[derive(Clone, Debug, Default)]
pub struct Corrections {
    of: BTreeMap<Uuid, Vec<CorrectionLink>>,
}

impl Corrections {
    /// Note the correction among `records` (the case's stream, version order, any chunk of
    /// it, chunks in order) that were recorded by R.
    pub fn scan<M: CaseModel>(
        &mut self,
        model: &M,
        records: &[RecordedEvent],
        as_of: AsOf,
    ) -> Result<(), ReplayError> {
        for record in as_of.known_prefix(records) {
            let Some(correction) = model.correction(&decode(model, record)?) else {
                continue;
            };
            self.of
                .entry(correction.corrected_event_id)
                .or_default()
                .push(CorrectionLink {
                    event_id: record.event_id,
                    position: Some(record.position),
                    reason: correction.reason,
                });
        }
        Ok(())
    }
}

fn decode<M: CaseModel>(model: &M, record: &RecordedEvent) -> Result<M::Event, ReplayError> {
    model
        .decode(record)
        .map_err(|reason| ReplayError::Undecodable {
            position: record.position,
            reason,
        })
}

fn apply<M: CaseModel>(
    model: &M,
    state: M::State,
    record: &RecordedEvent,
    event: &M::Event,
) -> Result<M::State, ReplayError> {
    model
        .apply(state, record, event)
        .map_err(|reason| ReplayError::Undecodable {
            position: record.position,
            reason: format!("cannot be applied to the case: {reason}"),
        })
}

/// Where the previous record of the stream was, to check each next one follows it.
#[derive(Clone, Copy, Debug)]
struct Last {
    position: u64,
    stream_version: u64,
    recorded_at_us: i64,
}

/// The history of one case, one record at a time (module doc).
pub struct HistoryWalker<'m, M: CaseModel> {
    model: &'m M,
    stream_id: String,
    as_of: AsOf,
    options: HistoryOptions,
    corrections: Corrections,
    /// Positions of the corrected events seen so far (one per corrected event).
    corrected_at: BTreeMap<Uuid, u64>,
    state: M::State,
    last: Option<Last>,
    events: u64,
    recorded_later: u64,
}

impl<'m, M: CaseModel> HistoryWalker<'m, M> {
    pub fn new(
        model: &'m M,
        stream_id: &str,
        as_of: AsOf,
        corrections: Corrections,
        options: HistoryOptions,
    ) -> Self {
        HistoryWalker {
            model,
            stream_id: stream_id.to_owned(),
            as_of,
            options,
            corrections,
            corrected_at: BTreeMap::new(),
            state: model.initial(),
            last: None,
            events: 0,
            recorded_later: 0,
        }
    }

    fn check_next(&mut self, record: &RecordedEvent) -> Result<(), ReplayError> {
        self.events += 1;
        if self.events > CASE_EVENTS_MAX as u64 {
            return Err(ReplayError::CaseTooLong {
                stream_id: self.stream_id.clone(),
                events: self.events,
                max: CASE_EVENTS_MAX as u64,
            });
        }
        let ordered = match self.last {
            None => true,
            Some(last) => {
                last.position < record.position
                    && last.stream_version + 1 == record.stream_version
                    && last.recorded_at_us <= record.recorded_at_us
            }
        };
        if !ordered || record.stream_id != self.stream_id {
            return Err(ReplayError::LogNotIntact {
                position: record.position,
                reason: format!(
                    "event {} of stream {} is out of order (position, stream version or recorded_at goes backwards)",
                    self.events, self.stream_id
                ),
            });
        }
        self.last = Some(Last {
            position: record.position,
            stream_version: record.stream_version,
            recorded_at_us: record.recorded_at_us,
        });
        Ok(())
    }

    /// The entry of the next record of the stream (version order); `None` when it was recorded
    /// after R (then so are all later ones: they are counted, not shown).
    pub fn next(&mut self, record: &RecordedEvent) -> Result<Option<HistoryEntry>, ReplayError> {
        self.check_next(record)?;
        if !self.as_of.knows(record) || self.recorded_later > 0 {
            self.recorded_later += 1;
            return Ok(None);
        }
        let event = decode(self.model, record)?;
        let applied = applies(self.model, &self.as_of, record, &event);
        let mut changes = Vec::new();
        if applied {
            let before = self.state.clone();
            let state = std::mem::replace(&mut self.state, self.model.initial());
            self.state = apply(self.model, state, record, &event)?;
            changes = self.model.changes(&before, &self.state);
        }
        let corrects = self.model.correction(&event).map(|c| CorrectionLink {
            event_id: c.corrected_event_id,
            position: self.corrected_at.get(&c.corrected_event_id).copied(),
            reason: c.reason,
        });
        let corrected_by = self
            .corrections
            .of
            .get(&record.event_id)
            .cloned()
            .unwrap_or_default();
        if !corrected_by.is_empty() {
            self.corrected_at.insert(record.event_id, record.position);
        }
        let decision = self.model.decision(&event);
        Ok(Some(HistoryEntry {
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
            payload: self.model.event_json(&event),
            corrects,
            corrected_by,
            changes,
            state_after: self
                .options
                .full_state
                .then(|| self.model.state_json(&self.state)),
        }))
    }

    /// The end of the history: what was left out and the state as of the bounds.
    pub fn finish(self) -> HistoryEnd {
        HistoryEnd {
            recorded_later: self.recorded_later,
            state: self.model.state_json(&self.state),
        }
    }
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

/// Does `event` (stored as `record`, already known by R) apply as of E? By the fact's own
/// date where the model knows it (ASOF-1).
fn applies<M: CaseModel>(
    model: &M,
    as_of: &AsOf,
    record: &RecordedEvent,
    event: &M::Event,
) -> bool {
    as_of
        .effective_through_us
        .is_none_or(|at_us| model.effective_by(record, event, at_us))
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
        let event = model
            .decode(record)
            .map_err(|reason| ReplayError::Undecodable {
                position: record.position,
                reason,
            })?;
        if !applies(model, &as_of, record, &event) {
            continue;
        }
        state = model
            .apply(state, record, &event)
            .map_err(|reason| ReplayError::Undecodable {
                position: record.position,
                reason: format!("cannot be applied to the case: {reason}"),
            })?;
    }
    Ok(state)
}

/// The full timeline of the case `records` (its stream, version order) as of (R, E), collected
/// in memory: for a library caller with a case of ordinary length. The CLI streams instead
/// ([`HistoryWalker`]).
pub fn case_history<M: CaseModel>(
    model: &M,
    records: &[RecordedEvent],
    as_of: AsOf,
    options: HistoryOptions,
) -> Result<CaseHistory, ReplayError> {
    let stream_id = records
        .first()
        .map_or_else(String::new, |r| r.stream_id.clone());
    check_stream_order(records, &stream_id)?;
    let mut corrections = Corrections::default();
    corrections.scan(model, records, as_of)?;
    let mut walker = HistoryWalker::new(model, &stream_id, as_of, corrections, options);
    let mut entries = Vec::new();
    for record in records {
        if let Some(entry) = walker.next(record)? {
            entries.push(entry);
        }
    }
    let end = walker.finish();
    Ok(CaseHistory {
        stream_id,
        as_of,
        recorded_later: end.recorded_later,
        entries,
        state: end.state,
    })
}
