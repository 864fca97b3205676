//! `SentencePlanCreated`: version 2 records the working days from the sentence to the plan
//! (BR-E2, seed 003 l.791: the initial plan is due within 15 working days).

use caseledger_domain::event::SentencePlanCreated;
use caseledger_domain::sentence::SentenceId;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// `SentencePlanCreated` as schema version 1 wrote it. Frozen: never edited again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentencePlanCreatedV1 {
    pub sentence_id: SentenceId,
    pub created_on: Date,
    pub service_user_involved: bool,
}

/// Version 1 to version 2: a version-1 plan did not record its working days since the
/// sentence, so they are `None` (the documented default; read models that need the count
/// compute it from the dates).
pub fn upcast_v1_to_v2(v1: SentencePlanCreatedV1) -> SentencePlanCreated {
    SentencePlanCreated {
        sentence_id: v1.sentence_id,
        created_on: v1.created_on,
        service_user_involved: v1.service_user_involved,
        working_days_since_sentence: None,
    }
}
