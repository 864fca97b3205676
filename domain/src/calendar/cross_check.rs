//! Cross-check of the bank-holiday table against an independent computation: Easter by the
//! anonymous Gregorian computus, the first/last Monday rules, the weekend substitute-day rules,
//! and the one-off proclamations listed explicitly.

use jiff::civil::{date, Date, Weekday};

use super::{BANK_HOLIDAYS_ENGLAND_WALES, COVERED_YEAR_FIRST, COVERED_YEAR_LAST};

/// Easter Sunday (anonymous Gregorian algorithm, "Meeus/Jones/Butcher").
fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    date(year, month as i8, day as i8)
}

fn first_monday(year: i16, month: i8) -> Date {
    let mut d = date(year, month, 1);
    while d.weekday() != Weekday::Monday {
        d = d.tomorrow().unwrap();
    }
    d
}

fn last_monday(year: i16, month: i8) -> Date {
    let mut d = date(year, month, 1).last_of_month();
    while d.weekday() != Weekday::Monday {
        d = d.yesterday().unwrap();
    }
    d
}

fn is_weekend(d: Date) -> bool {
    matches!(d.weekday(), Weekday::Saturday | Weekday::Sunday)
}

/// New Year's Day at a weekend moves to the following Monday.
fn new_year(year: i16) -> Date {
    let mut d = date(year, 1, 1);
    while is_weekend(d) {
        d = d.tomorrow().unwrap();
    }
    d
}

/// Christmas Day and Boxing Day, with substitute days: each holiday at a weekend moves to the
/// next weekday not already a holiday.
fn christmas(year: i16) -> [Date; 2] {
    let mut taken: Vec<Date> = Vec::new();
    for day in [25, 26] {
        let mut d = date(year, 12, day);
        while is_weekend(d) || taken.contains(&d) {
            d = d.tomorrow().unwrap();
        }
        taken.push(d);
    }
    [taken[0], taken[1]]
}

fn computed(year: i16) -> Vec<Date> {
    let easter = easter_sunday(year);
    let mut early_may = first_monday(year, 5);
    let mut spring = last_monday(year, 5);
    let mut extra: Vec<Date> = Vec::new();
    // One-off proclamations, listed explicitly.
    match year {
        2020 => early_may = date(2020, 5, 8), // 75th anniversary of VE Day, moved from 4 May
        2022 => {
            spring = date(2022, 6, 2); // Platinum Jubilee: spring bank holiday moved
            extra.push(date(2022, 6, 3)); // Platinum Jubilee bank holiday
            extra.push(date(2022, 9, 19)); // State Funeral of Queen Elizabeth II
        }
        2023 => extra.push(date(2023, 5, 8)), // Coronation of King Charles III
        _ => {}
    }
    let mut days = vec![
        new_year(year),
        easter.yesterday().unwrap().yesterday().unwrap(), // Good Friday
        easter.tomorrow().unwrap(),                       // Easter Monday
        early_may,
        spring,
        last_monday(year, 8),
    ];
    days.extend(christmas(year));
    days.extend(extra);
    days.sort();
    days
}

#[test]
fn computus_matches_known_easter_sundays() {
    assert_eq!(easter_sunday(2016), date(2016, 3, 27));
    assert_eq!(easter_sunday(2019), date(2019, 4, 21));
    assert_eq!(easter_sunday(2024), date(2024, 3, 31));
    assert_eq!(easter_sunday(2027), date(2027, 3, 28));
}

#[test]
fn table_matches_independent_computation_for_every_year() {
    for year in COVERED_YEAR_FIRST..=COVERED_YEAR_LAST {
        let table: Vec<Date> = BANK_HOLIDAYS_ENGLAND_WALES
            .iter()
            .copied()
            .filter(|d| d.year() == year)
            .collect();
        assert_eq!(table, computed(year), "year {year}");
    }
}

#[test]
fn special_cases_are_in_the_table() {
    let has = |d: Date| BANK_HOLIDAYS_ENGLAND_WALES.contains(&d);
    assert!(
        has(date(2020, 5, 8)) && !has(date(2020, 5, 4)),
        "VE Day 2020"
    );
    assert!(
        has(date(2022, 6, 2)) && has(date(2022, 6, 3)),
        "Platinum Jubilee"
    );
    assert!(
        !has(date(2022, 5, 30)),
        "2022 spring bank holiday moved to 2 June"
    );
    assert!(has(date(2022, 9, 19)), "State Funeral");
    assert!(
        has(date(2023, 5, 8)) && has(date(2023, 5, 1)),
        "Coronation plus early May"
    );
    assert!(
        has(date(2021, 12, 27)) && has(date(2021, 12, 28)),
        "2021 substitutes"
    );
    assert!(
        has(date(2022, 1, 3)) && has(date(2017, 1, 2)),
        "New Year substitutes"
    );
    assert!(
        has(date(2016, 12, 27)) && has(date(2015, 12, 28)),
        "Christmas substitutes"
    );
    // 2022 has ten bank holidays, 2023 nine, an ordinary year eight.
    let count = |y: i16| {
        BANK_HOLIDAYS_ENGLAND_WALES
            .iter()
            .filter(|d| d.year() == y)
            .count()
    };
    assert_eq!((count(2021), count(2022), count(2023)), (8, 10, 9));
}
