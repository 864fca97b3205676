//! NPS dates both v1 eras share (handover-rules.md §7.3, §7.4, kept by §8): the early
//! allocation, indeterminate and parole rows of the §7.1 step 6 ladder, which `omic-2019`
//! (`era2019.rs`) and `omic-2022` (`era2022.rs`) apply before their own determinate rules.
//!
//! Source: MPC `app/services/handover_date_service.rb` @ 2bc3ea25 (`omic-2019`) and
//! `app/lib/handover/handover_date_rules.rb` @ e1e190ed (`omic-2022`); moj-anchors §1.3–§1.4.

use jiff::civil::Date;

use super::dates::{before_or_error, Period};
use super::error::HandoverError;
use super::gates::{in_open_conditions, open_conditions_date, open_prison_rules_apply};
use super::input::HandoverInput;
use super::outcome::ReleaseDate;
use super::reasons::HandoverReason;

/// The NPS dates of §7.1 step 6 before the "never invert" step of §7.4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NpsDates {
    pub start: Option<Date>,
    pub handover: Date,
    pub reason: HandoverReason,
}

/// The shared rows, first match (§7.3 rows 1–3; §8 "as §7.3"): early allocation, then
/// indeterminate, then a determinate case with `ped`. `None` for a determinate case without
/// `ped`, whose dates are era-specific (§7.3 MAPPA rows; §8 single date).
///
/// Start (§7.4 rows 1–4; §8): the open-conditions date for an indeterminate case where
/// open-prison rules apply (§6.2), otherwise the handover date.
pub fn shared_nps_dates(
    input: &HandoverInput,
    release: ReleaseDate,
) -> Result<Option<NpsDates>, HandoverError> {
    let handover = if input.early_allocation {
        early_allocation(release)?
    } else if input.indeterminate {
        indeterminate(input, release)?
    } else if let Some(ped) = input.ped {
        parole(ped)?
    } else {
        return Ok(None);
    };
    let (handover, reason) = handover;
    let start = if input.indeterminate && open_prison_rules_apply(input) {
        open_conditions_date(&input.prison)
    } else {
        Some(handover)
    };
    Ok(Some(NpsDates {
        start,
        handover,
        reason,
    }))
}

/// §7.3 row 1, §10: an early allocation case is handed over R − 15 months,
/// `nps_early_allocation`.
fn early_allocation(release: ReleaseDate) -> Result<(Date, HandoverReason), HandoverError> {
    let date = before_or_error(release.date, Period::FIFTEEN_MONTHS, release.kind.field())?;
    Ok((date, HandoverReason::NpsEarlyAllocation))
}

/// §7.3 row 2: an indeterminate case is handed over R − 8 months, `nps_indeterminate_open`
/// in open conditions (§6.1), else `nps_indeterminate`.
fn indeterminate(
    input: &HandoverInput,
    release: ReleaseDate,
) -> Result<(Date, HandoverReason), HandoverError> {
    let date = before_or_error(release.date, Period::EIGHT_MONTHS, release.kind.field())?;
    let reason = if in_open_conditions(&input.prison) {
        HandoverReason::NpsIndeterminateOpen
    } else {
        HandoverReason::NpsIndeterminate
    };
    Ok((date, reason))
}

/// §7.3 row 3, §13.4: a determinate parole case (with `ped`) is handed over PED − 8 months,
/// `nps_determinate_parole_case`, even if PED is past.
fn parole(ped: Date) -> Result<(Date, HandoverReason), HandoverError> {
    let date = before_or_error(ped, Period::EIGHT_MONTHS, "ped")?;
    Ok((date, HandoverReason::NpsDeterminateParoleCase))
}
