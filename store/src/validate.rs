//! Input checks for `append`, run before anything reaches a writer: bad input is a typed error
//! with an actionable message and writes nothing (design invariant 8). Every backend calls
//! [`validate_append`], so they refuse exactly the same inputs.

use std::collections::BTreeSet;

use crate::{
    ExpectedVersion, NewEvent, StoreError, StreamId, ACTOR_FIELD_BYTES_MAX,
    APPEND_PAYLOAD_BYTES_MAX, EVENTS_PER_APPEND_MAX, EVENT_PAYLOAD_BYTES_MAX, EVENT_TYPE_BYTES_MAX,
    POSITION_MAX, RULESET_ID_BYTES_MAX,
};

/// Check one append's arguments against the limits in `lib.rs`.
pub fn validate_append(
    stream: &StreamId,
    expected: ExpectedVersion,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    // StreamId can only be built valid (constructor and serde both check), but the check is
    // cheap and keeps a future constructor from bypassing it.
    StreamId::new(stream.as_str())?;
    if events.is_empty() {
        return Err(StoreError::EmptyAppend);
    }
    if events.len() > EVENTS_PER_APPEND_MAX {
        return Err(StoreError::TooManyEvents {
            count: events.len(),
            max: EVENTS_PER_APPEND_MAX,
        });
    }
    if let ExpectedVersion::Exact(version) = expected {
        // `events.len()` ≤ EVENTS_PER_APPEND_MAX, so the cast cannot truncate.
        let count = events.len() as u64;
        if version > POSITION_MAX - count {
            return Err(StoreError::InvalidExpectedVersion {
                stream: stream.to_string(),
                expected,
                reason: format!(
                    "stream versions end at {POSITION_MAX}; no stream can be at version {version} \
                     and take {count} more events"
                ),
            });
        }
    }
    let mut total_payload_bytes: usize = 0;
    let mut event_ids = BTreeSet::new();
    for (index, event) in events.iter().enumerate() {
        if event.payload.len() > EVENT_PAYLOAD_BYTES_MAX {
            return Err(StoreError::EventTooLarge {
                index,
                bytes: event.payload.len(),
                max: EVENT_PAYLOAD_BYTES_MAX,
            });
        }
        total_payload_bytes = total_payload_bytes.saturating_add(event.payload.len());
        validate_event_fields(index, event)?;
        if !event_ids.insert(event.event_id) {
            return Err(StoreError::InvalidEvent {
                index,
                reason: format!(
                    "event id {} appears twice in this append; every event needs its own id",
                    event.event_id
                ),
            });
        }
    }
    if total_payload_bytes > APPEND_PAYLOAD_BYTES_MAX {
        return Err(StoreError::AppendTooLarge {
            bytes: total_payload_bytes,
            max: APPEND_PAYLOAD_BYTES_MAX,
        });
    }
    Ok(())
}

fn validate_event_fields(index: usize, event: &NewEvent) -> Result<(), StoreError> {
    let invalid = |reason: String| StoreError::InvalidEvent { index, reason };
    if event.event_id.is_nil() {
        return Err(invalid(
            "event id is the nil UUID; give every event a fresh id".into(),
        ));
    }
    if event.event_type.is_empty() {
        return Err(invalid("event type is empty".into()));
    }
    if event.event_type.len() > EVENT_TYPE_BYTES_MAX {
        return Err(invalid(format!(
            "event type is {} bytes; at most {EVENT_TYPE_BYTES_MAX} allowed",
            event.event_type.len()
        )));
    }
    for (name, value) in [
        ("actor id", &event.actor.id),
        ("actor role", &event.actor.role),
        ("actor organisation", &event.actor.organisation),
    ] {
        if value.len() > ACTOR_FIELD_BYTES_MAX {
            return Err(invalid(format!(
                "{name} is {} bytes; at most {ACTOR_FIELD_BYTES_MAX} allowed",
                value.len()
            )));
        }
    }
    if event.ruleset_id.len() > RULESET_ID_BYTES_MAX {
        return Err(invalid(format!(
            "ruleset id is {} bytes; at most {RULESET_ID_BYTES_MAX} allowed",
            event.ruleset_id.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Actor;
    use uuid::Uuid;

    fn event(n: u128) -> NewEvent {
        NewEvent {
            event_id: Uuid::from_u128(n),
            event_type: "SentenceImposed".into(),
            schema_version: 1,
            effective_at_us: 0,
            actor: Actor::default(),
            command_id: Uuid::from_u128(1000),
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            ruleset_id: String::new(),
            payload: vec![0; 10],
        }
    }

    fn stream() -> StreamId {
        StreamId::new("X123456").unwrap()
    }

    #[test]
    fn accepts_a_plain_append() {
        validate_append(&stream(), ExpectedVersion::NoStream, &[event(1), event(2)]).unwrap();
    }

    #[test]
    fn refuses_each_kind_of_bad_input() {
        let s = stream();
        assert_eq!(
            validate_append(&s, ExpectedVersion::Any, &[]),
            Err(StoreError::EmptyAppend)
        );
        let many: Vec<_> = (1..=EVENTS_PER_APPEND_MAX as u128 + 1).map(event).collect();
        assert!(matches!(
            validate_append(&s, ExpectedVersion::Any, &many),
            Err(StoreError::TooManyEvents { count: 1025, .. })
        ));
        let mut big = event(1);
        big.payload = vec![0; EVENT_PAYLOAD_BYTES_MAX + 1];
        assert!(matches!(
            validate_append(&s, ExpectedVersion::Any, &[event(2), big]),
            Err(StoreError::EventTooLarge { index: 1, .. })
        ));
        assert!(matches!(
            validate_append(&s, ExpectedVersion::Exact(POSITION_MAX), &[event(1)]),
            Err(StoreError::InvalidExpectedVersion { .. })
        ));
        assert!(matches!(
            validate_append(&s, ExpectedVersion::Exact(u64::MAX), &[event(1)]),
            Err(StoreError::InvalidExpectedVersion { .. })
        ));
        assert!(matches!(
            validate_append(&s, ExpectedVersion::Any, &[event(0)]),
            Err(StoreError::InvalidEvent { index: 0, .. })
        ));
        assert!(matches!(
            validate_append(&s, ExpectedVersion::Any, &[event(1), event(1)]),
            Err(StoreError::InvalidEvent { index: 1, .. })
        ));
        let mut unnamed = event(1);
        unnamed.event_type.clear();
        assert!(matches!(
            validate_append(&s, ExpectedVersion::Any, &[unnamed]),
            Err(StoreError::InvalidEvent { .. })
        ));
        let mut long_role = event(1);
        long_role.actor.role = "x".repeat(ACTOR_FIELD_BYTES_MAX + 1);
        assert!(matches!(
            validate_append(&s, ExpectedVersion::Any, &[long_role]),
            Err(StoreError::InvalidEvent { .. })
        ));
        let heavy: Vec<_> = (1..=65)
            .map(|n| {
                let mut e = event(n);
                e.payload = vec![0; EVENT_PAYLOAD_BYTES_MAX];
                e
            })
            .collect();
        assert!(matches!(
            validate_append(&s, ExpectedVersion::Any, &heavy),
            Err(StoreError::AppendTooLarge { .. })
        ));
    }

    #[test]
    fn stream_ids_are_checked_on_deserialize_too() {
        let bad: Result<StreamId, _> = decode_stream_id("has space");
        assert!(bad.is_err());
        assert!(decode_stream_id("X123456").is_ok());
    }

    /// Deserialize a StreamId through the codec (the store's only serde format).
    fn decode_stream_id(s: &str) -> Result<StreamId, StoreError> {
        let bytes = crate::codec::encode_payload(&s.to_string())?;
        crate::codec::decode_payload::<StreamId>(&bytes)
    }
}
