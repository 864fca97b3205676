//! England and Wales bank holidays 2014–2030, as data: one date per line, one comment per
//! year.
//!
//! Source: the GOV.UK bank-holiday list for England and Wales (Banking and Financial
//! Dealings Act 1971 and the royal proclamations it allows) for 2014–2025. Years from 2026 on
//! are the usual pattern (not every one was proclaimed when this table was written): when a
//! proclamation moves or adds a day, add a new line here with its own comment; never edit the
//! meaning of an old year silently, because replayed history depends on it.
//!
//! `jiff::civil::date` is a `const fn`, so a typo such as 31 April fails to compile. A unit
//! test cross-checks every year against an independent computation (Easter by the computus,
//! first/last Monday rules, substitute days) with the special cases listed explicitly.

use jiff::civil::{date, Date};

/// First year the table covers.
pub const COVERED_YEAR_FIRST: i16 = 2014;
/// Last year the table covers.
pub const COVERED_YEAR_LAST: i16 = 2030;

/// Sorted ascending, no duplicates, every entry a Monday–Friday (checked by tests).
pub const BANK_HOLIDAYS_ENGLAND_WALES: &[Date] = &[
    // 2014: Easter Sunday 20 April.
    date(2014, 1, 1),
    date(2014, 4, 18),
    date(2014, 4, 21),
    date(2014, 5, 5),
    date(2014, 5, 26),
    date(2014, 8, 25),
    date(2014, 12, 25),
    date(2014, 12, 26),
    // 2015: Easter Sunday 5 April; Boxing Day is a Saturday, substitute Monday 28 December.
    date(2015, 1, 1),
    date(2015, 4, 3),
    date(2015, 4, 6),
    date(2015, 5, 4),
    date(2015, 5, 25),
    date(2015, 8, 31),
    date(2015, 12, 25),
    date(2015, 12, 28),
    // 2016: Easter Sunday 27 March; Christmas Day is a Sunday, substitute Tuesday 27 December.
    date(2016, 1, 1),
    date(2016, 3, 25),
    date(2016, 3, 28),
    date(2016, 5, 2),
    date(2016, 5, 30),
    date(2016, 8, 29),
    date(2016, 12, 26),
    date(2016, 12, 27),
    // 2017: Easter Sunday 16 April; New Year's Day is a Sunday, substitute Monday 2 January.
    date(2017, 1, 2),
    date(2017, 4, 14),
    date(2017, 4, 17),
    date(2017, 5, 1),
    date(2017, 5, 29),
    date(2017, 8, 28),
    date(2017, 12, 25),
    date(2017, 12, 26),
    // 2018: Easter Sunday 1 April.
    date(2018, 1, 1),
    date(2018, 3, 30),
    date(2018, 4, 2),
    date(2018, 5, 7),
    date(2018, 5, 28),
    date(2018, 8, 27),
    date(2018, 12, 25),
    date(2018, 12, 26),
    // 2019: Easter Sunday 21 April.
    date(2019, 1, 1),
    date(2019, 4, 19),
    date(2019, 4, 22),
    date(2019, 5, 6),
    date(2019, 5, 27),
    date(2019, 8, 26),
    date(2019, 12, 25),
    date(2019, 12, 26),
    // 2020: Easter Sunday 12 April; early May bank holiday moved from Monday 4 May to Friday
    // 8 May for the 75th anniversary of VE Day; Boxing Day is a Saturday, substitute 28 Dec.
    date(2020, 1, 1),
    date(2020, 4, 10),
    date(2020, 4, 13),
    date(2020, 5, 8),
    date(2020, 5, 25),
    date(2020, 8, 31),
    date(2020, 12, 25),
    date(2020, 12, 28),
    // 2021: Easter Sunday 4 April; Christmas Day and Boxing Day fall at the weekend,
    // substitutes Monday 27 and Tuesday 28 December.
    date(2021, 1, 1),
    date(2021, 4, 2),
    date(2021, 4, 5),
    date(2021, 5, 3),
    date(2021, 5, 31),
    date(2021, 8, 30),
    date(2021, 12, 27),
    date(2021, 12, 28),
    // 2022: New Year's Day is a Saturday, substitute Monday 3 January; Easter Sunday 17 April;
    // spring bank holiday moved from Monday 30 May to Thursday 2 June and an extra day on
    // Friday 3 June for the Platinum Jubilee; Monday 19 September for the State Funeral of
    // Queen Elizabeth II; Christmas Day is a Sunday, substitute Tuesday 27 December.
    date(2022, 1, 3),
    date(2022, 4, 15),
    date(2022, 4, 18),
    date(2022, 5, 2),
    date(2022, 6, 2),
    date(2022, 6, 3),
    date(2022, 8, 29),
    date(2022, 9, 19),
    date(2022, 12, 26),
    date(2022, 12, 27),
    // 2023: New Year's Day is a Sunday, substitute Monday 2 January; Easter Sunday 9 April;
    // Monday 8 May for the Coronation of King Charles III.
    date(2023, 1, 2),
    date(2023, 4, 7),
    date(2023, 4, 10),
    date(2023, 5, 1),
    date(2023, 5, 8),
    date(2023, 5, 29),
    date(2023, 8, 28),
    date(2023, 12, 25),
    date(2023, 12, 26),
    // 2024: Easter Sunday 31 March.
    date(2024, 1, 1),
    date(2024, 3, 29),
    date(2024, 4, 1),
    date(2024, 5, 6),
    date(2024, 5, 27),
    date(2024, 8, 26),
    date(2024, 12, 25),
    date(2024, 12, 26),
    // 2025: Easter Sunday 20 April.
    date(2025, 1, 1),
    date(2025, 4, 18),
    date(2025, 4, 21),
    date(2025, 5, 5),
    date(2025, 5, 26),
    date(2025, 8, 25),
    date(2025, 12, 25),
    date(2025, 12, 26),
    // 2026: Easter Sunday 5 April; Boxing Day is a Saturday, substitute Monday 28 December.
    date(2026, 1, 1),
    date(2026, 4, 3),
    date(2026, 4, 6),
    date(2026, 5, 4),
    date(2026, 5, 25),
    date(2026, 8, 31),
    date(2026, 12, 25),
    date(2026, 12, 28),
    // 2027: Easter Sunday 28 March; Christmas Day and Boxing Day fall at the weekend,
    // substitutes Monday 27 and Tuesday 28 December.
    date(2027, 1, 1),
    date(2027, 3, 26),
    date(2027, 3, 29),
    date(2027, 5, 3),
    date(2027, 5, 31),
    date(2027, 8, 30),
    date(2027, 12, 27),
    date(2027, 12, 28),
    // 2028: New Year's Day is a Saturday, substitute Monday 3 January; Easter Sunday 16 April.
    date(2028, 1, 3),
    date(2028, 4, 14),
    date(2028, 4, 17),
    date(2028, 5, 1),
    date(2028, 5, 29),
    date(2028, 8, 28),
    date(2028, 12, 25),
    date(2028, 12, 26),
    // 2029: Easter Sunday 1 April.
    date(2029, 1, 1),
    date(2029, 3, 30),
    date(2029, 4, 2),
    date(2029, 5, 7),
    date(2029, 5, 28),
    date(2029, 8, 27),
    date(2029, 12, 25),
    date(2029, 12, 26),
    // 2030: Easter Sunday 21 April.
    date(2030, 1, 1),
    date(2030, 4, 19),
    date(2030, 4, 22),
    date(2030, 5, 6),
    date(2030, 5, 27),
    date(2030, 8, 26),
    date(2030, 12, 25),
    date(2030, 12, 26),
];
