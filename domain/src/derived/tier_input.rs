//! The tier calculator's input, filled from the case state (tier-rules.md §1).
//!
//! One builder serves the engine (which records `TierCalculated` when the tier changes) and
//! replay's explain (which rebuilds the inputs of a recorded tier from the case as it stood and
//! checks their digest against the recorded one).

use jiff::civil::Date;
use serde::Serialize;

use crate::identity::Gender as PersonGender;
use crate::risk::{Need as RiskNeed, NeedSeverity, PredictorScore, RegistrationKind};
use crate::sealable::Sealable;
use crate::sentence::{RequirementKind, SentenceType};
use crate::state::{CaseState, RequirementStatus};
use crate::tier::{self, TierInput};

/// Days back a breach or recall referral counts as previous enforcement (tier-rules.md §3.4:
/// "referral date ≥ today − 365 days").
pub const PREVIOUS_ENFORCEMENT_DAYS: i64 = 365;

/// Which kind of enforcement a [`EnforcementConsidered`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EnforcementKind {
    Breach,
    Recall,
}

/// One breach or recall of the case and whether it counts as previous enforcement on a date
/// (tier-rules.md §3.4), with why: what `explain` shows beside the tier inputs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnforcementConsidered {
    pub kind: EnforcementKind,
    /// The referral date: when the breach or recall was raised.
    pub raised_on: Date,
    pub concluded_on: Option<Date>,
    /// The outcome code (breach-end contact `ABCC`…`ABWD`, recall outcome `REC01`…`REC05`).
    pub outcome: Option<&'static str>,
    pub counts: bool,
    pub why: &'static str,
}

/// Every breach and recall of the case, judged for `previous_enforcement` on `today`
/// (tier-rules.md §3.4, enforcement-and-workload.md §6 last paragraph): it counts when its
/// outcome is known by `today` and is one of the counting outcomes
/// ([`BreachOutcome::counts_as_previous_enforcement`],
/// [`RecallOutcome::counts_as_previous_enforcement`]: a recall rejected by the NPS, `REC03`,
/// does not count) and it was referred (raised) in the [`PREVIOUS_ENFORCEMENT_DAYS`] up to
/// `today`.
///
/// [`BreachOutcome::counts_as_previous_enforcement`]: crate::enforcement::BreachOutcome::counts_as_previous_enforcement
/// [`RecallOutcome::counts_as_previous_enforcement`]: crate::enforcement::RecallOutcome::counts_as_previous_enforcement
pub fn enforcement_considered(state: &CaseState, today: Date) -> Vec<EnforcementConsidered> {
    let since = today
        .checked_sub(jiff::Span::new().days(PREVIOUS_ENFORCEMENT_DAYS))
        .unwrap_or(today);
    let judge = |kind, raised_on: Date, concluded: Option<(Date, &'static str, bool)>| {
        let (counts, why) = match concluded {
            None => (false, "no outcome yet"),
            Some((on, _, _)) if on > today => (false, "no outcome yet"),
            Some((_, _, false)) => (false, "outcome not in tier-rules.md §3.4's list"),
            Some(_) if raised_on < since => (false, "referred more than 365 days before"),
            Some(_) if raised_on > today => (false, "referred after the calculation date"),
            Some(_) => (true, "counting outcome, referred within 365 days"),
        };
        EnforcementConsidered {
            kind,
            raised_on,
            concluded_on: concluded.map(|(on, _, _)| on),
            outcome: concluded.map(|(_, code, _)| code),
            counts,
            why,
        }
    };
    let breaches = state.breaches.values().map(|b| {
        let concluded = b
            .concluded
            .map(|(on, o)| (on, o.code(), o.counts_as_previous_enforcement()));
        judge(EnforcementKind::Breach, b.raised_on, concluded)
    });
    let recalls = state.recalls.values().map(|r| {
        let concluded = r
            .concluded
            .map(|(on, o)| (on, o.code(), o.counts_as_previous_enforcement()));
        judge(EnforcementKind::Recall, r.raised_on, concluded)
    });
    breaches.chain(recalls).collect()
}

/// The tier inputs of the case on `today` (tier-rules.md §1).
///
/// Sources: `gender` = the person's recorded gender (not recorded → `male`, the §1 default);
/// `rsr`, `rosh`, `ogrs` = the latest risk assessment; `registrations` = the active ones, a
/// MAPPA registration with its level `M1`–`M3` and category `M1`–`M4` (§2); `assessment` = the
/// latest OASys needs when an assessment was recorded (none → §4.2); `convictions` = every
/// sentence, community orders and suspended sentence orders as `SP`, custody as `SC`, with its
/// termination date (§1: any termination ends a conviction) and its active requirements
/// ([`requirement`]); `previous_enforcement` = a breach or recall with a counting outcome
/// referred in the [`PREVIOUS_ENFORCEMENT_DAYS`] up to `today` ([`enforcement_considered`],
/// §3.4). `v3` is not requested (§6.1 gate 0).
pub fn tier_input(state: &CaseState, today: Date) -> TierInput {
    let mut input = TierInput::new(today);
    if let Some(person) = state.person.as_ref().and_then(Sealable::known) {
        input.gender = match person.gender {
            PersonGender::Female => tier::Gender::Female,
            PersonGender::Male | PersonGender::NotRecorded => tier::Gender::Male,
        };
    }
    input.rsr = state.risk.rsr.map(|r| f64::from(r.hundredths()) / 100.0);
    input.rosh = state.risk.rosh;
    input.ogrs = state.risk.ogrs.map(|o| o.get());
    input.registrations = state
        .registrations
        .values()
        .filter(|r| r.removed_on.is_none())
        .map(|r| {
            let registration = tier::Registration::new(r.kind.delius_code(), r.registered_on);
            match r.kind {
                RegistrationKind::Mappa { category, level } => registration
                    .with_level(format!("M{}", level.get()))
                    .with_category(format!("M{}", category.get())),
                _ => registration,
            }
        })
        .collect();
    if let Some(assessed_on) = state.risk.last_assessed_on {
        let mut assessment = tier::Assessment::new(assessed_on);
        for (need, severity) in &state.risk.needs {
            assessment
                .needs
                .insert(need_of(*need), severity_of(*severity));
        }
        input.assessment = Some(assessment);
    }
    input.convictions = state
        .sentences
        .values()
        .map(|s| tier::Conviction {
            sentence_type: match s.sentence_type {
                SentenceType::CommunityOrder | SentenceType::SuspendedSentenceOrder => {
                    tier::SentenceType::Community
                }
                _ => tier::SentenceType::CustodialSc,
            },
            terminated: s.terminated.as_ref().map(|(on, _)| *on),
            requirements: s
                .requirements
                .values()
                .filter(|r| r.status == RequirementStatus::Active)
                .map(|r| requirement(r.kind))
                .collect(),
        })
        .collect();
    input.previous_enforcement = enforcement_considered(state, today)
        .iter()
        .any(|e| e.counts);
    input
}

/// The tier inputs with V3 requested (tier-rules.md §1 `v3`, §6.1 gate 0): [`tier_input`]
/// plus the case's predictor scores and its latest release from custody (the lifer / IPP
/// step, §6.2); `None` until an assessment recorded predictor scores, so a case without them
/// records V2 only. The V2 inputs (and their digest) are unchanged by V3.
pub fn tier_v3_input(state: &CaseState, today: Date) -> Option<TierInput> {
    let predictors = state.risk.predictors?;
    let mut input = tier_input(state, today);
    let latest_release = state
        .sentences
        .values()
        .flat_map(|s| s.releases.iter().map(|r| r.released_on))
        .filter(|on| *on <= today)
        .max();
    input.v3 = Some(tier::V3Input {
        arp: predictors.arp.map(PredictorScore::percent),
        arp_static: predictors.arp_static,
        csrp: predictors.csrp.map(PredictorScore::percent),
        csrp_static: predictors.csrp_static,
        dc_srp_score: predictors.dc_srp_score.map(PredictorScore::percent),
        dc_srp_band: predictors.dc_srp_band,
        latest_release,
    });
    Some(input)
}

/// nDelius requirement category and restrictive flag of a requirement, for the mandate for
/// change (tier-rules.md §4.1: a current community conviction has a mandate when a requirement
/// is not restrictive and its category is neither `W`, unpaid work, nor `W1`, order extended).
///
/// The requirement types are the domain's [`RequirementKind`] (seed 003 l.1677, CJA 2003
/// s.177). Only two things affect the tier:
/// - `W`: unpaid work (seed 003 l.1393–1481) is no mandate (tier-rules.md §4.1). `W1`, order
///   extended, is not a requirement the domain records (an extension changes the sentence's
///   dates), so nothing maps to it.
/// - restrictive: requirements that restrict liberty rather than address needs are no mandate
///   (tier-rules.md §4.1): curfew, with or without electronic monitoring (seed 003 l.321,
///   l.3453); alcohol abstinence and monitoring, an electronic monitoring requirement (seed 003
///   l.325); exclusion; prohibited activity; foreign travel prohibition.
///
/// Every other requirement (rehabilitation activity, accredited programme, structured
/// intervention, the three treatment requirements, attendance centre, residence) is a
/// mandate. Their letters are this engine's labels, stable because they are hashed into the
/// recorded inputs digest; the tier rules read no letter but `W`/`W1`.
pub fn requirement(kind: RequirementKind) -> tier::Requirement {
    let (category, restrictive) = match kind {
        RequirementKind::UnpaidWork { .. } => ("W", false),
        RequirementKind::Curfew { .. } => ("J", true),
        RequirementKind::AlcoholAbstinenceMonitoring { .. } => ("AAM", true),
        RequirementKind::Exclusion => ("L", true),
        RequirementKind::ProhibitedActivity => ("K", true),
        RequirementKind::ForeignTravelProhibition => ("FTP", true),
        RequirementKind::Residence => ("H", false),
        RequirementKind::RehabilitationActivity { .. } => ("F", false),
        RequirementKind::AccreditedProgramme { .. } => ("A", false),
        RequirementKind::StructuredIntervention => ("SI", false),
        RequirementKind::MentalHealthTreatment => ("E", false),
        RequirementKind::DrugRehabilitation => ("D", false),
        RequirementKind::AlcoholTreatment => ("C", false),
        RequirementKind::AttendanceCentre { .. } => ("AC", false),
    };
    tier::Requirement {
        category: category.to_owned(),
        restrictive,
    }
}

/// The ten OASys needs are the same in the risk record and the tier calculator
/// (tier-rules.md §4.3).
fn need_of(need: RiskNeed) -> tier::Need {
    match need {
        RiskNeed::Accommodation => tier::Need::Accommodation,
        RiskNeed::EducationTrainingEmployability => tier::Need::EducationTrainingEmployability,
        RiskNeed::Relationships => tier::Need::Relationships,
        RiskNeed::LifestyleAndAssociates => tier::Need::LifestyleAndAssociates,
        RiskNeed::DrugMisuse => tier::Need::DrugMisuse,
        RiskNeed::AlcoholMisuse => tier::Need::AlcoholMisuse,
        RiskNeed::ThinkingAndBehaviour => tier::Need::ThinkingAndBehaviour,
        RiskNeed::Attitudes => tier::Need::Attitudes,
        RiskNeed::FinancialManagement => tier::Need::FinancialManagement,
        RiskNeed::EmotionalWellbeing => tier::Need::EmotionalWellbeing,
    }
}

/// Need severities (tier-rules.md §1 `assessment.needs`: `no_need` / `standard` / `severe`).
fn severity_of(severity: NeedSeverity) -> tier::Severity {
    match severity {
        NeedSeverity::NoNeed => tier::Severity::NoNeed,
        NeedSeverity::Standard => tier::Severity::Standard,
        NeedSeverity::Severe => tier::Severity::Severe,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sentence::AccreditedProgramme;
    use crate::tier::{has_mandate_for_change, Conviction};

    /// The mapping, and what it means for the mandate for change of a community conviction
    /// holding only that requirement (tier-rules.md §4.1).
    fn check(kind: RequirementKind, category: &str, restrictive: bool, mandate: bool) {
        let mapped = requirement(kind);
        assert_eq!(mapped.category, category, "{kind:?}");
        assert_eq!(mapped.restrictive, restrictive, "{kind:?}");
        let mut conviction = Conviction::new(tier::SentenceType::Community);
        conviction.requirements = vec![mapped];
        assert_eq!(has_mandate_for_change(&[conviction]), mandate, "{kind:?}");
    }

    #[test]
    fn tier_4_1_unpaid_work_is_w_and_no_mandate() {
        check(
            RequirementKind::UnpaidWork { hours: 100 },
            "W",
            false,
            false,
        );
    }

    #[test]
    fn tier_4_1_curfew_is_restrictive_with_or_without_electronic_monitoring() {
        for electronic_monitoring in [false, true] {
            check(
                RequirementKind::Curfew {
                    electronic_monitoring,
                },
                "J",
                true,
                false,
            );
        }
    }

    #[test]
    fn tier_4_1_alcohol_abstinence_monitoring_is_restrictive_electronic_monitoring() {
        check(
            RequirementKind::AlcoholAbstinenceMonitoring { days: 90 },
            "AAM",
            true,
            false,
        );
    }

    #[test]
    fn tier_4_1_exclusion_is_restrictive() {
        check(RequirementKind::Exclusion, "L", true, false);
    }

    #[test]
    fn tier_4_1_prohibited_activity_is_restrictive() {
        check(RequirementKind::ProhibitedActivity, "K", true, false);
    }

    #[test]
    fn tier_4_1_foreign_travel_prohibition_is_restrictive() {
        check(
            RequirementKind::ForeignTravelProhibition,
            "FTP",
            true,
            false,
        );
    }

    #[test]
    fn tier_4_1_residence_is_a_mandate() {
        check(RequirementKind::Residence, "H", false, true);
    }

    #[test]
    fn tier_4_1_rehabilitation_activity_is_a_mandate() {
        check(
            RequirementKind::RehabilitationActivity { days: 20 },
            "F",
            false,
            true,
        );
    }

    #[test]
    fn tier_4_1_accredited_programme_is_a_mandate() {
        check(
            RequirementKind::AccreditedProgramme {
                programme: AccreditedProgramme::BuildingBetterRelationships,
            },
            "A",
            false,
            true,
        );
    }

    #[test]
    fn tier_4_1_structured_intervention_is_a_mandate() {
        check(RequirementKind::StructuredIntervention, "SI", false, true);
    }

    #[test]
    fn tier_4_1_mental_health_treatment_is_a_mandate() {
        check(RequirementKind::MentalHealthTreatment, "E", false, true);
    }

    #[test]
    fn tier_4_1_drug_rehabilitation_is_a_mandate() {
        check(RequirementKind::DrugRehabilitation, "D", false, true);
    }

    #[test]
    fn tier_4_1_alcohol_treatment_is_a_mandate() {
        check(RequirementKind::AlcoholTreatment, "C", false, true);
    }

    #[test]
    fn tier_4_1_attendance_centre_is_a_mandate() {
        check(
            RequirementKind::AttendanceCentre { hours: 12 },
            "AC",
            false,
            true,
        );
    }

    /// tier-rules.md §4.1: no letter the engine emits is `W1`, and only unpaid work is `W`.
    #[test]
    fn tier_4_1_no_requirement_maps_to_order_extended() {
        let kinds = [
            RequirementKind::UnpaidWork { hours: 40 },
            RequirementKind::RehabilitationActivity { days: 1 },
            RequirementKind::StructuredIntervention,
            RequirementKind::Curfew {
                electronic_monitoring: true,
            },
            RequirementKind::AlcoholAbstinenceMonitoring { days: 1 },
            RequirementKind::MentalHealthTreatment,
            RequirementKind::DrugRehabilitation,
            RequirementKind::AlcoholTreatment,
            RequirementKind::AttendanceCentre { hours: 12 },
            RequirementKind::Residence,
            RequirementKind::ProhibitedActivity,
            RequirementKind::Exclusion,
            RequirementKind::ForeignTravelProhibition,
        ];
        for kind in kinds {
            let category = requirement(kind).category;
            assert_ne!(category, "W1", "{kind:?}");
            assert_eq!(
                category == "W",
                matches!(kind, RequirementKind::UnpaidWork { .. }),
                "{kind:?}"
            );
        }
    }
}
