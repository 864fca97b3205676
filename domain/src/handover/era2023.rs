//! Era `omic-2023` (April 2023 date maths + the 2024 indeterminate/parole overrides):
//! handover-rules.md §9.
//!
//! Sources: MPC `app/domains/offender_handover.rb`, `app/lib/handover/handover_calculation.rb`,
//! `app/models/mpc_offender.rb` @ HEAD (ladder as of `2344f95c`); moj-anchors §1.2 rows C–D
//! and §1.5. There is no NPS/CRC split: `case_allocation`, `hdced`, `hdcad` and `prd` are
//! ignored. There is no pre-OMIC gate (§9.6, §13.7): `pre_omic_rules` is never produced.

use jiff::civil::Date;

use super::dates::{before_or_error, is_future, months_after, on_or_after, Period};
use super::era::HandoverEra;
use super::error::{HandoverError, SentenceStartRule};
use super::gates::{in_open_conditions, open_conditions_date, open_prison_rules_apply};
use super::input::HandoverInput;
use super::outcome::{HandoverResult, ReleaseDate, ReleaseDateKind, Responsibility, RuleStep};
use super::reasons::HandoverReason;

/// The parole outcome that counts as a release decision (handover-rules.md §9.1).
pub const PAROLE_OUTCOME_RELEASE: &str = "Release [*]";
/// Outcome texts meaning "no completed outcome" (handover-rules.md §9.1; contract
/// clarifications), as is an absent outcome.
pub const PAROLE_OUTCOMES_NONE: [&str; 3] = ["", "Not Applicable", "Not Specified"];

/// THD12 (handover-rules.md §9.1): `thd` is known and `thd ≥ today + 12 months`.
pub fn thd_at_least_12_months_away(input: &HandoverInput) -> bool {
    input.thd.is_some_and(|thd| {
        // today + 12 months past the calendar's end is later than any THD.
        on_or_after(thd, months_after(input.today, Period::TWELVE_MONTHS.months))
    })
}

/// Not-release (handover-rules.md §9.1): the latest completed parole review has an outcome
/// other than exactly `Release [*]`. `null`, `""`, `Not Applicable` and `Not Specified` are
/// "no completed outcome", so not-release is false for them.
pub fn parole_not_release(input: &HandoverInput) -> bool {
    match input.parole_outcome.as_deref() {
        None => false,
        Some(outcome) if PAROLE_OUTCOMES_NONE.contains(&outcome) => false,
        Some(outcome) => outcome != PAROLE_OUTCOME_RELEASE,
    }
}

/// Earliest release date `ERD` (handover-rules.md §9.2):
/// - indeterminate: `ted` if in the future; else `thd` if in the future; else whichever of
///   `ted`/`thd` is closer to today — both are then on or before today, so the later one —
///   with ties going to `ted`; unknown if both are unknown (PED and PRD are ignored, §13.5);
/// - determinate: `ped` if known, whatever the other dates and even if past (§13.4); else
///   `min(ard, crd)`, a tie reported as ARD.
pub fn earliest_release_date(input: &HandoverInput) -> Option<ReleaseDate> {
    let today = input.today;
    if input.indeterminate {
        if let Some(ted) = input.ted.filter(|ted| is_future(*ted, today)) {
            return ReleaseDate::known(ReleaseDateKind::Ted, Some(ted));
        }
        if let Some(thd) = input.thd.filter(|thd| is_future(*thd, today)) {
            return ReleaseDate::known(ReleaseDateKind::Thd, Some(thd));
        }
        match (input.ted, input.thd) {
            (Some(ted), Some(thd)) if thd > ted => {
                ReleaseDate::known(ReleaseDateKind::Thd, Some(thd))
            }
            (Some(ted), _) => ReleaseDate::known(ReleaseDateKind::Ted, Some(ted)),
            (None, thd) => ReleaseDate::known(ReleaseDateKind::Thd, thd),
        }
    } else {
        ReleaseDate::known(ReleaseDateKind::Ped, input.ped).or_else(|| {
            ReleaseDate::earliest(&[
                (ReleaseDateKind::Ard, input.ard),
                (ReleaseDateKind::Crd, input.crd),
            ])
        })
    }
}

/// Responsibility (handover-rules.md §9.5): no handover date → `community`; before the
/// start date → `custody_only`; before the handover date → `custody_with_com`; otherwise
/// `community` (windows are half-open, §2 D5).
pub fn responsibility(today: Date, start: Option<Date>, handover: Option<Date>) -> Responsibility {
    let Some(handover) = handover else {
        return Responsibility::Community;
    };
    if start.is_some_and(|start| today < start) {
        Responsibility::CustodyOnly
    } else if today < handover {
        Responsibility::CustodyWithCom
    } else {
        Responsibility::Community
    }
}

/// The `omic-2023` calculation: the override ladder of handover-rules.md §9.1 (first match
/// wins), then §9.2–§9.5. The caller has already checked OMiC scope (step 0).
///
/// 1. indeterminate and `additional_isp` → `custody_only`, no dates, `additional_isp`;
/// 2. indeterminate and THD12 and recalled and MAPPA blank/0/1 → `custody_with_com`, no
///    dates, `recall_thd_over_12_months`;
/// 3. indeterminate and THD12 and not-release and MAPPA 2/3 → `community`, no dates,
///    `parole_mappa_2_3`;
/// 4. indeterminate and THD12 and not-release → `custody_with_com`, no dates,
///    `thd_over_12_months`;
/// 5. recalled → `community`, no dates, `recall_case` (MO-1508/1544: recall cases carry no
///    handover dates);
/// 6. immigration detainee → `community`, no dates, `immigration_case`;
/// 7. `ERD` unknown → `custody_only`, no dates, `release_date_unknown`;
/// 8. otherwise → dates by §9.3/§9.4, responsibility by §9.5.
pub fn calculate(input: &HandoverInput) -> Result<HandoverResult, HandoverError> {
    let without_dates = |responsibility, reason, release_date, rule| HandoverResult {
        era: HandoverEra::Omic2023,
        responsibility,
        start_date: None,
        handover_date: None,
        reason,
        release_date,
        rule,
    };
    let mappa_2_or_3 = input.mappa_level.is_some_and(|level| level.get() >= 2);
    if input.indeterminate {
        if input.additional_isp {
            return Ok(without_dates(
                Responsibility::CustodyOnly,
                HandoverReason::AdditionalIsp,
                None,
                RuleStep::AdditionalIsp,
            ));
        }
        if thd_at_least_12_months_away(input) {
            if input.recalled && !mappa_2_or_3 {
                return Ok(without_dates(
                    Responsibility::CustodyWithCom,
                    HandoverReason::RecallThdOver12Months,
                    None,
                    RuleStep::RecallThdOver12Months,
                ));
            }
            if parole_not_release(input) {
                return Ok(if mappa_2_or_3 {
                    without_dates(
                        Responsibility::Community,
                        HandoverReason::ParoleMappa23,
                        None,
                        RuleStep::ParoleMappa23,
                    )
                } else {
                    without_dates(
                        Responsibility::CustodyWithCom,
                        HandoverReason::ThdOver12Months,
                        None,
                        RuleStep::ThdOver12Months,
                    )
                });
            }
        }
    }
    if input.recalled {
        return Ok(without_dates(
            Responsibility::Community,
            HandoverReason::RecallCase,
            None,
            RuleStep::Recall2023,
        ));
    }
    if input.immigration {
        return Ok(without_dates(
            Responsibility::Community,
            HandoverReason::ImmigrationCase,
            None,
            RuleStep::Immigration2023,
        ));
    }
    let Some(release) = earliest_release_date(input) else {
        return Ok(without_dates(
            Responsibility::CustodyOnly,
            HandoverReason::ReleaseDateUnknown,
            None,
            RuleStep::ReleaseDateUnknown2023,
        ));
    };
    let (handover, reason) = handover_date(input, release)?;
    let start = start_date(input, handover);
    Ok(HandoverResult {
        era: HandoverEra::Omic2023,
        responsibility: responsibility(input.today, start, handover),
        start_date: start,
        handover_date: handover,
        reason,
        release_date: Some(release),
        rule: RuleStep::Calculated2023,
    })
}

/// Handover date (handover-rules.md §9.3, first match):
/// - early allocation: ERD − 15 months, `early_allocation` (beats the indeterminate and
///   parole rules and comes before the 10-month rule);
/// - indeterminate: ERD − 12 months, `indeterminate_open` in open conditions (§6.1), else
///   `indeterminate`;
/// - short, sentence start + 10 months ≥ ERD (exactly 10 months is short): no date,
///   `determinate_short`; needs `sentence_start`;
/// - determinate with `ped`: ERD − 12 months, `determinate_parole`;
/// - otherwise: ERD − 8m14d, `determinate`.
pub fn handover_date(
    input: &HandoverInput,
    release: ReleaseDate,
) -> Result<(Option<Date>, HandoverReason), HandoverError> {
    let erd = release.date;
    let erd_field = release.kind.field();
    if input.early_allocation {
        let date = before_or_error(erd, Period::FIFTEEN_MONTHS, erd_field)?;
        return Ok((Some(date), HandoverReason::EarlyAllocation));
    }
    if input.indeterminate {
        let reason = if in_open_conditions(&input.prison) {
            HandoverReason::IndeterminateOpen
        } else {
            HandoverReason::Indeterminate
        };
        let date = before_or_error(erd, Period::TWELVE_MONTHS, erd_field)?;
        return Ok((Some(date), reason));
    }
    let sentence_start = input
        .sentence_start
        .ok_or(HandoverError::SentenceStartRequired(
            SentenceStartRule::DeterminateShort,
        ))?;
    // sentence_start + 10 months past the calendar's end is after any ERD: short.
    let ten_months_in = months_after(sentence_start, Period::TEN_MONTHS.months);
    let short = match ten_months_in {
        Some(ten_months_in) => ten_months_in >= erd,
        None => true,
    };
    if short {
        return Ok((None, HandoverReason::DeterminateShort));
    }
    if input.ped.is_some() {
        let date = before_or_error(erd, Period::TWELVE_MONTHS, erd_field)?;
        return Ok((Some(date), HandoverReason::DeterminateParole));
    }
    let date = before_or_error(erd, Period::EIGHT_MONTHS_FOURTEEN_DAYS, erd_field)?;
    Ok((Some(date), HandoverReason::Determinate))
}

/// Start date (handover-rules.md §9.4): for an indeterminate case where open-prison rules
/// apply (§6.2), the earlier of the handover date and the open-conditions date (women's
/// estate `category_since`, otherwise `arrival`), ignoring an unknown open date; otherwise
/// equal to the handover date.
pub fn start_date(input: &HandoverInput, handover: Option<Date>) -> Option<Date> {
    if input.indeterminate && open_prison_rules_apply(input) {
        let open = open_conditions_date(&input.prison);
        handover.map(|handover| match open {
            Some(open) => handover.min(open),
            None => handover,
        })
    } else {
        handover
    }
}
