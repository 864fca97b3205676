//! How long a case's personal data is kept after the case closes, and when that ends.
//!
//! Rule RET-1 (Data Protection Act 2018 s.39(1), Part 3, the fifth data protection
//! principle): personal data processed for a law enforcement purpose is kept for no longer
//! than is necessary for that purpose; s.39(2): appropriate time limits must be set for its
//! periodic review. The period itself is the controller's, set in its records retention
//! schedule (for probation records, the MoJ / HMPPS Records Retention and Disposition
//! Schedule). This code cites no period from that schedule, so there is no default: the
//! operator configures the number of years after closure (docs/operations.md "Retention").
//!
//! A case that is open (never closed, or reopened) is never due: its data is still in use.

use jiff::civil::Date;
use jiff::Span;

use crate::state::CaseState;

/// Longest retention period accepted, in years: beyond any person's lifetime, so a typo
/// (`1000`) is refused rather than silently meaning "never".
pub const RETENTION_YEARS_MAX: u16 = 150;

/// RET-1: keep a closed case's personal data for a whole number of years after it closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionRule {
    years_after_closure: u16,
}

/// A retention period that cannot be used.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("retention of {years} years after closure: give 1 to {RETENTION_YEARS_MAX} years")]
pub struct RetentionError {
    pub years: u32,
}

impl RetentionRule {
    pub fn years_after_closure(years: u32) -> Result<RetentionRule, RetentionError> {
        match u16::try_from(years) {
            Ok(y) if (1..=RETENTION_YEARS_MAX).contains(&y) => Ok(RetentionRule {
                years_after_closure: y,
            }),
            _ => Err(RetentionError { years }),
        }
    }

    pub fn years(&self) -> u16 {
        self.years_after_closure
    }

    /// The day retention ends for a case closed on `closed_on` (RET-1): the same day
    /// `years` later (29 February → 28 February in a common year).
    pub fn ends_on(&self, closed_on: Date) -> Date {
        closed_on
            .checked_add(Span::new().years(i64::from(self.years_after_closure)))
            .unwrap_or(Date::MAX)
    }

    /// When retention of `case` ended, if it has by `as_of` (RET-1); `None` for an open
    /// case or one still within its period.
    pub fn ended(&self, case: &CaseState, as_of: Date) -> Option<Date> {
        let ends_on = self.ends_on(case.closed_on?);
        (ends_on <= as_of).then_some(ends_on)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn ret_1_retention_ends_whole_years_after_closure() {
        let rule = RetentionRule::years_after_closure(6).unwrap();
        assert_eq!(rule.ends_on(date(2018, 3, 31)), date(2024, 3, 31));
        assert_eq!(rule.ends_on(date(2016, 2, 29)), date(2022, 2, 28));
        let mut case = CaseState::default();
        assert_eq!(rule.ended(&case, date(2100, 1, 1)), None, "an open case");
        case.closed_on = Some(date(2018, 3, 31));
        assert_eq!(rule.ended(&case, date(2024, 3, 30)), None);
        assert_eq!(
            rule.ended(&case, date(2024, 3, 31)),
            Some(date(2024, 3, 31))
        );
    }

    #[test]
    fn ret_1_a_period_outside_one_to_the_maximum_is_refused() {
        assert!(RetentionRule::years_after_closure(0).is_err());
        assert!(RetentionRule::years_after_closure(151).is_err());
        assert!(RetentionRule::years_after_closure(u32::MAX).is_err());
        assert_eq!(
            RetentionRule::years_after_closure(150).unwrap().years(),
            150
        );
    }
}
