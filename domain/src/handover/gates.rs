//! OMiC scope (handover-rules.md §5) and the prison / nation policy gates (§6).
//!
//! Sources: MPC `app/models/hmpps_api/offender.rb` @ HEAD (`inside_omic_policy?`) and
//! `app/domains/offenders/prison_policies.rb` @ HEAD (same constants in
//! `handover_date_service.rb` @ 2bc3ea25).

use jiff::civil::{date, Date};

use super::error::{HandoverError, OutsideOmicReason};
use super::input::{HandoverInput, Prison, PrisonEstate, PrisonKind, ADULT_AGE_YEARS_MIN};

/// The security category of a women's open prison (handover-rules.md §3.2, §6.1).
pub const FEMALE_OPEN_CATEGORY: &str = "T";

/// O1: the Prescoed pilot applies to Welsh men arriving on or after this date (§6.2).
pub const PRESCOED_PILOT_ARRIVAL_FROM: Date = date(2020, 10, 19);
/// O2: open-prison rules apply to men arriving in a male open prison on or after this date
/// (§6.2).
pub const MALE_OPEN_ARRIVAL_FROM: Date = date(2021, 3, 31);

/// OMiC scope (handover-rules.md §5): inside iff age ≥ 18, and sentenced or an immigration
/// detainee, and not a civil sentence. Checked in that order; the first failure is named.
pub fn check_omic_scope(input: &HandoverInput) -> Result<(), HandoverError> {
    if input.age < ADULT_AGE_YEARS_MIN {
        return Err(HandoverError::OutsideOmicPolicy(OutsideOmicReason::Under18));
    }
    if !(input.sentenced || input.immigration) {
        return Err(HandoverError::OutsideOmicPolicy(
            OutsideOmicReason::NotSentenced,
        ));
    }
    if input.civil {
        return Err(HandoverError::OutsideOmicPolicy(
            OutsideOmicReason::CivilSentence,
        ));
    }
    Ok(())
}

fn is_female_open_category(prison: &Prison) -> bool {
    prison.category.as_deref() == Some(FEMALE_OPEN_CATEGORY)
}

/// In open conditions (handover-rules.md §6.1): a male open prison (Prescoed included), or
/// the women's estate with category `T`.
pub fn in_open_conditions(prison: &Prison) -> bool {
    match prison.estate {
        PrisonEstate::MaleOpen => true,
        PrisonEstate::Womens => is_female_open_category(prison),
        PrisonEstate::MaleClosed => false,
    }
}

/// Open-prison rules apply (handover-rules.md §6.2) if any of:
/// O1 Prescoed pilot — `prescoed` and `welsh` and arrival ≥ 2020-10-19;
/// O2 male open prison and arrival ≥ 2021-03-31;
/// O3 women's estate and category `T` (no date condition).
/// An unknown arrival never satisfies O1 or O2.
pub fn open_prison_rules_apply(input: &HandoverInput) -> bool {
    let prison = &input.prison;
    let arrived_on_or_after = |from: Date| prison.arrival.is_some_and(|arrival| arrival >= from);
    let o1_prescoed_pilot =
        prison.prescoed && input.welsh && arrived_on_or_after(PRESCOED_PILOT_ARRIVAL_FROM);
    let o2_male_open =
        prison.estate == PrisonEstate::MaleOpen && arrived_on_or_after(MALE_OPEN_ARRIVAL_FROM);
    let o3_female_open = prison.estate == PrisonEstate::Womens && is_female_open_category(prison);
    o1_prescoed_pilot || o2_male_open || o3_female_open
}

/// The date a person came into open conditions (handover-rules.md §7.4, §9.4): in the
/// women's estate the date category `T` became active (`category_since`), otherwise the
/// arrival at the open prison. Either may be unknown.
pub fn open_conditions_date(prison: &Prison) -> Option<Date> {
    match prison.estate {
        PrisonEstate::Womens => prison.category_since,
        PrisonEstate::MaleOpen | PrisonEstate::MaleClosed => prison.arrival,
    }
}

/// When OMiC started for a case (handover-rules.md §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PolicyDates {
    /// Sentence start on or after this date → policy case.
    pub policy_start: Date,
    /// Release on or after this date → policy case.
    pub release_cutoff: Date,
}

/// Policy start and release cutoff (handover-rules.md §6.3), first matching row:
/// 1. women's estate (whatever the nation): 2021-04-30 / 2022-09-30 (MPC
///    `WOMENS_POLICY_START_DATE` default);
/// 2. Welsh: 2019-02-04 / 2020-05-04;
/// 3. English hub or private prison: 2019-10-01 / 2021-06-01;
/// 4. English public prison: 2019-10-01 / 2021-02-15.
pub fn policy_dates(input: &HandoverInput) -> PolicyDates {
    let (policy_start, release_cutoff) = if input.prison.estate == PrisonEstate::Womens {
        (date(2021, 4, 30), date(2022, 9, 30))
    } else if input.welsh {
        (date(2019, 2, 4), date(2020, 5, 4))
    } else {
        match input.prison.kind {
            PrisonKind::Hub | PrisonKind::Private => (date(2019, 10, 1), date(2021, 6, 1)),
            PrisonKind::Public => (date(2019, 10, 1), date(2021, 2, 15)),
        }
    };
    PolicyDates {
        policy_start,
        release_cutoff,
    }
}

/// Policy case (handover-rules.md §6.4; eras 2019 and 2022 only, see §9.6): sentence start
/// ≥ policy start **or** release `R` ≥ release cutoff; **and**, if in open conditions,
/// open-prison rules apply. Not a policy case → pre-OMIC rules.
pub fn is_policy_case(input: &HandoverInput, release: Date) -> bool {
    let dates = policy_dates(input);
    let started_under_omic = input
        .sentence_start
        .is_some_and(|start| start >= dates.policy_start);
    let released_under_omic = release >= dates.release_cutoff;
    let open_ok = !in_open_conditions(&input.prison) || open_prison_rules_apply(input);
    (started_under_omic || released_under_omic) && open_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> HandoverInput {
        HandoverInput::new(date(2021, 1, 1))
    }

    #[test]
    fn section_5_scope_checks_in_order_under_18_not_sentenced_civil() {
        let mut i = input();
        assert_eq!(check_omic_scope(&i), Ok(()));
        i.age = 17;
        i.sentenced = false;
        i.civil = true;
        assert_eq!(
            check_omic_scope(&i),
            Err(HandoverError::OutsideOmicPolicy(OutsideOmicReason::Under18))
        );
        i.age = 18;
        assert_eq!(
            check_omic_scope(&i),
            Err(HandoverError::OutsideOmicPolicy(
                OutsideOmicReason::NotSentenced
            ))
        );
        i.immigration = true; // an immigration detainee is inside OMiC unsentenced
        assert_eq!(
            check_omic_scope(&i),
            Err(HandoverError::OutsideOmicPolicy(
                OutsideOmicReason::CivilSentence
            ))
        );
        i.civil = false;
        assert_eq!(check_omic_scope(&i), Ok(()));
    }

    #[test]
    fn section_6_1_open_conditions_for_men_and_women() {
        let mut p = Prison::default();
        assert!(!in_open_conditions(&p));
        p.estate = PrisonEstate::MaleOpen;
        assert!(in_open_conditions(&p));
        p.estate = PrisonEstate::Womens;
        assert!(!in_open_conditions(&p));
        p.category = Some("T".into());
        assert!(in_open_conditions(&p));
        p.category = Some("t".into());
        assert!(!in_open_conditions(&p));
        // category T means nothing in the male estate
        p.estate = PrisonEstate::MaleClosed;
        p.category = Some("T".into());
        assert!(!in_open_conditions(&p));
    }

    #[test]
    fn section_6_2_open_prison_rule_dates_are_inclusive_and_unknown_arrival_fails() {
        let mut i = input();
        i.prison.estate = PrisonEstate::MaleOpen;
        i.prison.prescoed = true;
        i.welsh = true;
        i.prison.arrival = Some(date(2020, 10, 19));
        assert!(open_prison_rules_apply(&i), "O1 on its first day");
        i.prison.arrival = Some(date(2020, 10, 18));
        assert!(!open_prison_rules_apply(&i), "O1 the day before");
        i.welsh = false;
        i.prison.arrival = Some(date(2021, 3, 30));
        assert!(!open_prison_rules_apply(&i), "English Prescoed before O2");
        i.prison.arrival = Some(date(2021, 3, 31));
        assert!(open_prison_rules_apply(&i), "O2 on its first day");
        i.prison.arrival = None;
        i.welsh = true;
        assert!(
            !open_prison_rules_apply(&i),
            "unknown arrival never satisfies O1/O2"
        );
        i.prison = Prison {
            estate: PrisonEstate::Womens,
            category: Some("T".into()),
            ..Prison::default()
        };
        assert!(open_prison_rules_apply(&i), "O3 has no date condition");
    }

    #[test]
    fn section_6_3_first_matching_row_wins_women_before_wales() {
        let mut i = input();
        assert_eq!(policy_dates(&i).release_cutoff, date(2021, 2, 15));
        i.prison.kind = PrisonKind::Private;
        assert_eq!(policy_dates(&i).release_cutoff, date(2021, 6, 1));
        i.prison.kind = PrisonKind::Hub;
        assert_eq!(policy_dates(&i).policy_start, date(2019, 10, 1));
        i.welsh = true;
        assert_eq!(
            policy_dates(&i),
            PolicyDates {
                policy_start: date(2019, 2, 4),
                release_cutoff: date(2020, 5, 4)
            }
        );
        i.prison.estate = PrisonEstate::Womens;
        assert_eq!(
            policy_dates(&i),
            PolicyDates {
                policy_start: date(2021, 4, 30),
                release_cutoff: date(2022, 9, 30)
            }
        );
    }

    #[test]
    fn section_6_4_policy_case_by_start_or_release_then_open_gate() {
        let mut i = input();
        i.sentence_start = Some(date(2019, 9, 30));
        assert!(!is_policy_case(&i, date(2021, 2, 14)));
        assert!(
            is_policy_case(&i, date(2021, 2, 15)),
            "release on the cutoff"
        );
        i.sentence_start = Some(date(2019, 10, 1));
        assert!(
            is_policy_case(&i, date(2020, 1, 1)),
            "start on the policy start"
        );
        i.prison.estate = PrisonEstate::MaleOpen;
        i.prison.arrival = Some(date(2021, 3, 30));
        assert!(
            !is_policy_case(&i, date(2022, 1, 1)),
            "open but rules do not apply"
        );
        i.prison.arrival = Some(date(2021, 3, 31));
        assert!(is_policy_case(&i, date(2022, 1, 1)));
    }
}
