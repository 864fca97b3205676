//! The handover calculator's input for one custodial sentence, filled from the case state
//! (handover-rules.md §3.1).
//!
//! One builder serves both the engine, which records `HandoverDatesCalculated` when the result
//! changes, and replay's explain, which rebuilds the inputs of a recorded decision from the case
//! as it stood and checks their digest against the recorded one: if the two ever drifted, every
//! explained decision would show a digest mismatch.

use jiff::civil::Date;

use super::NotDerivable;
use crate::handover::{CaseAllocation, HandoverEra, HandoverInput};
use crate::reference::Nation;
use crate::sealable::Sealable;
use crate::sentence::{SentenceId, SentenceType};
use crate::state::{CaseState, SentenceState, SentenceStatus};

/// Age in whole years on `today` (handover-rules.md §5: under 18 is outside OMiC); 0 when
/// `today` is before the date of birth.
pub fn age_years(date_of_birth: Date, today: Date) -> u32 {
    let mut years = i32::from(today.year()) - i32::from(date_of_birth.year());
    if (today.month(), today.day()) < (date_of_birth.month(), date_of_birth.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

/// Is this a custodial sentence still served in custody, the only kind OMiC handover applies
/// to (handover-rules.md §3.1 `sentenced`; §5 scope)?
pub fn is_custodial_in_custody(sentence: &SentenceState) -> bool {
    matches!(
        sentence.sentence_type,
        SentenceType::DeterminateCustody | SentenceType::IndeterminateCustody
    ) && sentence.status.in_custody()
}

/// The handover inputs of sentence `sentence_id` of the case, on `today`, under `era`.
///
/// Sources, handover-rules.md §3.1: `sentence_start` = the date sentenced; release, eligibility
/// and hearing dates = the sentence's key dates (CRD, ARD, PED, HDCED, HDCAD, TED, THD);
/// `indeterminate` = an indeterminate custodial sentence; `recalled` = the sentence is in
/// recall; `case_allocation` = CRC when a CRC manages the case (Transforming Rehabilitation
/// era), else NPS; `mappa_level` = the level of an active MAPPA registration, else the case's
/// MAPPA level (unknown stays unknown, §7.3); `welsh` = the case's PDU is in Wales
/// (seed-digest §6a); `age` = whole years on `today` from the date of birth (default 30 when
/// the person is not recorded, §3.1). Not held in the case record, so left at the contract
/// defaults (§3.1): prison details (public male closed English prison), parole review date and
/// outcome, immigration and civil status, early allocation, additional ISP.
pub fn handover_input(
    state: &CaseState,
    sentence_id: SentenceId,
    era: HandoverEra,
    today: Date,
) -> Result<HandoverInput, NotDerivable> {
    if !era.is_omic() {
        return Err(NotDerivable::OutsideOmic { era });
    }
    let sentence = state
        .sentences
        .get(&sentence_id)
        .ok_or(NotDerivable::NoSuchSentence { sentence_id })?;
    let mut input = HandoverInput::new(today);
    input.era = Some(era);
    if let Some(person) = state.person.as_ref().and_then(Sealable::known) {
        input.age = age_years(person.date_of_birth, today);
    }
    let dates = &sentence.dates;
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
    input.sentenced = true;
    input.case_allocation = match &state.provider {
        Some(provider) if provider.is_crc() => CaseAllocation::Crc,
        _ => CaseAllocation::Nps,
    };
    input.mappa_level = state
        .active_mappa_registration()
        .map(|(_, level)| level)
        .or(state.mappa.level);
    input.welsh = state.pdu.is_some_and(|p| p.nation() == Nation::Wales);
    Ok(input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn ages_count_whole_years_to_the_birthday() {
        assert_eq!(age_years(date(2000, 6, 15), date(2018, 6, 14)), 17);
        assert_eq!(age_years(date(2000, 6, 15), date(2018, 6, 15)), 18);
        assert_eq!(age_years(date(2030, 1, 1), date(2020, 1, 1)), 0);
    }

    /// handover-rules.md §4: before OMiC there is nothing to calculate.
    #[test]
    fn handover_4_pre_omic_has_no_calculator_era() {
        assert!(!HandoverEra::PreOmic.is_omic());
        assert!(HandoverEra::OMIC.iter().all(|era| era.is_omic()));
        let refused = handover_input(
            &CaseState::default(),
            SentenceId(1),
            HandoverEra::PreOmic,
            date(2018, 1, 1),
        );
        assert_eq!(
            refused,
            Err(NotDerivable::OutsideOmic {
                era: HandoverEra::PreOmic
            })
        );
    }

    #[test]
    fn an_unknown_sentence_is_a_typed_refusal() {
        let refused = handover_input(
            &CaseState::default(),
            SentenceId(7),
            HandoverEra::Omic2019,
            date(2020, 1, 1),
        );
        assert_eq!(
            refused,
            Err(NotDerivable::NoSuchSentence {
                sentence_id: SentenceId(7)
            })
        );
        let message = refused.unwrap_err().to_string();
        assert!(message.contains("sentence 7"), "{message}");
    }
}
