//! Era `omic-2022` (single 7.5-month date): handover-rules.md §8.
//!
//! Source: MPC `app/lib/handover/handover_date_rules.rb` and
//! `app/services/handover_date_service.rb` @ e1e190ed; moj-anchors §1.4. Everything in §7
//! applies (the ladder lives in `era2019.rs`); only the NPS dates of step 6 differ.

use super::dates::{before_or_error, Period};
use super::era2019::NpsDates;
use super::error::HandoverError;
use super::gates::{in_open_conditions, open_conditions_date, open_prison_rules_apply};
use super::input::HandoverInput;
use super::outcome::ReleaseDate;
use super::reasons::HandoverReason;

/// NPS handover and start dates of `omic-2022` (handover-rules.md §8), for a policy case
/// whose release date is `release` (§7.2).
///
/// Handover date (first match):
/// - early allocation: R − 15 months, `nps_early_allocation` (as §7.3);
/// - indeterminate: R − 8 months, `nps_indeterminate_open` / `nps_indeterminate` (as §7.3);
/// - determinate with `ped`: ped − 8 months, `nps_determinate_parole_case` (as §7.3);
/// - determinate without `ped`: min(crd, ard) − 7m15d, floored at `sentence_start`,
///   `nps_determinate`. MAPPA, HDCED and HDCAD are ignored for NPS cases. (The floor cannot
///   change a full calculation: the 10-month rule catches such sentences first, §13.6.)
///
/// Start date: equal to the handover date — no "COM supporting" window — except for
/// indeterminate cases where open-prison rules apply (§6.2), whose start is the
/// open-conditions date as in §7.4. The caller then raises the handover date to a later
/// start (§7.4 final step).
pub fn nps_dates(input: &HandoverInput, release: ReleaseDate) -> Result<NpsDates, HandoverError> {
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
        // Without PED, R is min(crd, ard) (§7.2).
        let seven_and_a_half = before_or_error(r, Period::SEVEN_AND_A_HALF_MONTHS, r_field)?;
        let floored = match input.sentence_start {
            Some(start) => seven_and_a_half.max(start),
            None => seven_and_a_half,
        };
        (floored, HandoverReason::NpsDeterminate)
    };
    let start = if input.indeterminate && open_prison_rules_apply(input) {
        open_conditions_date(&input.prison)
    } else {
        Some(handover)
    };
    Ok(NpsDates {
        start,
        handover,
        reason,
    })
}
