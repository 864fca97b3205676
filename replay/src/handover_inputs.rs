//! Re-deriving the inputs of a recorded handover decision from the case state.
//!
//! `HandoverDatesCalculated` records the calculator's result, era, reason and an
//! `inputs_digest`, not the inputs themselves (domain `event/custody.rs`). To explain it, the
//! inputs are rebuilt from the case as it stood when the decision was made, field by field
//! from handover-rules.md §3.1, and their digest is compared with the recorded one: a match
//! proves the rebuilt inputs are exactly those the decision used.
//!
//! Canonical form of the digest: SHA-256 (hex) of the compact `serde_json` encoding of the
//! `HandoverInput` ([`handover_inputs_digest`]), as the command handler computes it when it
//! records handover dates (commands crate, `derived::handover_decision`). The rebuild below
//! follows the handler's `derived::handover_input` field for field; replay may not depend on
//! the commands crate (docs/architecture.md), so the two copies must stay in step — the
//! digest check is what catches a drift.

use caseledger_domain::handover::{CaseAllocation, HandoverEra, HandoverInput, Prison};
use caseledger_domain::identity::InputsDigest;
use caseledger_domain::reference::Nation;
use caseledger_domain::sentence::{SentenceId, SentenceType};
use caseledger_domain::state::{CaseState, SentenceStatus};
use jiff::civil::Date;

/// Digest of handover inputs: hex SHA-256 of their compact JSON encoding.
pub fn handover_inputs_digest(input: &HandoverInput) -> Result<InputsDigest, String> {
    let bytes = serde_json::to_vec(input).map_err(|e| e.to_string())?;
    Ok(InputsDigest::of(&bytes))
}

/// Whole years from `born` to `on` (0 if `on` is before `born`).
fn age_on(born: Date, on: Date) -> u32 {
    let mut years = i32::from(on.year()) - i32::from(born.year());
    if (on.month(), on.day()) < (born.month(), born.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// The handover inputs of sentence `sentence_id` of the case `state`, on `today`, under `era`.
///
/// Sources, handover-rules.md §3.1: `sentence_start` = the date sentenced; release, eligibility
/// and hearing dates = the sentence's key dates (CRD, ARD, PED, HDCED, HDCAD, TED, THD);
/// `indeterminate` = an indeterminate custodial sentence; `recalled` = the sentence is in
/// recall; `case_allocation` = CRC when a CRC manages the case (TR era), else NPS; `mappa_level`
/// = the level of an active MAPPA registration, else the case's MAPPA level (unknown stays
/// unknown, §7.3); `welsh` = the case's PDU is in Wales
/// (seed-digest §6a); `age` = whole years on `today` from the date of birth (default 30 when
/// the person is not recorded, §3.1). Not held in the case record, so left at the contract
/// defaults (§3.1): prison details (public male closed English prison), parole review date and
/// outcome, immigration and civil status, early allocation, additional ISP.
pub fn handover_input_from_state(
    state: &CaseState,
    sentence_id: SentenceId,
    today: Date,
    era: HandoverEra,
) -> Result<HandoverInput, String> {
    let sentence = state
        .sentences
        .get(&sentence_id)
        .ok_or_else(|| format!("the case has no sentence {}", sentence_id.0))?;
    let dates = &sentence.dates;
    let mut input = HandoverInput::new(today);
    input.era = Some(era);
    if let Some(person) = &state.person {
        input.age = age_on(person.date_of_birth, today);
    }
    input.sentence_start = Some(sentence.sentenced_on);
    input.crd = dates.conditional_release_date;
    input.ard = dates.automatic_release_date;
    input.ped = dates.parole_eligibility_date;
    input.hdced = dates.home_detention_curfew_eligibility_date;
    input.hdcad = dates.home_detention_curfew_approved_date;
    input.ted = dates.tariff_expiry_date;
    input.thd = dates.target_hearing_date;
    input.indeterminate = sentence.sentence_type == SentenceType::IndeterminateCustody;
    input.recalled = sentence.status == SentenceStatus::Recalled;
    input.case_allocation = match &state.provider {
        Some(p) if p.is_crc() => CaseAllocation::Crc,
        _ => CaseAllocation::Nps,
    };
    input.sentenced = true;
    input.mappa_level = state
        .active_mappa_registration()
        .map(|(_, level)| level)
        .or(state.mappa.level);
    input.welsh = state.pdu.is_some_and(|p| p.nation() == Nation::Wales);
    input.prison = Prison::default();
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_counts_whole_years_to_the_birthday() {
        let born: Date = "1990-05-17".parse().expect("date");
        assert_eq!(age_on(born, "2019-05-16".parse().expect("date")), 28);
        assert_eq!(age_on(born, "2019-05-17".parse().expect("date")), 29);
        assert_eq!(age_on(born, "1980-01-01".parse().expect("date")), 0);
    }
}
