//! Property tests: `calculate` never panics on any input, and the letters it returns agree
//! with their points bands (tier-rules.md §3.3, §4.1–§4.3, §5).

use jiff::civil::Date;
use proptest::prelude::*;

use super::*;
use crate::risk::RoshLevel;

const CODES: [&str; 22] = [
    "HREG", "MAPP", "IIOM", "INLL", "ADVP", "REG30", "SPO", "RCPR", "PRC", "RMDO", "ALSH", "RVLN",
    "RCCO", "RCHD", "RPIR", "RVAD", "STRG", "RTAO", "RVHR", "RHRH", "XYZ", "",
];
const LEVELS: [&str; 6] = ["M0", "M1", "M2", "M3", "M4", "X"];

fn date_strategy() -> impl Strategy<Value = Date> {
    (-9999i16..=9999, 1i8..=12, 1i8..=28).prop_map(|(y, m, d)| jiff::civil::date(y, m, d))
}

fn score() -> impl Strategy<Value = f64> {
    prop_oneof![
        0.0..=100.0f64,
        Just(999.99),
        Just(f64::NAN),
        -10.0..=200.0f64,
        prop::sample::select(vec![0.0, 0.5, 0.59, 0.6, 1.0, 3.0, 6.9, 7.0, 15.0, 90.0]),
    ]
}

fn registration() -> impl Strategy<Value = Registration> {
    (
        prop::sample::select(CODES.to_vec()),
        date_strategy(),
        prop::option::of(prop::sample::select(LEVELS.to_vec())),
        prop::option::of(prop::sample::select(LEVELS.to_vec())),
    )
        .prop_map(|(code, date, level, category)| Registration {
            code: code.into(),
            date,
            level: level.map(Into::into),
            category: category.map(Into::into),
        })
}

fn severity() -> impl Strategy<Value = Severity> {
    prop::sample::select(vec![Severity::NoNeed, Severity::Standard, Severity::Severe])
}

fn assessment() -> impl Strategy<Value = Assessment> {
    (
        date_strategy(),
        prop::collection::btree_map(prop::sample::select(Need::ALL.to_vec()), severity(), 0..10),
        any::<bool>(),
        0u8..=3,
        0u8..=3,
        any::<bool>(),
    )
        .prop_map(
            |(
                date,
                needs,
                parenting_responsibilities,
                impulsivity,
                temper_control,
                sexual_offence,
            )| {
                Assessment {
                    date,
                    needs,
                    parenting_responsibilities,
                    impulsivity,
                    temper_control,
                    sexual_offence,
                }
            },
        )
}

fn conviction() -> impl Strategy<Value = Conviction> {
    (
        prop::sample::select(vec![
            SentenceType::CustodialNc,
            SentenceType::CustodialSc,
            SentenceType::Community,
        ]),
        prop::option::of(date_strategy()),
        prop::collection::vec(
            (
                prop::sample::select(vec!["W", "W1", "F", "X", ""]),
                any::<bool>(),
            ),
            0..4,
        ),
    )
        .prop_map(|(sentence_type, terminated, requirements)| Conviction {
            sentence_type,
            terminated,
            requirements: requirements
                .into_iter()
                .map(|(category, restrictive)| Requirement {
                    category: category.into(),
                    restrictive,
                })
                .collect(),
        })
}

fn v3_input() -> impl Strategy<Value = V3Input> {
    (
        prop::option::of(score()),
        prop::option::of(any::<bool>()),
        prop::option::of(score()),
        prop::option::of(any::<bool>()),
        prop::option::of(score()),
        prop::option::of(prop::sample::select(vec![
            DcSrpBand::VeryHigh,
            DcSrpBand::High,
            DcSrpBand::Medium,
            DcSrpBand::Low,
            DcSrpBand::NotApplicable,
        ])),
        prop::option::of(date_strategy()),
    )
        .prop_map(
            |(arp, arp_static, csrp, csrp_static, dc_srp_score, dc_srp_band, latest_release)| {
                V3Input {
                    arp,
                    arp_static,
                    csrp,
                    csrp_static,
                    dc_srp_score,
                    dc_srp_band,
                    latest_release,
                }
            },
        )
}

fn tier_input() -> impl Strategy<Value = TierInput> {
    (
        date_strategy(),
        any::<bool>(),
        prop::option::of(score()),
        prop::option::of(prop::sample::select(vec![
            RoshLevel::Low,
            RoshLevel::Medium,
            RoshLevel::High,
            RoshLevel::VeryHigh,
        ])),
        prop::option::of(0u8..=120),
        prop::collection::vec(registration(), 0..8),
        prop::option::of(assessment()),
        prop::collection::vec(conviction(), 0..3),
        any::<bool>(),
        prop::option::of(v3_input()),
    )
        .prop_map(
            |(
                today,
                female,
                rsr,
                rosh,
                ogrs,
                registrations,
                assessment,
                convictions,
                enforcement,
                v3,
            )| {
                TierInput {
                    today,
                    gender: if female { Gender::Female } else { Gender::Male },
                    rsr,
                    rosh,
                    ogrs,
                    registrations,
                    assessment,
                    convictions,
                    previous_enforcement: enforcement,
                    v3,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    /// Never panics; on success the letters agree with the bands of §3.3 and §4.1–§4.3,
    /// and the breakdown adds up to the points reported.
    #[test]
    fn calculate_never_panics_and_letters_match_point_bands(input in tier_input()) {
        let Ok(r) = calculate(&input) else { return Ok(()); };
        let expected_protect = match r.protect_points {
            150.. => ProtectLevel::A,
            20..=149 => ProtectLevel::B,
            10..=19 => ProtectLevel::C,
            _ => ProtectLevel::D,
        };
        prop_assert_eq!(r.protect, expected_protect);
        let p = &r.breakdown.protect;
        prop_assert_eq!(
            u16::from(p.rsr_points) + u16::from(p.rosh_points) - u16::from(p.rsr_rosh_discarded_points)
                + u16::from(p.mappa_points) + u16::from(p.complexity_points)
                + u16::from(p.female_factors.total()),
            r.protect_points
        );
        match r.breakdown.change.basis {
            ChangeBasis::NoMandate => {
                prop_assert_eq!((r.change, r.change_points), (ChangeLevel::Zero, 0));
            }
            ChangeBasis::NoAssessment => {
                prop_assert_eq!((r.change, r.change_points), (ChangeLevel::Two, 0));
            }
            ChangeBasis::Scored => {
                let expected = match r.change_points {
                    20.. => ChangeLevel::Three,
                    10..=19 => ChangeLevel::Two,
                    _ => ChangeLevel::One,
                };
                prop_assert_eq!(r.change, expected);
                let c = &r.breakdown.change;
                let needs: u16 = c.needs.iter().map(|n| u16::from(n.points)).sum();
                prop_assert_eq!(needs + u16::from(c.ogrs_points) + u16::from(c.iom_nominal_points), r.change_points);
            }
        }
        let s = r.tier.to_string();
        prop_assert_eq!(s.parse::<V2Tier>().unwrap(), r.tier);
        prop_assert_eq!(s.ends_with('S'), r.unsupervised);
        prop_assert_eq!(&s[..2], format!("{}{}", r.protect, r.change));
        if r.v3.is_none() {
            prop_assert!(input.v3.is_none());
        }
        if !matches!(r.v3, Some(V3Tier::Level(_))) {
            prop_assert!(!r.provisional);
        }
    }
}
