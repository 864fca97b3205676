//! [`CaseModel`] for the domain: its `Event`, `CaseState` and `evolve`.

use caseledger_domain::event::{Decision, Event};
use caseledger_domain::state::{evolve_recorded, CaseState};
use caseledger_projections::case::{applies_as_of_effective, event_ref};
use std::collections::BTreeMap;
use std::sync::Arc;

use caseledger_store::{Keyring, KeyringError, RecordedEvent, StreamId};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::diff::{escape, Change, ChangeSet};
use crate::model::{CaseModel, CorrectionOf, DecisionOf};

/// The domain's case lifecycle, as replay sees it. With a keyring it opens the person's
/// sealed data (docs/decisions/0009-crypto-shredding.md): known, or erased once their key is
/// destroyed; without one the person is shown withheld (and the rules that read them take
/// their documented defaults).
#[derive(Clone, Default)]
pub struct DomainCase {
    keys: Option<Arc<Keyring>>,
}

impl DomainCase {
    /// Replay opening persons' data with `keys`. Decoding reads a key without waiting, so a
    /// caller on a network key store fetches the case's key first ([`DomainCase::for_case`]).
    pub fn with_keys(keys: Arc<Keyring>) -> DomainCase {
        DomainCase { keys: Some(keys) }
    }

    /// Replay of case `stream` with its person's key fetched now.
    pub async fn for_case(
        keys: Arc<Keyring>,
        stream: &StreamId,
    ) -> Result<DomainCase, KeyringError> {
        keys.prefetch(&[stream]).await?;
        Ok(DomainCase::with_keys(keys))
    }
}

/// The ruleset and reason code of a decision event (design.md invariant 5: every decision
/// event carries them), read from its payload; `None` for facts that are not decisions.
pub fn decision_of(event: &Event) -> Option<&Decision> {
    use Event as E;
    Some(match event {
        E::BreachConcluded(e) => &e.decision,
        E::BreachRaised(e) => &e.decision,
        E::CaseAllocatedToProvider(e) => &e.decision,
        E::CaseReopened(e) => &e.decision,
        E::SupervisionLapsed(e) => &e.decision,
        E::CaseTransferredToNps(e) => &e.decision,
        E::CaseTransferredToUnifiedService(e) => &e.decision,
        E::HandoverDatesCalculated(e) => &e.decision,
        E::MappaLevelSet(e) => &e.decision,
        E::MappaReferred(e) => &e.decision,
        E::PractitionerAllocated(e) => &e.decision,
        E::PractitionerReallocated(e) => &e.decision,
        E::PrisonOffenderManagerAllocated(e) => &e.decision,
        E::RecallConcluded(e) => &e.decision,
        E::RecallRaised(e) => &e.decision,
        E::ResponsibilityOverridden(e) => &e.decision,
        E::ResponsibilityTransferred(e) => &e.decision,
        E::RiskAssessed(e) => &e.decision,
        E::RiskEscalationDecided(e) => &e.decision,
        E::RiskEscalationRequested(e) => &e.decision,
        E::TierCalculated(e) => &e.decision,
        E::TierV3Calculated(e) => &e.decision,
        E::TierReviewTriggered(e) => &e.decision,
        E::WarningIssued(e) => &e.decision,
        _ => return None,
    })
}

impl CaseModel for DomainCase {
    type Event = Event;
    type State = CaseState;

    fn initial(&self) -> CaseState {
        CaseState::default()
    }

    fn decode(&self, record: &RecordedEvent) -> Result<Event, String> {
        caseledger_payload::decode_opened(
            &record.event_type,
            record.schema_version,
            &record.payload,
            &record.stream_id,
            self.keys.as_deref(),
        )
        .map_err(|e| e.to_string())
    }

    fn apply(
        &self,
        state: CaseState,
        record: &RecordedEvent,
        event: &Event,
    ) -> Result<CaseState, String> {
        Ok(evolve_recorded(state, &event_ref(record), event))
    }

    fn effective_by(&self, record: &RecordedEvent, event: &Event, at_us: i64) -> bool {
        applies_as_of_effective(record, Some(event), at_us)
    }

    fn event_json(&self, event: &Event) -> Value {
        match serde_json::to_value(event) {
            Ok(Value::Object(mut tagged)) if tagged.len() == 1 => {
                tagged.remove(event.event_type()).unwrap_or(Value::Null)
            }
            Ok(other) => other,
            Err(e) => Value::String(format!("(cannot be shown as JSON: {e})")),
        }
    }

    fn state_json(&self, state: &CaseState) -> Value {
        serde_json::to_value(state)
            .unwrap_or_else(|e| Value::String(format!("(cannot be shown as JSON: {e})")))
    }

    fn changes(&self, before: &CaseState, after: &CaseState) -> Vec<Change> {
        state_changes(before, after)
    }

    fn correction(&self, event: &Event) -> Option<CorrectionOf> {
        match event {
            Event::EventCorrected(c) => Some(CorrectionOf {
                corrected_event_id: Uuid::parse_str(c.corrected_event_id.as_str())
                    .unwrap_or_default(),
                reason: c.reason.as_str().to_owned(),
            }),
            _ => None,
        }
    }

    fn decision(&self, event: &Event) -> Option<DecisionOf> {
        decision_of(event).map(|d| DecisionOf {
            ruleset_id: d.ruleset_id.as_str().to_owned(),
            reason_code: d.reason_code.as_str().to_owned(),
        })
    }
}

fn json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value)
        .unwrap_or_else(|e| Value::String(format!("(cannot be shown as JSON: {e})")))
}

/// A map key as serde_json writes it in an object (numbers become their decimal text).
fn json_key<K: Serialize + Ord>(key: &K) -> String {
    let single: BTreeMap<&K, ()> = BTreeMap::from([(key, ())]);
    match serde_json::to_value(single) {
        Ok(Value::Object(object)) => object.keys().next().cloned().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A field that changes as a whole (a value, an option, a small struct).
fn field<T: PartialEq + Serialize>(set: &mut ChangeSet, name: &str, before: &T, after: &T) {
    if before != after {
        set.values(&format!("/{name}"), &json(before), &json(after));
    }
}

/// A map field: only the entries that differ are turned into JSON.
fn map<K: Ord + Serialize, V: PartialEq + Serialize>(
    set: &mut ChangeSet,
    name: &str,
    before: &BTreeMap<K, V>,
    after: &BTreeMap<K, V>,
) {
    if before == after {
        return;
    }
    let keys = before
        .keys()
        .chain(after.keys().filter(|k| !before.contains_key(*k)));
    for key in keys {
        let (a, b) = (before.get(key), after.get(key));
        if a == b {
            continue;
        }
        let path = format!("/{name}/{}", escape(&json_key(key)));
        match (a, b) {
            (Some(a), Some(b)) => set.values(&path, &json(a), &json(b)),
            (a, b) => set.whole(&path, a.map(json), b.map(json)),
        }
    }
}

/// A list field: only the elements that differ are turned into JSON.
fn list<V: PartialEq + Serialize>(set: &mut ChangeSet, name: &str, before: &[V], after: &[V]) {
    if before == after {
        return;
    }
    for index in 0..before.len().max(after.len()) {
        let (a, b) = (before.get(index), after.get(index));
        if a == b {
            continue;
        }
        let path = format!("/{name}/{index}");
        match (a, b) {
            (Some(a), Some(b)) => set.values(&path, &json(a), &json(b)),
            (a, b) => set.whole(&path, a.map(json), b.map(json)),
        }
    }
}

/// What changed in a case state, part by part, so that an event costs what it changed plus a
/// comparison of the state, never the JSON of the whole state (a case with 10,000
/// appointments would otherwise turn all of them into JSON twice for every event).
fn state_changes(before: &CaseState, after: &CaseState) -> Vec<Change> {
    let mut set = ChangeSet::new();
    // Exhaustive on purpose: a new field of CaseState stops the build here until it is diffed.
    let CaseState {
        accommodation,
        appointments,
        breaches,
        closed_on,
        corrections,
        crn,
        employment,
        escalations,
        mappa,
        nps_until_sentence_ends,
        opened_on,
        pdu,
        pending_escalation,
        person,
        personal_data_erased_on,
        practitioner,
        pre_sentence_reports,
        previous_practitioner,
        provider,
        provider_sentence,
        reallocation_advised,
        recalls,
        registrations,
        reopenings,
        risk,
        sentences,
        team,
        tier,
        tier_review_due,
        tier_v3,
        transfers,
        unified_on,
        version,
        warnings,
    } = after;
    list(
        &mut set,
        "accommodation",
        &before.accommodation,
        accommodation,
    );
    map(&mut set, "appointments", &before.appointments, appointments);
    map(&mut set, "breaches", &before.breaches, breaches);
    field(&mut set, "closed_on", &before.closed_on, closed_on);
    list(&mut set, "corrections", &before.corrections, corrections);
    field(&mut set, "crn", &before.crn, crn);
    list(&mut set, "employment", &before.employment, employment);
    list(&mut set, "escalations", &before.escalations, escalations);
    field(&mut set, "mappa", &before.mappa, mappa);
    field(
        &mut set,
        "nps_until_sentence_ends",
        &before.nps_until_sentence_ends,
        nps_until_sentence_ends,
    );
    field(&mut set, "opened_on", &before.opened_on, opened_on);
    field(&mut set, "pdu", &before.pdu, pdu);
    field(
        &mut set,
        "pending_escalation",
        &before.pending_escalation,
        pending_escalation,
    );
    field(&mut set, "person", &before.person, person);
    field(
        &mut set,
        "personal_data_erased_on",
        &before.personal_data_erased_on,
        personal_data_erased_on,
    );
    field(&mut set, "practitioner", &before.practitioner, practitioner);
    field(
        &mut set,
        "previous_practitioner",
        &before.previous_practitioner,
        previous_practitioner,
    );
    list(
        &mut set,
        "pre_sentence_reports",
        &before.pre_sentence_reports,
        pre_sentence_reports,
    );
    field(&mut set, "provider", &before.provider, provider);
    field(
        &mut set,
        "provider_sentence",
        &before.provider_sentence,
        provider_sentence,
    );
    field(
        &mut set,
        "reallocation_advised",
        &before.reallocation_advised,
        reallocation_advised,
    );
    map(&mut set, "recalls", &before.recalls, recalls);
    list(&mut set, "reopenings", &before.reopenings, reopenings);
    map(
        &mut set,
        "registrations",
        &before.registrations,
        registrations,
    );
    field(&mut set, "risk", &before.risk, risk);
    map(&mut set, "sentences", &before.sentences, sentences);
    field(&mut set, "team", &before.team, team);
    field(&mut set, "tier", &before.tier, tier);
    field(&mut set, "tier_v3", &before.tier_v3, tier_v3);
    field(
        &mut set,
        "tier_review_due",
        &before.tier_review_due,
        tier_review_due,
    );
    list(&mut set, "transfers", &before.transfers, transfers);
    field(&mut set, "unified_on", &before.unified_on, unified_on);
    field(&mut set, "version", &before.version, version);
    list(&mut set, "warnings", &before.warnings, warnings);
    set.finish()
}
