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
use super::gates::{
    in_open_conditions, is_policy_case, open_conditions_date, open_prison_rules_apply,
};
use super::input::{CaseAllocation, HandoverInput};
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

/// The NPS dates of §7.1 step 6 before the "never invert" step of §7.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NpsDates {
    pub start: Option<Date>,
    pub handover: Date,
    pub reason: HandoverReason,
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
/// - early allocation: R − 15 months, `nps_early_allocation`;
/// - indeterminate: R − 8 months, `nps_indeterminate_open` in open conditions (§6.1), else
///   `nps_indeterminate`;
/// - determinate with `ped`: ped − 8 months, `nps_determinate_parole_case`;
/// - determinate, MAPPA blank: H45, `nps_mappa_unknown` (blank is not level 0);
/// - determinate, MAPPA 0 or 1: H45, `nps_determinate_mappa_1_n`;
/// - determinate, MAPPA 2 or 3: the later of `today` and min(crd, ard) − 7m15d,
///   `nps_determinate_mappa_2_3` (so it depends on `today`, §13.1).
///
/// H45 = `hdcad` if known, else min(min(crd, ard) − 4m15d, `hdced`).
///
/// Start date (§7.4, first match):
/// - indeterminate and open-prison rules apply (§6.2): the open-conditions date (women's
///   estate `category_since`, otherwise `arrival`; may be unknown);
/// - early allocation: R − 15 months;
/// - indeterminate: R − 8 months;
/// - determinate with `ped`: ped − 8 months;
/// - determinate: min(crd, ard) − 7m15d.
pub fn nps_dates(input: &HandoverInput, release: ReleaseDate) -> Result<NpsDates, HandoverError> {
    let today = input.today;
    let r = release.date;
    let r_field = release.kind.field();
    let (handover, reason) = if input.early_allocation {
        (
            before_or_error(r, Period::FIFTEEN_MONTHS, r_field)?,
            HandoverReason::NpsEarlyAllocation,
        )
    } else if input.indeterminate {
        let reason = if in_open_conditions(&input.prison) {
            HandoverReason::NpsIndeterminateOpen
        } else {
            HandoverReason::NpsIndeterminate
        };
        (before_or_error(r, Period::EIGHT_MONTHS, r_field)?, reason)
    } else if let Some(ped) = input.ped {
        (
            before_or_error(ped, Period::EIGHT_MONTHS, "ped")?,
            HandoverReason::NpsDeterminateParoleCase,
        )
    } else {
        // NPS determinate without PED: R is min(crd, ard) (§7.2).
        match input.mappa_level.map(|level| level.get()) {
            None => (h45(input, release)?, HandoverReason::NpsMappaUnknown),
            Some(0 | 1) => (h45(input, release)?, HandoverReason::NpsDeterminateMappa1N),
            // MappaLevel cannot exceed 3, so this arm is levels 2 and 3.
            Some(_) => {
                let seven_and_a_half =
                    before_or_error(r, Period::SEVEN_AND_A_HALF_MONTHS, r_field)?;
                (
                    seven_and_a_half.max(today),
                    HandoverReason::NpsDeterminateMappa23,
                )
            }
        }
    };
    let start = if input.indeterminate && open_prison_rules_apply(input) {
        open_conditions_date(&input.prison)
    } else if input.early_allocation {
        Some(before_or_error(r, Period::FIFTEEN_MONTHS, r_field)?)
    } else if input.indeterminate {
        Some(before_or_error(r, Period::EIGHT_MONTHS, r_field)?)
    } else if let Some(ped) = input.ped {
        Some(before_or_error(ped, Period::EIGHT_MONTHS, "ped")?)
    } else {
        Some(before_or_error(
            r,
            Period::SEVEN_AND_A_HALF_MONTHS,
            r_field,
        )?)
    };
    Ok(NpsDates {
        start,
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
