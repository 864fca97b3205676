//! Young adults (Transition to Adulthood, T2A): whose cases are scored from the T2A row of the
//! workload table (enforcement-and-workload.md §4.1, §4.2).
//!
//! The age range is a choice between the seeds, recorded in docs/rules.md: seed 003 l.3119
//! says current legislation defines young adults as 18 to 20 but that the same approaches apply
//! to "many adults over 20 and particularly those aged under 25"; l.1566 names "young adults
//! aged 18 to 24" and l.3256 "those aged under 25". The engine takes 18 to 24: the range the
//! probation guidance works to, and the one in which a practitioner's time on a young adult's
//! case is what the T2A row weighs.

use jiff::civil::Date;
use jiff::Span;

/// Youngest age at which a case is a young adult's: adult probation supervision starts at 18
/// (seed 003 l.3119).
pub const YOUNG_ADULT_AGE_MIN_YEARS: i16 = 18;
/// Oldest age at which a case is a young adult's: under 25 (seed 003 l.3119, l.1566, l.3256).
pub const YOUNG_ADULT_AGE_MAX_YEARS: i16 = 24;

/// The days on which a person born on `date_of_birth` is a young adult: from their 18th
/// birthday up to, not including, their 25th (a 29 February birthday falls on 28 February in
/// a common year). `None` when the dates fall outside the civil calendar.
pub fn young_adult_window(date_of_birth: Date) -> Option<(Date, Date)> {
    let from = date_of_birth
        .checked_add(Span::new().years(YOUNG_ADULT_AGE_MIN_YEARS))
        .ok()?;
    let until = date_of_birth
        .checked_add(Span::new().years(YOUNG_ADULT_AGE_MAX_YEARS + 1))
        .ok()?;
    Some((from, until))
}

/// Is a person born on `date_of_birth` a young adult on `on` (T2A row, §4.2)?
pub fn is_young_adult(date_of_birth: Date, on: Date) -> bool {
    young_adult_window(date_of_birth).is_some_and(|window| within(window, on))
}

/// Is `on` inside a [`young_adult_window`] (`[from, until)`)? For callers that keep the
/// window rather than the date of birth (the caseload read model).
pub fn within((from, until): (Date, Date), on: Date) -> bool {
    from <= on && on < until
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    /// enforcement-and-workload.md §4.1 with the 18–24 choice (seed 003 l.3119, l.1566,
    /// l.3256): 17 is not, 18 and 24 are, 25 is not; the edges are the birthdays themselves.
    #[test]
    fn workload_4_1_young_adults_are_18_to_24_seed_003_l3119() {
        let born = date(2005, 6, 15);
        assert!(!is_young_adult(born, date(2023, 6, 14)), "17");
        assert!(is_young_adult(born, date(2023, 6, 15)), "18th birthday");
        assert!(is_young_adult(born, date(2024, 6, 15)), "19");
        assert!(is_young_adult(born, date(2030, 6, 14)), "24");
        assert!(!is_young_adult(born, date(2030, 6, 15)), "25th birthday");
        let leap = date(2004, 2, 29);
        assert_eq!(
            young_adult_window(leap),
            Some((date(2022, 2, 28), date(2029, 2, 28)))
        );
        assert_eq!(young_adult_window(date(9999, 1, 1)), None);
    }
}
