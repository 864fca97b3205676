//! The case projection: one fold per case (CRN) feeding six read models — caseload, MAPPA
//! register, handover, enforcement, allocation queue and performance measures.

pub mod facts;
pub mod performance;
pub mod rows;

use std::sync::Arc;

use caseledger_domain::identity::EventRef;
use caseledger_store::{Keyring, RecordedEvent, StreamId};

use crate::codec::decode_event;
use crate::projection::{Projection, Rows};
use crate::ProjectionError;

pub use facts::{CaseFacts, CaseView};
pub use rows::MODELS;

/// The case projection. With a keyring it opens each person's sealed data (the young-adult
/// measure reads the date of birth, enforcement-and-workload.md §4.1); without one, or for an
/// erased person, that measure has no date of birth and the person counts as not a young
/// adult.
#[derive(Clone, Default)]
pub struct CaseProjection {
    keys: Option<Arc<Keyring>>,
}

impl CaseProjection {
    /// The case projection opening persons' data with `keyring`.
    pub fn with_keys(keyring: Arc<Keyring>) -> CaseProjection {
        CaseProjection {
            keys: Some(keyring),
        }
    }
}

impl Projection for CaseProjection {
    type State = CaseView;

    fn name(&self) -> &'static str {
        "cases"
    }

    fn models(&self) -> &'static [&'static str] {
        MODELS
    }

    type Decoded = Option<caseledger_domain::Event>;

    fn decode(&self, record: &RecordedEvent) -> Result<Self::Decoded, ProjectionError> {
        // Only case streams (named by their CRN) carry case facts. System streams such as
        // `audit-refusals` hold other payloads (refused commands) and feed no read model.
        if !is_case_stream(&record.stream_id) {
            return Ok(None);
        }
        decode_event(record, self.keys.as_deref()).map(Some)
    }

    fn prepare<'a>(
        &'a self,
        records: &'a [RecordedEvent],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ProjectionError>> + Send + 'a>>
    {
        Box::pin(async move {
            let Some(keys) = &self.keys else {
                return Ok(());
            };
            let subjects = caseledger_payload::sealed_subjects(records)?;
            let subjects: Vec<&StreamId> = subjects.iter().collect();
            Ok(keys.prefetch(&subjects).await?)
        })
    }

    fn apply(
        &self,
        state: &mut CaseView,
        record: &RecordedEvent,
        decoded: Self::Decoded,
    ) -> Result<(), ProjectionError> {
        if let Some(event) = decoded {
            state.apply(&event_ref(record), &event);
        }
        Ok(())
    }

    fn effective_by(&self, record: &RecordedEvent, decoded: &Self::Decoded, at_us: i64) -> bool {
        applies_as_of_effective(record, decoded.as_ref(), at_us)
    }

    fn rows(&self, stream_id: &str, state: &CaseView, out: &mut Rows) {
        if !is_case_stream(stream_id) {
            return;
        }
        let r = rows::derive(stream_id, state);
        if let Some(row) = &r.caseload {
            out.put_json(rows::CASELOAD, b"", row);
        }
        if let Some(row) = &r.mappa {
            out.put_json(rows::MAPPA, b"", row);
        }
        for row in &r.handover {
            out.put_json(rows::HANDOVER, row.sentence.to_be_bytes(), row);
        }
        for row in &r.enforcement {
            out.put_json(rows::ENFORCEMENT, row.sentence.to_be_bytes(), row);
        }
        if let Some(row) = &r.allocation {
            out.put_json(rows::ALLOCATION, b"", row);
        }
        let mut key = String::new();
        for row in &r.performance {
            key.clear();
            key.push_str(&row.measure);
            key.push('/');
            key.push_str(&row.subject);
            out.put_json(rows::PERFORMANCE, &key, row);
        }
    }
}

/// Microseconds in one day.
const DAY_US: i64 = 86_400_000_000;

/// Does a case event belong to the world as of the effective instant `at_us`? (ASOF-1,
/// docs/rules.md.) A fact counts from its own date — the `on` of the command that recorded
/// it, through the end of that day UTC — even when the command carried a later
/// `effective_at`; also from its `effective_at`, if that is earlier. A correction counts at
/// every effective time (the wrong fact was never true); a booking, which has no date of its
/// own, from its `effective_at`.
pub fn applies_as_of_effective(
    record: &RecordedEvent,
    event: Option<&caseledger_domain::Event>,
    at_us: i64,
) -> bool {
    if record.effective_at_us <= at_us {
        return true;
    }
    match event {
        Some(caseledger_domain::Event::EventCorrected(_)) => true,
        Some(e) => e
            .fact_date()
            .and_then(end_of_day_us)
            .is_some_and(|end| end <= at_us),
        None => false,
    }
}

/// The last microsecond of day `d`, UTC.
fn end_of_day_us(d: jiff::civil::Date) -> Option<i64> {
    let start = d.to_zoned(jiff::tz::TimeZone::UTC).ok()?;
    start.timestamp().as_microsecond().checked_add(DAY_US - 1)
}

/// The envelope id of a record as the domain names events (hyphenated lowercase UUID).
pub fn event_ref(record: &RecordedEvent) -> EventRef {
    EventRef::from_u128(record.event_id.as_u128())
}

/// A case stream is named by its CRN (`caseledger_domain` validates the shape).
pub fn is_case_stream(stream_id: &str) -> bool {
    caseledger_domain::identity::Crn::new(stream_id).is_ok()
}
