//! Probation tier calculator: V2 (protect A–D × change 0–3, `S` when unsupervised) and V3
//! (A–G with a provisional flag), as specified in `shared/domain/tier-rules.md`, which
//! restates `ministryofjustice/hmpps-tier` @ `affac98a`.
//!
//! Pure: [`calculate`] reads only its [`TierInput`]; `today` is a field. Files, one rule
//! family each:
//!
//! | file | rules |
//! |---|---|
//! | `input.rs` | inputs, defaults and limits (§1) |
//! | `error.rs` | range checks (§1) and typed errors |
//! | `registrations.rs` | HREG, newest-first ordering, derived flags (§2) |
//! | `protect.rs` | protect points and bands (§3) |
//! | `change.rs` | mandate, no-assessment, change points and bands (§4) |
//! | `code.rs` | the V2 tier string (§5) |
//! | `v3.rs` | V3 gates and steps (§6) |
//! | `provisional.rs` | V3 provisional flag (§7) |
//! | `recalculation.rs` | recalculation triggers, change reasons, "changed" (§9) |

mod change;
mod code;
mod error;
mod input;
mod protect;
mod provisional;
mod recalculation;
mod registrations;
mod v3;

#[cfg(test)]
mod proptests;

use serde::{Deserialize, Serialize};

pub use change::{
    change, has_mandate_for_change, ogrs_points, ChangeBasis, ChangeBreakdown, ChangeLevel,
    NeedPoints, CHANGE_2_POINTS_MIN, CHANGE_3_POINTS_MIN, IOM_NOMINAL_POINTS,
    NON_MANDATE_REQUIREMENT_CATEGORIES,
};
pub use code::V2Tier;
pub use error::{validate, TierError};
pub use input::{
    Assessment, Conviction, DcSrpBand, Gender, Need, Registration, Requirement, SentenceType,
    Severity, TierInput, V3Input, CODE_BYTES_MAX, CONVICTIONS_PER_PERSON_MAX,
    OASYS_PROBLEM_ANSWER_MAX, OGRS_PERCENT_MAX, REGISTRATIONS_PER_PERSON_MAX,
    REQUIREMENTS_PER_CONVICTION_MAX, RSR_PERCENT_MAX, RSR_UNKNOWN,
};
pub use protect::{
    female_factor_points, mappa_points, protect, rosh_points, rsr_points, FemaleFactorPoints,
    ProtectBreakdown, ProtectLevel, COMPLEXITY_FACTOR_POINTS, FEMALE_FACTOR_POINTS,
    PROTECT_A_POINTS_MIN, PROTECT_B_POINTS_MIN, PROTECT_C_POINTS_MIN,
};
pub use provisional::Provisional;
pub use recalculation::{
    tier_changed, RecalculationEffect, TierChangeReason, TierTrigger, CHANGE_REASON_BYTES_MAX,
    OASYS_RECALCULATING_INNER_EVENTS,
};
pub use registrations::{ComplexityFactor, RegistrationFacts};
pub use v3::{
    V3Level, V3Steps, V3Tier, V3TierParseError, ARP_COLUMN_THRESHOLDS, CSRP_ROW_THRESHOLDS,
    DC_SRP_MEDIUM_LADDER, LIFER_RECENT_RELEASE_MONTHS, LIFER_WITHIN_RELEASE_MONTHS, V3_TIERS,
};

/// The rules this calculator implements; stored with every result so a replay can tell
/// which rules produced it (tier-rules.md §9: "each stored result should carry the rule
/// version").
pub const TIER_RULES_VERSION: &str = "tier-rules.md (hmpps-tier@affac98a)";

/// Why the result is what it is: every component's points and every V3 step's tier.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierBreakdown {
    pub registrations: RegistrationFacts,
    pub protect: ProtectBreakdown,
    pub change: ChangeBreakdown,
    /// `None` unless V3 got past its gates (tier-rules.md §6.1).
    pub v3_steps: Option<V3Steps>,
    /// Which provisional condition held (tier-rules.md §7); all false without V3 steps.
    pub provisional: Provisional,
}

/// One tier calculation (tier-rules.md §8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierResult {
    pub protect: ProtectLevel,
    pub protect_points: u16,
    pub change: ChangeLevel,
    pub change_points: u16,
    /// A `PRC` registration exists (tier-rules.md §2.3, §5).
    pub unsupervised: bool,
    pub tier: V2Tier,
    /// `None` when the input had no `v3` (tier-rules.md §6.1 gate 0).
    pub v3: Option<V3Tier>,
    pub provisional: bool,
    pub breakdown: TierBreakdown,
}

/// Calculate V2 and, when asked, V3 (tier-rules.md §2–§7).
///
/// Errors: any range or limit of tier-rules.md §1 broken ([`validate`]), a medium DC-SRP
/// score below 0.60 (§6.2, `unsupported_dc_srp`), or a `today` so close to the calendar's
/// start that the lifer windows cannot be computed.
pub fn calculate(input: &TierInput) -> Result<TierResult, TierError> {
    validate(input)?;
    let facts = registrations::derive(&input.registrations);
    let (protect_level, protect_breakdown) = protect::protect(input, &facts);
    let (change_level, change_breakdown) = change::change(input, &facts);

    let (v3, v3_steps, provisional) = match v3::gate(input) {
        v3::V3Gate::NotRequested => (None, None, Provisional::default()),
        // Provisional is false for NOT_SUPERVISED and MISSING (tier-rules.md §7).
        v3::V3Gate::Decided(tier) => (Some(tier), None, Provisional::default()),
        v3::V3Gate::Steps { v3, arp, csrp } => {
            let steps = v3::steps(input, &facts, v3, arp, csrp)?;
            let provisional =
                provisional::provisional(&steps, v3, arp, csrp, input.rosh, facts.mappa_present());
            (
                Some(V3Tier::Level(steps.overall())),
                Some(steps),
                provisional,
            )
        }
    };

    let tier = V2Tier {
        protect: protect_level,
        change: change_level,
        unsupervised: facts.unsupervised,
    };
    Ok(TierResult {
        protect: protect_level,
        protect_points: protect_breakdown.total,
        change: change_level,
        change_points: change_breakdown.total,
        unsupervised: facts.unsupervised,
        tier,
        v3,
        provisional: provisional.any(),
        breakdown: TierBreakdown {
            registrations: facts,
            protect: protect_breakdown,
            change: change_breakdown,
            v3_steps,
            provisional,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::RoshLevel;
    use jiff::civil::date;

    fn supervised() -> TierInput {
        let mut input = TierInput::new(date(2025, 6, 15));
        input.convictions = vec![Conviction::new(SentenceType::CustodialNc)];
        input
    }

    fn v3(arp: f64, csrp: f64) -> V3Input {
        V3Input {
            arp: Some(arp),
            arp_static: Some(false),
            csrp: Some(csrp),
            csrp_static: Some(false),
            ..V3Input::default()
        }
    }

    /// tier-rules.md §1 defaults + §4.2 + §5: a current custodial conviction and nothing
    /// else is D2; no V3 asked → `v3` none and not provisional.
    #[test]
    fn tier_1_defaults_give_d2_without_v3() {
        let r = calculate(&supervised()).unwrap();
        assert_eq!(r.tier.to_string(), "D2");
        assert_eq!((r.protect_points, r.change_points), (0, 0));
        assert_eq!(r.v3, None);
        assert!(!r.provisional);
        let r = calculate(&TierInput::new(date(2025, 6, 15))).unwrap();
        assert_eq!(r.tier.to_string(), "D0", "no conviction → no mandate");
    }

    /// tier-rules.md §5: `S` suffix from a PRC registration.
    #[test]
    fn tier_5_unsupervised_suffix() {
        let mut input = supervised();
        input.rosh = Some(RoshLevel::High);
        input.registrations = vec![Registration::new("PRC", date(2024, 1, 1))];
        let r = calculate(&input).unwrap();
        assert!(r.unsupervised);
        assert_eq!(r.tier.to_string(), "B2S");
    }

    /// tier-rules.md §1: range checks are typed errors naming the field.
    #[test]
    fn tier_1_ranges_are_typed_errors() {
        let mut input = supervised();
        input.rsr = Some(100.01);
        assert_eq!(calculate(&input), Err(TierError::Rsr(100.01)));
        input.rsr = Some(-0.1);
        assert!(calculate(&input).is_err());
        input.rsr = Some(f64::NAN);
        assert!(calculate(&input)
            .unwrap_err()
            .to_string()
            .starts_with("rsr: "));
        input.rsr = Some(999.99);
        assert!(calculate(&input).is_ok());
        input.rsr = Some(100.0);
        assert!(calculate(&input).is_ok());

        let mut input = supervised();
        input.ogrs = Some(101);
        assert_eq!(calculate(&input), Err(TierError::Ogrs(101)));

        let mut input = supervised();
        let mut a = Assessment::new(date(2025, 1, 1));
        a.impulsivity = 3;
        input.assessment = Some(a.clone());
        assert!(calculate(&input)
            .unwrap_err()
            .to_string()
            .starts_with("assessment.impulsivity: "));
        a.impulsivity = 2;
        a.temper_control = 3;
        input.assessment = Some(a);
        assert_eq!(calculate(&input), Err(TierError::TemperControl(3)));

        let mut input = supervised();
        input.v3 = Some(v3(-1.0, 1.0));
        assert_eq!(calculate(&input), Err(TierError::Arp(-1.0)));
        input.v3 = Some(v3(1.0, -0.5));
        assert_eq!(calculate(&input), Err(TierError::Csrp(-0.5)));

        let mut input = supervised();
        input.registrations = vec![Registration::new("", date(2024, 1, 1))];
        assert!(calculate(&input)
            .unwrap_err()
            .to_string()
            .starts_with("registrations[0].code: "));
        input.registrations = vec![
            Registration::new("RCCO", date(2024, 1, 1));
            REGISTRATIONS_PER_PERSON_MAX as usize + 1
        ];
        assert!(matches!(
            calculate(&input),
            Err(TierError::TooMany {
                field: "registrations",
                ..
            })
        ));
        // Blank levels and categories are allowed (no effect); unbounded ones are not.
        input.registrations = vec![Registration::new("MAPP", date(2024, 1, 1))
            .with_level("")
            .with_category("")];
        assert!(calculate(&input).is_ok());
        input.registrations = vec![Registration::new("MAPP", date(2024, 1, 1))
            .with_level("M".repeat(CODE_BYTES_MAX as usize + 1))];
        assert!(matches!(
            calculate(&input),
            Err(TierError::CodeTooLong { ref field, bytes: 33 }) if field == "registrations[0].level"
        ));
        let mut c = Conviction::new(SentenceType::Community);
        c.requirements = vec![
            Requirement {
                category: "F".into(),
                restrictive: false
            };
            REQUIREMENTS_PER_CONVICTION_MAX as usize + 1
        ];
        input.registrations.clear();
        input.convictions = vec![c];
        assert!(calculate(&input)
            .unwrap_err()
            .to_string()
            .starts_with("convictions[0].requirements: "));
    }

    /// tier-rules.md §6.1 gates through `calculate`.
    #[test]
    fn tier_6_1_gates_through_calculate() {
        let mut input = TierInput::new(date(2025, 6, 15));
        input.v3 = Some(v3(90.0, 6.9));
        let r = calculate(&input).unwrap();
        assert_eq!(r.v3, Some(V3Tier::NotSupervised));
        assert!(!r.provisional);
        let mut input = supervised();
        input.v3 = Some(V3Input {
            arp: Some(50.0),
            ..V3Input::default()
        });
        let r = calculate(&input).unwrap();
        assert_eq!(r.v3, Some(V3Tier::Missing));
        assert!(!r.provisional && r.breakdown.v3_steps.is_none());
    }

    /// tier-rules.md §6.2: the unsupported medium DC-SRP fails the whole calculation, but
    /// only once V3 gets past its gates.
    #[test]
    fn tier_6_2_unsupported_dc_srp_fails_the_line() {
        let mut input = supervised();
        let mut v = v3(10.0, 0.1);
        v.dc_srp_score = Some(0.5);
        v.dc_srp_band = Some(DcSrpBand::Medium);
        input.v3 = Some(v.clone());
        let e = calculate(&input).unwrap_err();
        assert!(e.to_string().starts_with("unsupported_dc_srp: "), "{e}");
        input.convictions.clear();
        assert_eq!(calculate(&input).unwrap().v3, Some(V3Tier::NotSupervised));
    }

    /// tier-rules.md §6.2 + §7: a combined V3 case — MAPPA category with RoSH missing and
    /// a domestic abuse registration; provisional (b) because non-RoSH (E) is below A.
    #[test]
    fn tier_7b_provisional_through_calculate() {
        let mut input = supervised();
        input.registrations = vec![
            Registration::new("MAPP", date(2024, 1, 1))
                .with_level("M1")
                .with_category("M2"),
            Registration::new("ADVP", date(2024, 1, 1)),
        ];
        input.v3 = Some(v3(10.0, 0.1));
        let r = calculate(&input).unwrap();
        assert_eq!(r.v3, Some(V3Tier::Level(V3Level::E)));
        assert!(r.provisional);
        assert!(r.breakdown.provisional.rosh_missing);
        assert!(!r.breakdown.provisional.static_predictors);
        input.rosh = Some(RoshLevel::VeryHigh);
        let r = calculate(&input).unwrap();
        assert_eq!(r.v3, Some(V3Tier::Level(V3Level::A)));
        assert!(!r.provisional);
    }

    /// tier-rules.md §7 (a) through `calculate`: both predictors static and nothing else
    /// gives A → provisional.
    #[test]
    fn tier_7a_provisional_through_calculate() {
        let mut input = supervised();
        input.rosh = Some(RoshLevel::Low);
        let mut v = v3(90.0, 6.9);
        v.arp_static = Some(true);
        v.csrp_static = Some(true);
        input.v3 = Some(v);
        let r = calculate(&input).unwrap();
        assert_eq!(r.v3, Some(V3Tier::Level(V3Level::A)));
        assert!(r.provisional && r.breakdown.provisional.static_predictors);
    }

    /// The engine stores inputs and results in decision events (design.md invariant 5):
    /// both survive a serde round trip, with tiers in their contract spelling.
    #[test]
    fn inputs_and_results_round_trip_through_serde() {
        let mut input = supervised();
        input.rsr = Some(7.5);
        input.registrations = vec![Registration::new("MAPP", date(2024, 1, 1))
            .with_level("M2")
            .with_category("M1")];
        let mut a = Assessment::new(date(2025, 1, 1));
        a.needs.insert(Need::Attitudes, Severity::Severe);
        input.assessment = Some(a);
        input.v3 = Some(v3(50.0, 1.0));
        let result = calculate(&input).unwrap();
        let json = serde_json::to_value(&result).unwrap();
        assert_eq!(json["tier"], "A1");
        assert_eq!(
            json["v3"], "D",
            "ARP 50 × CSRP 1.0; MAPPA without RoSH gives only E"
        );
        assert_eq!(json["provisional"], true);
        let back: TierResult = serde_json::from_value(json).unwrap();
        assert_eq!(back, result);
        let input_back: TierInput =
            serde_json::from_str(&serde_json::to_string(&input).unwrap()).unwrap();
        assert_eq!(input_back, input);
    }

    /// tier-rules.md §9: "changed" looks at V3, provisional, protect, change, unsupervised
    /// and not at points.
    #[test]
    fn tier_9_changed_ignores_points() {
        let mut input = supervised();
        input.rosh = Some(RoshLevel::High);
        let before = calculate(&input).unwrap();
        assert!(tier_changed(None, &before));
        input.rsr = Some(7.5);
        input.registrations = vec![Registration::new("RCCO", date(2024, 1, 1))];
        let same_level = calculate(&input).unwrap();
        assert_ne!(before.protect_points, same_level.protect_points);
        assert!(!tier_changed(Some(&before), &same_level));
        input
            .registrations
            .push(Registration::new("PRC", date(2024, 1, 1)));
        assert!(tier_changed(Some(&before), &calculate(&input).unwrap()));
        input.registrations.pop();
        input.v3 = Some(v3(0.0, 0.0));
        assert!(tier_changed(Some(&before), &calculate(&input).unwrap()));
        input.v3 = None;
        input.rosh = Some(RoshLevel::VeryHigh);
        assert!(tier_changed(Some(&before), &calculate(&input).unwrap()));
    }
}
