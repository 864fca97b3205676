//! Replay benchmark: medians of a full replay of a 200-event case and
//! of an as-of query, on a real sled store. Target: under 1 ms each. Run with
//! `cargo bench -p caseledger-replay --bench replay`; numbers go to docs/benchmarks.md.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use caseledger_domain::event::{
    CaseOpened, Decision, MappaLevelSet, ReasonCode, RegistrationAdded, RegistrationRemoved,
    RiskAssessed, RoshStatus,
};
use caseledger_domain::identity::{Crn, Gender, Person, PersonName, Text};
use caseledger_domain::reference::{Organisation, Pdu};
use caseledger_domain::risk::{
    AssessmentKind, MappaCategory, MappaLevel, Need, NeedSeverity, OgrsScore, RegistrationKind,
    RoshLevel, RsrScore,
};
use caseledger_domain::ruleset::RulesetId;
use caseledger_domain::Event;
use caseledger_replay::asof::AsOf;
use caseledger_replay::domain_model::DomainCase;
use caseledger_replay::history::{case_history, state_as_of, HistoryOptions};
use caseledger_store::{
    Actor, Clock, Durability, EventStore, ExpectedVersion, ManualClock, NewEvent, RecordedEvent,
    SledOptions, SledStore, StreamId,
};
use jiff::civil::Date;
use uuid::Uuid;

/// Events in the benchmarked case.
const CASE_EVENTS: u32 = 200;
/// Timed runs per measurement; the median is reported.
const RUNS: usize = 301;
/// Untimed runs first, to warm caches.
const WARMUP_RUNS: usize = 30;
const DAY_US: i64 = 86_400_000_000;

fn decision(reason: &str) -> Decision {
    Decision {
        ruleset_id: RulesetId::Unified2021,
        reason_code: ReasonCode::new(reason).expect("reason"),
    }
}

/// Event `i` of the case: a realistic mix of risk assessments, registrations and MAPPA levels.
fn event(i: u32, on: Date) -> Event {
    if i == 0 {
        return Event::CaseOpened(CaseOpened {
            crn: Crn::new("X000001").expect("crn"),
            person: caseledger_domain::sealable::Sealable::Known(Person {
                name: PersonName::new("Alex Example").expect("name"),
                date_of_birth: "1990-05-17".parse().expect("date"),
                gender: Gender::Male,
            }),
            pdu: Pdu::new(1).expect("pdu"),
            team: None,
            opened_on: on,
        });
    }
    let registration_id = u16::try_from(i % 20).expect("small");
    match i % 4 {
        0 => {
            let mut needs = BTreeMap::new();
            needs.insert(Need::Accommodation, NeedSeverity::Standard);
            needs.insert(Need::ThinkingAndBehaviour, NeedSeverity::Severe);
            Event::RiskAssessed(RiskAssessed {
                assessed_on: on,
                kind: AssessmentKind::Review,
                assessed_by: Organisation::Nps,
                rosh: [RoshLevel::Low, RoshLevel::Medium, RoshLevel::High][(i % 3) as usize],
                rosh_status: RoshStatus::Confirmed,
                rsr: Some(RsrScore::from_hundredths(300 + i as u16).expect("rsr")),
                ogrs: Some(OgrsScore::new((i % 100) as u8).expect("ogrs")),
                needs,
                decision: decision("risk_reassessed"),
            })
        }
        1 => Event::RegistrationAdded(RegistrationAdded {
            registration_id,
            kind: RegistrationKind::DomesticAbusePerpetrator,
            registered_on: on,
            review_on: None,
        }),
        2 => Event::RegistrationRemoved(RegistrationRemoved {
            registration_id,
            removed_on: on,
            reason: Text::new("review: no longer applies").expect("text"),
        }),
        _ => Event::MappaLevelSet(MappaLevelSet {
            set_on: on,
            category: MappaCategory::new(1).expect("category"),
            level: MappaLevel::new((i % 4) as u8).expect("level"),
            decision: decision("panel_decision"),
        }),
    }
}

async fn build_case(store: &SledStore, clock: &ManualClock) -> Vec<RecordedEvent> {
    let first_day: Date = "2020-01-06".parse().expect("date");
    let start_us = jiff::Timestamp::from_second(1_578_268_800)
        .expect("ts")
        .as_microsecond();
    let stream = StreamId::new("X000001").expect("stream");
    for i in 0..CASE_EVENTS {
        let on = first_day
            .checked_add(jiff::Span::new().days(i64::from(i) * 5))
            .expect("date");
        let event = event(i, on);
        // Every 10th event is recorded 30 days late: the as-of query has something to skip.
        let effective_us = start_us + i64::from(i) * 5 * DAY_US;
        let late = if i % 10 == 9 { 30 * DAY_US } else { 0 };
        clock.set(effective_us + late + i64::from(i));
        // A throwaway data key: these records are written around the engine.
        let key = caseledger_store::keystore::SubjectKey::Live(
            caseledger_store::crypto::DataKey::generate(),
        );
        let encoded =
            caseledger_payload::encode_sealed(&event, stream.as_str(), &key).expect("payload");
        store
            .append(
                &stream,
                ExpectedVersion::Any,
                vec![NewEvent {
                    event_id: Uuid::from_u128(u128::from(i) + 1),
                    event_type: encoded.event_type.to_owned(),
                    schema_version: encoded.schema_version,
                    effective_at_us: effective_us,
                    actor: Actor {
                        id: "PO-0001".into(),
                        role: "probation_officer".into(),
                        organisation: "NPS".into(),
                    },
                    command_id: Uuid::from_u128(10_000 + u128::from(i)),
                    correlation_id: Uuid::from_u128(20_000 + u128::from(i)),
                    causation_id: Uuid::nil(),
                    ruleset_id: String::new(),
                    payload: encoded.bytes,
                }],
                None,
            )
            .await
            .expect("append");
    }
    store.read_stream(&stream, 1).await.expect("read")
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn measure(name: &str, mut run: impl FnMut()) -> Duration {
    for _ in 0..WARMUP_RUNS {
        run();
    }
    let mut samples = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        let start = Instant::now();
        run();
        samples.push(start.elapsed());
    }
    let m = median(samples);
    println!("{name:<58} median {:>9.1} µs", m.as_secs_f64() * 1e6);
    m
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = Arc::new(ManualClock::new(0));
    let store = SledStore::open(
        dir.path(),
        SledOptions {
            durability: Durability::Buffered,
            clock: clock.clone() as Arc<dyn Clock>,
        },
    )
    .expect("open sled");
    let records = runtime.block_on(build_case(&store, &clock));
    assert_eq!(records.len(), CASE_EVENTS as usize);
    let stream = StreamId::new("X000001").expect("stream");
    println!(
        "case of {} events on sled (medians of {RUNS} runs)",
        records.len()
    );

    measure(
        "full replay: read stream from sled + decode + evolve",
        || {
            let records = runtime
                .block_on(store.read_stream(&stream, 1))
                .expect("read");
            black_box(state_as_of(&DomainCase::default(), &records, AsOf::now()).expect("replay"));
        },
    );
    measure("full replay: decode + evolve (records in memory)", || {
        black_box(state_as_of(&DomainCase::default(), &records, AsOf::now()).expect("replay"));
    });
    let middle = &records[records.len() / 2];
    let as_of = AsOf {
        recorded_through_us: Some(middle.recorded_at_us),
        effective_through_us: Some(middle.effective_at_us - 20 * DAY_US),
    };
    measure("as-of (R, E) query: read stream from sled + fold", || {
        let records = runtime
            .block_on(store.read_stream(&stream, 1))
            .expect("read");
        black_box(state_as_of(&DomainCase::default(), &records, as_of).expect("as-of"));
    });
    measure("as-of (R, E) query: fold (records in memory)", || {
        black_box(state_as_of(&DomainCase::default(), &records, as_of).expect("as-of"));
    });
    measure(
        "history timeline: JSON state + diff after every event",
        || {
            black_box(
                case_history(
                    &DomainCase::default(),
                    &records,
                    AsOf::now(),
                    HistoryOptions::default(),
                )
                .expect("history"),
            );
        },
    );
}
