//! When a tier is recalculated and when a recalculation counts as a change
//! (tier-rules.md §9; hmpps-tier `messaging/consumer/DomainEvent.kt`,
//! `DomainEventListener.kt`, `service/TierUpdater.kt`).
//!
//! The engine maps each incoming event to a [`TierTrigger`], applies its
//! [`RecalculationEffect`] and stores the [`TierChangeReason`] with the new result. It
//! publishes "calculation complete" after every calculation and "calculation changed" only
//! when [`tier_changed`] says so.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::TierResult;

/// Longest change reason kept, in bytes; a longer Delius description is cut at a character
/// boundary so a stored reason stays bounded.
pub const CHANGE_REASON_BYTES_MAX: usize = 256;

/// The events that trigger a tier recalculation (tier-rules.md §9 table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierTrigger {
    BreachRaised,
    BreachConcluded,
    RecallRaised,
    RecallConcluded,
    CaseCreated,
    RegistrationAdded,
    RegistrationUpdated,
    RegistrationDeleted,
    RegistrationDeregistered,
    RequirementCreated,
    RequirementDeleted,
    RequirementTerminated,
    RequirementUnterminated,
    SentenceCreated,
    SentenceAmended,
    SentenceTerminated,
    SentenceUnterminated,
    SentenceDeleted,
    SentenceMoved,
    /// Legacy `CONVICTION_CHANGED`.
    ConvictionChanged,
    /// OASys `risk-assessment.scores.determined` carrying one of
    /// [`OASYS_RECALCULATING_INNER_EVENTS`].
    RiskScoresDetermined,
    MergeCompleted,
    UnmergeCompleted,
    GdprDeleted,
}

/// OASys `risk-assessment.scores.determined` triggers a recalculation only for these inner
/// events (tier-rules.md §9).
pub const OASYS_RECALCULATING_INNER_EVENTS: [&str; 2] = [
    "assessment.summary.produced",
    "risk-assessment.scores.rsr.determined",
];

/// What the engine does with a trigger (tier-rules.md §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecalculationEffect {
    /// Recalculate the case's tier.
    Recalculate,
    /// Merge: recalculate the target CRN; delete the source CRN's calculations.
    RecalculateTargetDeleteSource,
    /// Unmerge: recalculate both CRNs.
    RecalculateBoth,
    /// GDPR deletion: delete the CRN's calculations.
    DeleteCalculations,
}

impl TierTrigger {
    pub const ALL: [TierTrigger; 24] = [
        TierTrigger::BreachRaised,
        TierTrigger::BreachConcluded,
        TierTrigger::RecallRaised,
        TierTrigger::RecallConcluded,
        TierTrigger::CaseCreated,
        TierTrigger::RegistrationAdded,
        TierTrigger::RegistrationUpdated,
        TierTrigger::RegistrationDeleted,
        TierTrigger::RegistrationDeregistered,
        TierTrigger::RequirementCreated,
        TierTrigger::RequirementDeleted,
        TierTrigger::RequirementTerminated,
        TierTrigger::RequirementUnterminated,
        TierTrigger::SentenceCreated,
        TierTrigger::SentenceAmended,
        TierTrigger::SentenceTerminated,
        TierTrigger::SentenceUnterminated,
        TierTrigger::SentenceDeleted,
        TierTrigger::SentenceMoved,
        TierTrigger::ConvictionChanged,
        TierTrigger::RiskScoresDetermined,
        TierTrigger::MergeCompleted,
        TierTrigger::UnmergeCompleted,
        TierTrigger::GdprDeleted,
    ];

    /// The event type name as published (tier-rules.md §9).
    pub fn event_type(self) -> &'static str {
        match self {
            TierTrigger::BreachRaised => "enforcement.breach.raised",
            TierTrigger::BreachConcluded => "enforcement.breach.concluded",
            TierTrigger::RecallRaised => "enforcement.recall.raised",
            TierTrigger::RecallConcluded => "enforcement.recall.concluded",
            TierTrigger::CaseCreated => "probation-case.engagement.created",
            TierTrigger::RegistrationAdded => "probation-case.registration.added",
            TierTrigger::RegistrationUpdated => "probation-case.registration.updated",
            TierTrigger::RegistrationDeleted => "probation-case.registration.deleted",
            TierTrigger::RegistrationDeregistered => "probation-case.registration.deregistered",
            TierTrigger::RequirementCreated => "probation-case.requirement.created",
            TierTrigger::RequirementDeleted => "probation-case.requirement.deleted",
            TierTrigger::RequirementTerminated => "probation-case.requirement.terminated",
            TierTrigger::RequirementUnterminated => "probation-case.requirement.unterminated",
            TierTrigger::SentenceCreated => "probation-case.sentence.created",
            TierTrigger::SentenceAmended => "probation-case.sentence.amended",
            TierTrigger::SentenceTerminated => "probation-case.sentence.terminated",
            TierTrigger::SentenceUnterminated => "probation-case.sentence.unterminated",
            TierTrigger::SentenceDeleted => "probation-case.sentence.deleted",
            TierTrigger::SentenceMoved => "probation-case.sentence.moved",
            TierTrigger::ConvictionChanged => "CONVICTION_CHANGED",
            TierTrigger::RiskScoresDetermined => "risk-assessment.scores.determined",
            TierTrigger::MergeCompleted => "probation-case.merge.completed",
            TierTrigger::UnmergeCompleted => "probation-case.unmerge.completed",
            TierTrigger::GdprDeleted => "probation-case.deleted.gdpr",
        }
    }

    /// The trigger for an incoming event, or `None` when the event does not recalculate.
    /// `inner_event_type` matters only for OASys `risk-assessment.scores.determined`, which
    /// triggers only for the inner events of [`OASYS_RECALCULATING_INNER_EVENTS`]
    /// (tier-rules.md §9).
    pub fn from_event(event_type: &str, inner_event_type: Option<&str>) -> Option<TierTrigger> {
        let trigger = TierTrigger::ALL
            .into_iter()
            .find(|t| t.event_type() == event_type)?;
        if trigger == TierTrigger::RiskScoresDetermined
            && !inner_event_type.is_some_and(|i| OASYS_RECALCULATING_INNER_EVENTS.contains(&i))
        {
            return None;
        }
        Some(trigger)
    }

    /// What the engine does (tier-rules.md §9).
    pub fn effect(self) -> RecalculationEffect {
        match self {
            TierTrigger::MergeCompleted => RecalculationEffect::RecalculateTargetDeleteSource,
            TierTrigger::UnmergeCompleted => RecalculationEffect::RecalculateBoth,
            TierTrigger::GdprDeleted => RecalculationEffect::DeleteCalculations,
            _ => RecalculationEffect::Recalculate,
        }
    }

    /// The change reason stored with the result (tier-rules.md §9). `detail` is the
    /// registration type description for registration events and the requirement type for
    /// requirement events; other triggers ignore it.
    ///
    /// The texts for sentence deletion ("removed"), OASys scores, merge and unmerge are
    /// caseledger's wording: tier-rules.md §9 does not spell them out. GDPR deletion stores
    /// no calculation, so it has no reason.
    pub fn change_reason(self, detail: &str) -> Option<TierChangeReason> {
        let text = match self {
            TierTrigger::BreachRaised => "A breach was raised".to_owned(),
            TierTrigger::BreachConcluded => "A breach was concluded".to_owned(),
            TierTrigger::RecallRaised => "A recall to custody process was started".to_owned(),
            TierTrigger::RecallConcluded => "A recall to custody process was concluded".to_owned(),
            TierTrigger::CaseCreated => "The case was created".to_owned(),
            TierTrigger::RegistrationAdded => registration(detail, "added"),
            TierTrigger::RegistrationUpdated => registration(detail, "updated"),
            TierTrigger::RegistrationDeleted | TierTrigger::RegistrationDeregistered => {
                registration(detail, "removed")
            }
            TierTrigger::RequirementCreated => requirement(detail, "added"),
            TierTrigger::RequirementDeleted => requirement(detail, "removed"),
            TierTrigger::RequirementTerminated => requirement(detail, "terminated"),
            TierTrigger::RequirementUnterminated => requirement(detail, "un-terminated"),
            TierTrigger::SentenceCreated => "A sentence was added".to_owned(),
            TierTrigger::SentenceAmended => "A sentence was amended".to_owned(),
            TierTrigger::SentenceTerminated => "A sentence was terminated".to_owned(),
            TierTrigger::SentenceUnterminated => "A sentence was un-terminated".to_owned(),
            TierTrigger::SentenceDeleted => "A sentence was removed".to_owned(),
            TierTrigger::SentenceMoved => "A sentence was moved".to_owned(),
            TierTrigger::ConvictionChanged => "The supervision status changed".to_owned(),
            TierTrigger::RiskScoresDetermined => "The risk assessment scores changed".to_owned(),
            TierTrigger::MergeCompleted => "The case was merged".to_owned(),
            TierTrigger::UnmergeCompleted => "The case was unmerged".to_owned(),
            TierTrigger::GdprDeleted => return None,
        };
        Some(TierChangeReason::new(text))
    }
}

fn registration(description: &str, verb: &str) -> String {
    format!("A registration of type '{description}' was {verb}")
}

fn requirement(requirement_type: &str, verb: &str) -> String {
    format!("A requirement of type '{requirement_type}' was {verb}")
}

/// The reason stored with a tier calculation (tier-rules.md §9), at most
/// [`CHANGE_REASON_BYTES_MAX`] bytes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TierChangeReason(String);

impl TierChangeReason {
    pub fn new(text: impl Into<String>) -> Self {
        let mut text = text.into();
        if text.len() > CHANGE_REASON_BYTES_MAX {
            let mut end = CHANGE_REASON_BYTES_MAX;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            text.truncate(end);
        }
        TierChangeReason(text)
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TierChangeReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a new calculation counts as a change (tier-rules.md §9): the V3 tier, the
/// provisional flag, the protect level, the change level or the unsupervised flag differ.
/// Points alone do not count. With no previous calculation every result is a change
/// (caseledger's reading: there is nothing to compare with, and the first tier is news).
pub fn tier_changed(previous: Option<&TierResult>, next: &TierResult) -> bool {
    let Some(previous) = previous else {
        return true;
    };
    previous.v3 != next.v3
        || previous.provisional != next.provisional
        || previous.protect != next.protect
        || previous.change != next.change
        || previous.unsupervised != next.unsupervised
}

#[cfg(test)]
mod tests {
    use super::*;

    /// tier-rules.md §9: every listed event maps back to its trigger and effect.
    #[test]
    fn tier_9_triggers_round_trip_through_event_types() {
        for t in TierTrigger::ALL {
            let inner = Some("assessment.summary.produced");
            assert_eq!(TierTrigger::from_event(t.event_type(), inner), Some(t));
        }
        assert_eq!(
            TierTrigger::from_event("probation-case.address.created", None),
            None
        );
        assert_eq!(
            TierTrigger::MergeCompleted.effect(),
            RecalculationEffect::RecalculateTargetDeleteSource
        );
        assert_eq!(
            TierTrigger::UnmergeCompleted.effect(),
            RecalculationEffect::RecalculateBoth
        );
        assert_eq!(
            TierTrigger::GdprDeleted.effect(),
            RecalculationEffect::DeleteCalculations
        );
        assert_eq!(
            TierTrigger::BreachRaised.effect(),
            RecalculationEffect::Recalculate
        );
    }

    /// tier-rules.md §9: OASys scores recalculate only for the two inner events.
    #[test]
    fn tier_9_oasys_scores_only_for_summary_or_rsr() {
        let e = "risk-assessment.scores.determined";
        assert!(TierTrigger::from_event(e, Some("assessment.summary.produced")).is_some());
        assert!(
            TierTrigger::from_event(e, Some("risk-assessment.scores.rsr.determined")).is_some()
        );
        assert!(
            TierTrigger::from_event(e, Some("risk-assessment.scores.ogrs.determined")).is_none()
        );
        assert!(TierTrigger::from_event(e, None).is_none());
    }

    /// tier-rules.md §9: the stored change reason texts.
    #[test]
    fn tier_9_change_reason_texts() {
        let r = |t: TierTrigger, d: &str| t.change_reason(d).unwrap().to_string();
        assert_eq!(r(TierTrigger::BreachRaised, ""), "A breach was raised");
        assert_eq!(
            r(TierTrigger::RecallRaised, ""),
            "A recall to custody process was started"
        );
        assert_eq!(r(TierTrigger::CaseCreated, ""), "The case was created");
        assert_eq!(
            r(TierTrigger::RegistrationAdded, "MAPPA"),
            "A registration of type 'MAPPA' was added"
        );
        assert_eq!(
            r(TierTrigger::RegistrationDeregistered, "MAPPA"),
            "A registration of type 'MAPPA' was removed"
        );
        assert_eq!(
            r(TierTrigger::RequirementUnterminated, "Unpaid Work"),
            "A requirement of type 'Unpaid Work' was un-terminated"
        );
        assert_eq!(r(TierTrigger::SentenceCreated, ""), "A sentence was added");
        assert_eq!(
            r(TierTrigger::ConvictionChanged, ""),
            "The supervision status changed"
        );
        assert!(TierTrigger::GdprDeleted.change_reason("").is_none());
        let long = "é".repeat(300);
        let reason = TierTrigger::RegistrationAdded.change_reason(&long).unwrap();
        assert!(reason.as_str().len() <= CHANGE_REASON_BYTES_MAX);
    }
}
