//! Shared test support: a real `MemoryStore` with a `ManualClock`, filled with real domain
//! events encoded by the store codec.

#![allow(dead_code)]

pub mod events;

use std::sync::Arc;

use caseledger_domain::Event;
use caseledger_store::codec::encode_payload;
use caseledger_store::{
    Actor, Clock, EventStore, ExpectedVersion, ManualClock, MemoryStore, NewEvent, RecordedEvent,
    StreamId,
};
use jiff::Timestamp;
use uuid::Uuid;

pub fn us(instant: &str) -> i64 {
    instant
        .parse::<Timestamp>()
        .expect("test instant")
        .as_microsecond()
}

/// Midnight UTC of a date: how the tests record "effective on that day".
pub fn day_us(day: &str) -> i64 {
    us(&format!("{day}T00:00:00Z"))
}

pub struct TestLog {
    pub store: Arc<MemoryStore>,
    pub clock: Arc<ManualClock>,
    /// Deterministic ids: event n gets `Uuid::from_u128(n)`.
    next_id: u128,
}

pub fn new_log() -> TestLog {
    let clock = Arc::new(ManualClock::new(0));
    let store = Arc::new(MemoryStore::new(clock.clone() as Arc<dyn Clock>));
    TestLog {
        store,
        clock,
        next_id: 1,
    }
}

pub fn actor(id: &str, role: &str) -> Actor {
    Actor {
        id: id.to_owned(),
        role: role.to_owned(),
        organisation: "NPS".to_owned(),
    }
}

/// The data keys every test log seals persons with: one key store for the whole test
/// process, so a replay given [`model`] opens them.
pub fn keys() -> Arc<caseledger_store::Keyring> {
    static KEYS: std::sync::OnceLock<Arc<caseledger_store::Keyring>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let store = Arc::new(MemoryStore::new(Arc::new(ManualClock::new(0))));
        Arc::new(caseledger_store::Keyring::unchecked(
            store,
            caseledger_store::crypto::Kek::process_ephemeral(),
        ))
    })
    .clone()
}

/// Replay of the test logs' cases with their persons opened.
pub fn model() -> caseledger_replay::domain_model::DomainCase {
    caseledger_replay::domain_model::DomainCase::with_keys(keys())
}

impl TestLog {
    /// Append one event to `crn`, effective at `effective_us`, recorded at `recorded_us`.
    /// Returns its event id.
    pub async fn append(
        &mut self,
        crn: &str,
        event: Event,
        effective_us: i64,
        recorded_us: i64,
        by: Actor,
    ) -> Uuid {
        let event_id = Uuid::from_u128(self.next_id);
        self.next_id += 1;
        // The envelope's ruleset id is the decision's, as the commands crate records it.
        let json = serde_json::to_value(&event).expect("event as JSON");
        let ruleset_id = json
            .get(event.event_type())
            .and_then(|fields| fields.pointer("/decision/ruleset_id"))
            .and_then(|id| id.as_str())
            .unwrap_or_default()
            .to_owned();
        let key = keys()
            .key_for_sealing(&StreamId::new(crn).expect("stream id"))
            .await
            .expect("a data key");
        let encoded =
            caseledger_payload::encode_sealed(&event, crn, &key).expect("payload encodes");
        let new = NewEvent {
            event_id,
            event_type: encoded.event_type.to_owned(),
            schema_version: encoded.schema_version,
            effective_at_us: effective_us,
            actor: by,
            command_id: Uuid::from_u128(1_000_000 + self.next_id),
            correlation_id: Uuid::from_u128(2_000_000 + self.next_id),
            causation_id: Uuid::nil(),
            ruleset_id,
            payload: encoded.bytes,
        };
        self.clock.set(recorded_us);
        self.store
            .append(
                &StreamId::new(crn).expect("stream id"),
                ExpectedVersion::Any,
                vec![new],
                None,
            )
            .await
            .expect("append");
        event_id
    }

    /// Open the case `crn` on `day`, effective that day and recorded at 09:00 UTC the same day:
    /// how every replay test starts a case. Returns the event id.
    pub async fn open_case(&mut self, crn: &str, day: &str, by: Actor) -> Uuid {
        self.append(
            crn,
            events::case_opened(crn, day),
            day_us(day),
            us(&format!("{day}T09:00:00Z")),
            by,
        )
        .await
    }

    /// Every record of the stream `crn`, from version 1.
    pub async fn read_case(&self, crn: &str) -> Vec<RecordedEvent> {
        self.store
            .read_stream(&StreamId::new(crn).expect("stream"), 1)
            .await
            .expect("read")
    }
}

/// A record the domain does not define (like the command handler's `CommandRefused` audit
/// records on `audit-refusals`): a serde struct encoded with the store codec.
#[derive(serde::Serialize)]
pub struct AuditRecord {
    pub command_id: Uuid,
    pub reason: String,
}

impl TestLog {
    pub async fn append_audit(&mut self, reason: &str, recorded_us: i64) -> Uuid {
        let event_id = Uuid::from_u128(self.next_id);
        self.next_id += 1;
        let record = AuditRecord {
            command_id: event_id,
            reason: reason.to_owned(),
        };
        self.clock.set(recorded_us);
        self.store
            .append(
                &StreamId::new("audit-refusals").expect("stream id"),
                ExpectedVersion::Any,
                vec![NewEvent {
                    event_id,
                    event_type: "CommandRefused".to_owned(),
                    schema_version: 1,
                    effective_at_us: recorded_us,
                    actor: actor("PO-0001", "probation_officer"),
                    command_id: event_id,
                    correlation_id: event_id,
                    causation_id: Uuid::nil(),
                    ruleset_id: String::new(),
                    payload: encode_payload(&record).expect("payload encodes"),
                }],
                Some(event_id),
            )
            .await
            .expect("append");
        event_id
    }
}
