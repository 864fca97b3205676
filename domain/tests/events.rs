//! Every event type round-trips through serde JSON, and the sample life covers every type.

use std::collections::BTreeSet;

use caseledger_domain::testing::{full_lifecycle, run};
use caseledger_domain::{Event, EVENT_TYPES};

#[test]
fn the_full_lifecycle_emits_every_event_type() {
    let (_, events) = run(full_lifecycle());
    let seen: BTreeSet<&str> = events.iter().map(Event::event_type).collect();
    let all: BTreeSet<&str> = EVENT_TYPES.iter().copied().collect();
    let missing: Vec<&&str> = all.difference(&seen).collect();
    assert!(missing.is_empty(), "event types never emitted: {missing:?}");
}

#[test]
fn every_event_round_trips_through_json_with_its_type_as_the_tag() {
    let (_, events) = run(full_lifecycle());
    for event in &events {
        let json = serde_json::to_value(event).expect("serialise");
        let tag = json.as_object().and_then(|o| o.keys().next().cloned());
        assert_eq!(
            tag.as_deref(),
            Some(event.event_type()),
            "externally tagged by type"
        );
        let back: Event = serde_json::from_value(json).expect("deserialise");
        assert_eq!(&back, event);
        // What new records are written at is what a reader takes as the type's current version.
        assert_eq!(
            Some(event.schema_version()),
            Event::current_schema_version(event.event_type())
        );
    }
}

#[test]
fn invalid_values_inside_an_event_are_refused_on_deserialisation() {
    let (_, events) = run(full_lifecycle());
    let opened = serde_json::to_string(&events[0]).expect("serialise");
    assert!(opened.contains("X123456"));
    let bad_crn = opened.replace("X123456", "X12345");
    assert!(serde_json::from_str::<Event>(&bad_crn).is_err());
    let bad_pdu = opened.replace("\"pdu\":79", "\"pdu\":109");
    assert_ne!(bad_pdu, opened);
    assert!(serde_json::from_str::<Event>(&bad_pdu).is_err());
}
