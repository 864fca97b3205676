//! Date arithmetic shared by every era (handover-rules.md §2).
//!
//! MPC computes `Date - N.months - M.days` (Rails): months first, clamped to the end of the
//! target month, then days. Both steps live in [`months_then_days_before`] so that no rule
//! can do them in the other order.

use jiff::civil::Date;
use jiff::Span;

use super::error::HandoverError;

/// A period "N calendar months then M days" (handover-rules.md §2 D1, D3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub months: u16,
    pub days: u16,
}

impl Period {
    /// 7.5 months = 7 months then 15 days (§2 D1): the 2019/2022 COM allocation point.
    pub const SEVEN_AND_A_HALF_MONTHS: Period = Period::months_and_days(7, 15);
    /// 4.5 months = 4 months then 15 days (§2 D1): the 2019 responsibility point (H45).
    pub const FOUR_AND_A_HALF_MONTHS: Period = Period::months_and_days(4, 15);
    /// 8 months then 14 days (§2 D1): the 2023 determinate handover point (§9.3).
    pub const EIGHT_MONTHS_FOURTEEN_DAYS: Period = Period::months_and_days(8, 14);
    /// 12 weeks = 84 days (§2 D3): the CRC handover point (§7.1 step 4).
    pub const TWELVE_WEEKS: Period = Period::months_and_days(0, 84);
    /// 8 months: 2019/2022 indeterminate and determinate parole cases (§7.3).
    pub const EIGHT_MONTHS: Period = Period::months_and_days(8, 0);
    /// 10 months: the short-sentence threshold (§7.1 step 5, §9.3).
    pub const TEN_MONTHS: Period = Period::months_and_days(10, 0);
    /// 12 months: 2023 indeterminate and parole cases (§9.3) and the THD horizon (§9.1).
    pub const TWELVE_MONTHS: Period = Period::months_and_days(12, 0);
    /// 15 months: early allocation in every era (§7.3, §9.3).
    pub const FIFTEEN_MONTHS: Period = Period::months_and_days(15, 0);

    pub const fn months_and_days(months: u16, days: u16) -> Period {
        Period { months, days }
    }
}

/// `date − N months − M days` (handover-rules.md §2 D1/D2): first back N calendar months,
/// clamping to the last day of a shorter month, then back M days.
///
/// `None` only when the result falls before jiff's first date (year −9999); no date a
/// caller can write as `YYYY-MM-DD` gets there.
pub fn months_then_days_before(date: Date, period: Period) -> Option<Date> {
    let months = Span::new().try_months(i64::from(period.months)).ok()?;
    let days = Span::new().try_days(i64::from(period.days)).ok()?;
    // Two separate subtractions: the month step must clamp before the day step runs.
    date.checked_sub(months).ok()?.checked_sub(days).ok()
}

/// [`months_then_days_before`] for a rule: a date before the calendar's first day is a
/// [`HandoverError::DateOutOfRange`] naming `field`, the input the date came from.
pub fn before_or_error(
    date: Date,
    period: Period,
    field: &'static str,
) -> Result<Date, HandoverError> {
    months_then_days_before(date, period).ok_or(HandoverError::DateOutOfRange { field })
}

/// `date + N months` with end-of-month clamping (§2 D2: "adding months clamps the same way").
///
/// `None` means the result lies after jiff's last date (9999-12-31), i.e. after every date
/// that can be compared with it; callers treat it as "later than any date".
pub fn months_after(date: Date, months: u16) -> Option<Date> {
    let span = Span::new().try_months(i64::from(months)).ok()?;
    date.checked_add(span).ok()
}

/// Is `date` on or after `date_or_beyond`, where `None` means "after every date" (see
/// [`months_after`])?
pub fn on_or_after(date: Date, date_or_beyond: Option<Date>) -> bool {
    date_or_beyond.is_some_and(|limit| date >= limit)
}

/// Is `date` on or before `date_or_beyond`, where `None` means "after every date"?
pub fn on_or_before(date: Date, date_or_beyond: Option<Date>) -> bool {
    match date_or_beyond {
        Some(limit) => date <= limit,
        None => true,
    }
}

/// `min(a, b, …)` ignoring unknown dates; unknown only if all are unknown (§2 notation).
pub fn earliest_known(dates: &[Option<Date>]) -> Option<Date> {
    dates.iter().flatten().copied().min()
}

/// "In the future" = strictly after `today` (§2 D4).
pub fn is_future(date: Date, today: Date) -> bool {
    date > today
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn before(d: Date, months: u16, days: u16) -> Date {
        months_then_days_before(d, Period::months_and_days(months, days)).unwrap()
    }

    #[test]
    fn d1_worked_checks_of_section_2() {
        // handover-rules.md §2 "Worked checks".
        assert_eq!(before(date(2025, 8, 30), 7, 15), date(2025, 1, 15));
        assert_eq!(before(date(2025, 8, 30), 4, 15), date(2025, 4, 15));
        assert_eq!(before(date(2022, 9, 30), 7, 15), date(2022, 2, 13));
        assert_eq!(before(date(2100, 9, 20), 7, 15), date(2100, 2, 5));
    }

    #[test]
    fn d2_month_shift_clamps_to_the_end_of_a_shorter_month() {
        // §2 D2: 31 Jul − 1 month = 30 Jun; 30 Sep − 7 months = 28 Feb (29 in a leap year).
        assert_eq!(before(date(2023, 7, 31), 1, 0), date(2023, 6, 30));
        assert_eq!(before(date(2023, 9, 30), 7, 0), date(2023, 2, 28));
        assert_eq!(before(date(2024, 9, 30), 7, 0), date(2024, 2, 29));
        // Months first, then days: clamping to 28 Feb happens before the 15 days.
        assert_eq!(before(date(2023, 9, 30), 7, 15), date(2023, 2, 13));
        // Adding months clamps the same way (sentence_start + 10 months).
        assert_eq!(months_after(date(2023, 12, 31), 2), Some(date(2024, 2, 29)));
        assert_eq!(months_after(date(2024, 4, 30), 10), Some(date(2025, 2, 28)));
    }

    #[test]
    fn d3_twelve_weeks_is_84_days() {
        assert_eq!(
            months_then_days_before(date(2022, 9, 1), Period::TWELVE_WEEKS),
            Some(date(2022, 6, 9))
        );
    }

    #[test]
    fn d4_today_is_not_in_the_future() {
        let today = date(2024, 1, 1);
        assert!(!is_future(today, today));
        assert!(is_future(date(2024, 1, 2), today));
        assert!(!is_future(date(2023, 12, 31), today));
    }

    #[test]
    fn arithmetic_at_the_edges_of_the_calendar_is_reported_not_panicking() {
        assert_eq!(months_after(date(9999, 6, 1), 12), None);
        assert!(on_or_before(date(9999, 12, 31), None));
        assert!(!on_or_after(date(9999, 12, 31), None));
        assert_eq!(
            months_then_days_before(date(-9999, 1, 1), Period::FIFTEEN_MONTHS),
            None
        );
        assert_eq!(
            months_then_days_before(date(0, 1, 1), Period::FIFTEEN_MONTHS),
            Some(date(-2, 10, 1))
        );
    }

    #[test]
    fn earliest_known_ignores_unknown_dates() {
        assert_eq!(earliest_known(&[None, None]), None);
        assert_eq!(
            earliest_known(&[None, Some(date(2024, 3, 1)), Some(date(2024, 2, 1))]),
            Some(date(2024, 2, 1))
        );
    }
}
