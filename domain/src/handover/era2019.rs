//! Era `omic-2019` (OMiC v1, NPS/CRC split): handover-rules.md §7.
//!
//! Source: MPC `app/services/handover_date_service.rb` @ 2bc3ea25; moj-anchors §1.3.
//! The §7.1 ladder, the release date `R` (§7.2) and the responsibility rule (§7.5) are
//! shared with `omic-2022`, which changes only the NPS dates of step 6 (§8, `era2022.rs`).

use jiff::civil::Date;

use super::dates::{before_or_error, is_future, months_after, on_or_before, Period};
use super::era::HandoverEra;
use super::era2022;
use super::error::{HandoverError, SentenceStartRule};
use super::gates::is_policy_case;
use super::input::{CaseAllocation, HandoverInput};
use super::nps::{shared_nps_dates, NpsDates};
use super::outcome::{HandoverResult, ReleaseDate, ReleaseDateKind, Responsibility, RuleStep};
use super::reasons::HandoverReason;

/// Which NPS date rules step 6 of the §7.1 ladder uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NpsRules {
    /// §7.3 / §7.4: COM allocated 7.5 months and responsible 4.5 months before release.
    Omic2019,
    /// §8: a single date 7.5 months before release.
    Omic2022,
}

impl NpsRules {
    fn era(self) -> HandoverEra {
        match self {
            NpsRules::Omic2019 => HandoverEra::Omic2019,
            NpsRules::Omic2022 => HandoverEra::Omic2022,
        }
    }
}

/// A CRC case (§7.1 step 4): `case_allocation = crc` and not indeterminate. An
/// indeterminate case recorded as CRC is handled as NPS (MPC: staff pick CRC to get past a
/// screen; there are no CRC indeterminate cases).
pub fn is_crc_case(input: &HandoverInput) -> bool {
    input.case_allocation == CaseAllocation::Crc && !input.indeterminate
}

/// Release date `R` (handover-rules.md §7.2):
/// - indeterminate: `ted` if in the future; otherwise the earliest of {`prd`, `ped`} that is
///   not in the past (≥ today); unknown if none (THD is ignored, §13.5);
/// - NPS determinate: `ped` if known, whatever the other dates (§13.4); else `min(crd, ard)`;
/// - CRC determinate: `hdcad` if known; else `min(ard, crd, hdced)` (MPC: "CRC can look at
///   HDC date, NPS is not supposed to").
pub fn release_date(input: &HandoverInput) -> Option<ReleaseDate> {
    let today = input.today;
    if input.indeterminate {
        if let Some(ted) = input.ted.filter(|ted| is_future(*ted, today)) {
            return ReleaseDate::known(ReleaseDateKind::Ted, Some(ted));
        }
        let not_past = |d: Option<Date>| d.filter(|d| *d >= today);
        ReleaseDate::earliest(&[
            (ReleaseDateKind::Ped, not_past(input.ped)),
            (ReleaseDateKind::Prd, not_past(input.prd)),
        ])
    } else if is_crc_case(input) {
        ReleaseDate::known(ReleaseDateKind::Hdcad, input.hdcad).or_else(|| {
            ReleaseDate::earliest(&[
                (ReleaseDateKind::Ard, input.ard),
                (ReleaseDateKind::Crd, input.crd),
                (ReleaseDateKind::Hdced, input.hdced),
            ])
        })
    } else {
        ReleaseDate::known(ReleaseDateKind::Ped, input.ped)
            .or_else(|| conditional_or_automatic(input))
    }
}

/// `min(crd, ard)`; a tie is reported as ARD (the date is the same).
pub fn conditional_or_automatic(input: &HandoverInput) -> Option<ReleaseDate> {
    ReleaseDate::earliest(&[
        (ReleaseDateKind::Ard, input.ard),
        (ReleaseDateKind::Crd, input.crd),
    ])
}

/// Responsibility for ladder steps 4 and 6 (handover-rules.md §7.5): `custody_only` while
/// both dates are in the future; `custody_with_com` while only the handover date is;
/// `community` from the handover date. An unknown start is never "in the future".
pub fn responsibility(today: Date, start: Option<Date>, handover: Date) -> Responsibility {
    let start_in_future = start.is_some_and(|start| is_future(start, today));
    let handover_in_future = is_future(handover, today);
    if start_in_future && handover_in_future {
        Responsibility::CustodyOnly
    } else if handover_in_future {
        Responsibility::CustodyWithCom
    } else {
        Responsibility::Community
    }
}

/// The rule ladder of handover-rules.md §7.1 (first match wins), for `omic-2019` and, with
/// the §8 NPS dates, `omic-2022`. The caller has already checked OMiC scope (step 0).
///
/// 1. recalled → `community`, no dates, `recall_case`;
/// 2. immigration detainee → `community`, no dates, `immigration_case`;
/// 3. `R` unknown → `custody_only`, no dates, `release_date_unknown`;
/// 4. CRC case → start = handover = R − 84 days, `crc_case` (skips the 10-month rule, the
///    policy gate and open-prison status);
/// 5. R ≤ sentence start + 10 months (exactly 10 months counts as short) → `community`, no
///    dates, `less_than_10_months_left_to_serve`; needs `sentence_start`;
/// 6. policy case (§6.4) → NPS dates (§7.3/§7.4 or §8), then the handover date is raised
///    to the start date if the start is later (MO-49, `1cb7239f`: dates never invert);
/// 7. otherwise → `community`, no dates, `pre_omic_rules`.
pub fn calculate_v1(
    input: &HandoverInput,
    nps_rules: NpsRules,
) -> Result<HandoverResult, HandoverError> {
    let era = nps_rules.era();
    let today = input.today;
    let without_dates = |responsibility, reason, release_date, rule| HandoverResult {
        era,
        responsibility,
        start_date: None,
        handover_date: None,
        reason,
        release_date,
        rule,
    };
    if input.recalled {
        return Ok(without_dates(
            Responsibility::Community,
            HandoverReason::RecallCase,
            None,
            RuleStep::V1Recall,
        ));
    }
    if input.immigration {
        return Ok(without_dates(
            Responsibility::Community,
            HandoverReason::ImmigrationCase,
            None,
            RuleStep::V1Immigration,
        ));
    }
    let Some(release) = release_date(input) else {
        return Ok(without_dates(
            Responsibility::CustodyOnly,
            HandoverReason::ReleaseDateUnknown,
            None,
            RuleStep::V1ReleaseDateUnknown,
        ));
    };
    if is_crc_case(input) {
        let date = before_or_error(release.date, Period::TWELVE_WEEKS, release.kind.field())?;
        return Ok(HandoverResult {
            era,
            responsibility: responsibility(today, Some(date), date),
            start_date: Some(date),
            handover_date: Some(date),
            reason: HandoverReason::CrcCase,
            release_date: Some(release),
            rule: RuleStep::V1CrcCase,
        });
    }
    let sentence_start = input
        .sentence_start
        .ok_or(HandoverError::SentenceStartRequired(
            SentenceStartRule::LessThan10MonthsLeftToServe,
        ))?;
    let ten_months_in = months_after(sentence_start, Period::TEN_MONTHS.months);
    if on_or_before(release.date, ten_months_in) {
        return Ok(without_dates(
            Responsibility::Community,
            HandoverReason::LessThan10MonthsLeftToServe,
            Some(release),
            RuleStep::V1ShortSentence,
        ));
    }
    if !is_policy_case(input, release.date) {
        return Ok(without_dates(
            Responsibility::Community,
            HandoverReason::PreOmicRules,
            Some(release),
            RuleStep::V1PreOmic,
        ));
    }
    let (dates, rule) = match nps_rules {
        NpsRules::Omic2019 => (nps_dates(input, release)?, RuleStep::V1PolicyCase2019),
        NpsRules::Omic2022 => (
            era2022::nps_dates(input, release)?,
            RuleStep::V1PolicyCase2022,
        ),
    };
    // §7.4 final step: a known start later than the handover date raises the handover date,
    // so HDC dates can never pull the handover before the window opens (§13.3).
    let handover = match dates.start {
        Some(start) if start > dates.handover => start,
        _ => dates.handover,
    };
    Ok(HandoverResult {
        era,
        responsibility: responsibility(today, dates.start, handover),
        start_date: dates.start,
        handover_date: Some(handover),
        reason: dates.reason,
        release_date: Some(release),
        rule,
    })
}

/// NPS handover and start dates of `omic-2019` (handover-rules.md §7.3, §7.4), for a
/// policy case whose release date is `release` (§7.2).
///
/// Handover date (§7.3, first match):
/// - early allocation, indeterminate, determinate with `ped`: the rows shared with
///   `omic-2022` ([`shared_nps_dates`]);
/// - determinate, MAPPA blank: H45, `nps_mappa_unknown` (blank is not level 0);
/// - determinate, MAPPA 0 or 1: H45, `nps_determinate_mappa_1_n`;
/// - determinate, MAPPA 2 or 3: the later of `today` and min(crd, ard) − 7m15d,
///   `nps_determinate_mappa_2_3` (so it depends on `today`, §13.1).
///
/// H45 = `hdcad` if known, else min(min(crd, ard) − 4m15d, `hdced`).
///
/// Start date (§7.4, first match):
/// - the shared rows: the open-conditions date for an indeterminate case where open-prison
///   rules apply (§6.2; women's estate `category_since`, otherwise `arrival`; may be
///   unknown), otherwise the handover date (R − 15 months, R − 8 months, ped − 8 months);
/// - determinate: min(crd, ard) − 7m15d.
pub fn nps_dates(input: &HandoverInput, release: ReleaseDate) -> Result<NpsDates, HandoverError> {
    if let Some(dates) = shared_nps_dates(input, release)? {
        return Ok(dates);
    }
    // NPS determinate without PED: R is min(crd, ard) (§7.2).
    let r = release.date;
    let r_field = release.kind.field();
    let (handover, reason) = match input.mappa_level.map(|level| level.get()) {
        None => (h45(input, release)?, HandoverReason::NpsMappaUnknown),
        Some(0 | 1) => (h45(input, release)?, HandoverReason::NpsDeterminateMappa1N),
        // MappaLevel cannot exceed 3, so this arm is levels 2 and 3.
        Some(_) => {
            let seven_and_a_half = before_or_error(r, Period::SEVEN_AND_A_HALF_MONTHS, r_field)?;
            (
                seven_and_a_half.max(input.today),
                HandoverReason::NpsDeterminateMappa23,
            )
        }
    };
    let start = before_or_error(r, Period::SEVEN_AND_A_HALF_MONTHS, r_field)?;
    Ok(NpsDates {
        start: Some(start),
        handover,
        reason,
    })
}

/// H45 (handover-rules.md §7.3): `hdcad` if known; otherwise the earlier of
/// min(crd, ard) − 4m15d and `hdced` (MPC `a5d04e81`: take the minimum).
fn h45(input: &HandoverInput, crd_or_ard: ReleaseDate) -> Result<Date, HandoverError> {
    if let Some(hdcad) = input.hdcad {
        return Ok(hdcad);
    }
    let four_and_a_half = before_or_error(
        crd_or_ard.date,
        Period::FOUR_AND_A_HALF_MONTHS,
        crd_or_ard.kind.field(),
    )?;
    Ok(match input.hdced {
        Some(hdced) => four_and_a_half.min(hdced),
        None => four_and_a_half,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handover::{calculate, PrisonEstate};
    use crate::risk::MappaLevel;
    use jiff::civil::date;

    /// An English NPS determinate case in a public closed prison, OMiC policy case by SSD.
    fn nps(today: Date, crd: Date) -> HandoverInput {
        HandoverInput {
            era: Some(HandoverEra::Omic2019),
            sentence_start: Some(date(2019, 10, 5)),
            crd: Some(crd),
            ..HandoverInput::new(today)
        }
    }

    fn run(input: &HandoverInput) -> HandoverResult {
        calculate(input).unwrap()
    }

    #[test]
    fn s7_1_steps_1_and_2_recall_then_immigration_have_no_dates() {
        let mut input = nps(date(2021, 1, 1), date(2022, 9, 1));
        input.recalled = true;
        input.immigration = true;
        let r = run(&input);
        assert_eq!(
            (r.responsibility, r.reason, r.start_date, r.handover_date),
            (
                Responsibility::Community,
                HandoverReason::RecallCase,
                None,
                None
            )
        );
        input.recalled = false;
        assert_eq!(run(&input).reason, HandoverReason::ImmigrationCase);
        assert_eq!(run(&input).rule, RuleStep::V1Immigration);
    }

    #[test]
    fn s7_1_step_3_unknown_release_date_is_custody_only() {
        let mut input = nps(date(2021, 1, 1), date(2022, 9, 1));
        input.crd = None;
        let r = run(&input);
        assert_eq!(r.responsibility, Responsibility::CustodyOnly);
        assert_eq!(r.reason, HandoverReason::ReleaseDateUnknown);
        assert_eq!(r.release_date, None);
    }

    #[test]
    fn s7_1_step_4_crc_skips_the_10_month_rule_and_the_policy_gate() {
        // Short sentence (release 5 months after SSD) and an open prison before O2: an NPS
        // case would be `less_than_10_months_left_to_serve`; CRC gets R − 84 days.
        let mut input = nps(date(2019, 10, 1), date(2020, 3, 5));
        input.case_allocation = CaseAllocation::Crc;
        input.prison.estate = PrisonEstate::MaleOpen;
        input.prison.arrival = Some(date(2019, 10, 5));
        let r = run(&input);
        assert_eq!(r.reason, HandoverReason::CrcCase);
        assert_eq!(r.start_date, Some(date(2019, 12, 12)));
        assert_eq!(r.handover_date, Some(date(2019, 12, 12)));
        assert_eq!(r.responsibility, Responsibility::CustodyOnly);
        // CRC does not need a sentence start date.
        input.sentence_start = None;
        assert_eq!(run(&input).reason, HandoverReason::CrcCase);
    }

    #[test]
    fn s7_1_step_4_an_indeterminate_case_recorded_as_crc_is_nps() {
        let mut input = nps(date(2021, 12, 31), date(2030, 1, 1));
        input.case_allocation = CaseAllocation::Crc;
        input.indeterminate = true;
        input.ted = Some(date(2022, 9, 1));
        let r = run(&input);
        assert_eq!(r.reason, HandoverReason::NpsIndeterminate);
        assert_eq!(r.handover_date, Some(date(2022, 1, 1)));
    }

    #[test]
    fn s7_1_step_5_exactly_10_months_to_serve_counts_as_short() {
        // SSD 2020-01-31 + 10 months clamps to 2020-11-30 (§2 D2).
        let mut input = nps(date(2020, 2, 1), date(2020, 11, 30));
        input.sentence_start = Some(date(2020, 1, 31));
        let r = run(&input);
        assert_eq!(r.reason, HandoverReason::LessThan10MonthsLeftToServe);
        assert_eq!(r.responsibility, Responsibility::Community);
        assert_eq!((r.start_date, r.handover_date), (None, None));
        input.crd = Some(date(2020, 12, 1));
        assert_ne!(
            run(&input).reason,
            HandoverReason::LessThan10MonthsLeftToServe
        );
    }

    #[test]
    fn s7_1_step_5_needs_the_sentence_start_date() {
        let mut input = nps(date(2021, 1, 1), date(2022, 9, 1));
        input.sentence_start = None;
        let err = calculate(&input).unwrap_err();
        assert_eq!(
            err,
            HandoverError::SentenceStartRequired(SentenceStartRule::LessThan10MonthsLeftToServe)
        );
        assert!(err.to_string().starts_with("sentence_start: required for "));
    }

    #[test]
    fn s7_1_step_7_pre_omic_rules_when_not_a_policy_case() {
        // A-19a: SSD before 2019-10-01, release before 2021-02-15.
        let mut input = nps(date(2021, 1, 1), date(2021, 2, 14));
        input.sentence_start = Some(date(2019, 9, 30));
        let r = run(&input);
        assert_eq!(r.reason, HandoverReason::PreOmicRules);
        assert_eq!(r.responsibility, Responsibility::Community);
        assert_eq!(r.rule, RuleStep::V1PreOmic);
    }

    #[test]
    fn s7_2_nps_determinate_ped_wins_even_if_past_and_ard_crd_ties_report_ard() {
        let mut input = nps(date(2021, 1, 1), date(2022, 9, 1));
        input.ard = Some(date(2022, 9, 1));
        assert_eq!(
            release_date(&input),
            Some(ReleaseDate {
                kind: ReleaseDateKind::Ard,
                date: date(2022, 9, 1)
            })
        );
        input.ard = Some(date(2022, 8, 31));
        assert_eq!(release_date(&input).unwrap().date, date(2022, 8, 31));
        input.ped = Some(date(2020, 6, 1));
        assert_eq!(
            release_date(&input),
            ReleaseDate::known(ReleaseDateKind::Ped, Some(date(2020, 6, 1)))
        );
        // HDC dates are not NPS release dates.
        input.ped = None;
        input.hdced = Some(date(2021, 6, 1));
        assert_eq!(release_date(&input).unwrap().kind, ReleaseDateKind::Ard);
    }

    #[test]
    fn s7_2_indeterminate_uses_future_ted_else_earliest_prd_or_ped_not_in_the_past() {
        let today = date(2021, 6, 1);
        let mut input = nps(today, date(2030, 1, 1));
        input.indeterminate = true;
        input.ted = Some(today); // not in the future (§2 D4)
        input.ped = Some(date(2021, 5, 31)); // in the past
        input.prd = Some(date(2022, 3, 1));
        assert_eq!(
            release_date(&input),
            ReleaseDate::known(ReleaseDateKind::Prd, Some(date(2022, 3, 1)))
        );
        input.ped = Some(today); // today is not in the past
        assert_eq!(
            release_date(&input),
            ReleaseDate::known(ReleaseDateKind::Ped, Some(today))
        );
        input.ted = Some(date(2021, 6, 2));
        assert_eq!(release_date(&input).unwrap().kind, ReleaseDateKind::Ted);
        input.ted = None;
        input.ped = None;
        input.prd = Some(date(2020, 1, 1));
        assert_eq!(release_date(&input), None, "only past dates: unknown");
    }

    #[test]
    fn s7_2_crc_uses_hdcad_else_the_earliest_of_ard_crd_hdced() {
        let mut input = nps(date(2021, 1, 1), date(2022, 9, 1));
        input.case_allocation = CaseAllocation::Crc;
        input.hdced = Some(date(2022, 5, 1));
        assert_eq!(release_date(&input).unwrap().kind, ReleaseDateKind::Hdced);
        input.hdcad = Some(date(2022, 7, 1));
        assert_eq!(
            release_date(&input),
            ReleaseDate::known(ReleaseDateKind::Hdcad, Some(date(2022, 7, 1)))
        );
    }

    #[test]
    fn s7_3_mappa_blank_and_level_0_give_the_same_dates_under_different_reasons() {
        let input = nps(date(2021, 1, 1), date(2022, 9, 1));
        let blank = run(&input);
        assert_eq!(blank.reason, HandoverReason::NpsMappaUnknown);
        let level0 = run(&HandoverInput {
            mappa_level: Some(MappaLevel::new(0).unwrap()),
            ..input.clone()
        });
        assert_eq!(level0.reason, HandoverReason::NpsDeterminateMappa1N);
        assert_eq!(
            (level0.start_date, level0.handover_date),
            (blank.start_date, blank.handover_date)
        );
        assert_eq!(blank.handover_date, Some(date(2022, 4, 16)));
    }

    #[test]
    fn s7_3_mappa_2_3_handover_is_7_5_months_before_release_but_never_before_today() {
        let mut input = nps(date(2021, 1, 1), date(2022, 9, 1));
        input.mappa_level = Some(MappaLevel::new(2).unwrap());
        let r = run(&input);
        assert_eq!(r.reason, HandoverReason::NpsDeterminateMappa23);
        assert_eq!(r.start_date, Some(date(2022, 1, 17)));
        assert_eq!(r.handover_date, Some(date(2022, 1, 17)));
        // §13.1: after the 7.5-month point the handover date is today → community.
        input.today = date(2022, 3, 1);
        input.mappa_level = Some(MappaLevel::new(3).unwrap());
        let r = run(&input);
        assert_eq!(r.handover_date, Some(date(2022, 3, 1)));
        assert_eq!(r.responsibility, Responsibility::Community);
    }

    #[test]
    fn s7_3_h45_uses_hdcad_then_earlier_hdced_and_is_raised_to_the_start_date() {
        let mut input = nps(date(2021, 1, 1), date(2022, 9, 1));
        input.hdced = Some(date(2022, 3, 1)); // before 4.5-month point, after start
        assert_eq!(run(&input).handover_date, Some(date(2022, 3, 1)));
        // HDCED before the start date: raised to the start (§7.4 final step, §13.3).
        input.hdced = Some(date(2021, 12, 1));
        let r = run(&input);
        assert_eq!(r.start_date, Some(date(2022, 1, 17)));
        assert_eq!(r.handover_date, Some(date(2022, 1, 17)));
        input.hdcad = Some(date(2022, 6, 1));
        assert_eq!(run(&input).handover_date, Some(date(2022, 6, 1)));
    }

    #[test]
    fn s7_3_ped_and_early_allocation_dates() {
        let mut input = nps(date(2021, 1, 1), date(2023, 9, 1));
        input.ped = Some(date(2022, 10, 31));
        let r = run(&input);
        assert_eq!(r.reason, HandoverReason::NpsDeterminateParoleCase);
        assert_eq!(r.start_date, Some(date(2022, 2, 28)));
        assert_eq!(r.handover_date, Some(date(2022, 2, 28)));
        input.early_allocation = true;
        let r = run(&input);
        assert_eq!(r.reason, HandoverReason::NpsEarlyAllocation);
        assert_eq!(r.handover_date, Some(date(2021, 7, 31)));
    }

    #[test]
    fn s7_4_womens_open_with_unknown_category_since_has_no_start_date() {
        let mut input = nps(date(2021, 5, 7), date(2030, 1, 1));
        input.sentence_start = Some(date(2021, 4, 30));
        input.indeterminate = true;
        input.ted = Some(date(2022, 9, 1));
        input.prison.estate = PrisonEstate::Womens;
        input.prison.category = Some("T".into());
        let r = run(&input);
        assert_eq!(r.reason, HandoverReason::NpsIndeterminateOpen);
        assert_eq!(r.start_date, None);
        assert_eq!(r.handover_date, Some(date(2022, 1, 1)));
        assert_eq!(r.responsibility, Responsibility::CustodyWithCom);
        input.today = date(2022, 1, 1);
        assert_eq!(run(&input).responsibility, Responsibility::Community);
    }

    #[test]
    fn s7_5_responsibility_windows_are_half_open() {
        let start = date(2022, 1, 17);
        let handover = date(2022, 4, 16);
        let at = |today| responsibility(today, Some(start), handover);
        assert_eq!(at(date(2022, 1, 16)), Responsibility::CustodyOnly);
        assert_eq!(at(start), Responsibility::CustodyWithCom);
        assert_eq!(at(date(2022, 4, 15)), Responsibility::CustodyWithCom);
        assert_eq!(at(handover), Responsibility::Community);
        assert_eq!(
            responsibility(date(2021, 1, 1), None, handover),
            Responsibility::CustodyWithCom
        );
    }
}
