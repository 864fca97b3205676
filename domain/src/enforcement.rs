//! Contact, enforcement and resettlement value types: appointment kinds and outcomes, warning
//! letters, breach and recall outcomes (with their nDelius codes), accommodation and employment
//! status.
//!
//! Sources: enforcement-and-workload.md §5.2 (appointment outcome classes), §5.3 (breach-end
//! codes), §5.4 (warning letters), §6 (recall outcomes); seed 002 l.61 (warning or court, BR-I1);
//! seed 003 l.2914 (recall, BR-I3); accommodation and employment checkpoints seed 003
//! l.1888–1890, l.965 (PM22–PM25).

use serde::{Deserialize, Serialize};

use crate::error::ValueError;

/// Kind of appointment (seed-digest §4: face to face, phone, video, home visit; initial
/// appointment contact types COAI / COVI / CODI / COHV, enforcement-and-workload.md §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentKind {
    FaceToFace,
    Telephone,
    Video,
    HomeVisit,
    UnpaidWorkSession,
    ProgrammeSession,
}

/// Outcome of an appointment that was attended (enforcement-and-workload.md §5.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttendedOutcome {
    /// Attended and complied.
    Complied,
    /// Attended but failed to comply (`AFTC`).
    FailedToComply,
}

/// Outcome of an appointment that was missed (enforcement-and-workload.md §5.2). Whether an
/// absence is acceptable is the practitioner's judgement with management oversight (BR-E8, seed
/// 003 l.681).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Absence {
    Acceptable,
    Unacceptable,
}

/// Warning letters, in sequence (enforcement-and-workload.md §5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// `AWLI` first warning letter.
    First,
    /// `AWL2` second warning letter.
    Second,
    /// `AWLF` final warning letter.
    Final,
    /// Licence warning (reviewed under management oversight, BR-I4, seed 003 l.753).
    Licence,
}

impl WarningKind {
    pub fn delius_code(self) -> &'static str {
        match self {
            WarningKind::First => "AWLI",
            WarningKind::Second => "AWL2",
            WarningKind::Final => "AWLF",
            WarningKind::Licence => "LWAR",
        }
    }
}

/// How a breach ended: the breach-end contact codes (enforcement-and-workload.md §5.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BreachOutcome {
    /// Proven, committed to custody.
    #[serde(rename = "ABCC")]
    ProvenCommittedToCustody,
    /// Proven, fine.
    #[serde(rename = "ABCF")]
    ProvenFine,
    /// Proven, no action.
    #[serde(rename = "ABNA")]
    ProvenNoAction,
    /// Proven, concluded.
    #[serde(rename = "ABPC")]
    ProvenConcluded,
    /// Proven, re-sentenced.
    #[serde(rename = "ABPP")]
    ProvenResentenced,
    /// Proven, SDO.
    #[serde(rename = "ABSD")]
    ProvenSdo,
    /// Start of post-sentence supervision.
    #[serde(rename = "CPSS")]
    StartOfPostSentenceSupervision,
    /// Recalled to prison.
    #[serde(rename = "ERCL")]
    RecalledToPrison,
    /// Not proven.
    #[serde(rename = "ABNP")]
    NotProven,
    /// Withdrawn.
    #[serde(rename = "ABWD")]
    Withdrawn,
}

impl BreachOutcome {
    pub const ALL: [BreachOutcome; 10] = [
        BreachOutcome::ProvenCommittedToCustody,
        BreachOutcome::ProvenFine,
        BreachOutcome::ProvenNoAction,
        BreachOutcome::ProvenConcluded,
        BreachOutcome::ProvenResentenced,
        BreachOutcome::ProvenSdo,
        BreachOutcome::StartOfPostSentenceSupervision,
        BreachOutcome::RecalledToPrison,
        BreachOutcome::NotProven,
        BreachOutcome::Withdrawn,
    ];

    /// The `proven` column of enforcement-and-workload.md §5.3.
    pub fn proven(self) -> bool {
        !matches!(self, BreachOutcome::NotProven | BreachOutcome::Withdrawn)
    }

    /// Does this outcome count as "previous enforcement activity" for the female-only tier
    /// factor (tier-rules.md §3.4)? The upstream list is of breach NSI outcomes (`BRE01`–`BRE08`,
    /// `BRE10`, `BRE13`, `BRE14`, `BRE16`); the engine records the breach-end contact instead
    /// (enforcement-and-workload.md §5.3), so a proven breach counts and one not proven or
    /// withdrawn does not — the same line the upstream list draws between outcomes that
    /// enforced the order and those that did not (docs/rules.md, tier-rules.md §3.4 row).
    pub fn counts_as_previous_enforcement(self) -> bool {
        self.proven()
    }

    pub fn code(self) -> &'static str {
        match self {
            BreachOutcome::ProvenCommittedToCustody => "ABCC",
            BreachOutcome::ProvenFine => "ABCF",
            BreachOutcome::ProvenNoAction => "ABNA",
            BreachOutcome::ProvenConcluded => "ABPC",
            BreachOutcome::ProvenResentenced => "ABPP",
            BreachOutcome::ProvenSdo => "ABSD",
            BreachOutcome::StartOfPostSentenceSupervision => "CPSS",
            BreachOutcome::RecalledToPrison => "ERCL",
            BreachOutcome::NotProven => "ABNP",
            BreachOutcome::Withdrawn => "ABWD",
        }
    }

    pub fn parse(code: &str) -> Result<BreachOutcome, ValueError> {
        BreachOutcome::ALL
            .into_iter()
            .find(|o| o.code() == code)
            .ok_or_else(|| ValueError::UnknownCode {
                what: "breach outcome",
                code: code.chars().take(16).collect(),
            })
    }
}

/// How a recall ended: the recall NSI outcome codes (enforcement-and-workload.md §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RecallOutcome {
    #[serde(rename = "REC01")]
    FixedTerm,
    #[serde(rename = "REC02")]
    StandardTerm,
    #[serde(rename = "REC03")]
    RejectedByNps,
    #[serde(rename = "REC04")]
    RejectedByPpcs,
    #[serde(rename = "REC05")]
    WithdrawnByOffenderManager,
}

impl RecallOutcome {
    pub const ALL: [RecallOutcome; 5] = [
        RecallOutcome::FixedTerm,
        RecallOutcome::StandardTerm,
        RecallOutcome::RejectedByNps,
        RecallOutcome::RejectedByPpcs,
        RecallOutcome::WithdrawnByOffenderManager,
    ];

    /// The `is a recall` column of enforcement-and-workload.md §6.
    pub fn is_recall(self) -> bool {
        matches!(self, RecallOutcome::FixedTerm | RecallOutcome::StandardTerm)
    }

    /// Does this outcome count as "previous enforcement activity" for the female-only tier
    /// factor? Only `REC01` and `REC02` (tier-rules.md §3.4); a recall rejected by the NPS
    /// (`REC03`) or PPCS (`REC04`) or withdrawn (`REC05`) does not.
    pub fn counts_as_previous_enforcement(self) -> bool {
        matches!(self, RecallOutcome::FixedTerm | RecallOutcome::StandardTerm)
    }

    pub fn code(self) -> &'static str {
        match self {
            RecallOutcome::FixedTerm => "REC01",
            RecallOutcome::StandardTerm => "REC02",
            RecallOutcome::RejectedByNps => "REC03",
            RecallOutcome::RejectedByPpcs => "REC04",
            RecallOutcome::WithdrawnByOffenderManager => "REC05",
        }
    }
}

/// Accommodation status at a checkpoint (seed 003 l.1888–1892; BASS and Approved Premises seed
/// 003 l.331, l.335).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccommodationStatus {
    Settled,
    Transient,
    NoFixedAbode,
    ApprovedPremises,
    BailAccommodationSupportService,
    Custody,
}

/// Employment status at a checkpoint (seed 003 l.965, l.1886).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmploymentStatus {
    Employed,
    SelfEmployed,
    InEducationOrTraining,
    Unemployed,
    NotAvailableForWork,
}

/// When an accommodation or employment status is recorded (seed-digest §4 `AccommodationStatus
/// Recorded`: release, +3 months, +6 months, end; PM22–PM25).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusCheckpoint {
    StartOfSupervision,
    Release,
    ThreeMonths,
    SixMonths,
    EndOfSupervision,
    Change,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breach_outcomes_follow_the_proven_column() {
        let proven: Vec<&str> = BreachOutcome::ALL
            .into_iter()
            .filter(|o| o.proven())
            .map(BreachOutcome::code)
            .collect();
        assert_eq!(
            proven,
            ["ABCC", "ABCF", "ABNA", "ABPC", "ABPP", "ABSD", "CPSS", "ERCL"]
        );
        for o in BreachOutcome::ALL {
            assert_eq!(BreachOutcome::parse(o.code()), Ok(o));
            assert_eq!(
                serde_json::to_string(&o).unwrap(),
                format!("\"{}\"", o.code())
            );
        }
        assert!(BreachOutcome::parse("ABXX").is_err());
    }

    #[test]
    fn only_fixed_term_and_standard_recalls_are_recalls() {
        let recalls: Vec<&str> = RecallOutcome::ALL
            .into_iter()
            .filter(|o| o.is_recall())
            .map(RecallOutcome::code)
            .collect();
        assert_eq!(recalls, ["REC01", "REC02"]);
    }

    /// tier-rules.md §3.4: only `REC01`/`REC02` recalls and proven breaches count as previous
    /// enforcement; `REC03` (rejected by the NPS), `REC04`, `REC05`, `ABNP`, `ABWD` do not.
    #[test]
    fn tier_3_4_which_outcomes_count_as_previous_enforcement() {
        let recalls: Vec<&str> = RecallOutcome::ALL
            .into_iter()
            .filter(|o| o.counts_as_previous_enforcement())
            .map(RecallOutcome::code)
            .collect();
        assert_eq!(recalls, ["REC01", "REC02"]);
        let breaches: Vec<&str> = BreachOutcome::ALL
            .into_iter()
            .filter(|o| !o.counts_as_previous_enforcement())
            .map(BreachOutcome::code)
            .collect();
        assert_eq!(breaches, ["ABNP", "ABWD"]);
    }
}
