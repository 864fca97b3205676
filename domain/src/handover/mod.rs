//! Handover (OMiC): when a Community Offender Manager (COM) is allocated to a person in
//! custody and when responsibility passes from the Prison Offender Manager (POM) to the COM.
//!
//! A pure calculator: [`calculate`] reads a [`HandoverInput`] (with `today` as an
//! argument, never a clock) and returns a [`HandoverResult`] or a typed [`HandoverError`].
//! The rules are those of `handover-rules.md` (the restatement of the Ministry of Justice
//! "Manage POM Cases" service), one module per rule family:
//!
//! | module | rules |
//! |---|---|
//! | `dates` | §2 date arithmetic (months then days, end-of-month clamping) |
//! | `era` | §4 choosing the era |
//! | `input` | §3 inputs and defaults |
//! | `gates` | §5 OMiC scope, §6 prisons, nations and policy gates |
//! | `era2019` | §7 `omic-2019` (the §7.1 ladder is shared with `omic-2022`) |
//! | `nps` | §7.3, §7.4 NPS rows shared by `omic-2019` and `omic-2022` (early allocation, indeterminate, parole) |
//! | `era2022` | §8 `omic-2022` NPS dates of a determinate case without PED |
//! | `era2023` | §9 `omic-2023` override ladder and date maths |
//! | `reasons` | §12 reason codes |
//! | `error` | §3.3 errors and their texts |
//!
//! Every result records its era (the ruleset id), the reason code, the release date the
//! dates came from and the ladder step that fired (§11 design notes), so a reader can
//! see why it was reached.

pub mod dates;
pub mod era;
pub mod era2019;
pub mod era2022;
pub mod era2023;
pub mod error;
pub mod gates;
pub mod input;
pub mod nps;
pub mod outcome;
pub mod reasons;

#[cfg(test)]
mod properties;

pub use dates::{months_then_days_before, Period};
pub use era::{
    HandoverEra, OMIC_2019_START_ENGLAND, OMIC_2019_START_WALES, OMIC_2022_START, OMIC_2023_START,
};
pub use error::{HandoverError, OutsideOmicReason, SentenceStartRule};
pub use input::{
    CaseAllocation, HandoverInput, Prison, PrisonEstate, PrisonKind, CATEGORY_BYTES_MAX,
    PAROLE_OUTCOME_BYTES_MAX,
};
pub use outcome::{HandoverResult, ReleaseDate, ReleaseDateKind, Responsibility, RuleStep};
pub use reasons::HandoverReason;

/// Calculate the handover for one person on `input.today`.
///
/// Order (handover-rules.md §3.3, §5, §4): the input is checked first (HMP Prescoed is a
/// male open prison, §3.2; text limits), then OMiC scope (step 0 of every ladder: under 18,
/// not sentenced, civil sentence, §5), then the era's ladder runs: §7 for `omic-2019`,
/// §7 with §8 dates for `omic-2022`, §9 for `omic-2023`. An explicit `pre-omic` era is
/// refused: before OMiC there is no handover to calculate (§4).
///
/// Errors are [`HandoverError`]s whose `Display` is the contract error text.
pub fn calculate(input: &HandoverInput) -> Result<HandoverResult, HandoverError> {
    validate(input)?;
    gates::check_omic_scope(input)?;
    let result = match input.effective_era() {
        HandoverEra::PreOmic => Err(HandoverError::PreOmicEra),
        HandoverEra::Omic2019 => era2019::calculate_v1(input, era2019::NpsRules::Omic2019),
        HandoverEra::Omic2022 => era2019::calculate_v1(input, era2019::NpsRules::Omic2022),
        HandoverEra::Omic2023 => era2023::calculate(input),
    }?;
    // Every era keeps the window in order (§7.4 final step, §8, §9.4): the COM is never
    // responsible before being allocated.
    debug_assert!(
        match (result.start_date, result.handover_date) {
            (Some(start), Some(handover)) => start <= handover,
            _ => true,
        },
        "start_date after handover_date: {result:?}"
    );
    Ok(result)
}

/// Checks that do not depend on the rules: `prescoed` needs the male open estate
/// (handover-rules.md §3.2, §3.3) and text inputs stay within their limits.
fn validate(input: &HandoverInput) -> Result<(), HandoverError> {
    if input.prison.prescoed && input.prison.estate != PrisonEstate::MaleOpen {
        return Err(HandoverError::PrescoedOutsideMaleOpenEstate {
            estate: input.prison.estate,
        });
    }
    check_text_length(
        "parole_outcome",
        input.parole_outcome.as_deref(),
        PAROLE_OUTCOME_BYTES_MAX,
    )?;
    check_text_length(
        "prison.category",
        input.prison.category.as_deref(),
        CATEGORY_BYTES_MAX,
    )
}

fn check_text_length(
    field: &'static str,
    text: Option<&str>,
    bytes_max: u32,
) -> Result<(), HandoverError> {
    let bytes = text.map_or(0, |t| u64::try_from(t.len()).unwrap_or(u64::MAX));
    if bytes > u64::from(bytes_max) {
        return Err(HandoverError::TextTooLong {
            field,
            bytes,
            bytes_max,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn case(today: jiff::civil::Date) -> HandoverInput {
        HandoverInput {
            sentence_start: Some(date(2019, 10, 5)),
            crd: Some(date(2022, 9, 1)),
            ..HandoverInput::new(today)
        }
    }

    #[test]
    fn s4_without_an_era_the_rules_in_force_on_today_are_used() {
        let r = calculate(&case(date(2022, 9, 30))).unwrap();
        assert_eq!(r.era, HandoverEra::Omic2019);
        assert_eq!(r.reason, HandoverReason::NpsMappaUnknown);
        let r = calculate(&case(date(2022, 10, 1))).unwrap();
        assert_eq!(r.era, HandoverEra::Omic2022);
        assert_eq!(r.reason, HandoverReason::NpsDeterminate);
        let r = calculate(&case(date(2023, 4, 1))).unwrap();
        assert_eq!(r.era, HandoverEra::Omic2023);
        assert_eq!(r.reason, HandoverReason::Determinate);
        // An explicit era wins whatever today is.
        let explicit = HandoverInput {
            era: Some(HandoverEra::Omic2019),
            ..case(date(2024, 1, 1))
        };
        assert_eq!(calculate(&explicit).unwrap().era, HandoverEra::Omic2019);
    }

    /// §4: the calculator runs the three OMiC eras; an explicit `pre-omic` is a typed refusal.
    #[test]
    fn s4_an_explicit_pre_omic_era_is_refused() {
        let pre_omic = HandoverInput {
            era: Some(HandoverEra::PreOmic),
            ..case(date(2018, 1, 1))
        };
        let refused = calculate(&pre_omic).unwrap_err();
        assert_eq!(refused, HandoverError::PreOmicEra);
        assert!(
            refused.to_string().starts_with("era: pre-omic"),
            "{refused}"
        );
    }

    #[test]
    fn s3_3_prescoed_outside_the_male_open_estate_is_refused_before_scope() {
        let mut input = case(date(2021, 1, 1));
        input.prison.prescoed = true;
        input.civil = true;
        for estate in [PrisonEstate::MaleClosed, PrisonEstate::Womens] {
            input.prison.estate = estate;
            assert_eq!(
                calculate(&input),
                Err(HandoverError::PrescoedOutsideMaleOpenEstate { estate })
            );
        }
        input.prison.estate = PrisonEstate::MaleOpen;
        assert_eq!(
            calculate(&input),
            Err(HandoverError::OutsideOmicPolicy(
                OutsideOmicReason::CivilSentence
            ))
        );
    }

    #[test]
    fn s5_scope_is_checked_before_a_missing_sentence_start() {
        let mut input = case(date(2021, 1, 1));
        input.sentence_start = None;
        input.age = 17;
        assert_eq!(
            calculate(&input),
            Err(HandoverError::OutsideOmicPolicy(OutsideOmicReason::Under18))
        );
        input.age = 18;
        assert_eq!(
            calculate(&input),
            Err(HandoverError::SentenceStartRequired(
                SentenceStartRule::LessThan10MonthsLeftToServe
            ))
        );
    }

    #[test]
    fn text_inputs_over_their_limits_are_refused() {
        let mut input = case(date(2024, 1, 1));
        input.parole_outcome = Some("x".repeat(PAROLE_OUTCOME_BYTES_MAX as usize));
        assert!(calculate(&input).is_ok());
        input.parole_outcome = Some("x".repeat(PAROLE_OUTCOME_BYTES_MAX as usize + 1));
        let err = calculate(&input).unwrap_err();
        assert!(
            err.to_string().starts_with("parole_outcome: 257 bytes"),
            "{err}"
        );
        input.parole_outcome = None;
        input.prison.category = Some("T".repeat(CATEGORY_BYTES_MAX as usize + 1));
        assert!(calculate(&input)
            .unwrap_err()
            .to_string()
            .starts_with("prison.category: "));
    }

    #[test]
    fn dates_at_the_edge_of_the_calendar_give_errors_not_panics() {
        let mut input = HandoverInput::new(date(-9999, 1, 1));
        input.era = Some(HandoverEra::Omic2023);
        input.sentence_start = Some(date(-9999, 1, 1));
        input.indeterminate = true;
        input.ted = Some(date(-9999, 3, 1));
        assert_eq!(
            calculate(&input),
            Err(HandoverError::DateOutOfRange { field: "ted" })
        );
        // today + 12 months beyond the calendar: no THD can be 12 months away.
        let mut late = HandoverInput::new(date(9999, 6, 1));
        late.indeterminate = true;
        late.thd = Some(date(9999, 12, 31));
        late.parole_outcome = Some("Stay In Closed [*]".into());
        let r = calculate(&late).unwrap();
        assert_eq!(r.reason, HandoverReason::Indeterminate);
    }
}
