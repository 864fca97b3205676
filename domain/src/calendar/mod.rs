//! The working-day calendar for England and Wales.
//!
//! Deadlines in the seeds count working days: allocation within 5 working days of sentence
//! (BR-C2, seed 003 l.775), initial sentence plan within 15 working days (PM6, BR-E2,
//! seed 003 l.791, l.1856), UPW assessment within 10 working days and UPW start within a further
//! 5 (PM15/PM16, seed 003 l.1874; seed-digest §8a item 8). A working day is Monday to Friday
//! and not an England and Wales bank holiday ([`bank_holidays`]).
//!
//! # The "within N working days" convention
//!
//! Working days are counted **strictly after** the start date: the start day itself is day 0,
//! whatever day of the week it is. "Within N working days of sentence" means **on or before
//! the Nth working day after the sentence date** ([`add_working_days`]`(sentence, N)`), to the
//! end of that day. So a case sentenced on Friday 1 March 2024 must be allocated by Friday
//! 8 March 2024 (Mon 4 … Fri 8 are working days 1 … 5); Saturday 9 March is late even though
//! only 5 working days have passed by then. [`is_within_working_days`] implements exactly
//! this; it is *not* the same as `working_days_after(start, done) <= N` on a non-working day.
//!
//! Dates outside 2014-01-01 ..= 2030-12-31 are a typed error
//! ([`CalendarError::OutsideCoveredYears`]): the engine never guesses a bank holiday.

pub mod bank_holidays;

use jiff::civil::{date, Date, Weekday};

pub use bank_holidays::{BANK_HOLIDAYS_ENGLAND_WALES, COVERED_YEAR_FIRST, COVERED_YEAR_LAST};

/// First date the calendar answers for.
pub const COVERED_FIRST: Date = date(COVERED_YEAR_FIRST, 1, 1);
/// Last date the calendar answers for.
pub const COVERED_LAST: Date = date(COVERED_YEAR_LAST, 12, 31);

/// A Monday on or before [`COVERED_FIRST`], the origin for counting weekdays arithmetically.
const WEEKDAY_COUNT_ORIGIN_MONDAY: Date = date(2013, 12, 30);

/// Working days per calendar week (Monday–Friday).
const WORKING_DAYS_PER_WEEK: i64 = 5;
const DAYS_PER_WEEK: i64 = 7;

#[derive(thiserror::Error, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalendarError {
    #[error(
        "date {date} is outside the years the England and Wales bank-holiday table covers \
         ({COVERED_FIRST} to {COVERED_LAST}); add the year to domain/src/calendar/bank_holidays.rs \
         before computing working days for it"
    )]
    OutsideCoveredYears { date: Date },
    #[error(
        "end date {end} is before start date {start}; working days are counted forward from \
         the start date (for example the sentence date) to the end date"
    )]
    EndBeforeStart { start: Date, end: Date },
}

fn check_covered(d: Date) -> Result<(), CalendarError> {
    if d < COVERED_FIRST || d > COVERED_LAST {
        return Err(CalendarError::OutsideCoveredYears { date: d });
    }
    Ok(())
}

/// Is `d` an England and Wales bank holiday (including substitute days and one-off days)?
pub fn is_bank_holiday(d: Date) -> Result<bool, CalendarError> {
    check_covered(d)?;
    Ok(BANK_HOLIDAYS_ENGLAND_WALES.binary_search(&d).is_ok())
}

/// Monday to Friday and not a bank holiday.
pub fn is_working_day(d: Date) -> Result<bool, CalendarError> {
    let holiday = is_bank_holiday(d)?;
    Ok(!holiday && !matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday))
}

/// Days from the counting origin; `d` is in the covered range, so this is small and >= 0.
fn days_from_origin(d: Date) -> i64 {
    let days = d.since(WEEKDAY_COUNT_ORIGIN_MONDAY).map(|s| s.get_days());
    // `since` between two in-range civil dates cannot fail; its default largest unit is days.
    let days = i64::from(days.unwrap_or(0));
    debug_assert!(days >= 0, "date {d} is before the counting origin");
    days
}

/// Monday–Friday days in `[origin, d]`.
fn weekdays_through(d: Date) -> i64 {
    let k = days_from_origin(d);
    let partial = (k % DAYS_PER_WEEK + 1).min(WORKING_DAYS_PER_WEEK);
    WORKING_DAYS_PER_WEEK * (k / DAYS_PER_WEEK) + partial
}

/// Bank holidays (all Monday–Friday) in `[first covered, d]`.
fn bank_holidays_through(d: Date) -> i64 {
    let count = BANK_HOLIDAYS_ENGLAND_WALES.partition_point(|h| *h <= d);
    // The table has about 140 entries, so this conversion cannot truncate.
    i64::try_from(count).unwrap_or(i64::MAX)
}

/// Working days strictly after `start`, up to and including `end`.
///
/// `working_days_after(d, d) == 0`. Computed arithmetically (weekday count minus bank
/// holidays in the interval), independently of [`add_working_days`]; a proptest checks the two
/// agree.
pub fn working_days_after(start: Date, end: Date) -> Result<u32, CalendarError> {
    check_covered(start)?;
    check_covered(end)?;
    if end < start {
        return Err(CalendarError::EndBeforeStart { start, end });
    }
    let weekdays = weekdays_through(end) - weekdays_through(start);
    let holidays = bank_holidays_through(end) - bank_holidays_through(start);
    let count = weekdays - holidays;
    assert!(
        (0..=weekdays).contains(&count),
        "working-day count out of range"
    );
    // At most about 4,500 working days fit in the covered years.
    Ok(u32::try_from(count).unwrap_or(u32::MAX))
}

/// The `n`th working day strictly after `d`; `n == 0` gives `d` itself (even on a weekend).
///
/// Walks day by day; the walk ends at the last covered date at the latest, so it is bounded.
pub fn add_working_days(d: Date, n: u32) -> Result<Date, CalendarError> {
    check_covered(d)?;
    let mut current = d;
    let mut remaining = n;
    while remaining > 0 {
        if current >= COVERED_LAST {
            // The next day is past the table: the answer would be a guess.
            let next = current.tomorrow().unwrap_or(current);
            return Err(CalendarError::OutsideCoveredYears { date: next });
        }
        current = current
            .tomorrow()
            .map_err(|_| CalendarError::OutsideCoveredYears { date: current })?;
        if is_working_day(current)? {
            remaining -= 1;
        }
    }
    Ok(current)
}

/// Was `done` within `n` working days of `start` (on or before the `n`th working day after
/// `start`)? See the module documentation for the convention. A `done` on or before `start`
/// is within any limit. Works even when the deadline itself would fall after the covered
/// years, as long as `start` and `done` are covered.
pub fn is_within_working_days(start: Date, done: Date, n: u32) -> Result<bool, CalendarError> {
    check_covered(start)?;
    check_covered(done)?;
    if done <= start {
        return Ok(true);
    }
    let elapsed = working_days_after(start, done)?;
    // Exactly n working days elapsed: in time only if `done` is the nth working day itself,
    // not a weekend or holiday after it.
    Ok(elapsed < n || (elapsed == n && is_working_day(done)?))
}

#[cfg(test)]
mod cross_check;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_is_sorted_unique_weekdays_and_covered() {
        for pair in BANK_HOLIDAYS_ENGLAND_WALES.windows(2) {
            assert!(pair[0] < pair[1], "{} then {}", pair[0], pair[1]);
        }
        for h in BANK_HOLIDAYS_ENGLAND_WALES {
            assert!(
                !matches!(h.weekday(), Weekday::Saturday | Weekday::Sunday),
                "{h}"
            );
            assert!(*h >= COVERED_FIRST && *h <= COVERED_LAST, "{h}");
        }
    }

    #[test]
    fn weekends_and_bank_holidays_are_not_working_days() {
        assert_eq!(is_working_day(date(2024, 3, 1)), Ok(true)); // Friday
        assert_eq!(is_working_day(date(2024, 3, 2)), Ok(false)); // Saturday
        assert_eq!(is_working_day(date(2024, 3, 3)), Ok(false)); // Sunday
        assert_eq!(is_working_day(date(2024, 3, 29)), Ok(false)); // Good Friday
        assert_eq!(is_working_day(date(2022, 9, 19)), Ok(false)); // State Funeral
        assert_eq!(is_working_day(date(2022, 5, 30)), Ok(true)); // spring holiday moved away
        assert_eq!(is_working_day(date(2020, 5, 4)), Ok(true)); // early May moved to VE day
        assert_eq!(is_working_day(date(2020, 5, 8)), Ok(false));
    }

    #[test]
    fn outside_covered_years_is_a_typed_error() {
        for d in [date(2013, 12, 31), date(2031, 1, 1), date(1999, 6, 1)] {
            assert_eq!(
                is_working_day(d),
                Err(CalendarError::OutsideCoveredYears { date: d })
            );
            assert!(add_working_days(d, 1).is_err());
            assert!(working_days_after(d, COVERED_LAST).is_err());
        }
        assert_eq!(is_working_day(COVERED_FIRST), Ok(false)); // New Year's Day 2014
        assert_eq!(is_working_day(COVERED_LAST), Ok(true)); // Tuesday 31 Dec 2030
                                                            // The last covered working day is fine; one more runs off the table.
        assert_eq!(add_working_days(date(2030, 12, 30), 1), Ok(COVERED_LAST));
        assert_eq!(
            add_working_days(COVERED_LAST, 1),
            Err(CalendarError::OutsideCoveredYears {
                date: date(2031, 1, 1)
            })
        );
        let msg = CalendarError::OutsideCoveredYears {
            date: date(2031, 1, 1),
        }
        .to_string();
        assert!(
            msg.contains("2031-01-01") && msg.contains("bank_holidays.rs"),
            "{msg}"
        );
    }

    #[test]
    fn end_before_start_is_a_typed_error() {
        let (start, end) = (date(2024, 3, 5), date(2024, 3, 4));
        assert_eq!(
            working_days_after(start, end),
            Err(CalendarError::EndBeforeStart { start, end })
        );
    }

    /// BR-C2 (seed 003 l.775): sentenced on a Friday, the 5 working days are Mon–Fri of the
    /// next week; the following Saturday is late.
    #[test]
    fn br_c2_allocation_within_5_working_days_friday_sentence() {
        let sentence = date(2024, 3, 1); // Friday
        assert_eq!(add_working_days(sentence, 5), Ok(date(2024, 3, 8)));
        assert_eq!(
            is_within_working_days(sentence, date(2024, 3, 8), 5),
            Ok(true)
        );
        assert_eq!(
            is_within_working_days(sentence, date(2024, 3, 9), 5),
            Ok(false)
        );
        assert_eq!(
            is_within_working_days(sentence, date(2024, 3, 11), 5),
            Ok(false)
        );
        // Saturday: 5 working days have elapsed, yet it is after the deadline.
        assert_eq!(working_days_after(sentence, date(2024, 3, 9)), Ok(5));
        // The sentence day itself and the weekend after it count 0.
        assert_eq!(working_days_after(sentence, sentence), Ok(0));
        assert_eq!(working_days_after(sentence, date(2024, 3, 3)), Ok(0));
        assert_eq!(is_within_working_days(sentence, sentence, 5), Ok(true));
    }

    /// BR-C2 over Easter: sentenced Thursday 28 March 2024; Good Friday and Easter Monday do not
    /// count.
    #[test]
    fn br_c2_allocation_within_5_working_days_over_easter() {
        let sentence = date(2024, 3, 28);
        assert_eq!(add_working_days(sentence, 1), Ok(date(2024, 4, 2)));
        assert_eq!(add_working_days(sentence, 5), Ok(date(2024, 4, 8)));
        assert_eq!(
            is_within_working_days(sentence, date(2024, 4, 5), 5),
            Ok(true)
        );
        assert_eq!(
            is_within_working_days(sentence, date(2024, 4, 8), 5),
            Ok(true)
        );
        assert_eq!(
            is_within_working_days(sentence, date(2024, 4, 9), 5),
            Ok(false)
        );
    }

    /// PM6 / BR-E2 (seed 003 l.791, l.1856): the 15th working day versus the 16th, with the
    /// early May bank holiday in between. Sentenced Monday 22 April 2024; Monday 6 May is a
    /// bank holiday, so the 15th working day is Tuesday 14 May, not Monday 13 May.
    #[test]
    fn pm6_initial_sentence_plan_15th_vs_16th_working_day_with_bank_holiday() {
        let sentence = date(2024, 4, 22);
        assert_eq!(add_working_days(sentence, 15), Ok(date(2024, 5, 14)));
        assert_eq!(add_working_days(sentence, 16), Ok(date(2024, 5, 15)));
        assert_eq!(working_days_after(sentence, date(2024, 5, 13)), Ok(14));
        assert_eq!(working_days_after(sentence, date(2024, 5, 14)), Ok(15));
        assert_eq!(working_days_after(sentence, date(2024, 5, 15)), Ok(16));
        assert_eq!(
            is_within_working_days(sentence, date(2024, 5, 14), 15),
            Ok(true)
        );
        assert_eq!(
            is_within_working_days(sentence, date(2024, 5, 15), 15),
            Ok(false)
        );
    }

    /// PM15/PM16 (seed 003 l.1874): UPW assessment within 10 working days, start within a
    /// further 5, i.e. 15 working days from sentence; over Christmas 2022 the substitute day
    /// (Tue 27 Dec) is skipped.
    #[test]
    fn pm15_pm16_upw_deadlines_over_christmas_substitute_days() {
        let sentence = date(2022, 12, 21); // Wednesday
        let assessment_due = add_working_days(sentence, 10).unwrap();
        // 22, 23, 28, 29, 30 Dec; 3 Jan 2023 (2 Jan is the New Year substitute), 4, 5, 6, 9.
        assert_eq!(assessment_due, date(2023, 1, 9));
        let start_due = add_working_days(assessment_due, 5).unwrap();
        assert_eq!(start_due, date(2023, 1, 16));
        assert_eq!(add_working_days(sentence, 15), Ok(start_due));
    }

    #[test]
    fn zero_working_days_is_the_start_day() {
        let saturday = date(2024, 3, 2);
        assert_eq!(add_working_days(saturday, 0), Ok(saturday));
        assert_eq!(
            is_within_working_days(saturday, date(2024, 3, 4), 0),
            Ok(false)
        );
    }

    fn covered_date() -> impl Strategy<Value = Date> {
        // Every day in the covered range (about 6,209 days).
        (0i32..6209).prop_map(|offset| {
            COVERED_FIRST
                .checked_add(jiff::Span::new().days(offset))
                .unwrap()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// `add_working_days` and `working_days_after` agree wherever the result is covered,
        /// and the result is a working day.
        #[test]
        fn add_and_count_agree(d in covered_date(), n in 0u32..400) {
            match add_working_days(d, n) {
                Ok(e) => {
                    prop_assert_eq!(working_days_after(d, e), Ok(n));
                    if n > 0 {
                        prop_assert_eq!(is_working_day(e), Ok(true));
                        // The day before the nth working day has only n - 1.
                        let before = e.yesterday().unwrap();
                        prop_assert_eq!(working_days_after(d, before), Ok(n - 1));
                    }
                    prop_assert_eq!(is_within_working_days(d, e, n), Ok(true));
                    let after = e.tomorrow().unwrap();
                    if after <= COVERED_LAST {
                        prop_assert_eq!(is_within_working_days(d, after, n), Ok(false));
                    }
                }
                Err(CalendarError::OutsideCoveredYears { date }) => {
                    prop_assert!(date > COVERED_LAST);
                    prop_assert!(working_days_after(d, COVERED_LAST).unwrap() < n);
                }
                Err(other) => prop_assert!(false, "unexpected {other}"),
            }
        }

        /// Counting is additive over a middle date, never panics, and matches a day-by-day
        /// walk.
        #[test]
        fn count_is_additive_and_matches_walk(a in covered_date(), b in covered_date(), c in covered_date()) {
            let mut v = [a, b, c];
            v.sort();
            let [a, b, c] = v;
            let ab = working_days_after(a, b).unwrap();
            let bc = working_days_after(b, c).unwrap();
            prop_assert_eq!(working_days_after(a, c), Ok(ab + bc));
            let mut walked = 0u32;
            let mut day = a;
            let mut steps = 0u32;
            while day < b && steps < 7000 {
                day = day.tomorrow().unwrap();
                if is_working_day(day).unwrap() {
                    walked += 1;
                }
                steps += 1;
            }
            prop_assert_eq!(walked, ab);
        }
    }
}
