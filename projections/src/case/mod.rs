//! The case projection: one fold per case (CRN) feeding six read models — caseload, MAPPA
//! register, handover, enforcement, allocation queue and performance measures.

pub mod facts;
pub mod performance;
pub mod rows;

use caseledger_store::RecordedEvent;

use crate::codec::decode_event;
use crate::projection::{Projection, Rows};
use crate::ProjectionError;

pub use facts::CaseFacts;
pub use rows::MODELS;

/// The case projection.
#[derive(Clone, Copy, Debug, Default)]
pub struct CaseProjection;

impl Projection for CaseProjection {
    type State = CaseFacts;

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
        decode_event(record).map(Some)
    }

    fn apply(
        &self,
        state: &mut CaseFacts,
        _record: &RecordedEvent,
        decoded: Self::Decoded,
    ) -> Result<(), ProjectionError> {
        if let Some(event) = decoded {
            state.apply(&event);
        }
        Ok(())
    }

    fn rows(&self, stream_id: &str, state: &CaseFacts, out: &mut Rows) {
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

/// A case stream is named by its CRN (`caseledger_domain` validates the shape).
pub fn is_case_stream(stream_id: &str) -> bool {
    caseledger_domain::identity::Crn::new(stream_id).is_ok()
}
