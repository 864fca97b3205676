//! Properties of [`calculate`] over arbitrary inputs: it never panics, the window never
//! inverts (handover-rules.md §7.4 final step, §8, §9.4) and the responsibility agrees with
//! the half-open window of §2 D5.

use jiff::civil::{date, Date};
use proptest::prelude::*;

use super::*;
use crate::risk::MappaLevel;

/// Dates around the OMiC eras (most interesting) or anywhere jiff can represent (the
/// arithmetic must not panic at the edges of the calendar).
fn any_date() -> impl Strategy<Value = Date> {
    let near = (2017i16..=2028, 1i8..=12, 1i8..=31);
    let far = (-9999i16..=9999, 1i8..=12, 1i8..=31);
    prop_oneof![9 => near, 1 => far].prop_map(|(y, m, d)| {
        // Clamp day 29–31 into short months rather than discard the case.
        Date::new(y, m, d).unwrap_or_else(|_| date(y, m, 28))
    })
}

fn maybe_date() -> impl Strategy<Value = Option<Date>> {
    prop::option::weighted(0.7, any_date())
}

fn prison() -> impl Strategy<Value = Prison> {
    (
        prop_oneof![
            Just(PrisonKind::Public),
            Just(PrisonKind::Private),
            Just(PrisonKind::Hub)
        ],
        prop_oneof![
            Just(PrisonEstate::MaleClosed),
            Just(PrisonEstate::MaleOpen),
            Just(PrisonEstate::Womens)
        ],
        any::<bool>(),
        maybe_date(),
        prop::option::of(prop_oneof![
            Just("T".to_owned()),
            Just("C".to_owned()),
            ".{0,3}"
        ]),
        maybe_date(),
    )
        .prop_map(
            |(kind, estate, prescoed, arrival, category, category_since)| Prison {
                kind,
                estate,
                prescoed,
                arrival,
                category,
                category_since,
            },
        )
}

fn input() -> impl Strategy<Value = HandoverInput> {
    let dates = (
        any_date(),
        maybe_date(),
        maybe_date(),
        maybe_date(),
        maybe_date(),
        maybe_date(),
        maybe_date(),
        maybe_date(),
        maybe_date(),
        maybe_date(),
    );
    let flags = prop::array::uniform9(any::<bool>());
    let others = (
        prop::option::of(prop_oneof![
            Just(HandoverEra::Omic2019),
            Just(HandoverEra::Omic2022),
            Just(HandoverEra::Omic2023)
        ]),
        prop_oneof![8 => 16u32..=40, 1 => any::<u32>()],
        prop::option::of(0u8..=3),
        prison(),
        prop::option::of(prop_oneof![
            Just("Release [*]".to_owned()),
            Just("Stay In Closed [*]".to_owned()),
            Just(String::new()),
            Just("Not Applicable".to_owned()),
            Just("Not Specified".to_owned()),
            ".{0,300}",
        ]),
    );
    (dates, flags, others).prop_map(
        |(
            (today, sentence_start, crd, ard, ped, hdced, hdcad, ted, thd, prd),
            [indeterminate, recalled, immigration, civil, sentenced, crc, early_allocation, welsh, additional_isp],
            (era, age, mappa, prison, parole_outcome),
        )| HandoverInput {
            today,
            era,
            age,
            sentence_start,
            crd,
            ard,
            ped,
            hdced,
            hdcad,
            ted,
            thd,
            prd,
            indeterminate,
            recalled,
            immigration,
            civil,
            sentenced,
            case_allocation: if crc {
                CaseAllocation::Crc
            } else {
                CaseAllocation::Nps
            },
            mappa_level: mappa.and_then(|m| MappaLevel::new(m).ok()),
            early_allocation,
            welsh,
            prison,
            parole_outcome,
            additional_isp,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn calculate_never_panics_and_the_window_never_inverts(input in input()) {
        match calculate(&input) {
            Ok(result) => {
                prop_assert_eq!(result.era, input.effective_era());
                if let (Some(start), Some(handover)) = (result.start_date, result.handover_date) {
                    prop_assert!(start <= handover, "start {} after handover {}", start, handover);
                }
                if result.start_date.is_some() {
                    prop_assert!(result.handover_date.is_some(), "a start date without a handover date");
                }
                // §2 D5 / §7.5 / §9.5: with a handover date, responsibility is the window
                // `today` falls in (an unknown start never lies ahead).
                if let Some(handover) = result.handover_date {
                    let today = input.today;
                    let expected = if result.start_date.is_some_and(|s| today < s) {
                        Responsibility::CustodyOnly
                    } else if today < handover {
                        Responsibility::CustodyWithCom
                    } else {
                        Responsibility::Community
                    };
                    prop_assert_eq!(result.responsibility, expected);
                }
            }
            Err(error) => {
                // Every error is one of the contract's field-prefixed texts.
                let text = error.to_string();
                let prefix = text.split(": ").next().unwrap_or_default();
                prop_assert!(
                    ["outside_omic_policy", "sentence_start", "prison.prescoed", "parole_outcome",
                     "prison.category", "ped", "crd", "ard", "hdcad", "hdced", "ted", "thd", "prd"]
                        .contains(&prefix),
                    "unexpected error text {:?}", text
                );
            }
        }
    }
}
