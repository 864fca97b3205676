//! Era `omic-2022` (single 7.5-month date): handover-rules.md §8.
//!
//! Source: MPC `app/lib/handover/handover_date_rules.rb` and
//! `app/services/handover_date_service.rb` @ e1e190ed; moj-anchors §1.4. Everything in §7
//! applies (the ladder lives in `era2019.rs`, the NPS rows both eras share in `nps.rs`); only
//! the NPS dates of a determinate case without PED differ.

use super::dates::{before_or_error, Period};
use super::error::HandoverError;
use super::input::HandoverInput;
use super::nps::{shared_nps_dates, NpsDates};
use super::outcome::ReleaseDate;
use super::reasons::HandoverReason;

/// NPS handover and start dates of `omic-2022` (handover-rules.md §8), for a policy case
/// whose release date is `release` (§7.2).
///
/// Handover date (first match):
/// - early allocation, indeterminate, determinate with `ped`: as §7.3, the rows shared with
///   `omic-2019` ([`shared_nps_dates`]);
/// - determinate without `ped`: min(crd, ard) − 7m15d, floored at `sentence_start`,
///   `nps_determinate`. MAPPA, HDCED and HDCAD are ignored for NPS cases. (The floor cannot
///   change a full calculation: the 10-month rule catches such sentences first, §13.6.)
///
/// Start date: equal to the handover date — no "COM supporting" window — except for
/// indeterminate cases where open-prison rules apply (§6.2), whose start is the
/// open-conditions date as in §7.4. The caller then raises the handover date to a later
/// start (§7.4 final step).
pub fn nps_dates(input: &HandoverInput, release: ReleaseDate) -> Result<NpsDates, HandoverError> {
    if let Some(dates) = shared_nps_dates(input, release)? {
        return Ok(dates);
    }
    // Without PED, R is min(crd, ard) (§7.2).
    let seven_and_a_half = before_or_error(
        release.date,
        Period::SEVEN_AND_A_HALF_MONTHS,
        release.kind.field(),
    )?;
    let handover = match input.sentence_start {
        Some(start) => seven_and_a_half.max(start),
        None => seven_and_a_half,
    };
    Ok(NpsDates {
        start: Some(handover),
        handover,
        reason: HandoverReason::NpsDeterminate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handover::{
        calculate, CaseAllocation, HandoverEra, PrisonEstate, ReleaseDateKind, Responsibility,
    };
    use crate::risk::MappaLevel;
    use jiff::civil::{date, Date};

    fn nps(today: Date, crd: Date) -> HandoverInput {
        HandoverInput {
            era: Some(HandoverEra::Omic2022),
            sentence_start: Some(date(2019, 10, 5)),
            crd: Some(crd),
            ..HandoverInput::new(today)
        }
    }

    #[test]
    fn s8_nps_determinate_has_one_date_and_ignores_mappa_and_hdc() {
        let mut input = nps(date(2022, 1, 16), date(2022, 9, 1));
        input.mappa_level = Some(MappaLevel::new(3).unwrap());
        input.hdced = Some(date(2021, 12, 1));
        input.hdcad = Some(date(2022, 2, 1));
        let r = calculate(&input).unwrap();
        assert_eq!(r.reason, HandoverReason::NpsDeterminate);
        assert_eq!(r.start_date, Some(date(2022, 1, 17)));
        assert_eq!(r.handover_date, Some(date(2022, 1, 17)));
        assert_eq!(r.responsibility, Responsibility::CustodyOnly);
        input.today = date(2022, 1, 17);
        assert_eq!(
            calculate(&input).unwrap().responsibility,
            Responsibility::Community,
            "no COM-supporting window in 2022"
        );
    }

    #[test]
    fn s8_handover_is_floored_at_the_sentence_start() {
        // Only reachable below the 10-month rule, so exercised on the date rule itself.
        let mut input = nps(date(2022, 1, 1), date(2022, 9, 1));
        input.sentence_start = Some(date(2022, 3, 1));
        let release = ReleaseDate {
            kind: ReleaseDateKind::Crd,
            date: date(2022, 9, 1),
        };
        let dates = nps_dates(&input, release).unwrap();
        assert_eq!(dates.handover, date(2022, 3, 1));
        assert_eq!(dates.start, Some(date(2022, 3, 1)));
        // And the full calculation of that case is caught by the 10-month rule (§13.6).
        assert_eq!(
            calculate(&input).unwrap().reason,
            HandoverReason::LessThan10MonthsLeftToServe
        );
    }

    #[test]
    fn s8_parole_and_early_allocation_cases_have_start_equal_to_handover() {
        let mut input = nps(date(2021, 1, 1), date(2023, 9, 1));
        input.ped = Some(date(2022, 10, 31));
        let r = calculate(&input).unwrap();
        assert_eq!(r.reason, HandoverReason::NpsDeterminateParoleCase);
        assert_eq!(r.start_date, r.handover_date);
        assert_eq!(r.handover_date, Some(date(2022, 2, 28)));
        input.early_allocation = true;
        let r = calculate(&input).unwrap();
        assert_eq!(r.reason, HandoverReason::NpsEarlyAllocation);
        assert_eq!(r.start_date, Some(date(2021, 7, 31)));
        assert_eq!(r.handover_date, Some(date(2021, 7, 31)));
    }

    #[test]
    fn s8_indeterminate_under_open_prison_rules_starts_at_arrival() {
        let mut input = nps(date(2022, 12, 1), date(2030, 1, 1));
        input.indeterminate = true;
        input.ted = Some(date(2023, 12, 1));
        input.prison.estate = PrisonEstate::MaleOpen;
        input.prison.arrival = Some(date(2022, 6, 1));
        let r = calculate(&input).unwrap();
        assert_eq!(r.reason, HandoverReason::NpsIndeterminateOpen);
        assert_eq!(r.start_date, Some(date(2022, 6, 1)));
        assert_eq!(r.handover_date, Some(date(2023, 4, 1)));
        assert_eq!(r.responsibility, Responsibility::CustodyWithCom);
        // Arrival after the 8-month point: the handover is raised to it (§7.4 final step).
        input.prison.arrival = Some(date(2023, 5, 1));
        let r = calculate(&input).unwrap();
        assert_eq!(r.start_date, Some(date(2023, 5, 1)));
        assert_eq!(r.handover_date, Some(date(2023, 5, 1)));
    }

    #[test]
    fn s8_crc_cases_still_use_hdc_dates() {
        let mut input = nps(date(2022, 12, 1), date(2023, 9, 1));
        input.case_allocation = CaseAllocation::Crc;
        input.hdced = Some(date(2023, 6, 1));
        let r = calculate(&input).unwrap();
        assert_eq!(r.reason, HandoverReason::CrcCase);
        assert_eq!(r.handover_date, Some(date(2023, 3, 9)));
    }
}
