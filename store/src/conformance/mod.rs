//! The ONE conformance suite for [`EventStore`] implementations, written once and run against
//! every backend (memory and sled here; PostgreSQL from its own crate's tests).
//!
//! It is test support compiled into the library so other crates' tests can call it; each
//! check panics with a message naming the broken rule. Use it as
//!
//! ```ignore
//! conformance::run_all(|clock| async move { Arc::new(MemoryStore::new(clock)) as Arc<dyn EventStore> }).await;
//! ```
//!
//! where the factory returns a fresh, empty store using the given clock; durable backends also
//! call [`check_reopen`] with a factory that reopens one location.
//!
//! Files by topic: `appends`, `idempotency`, `reading` (paging, chain, subscriptions),
//! `consumers` (durable consumers), `concurrency` (concurrent appends, reopen), `keys` (the
//! key store and keyring of crypto-shredding).

mod appends;
mod concurrency;
mod consumers;
mod idempotency;
mod keys;
mod reading;

pub use appends::*;
pub use concurrency::*;
use consumers::position_of;
pub use consumers::*;
pub use idempotency::*;
pub use keys::*;
use reading::next_within;
pub use reading::*;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::consumer::{ConsumerName, DurableSubscription, CONSUMERS_MAX};
use crate::subscription::EventStoreExt;
use crate::{
    hash, Actor, AppendResult, Clock, EventStore, ExpectedVersion, IdempotencyKey,
    IdempotencyRecord, ManualClock, NewEvent, RecordedEvent, StoreError, StreamId,
    EVENTS_PER_APPEND_MAX, EVENT_PAYLOAD_BYTES_MAX, POSITION_MAX, READ_ALL_PAGE_EVENTS_MAX,
};

/// Start time of the suite's manual clock: 2024-04-01T00:00:00Z in microseconds.
pub const CLOCK_START_US: i64 = 1_711_929_600_000_000;

/// Longest any single wait in the suite may take before it is declared stuck.
const WAIT_MAX: Duration = Duration::from_secs(20);

/// A store handle the suite works on.
pub type SharedStore = Arc<dyn EventStore>;

/// A deterministic event: ids derive from `seed` so tests can recognise them.
pub fn event(seed: u128) -> NewEvent {
    NewEvent {
        event_id: Uuid::from_u128(0xE000_0000_0000_0000_0000_0000_0000_0000 | seed),
        event_type: "ConformanceEvent".into(),
        schema_version: 1,
        effective_at_us: CLOCK_START_US - 86_400_000_000,
        actor: Actor {
            id: "officer-1".into(),
            role: "COM".into(),
            organisation: "N07".into(),
        },
        command_id: Uuid::from_u128(0xC000_0000_0000_0000_0000_0000_0000_0000 | seed),
        correlation_id: Uuid::from_u128(seed.wrapping_add(7)),
        causation_id: Uuid::nil(),
        ruleset_id: if seed & 1 == 0 {
            "omic-handover-2023-04".into()
        } else {
            String::new()
        },
        payload: seed.to_le_bytes().to_vec(),
    }
}

/// A valid stream id (panics only on a bad literal in the suite itself).
pub fn stream(id: &str) -> StreamId {
    StreamId::new(id).expect("conformance suite uses valid stream ids")
}

async fn head(store: &SharedStore) -> u64 {
    store.head().await.expect("head() must succeed")
}

async fn all(store: &SharedStore) -> Vec<RecordedEvent> {
    let mut out = Vec::new();
    let mut reader = store.read_all_from(1);
    while let Some(page) = reader.next_page().await.expect("read_all must succeed") {
        out.extend(page);
    }
    out
}

async fn append_ok(
    store: &SharedStore,
    s: &StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    key: Option<Uuid>,
) -> AppendResult {
    match store.append(s, expected, events, key).await {
        Ok(r) => r,
        Err(e) => panic!("append to {s} expecting {expected} must succeed, got: {e}"),
    }
}

/// Run every check, each on a fresh store from `make`.
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn(Arc<dyn Clock>) -> Fut,
    Fut: Future<Output = SharedStore>,
{
    let fresh = || async {
        let clock = Arc::new(ManualClock::new(CLOCK_START_US));
        let store = make(clock.clone()).await;
        (store, clock)
    };
    let (s, _) = fresh().await;
    check_empty_store(&s).await;
    let (s, c) = fresh().await;
    check_append_and_read_back(&s, &c).await;
    let (s, _) = fresh().await;
    check_expected_versions(&s).await;
    let (s, _) = fresh().await;
    check_idempotency(&s).await;
    let (s, _) = fresh().await;
    check_idempotency_fingerprints(&s).await;
    let (s, _) = fresh().await;
    check_append_group(&s).await;
    let (s, _) = fresh().await;
    check_bad_input_writes_nothing(&s).await;
    let (s, _) = fresh().await;
    check_read_paging(&s).await;
    let (s, c) = fresh().await;
    check_recorded_at_never_decreases(&s, &c).await;
    let (s, _) = fresh().await;
    check_hash_chain(&s).await;
    let (s, _) = fresh().await;
    check_subscription_catch_up_then_live(&s).await;
    let (s, _) = fresh().await;
    check_concurrent_appends(&s, 64, 8).await;
    let (s, _) = fresh().await;
    check_durable_consumers(&s).await;
    let (s, _) = fresh().await;
    check_key_store(&s).await;
    let (s, _) = fresh().await;
    check_data_keys_page(&s).await;
    let (s, _) = fresh().await;
    check_keyring(&s).await;
}
