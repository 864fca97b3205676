//! Sentence value types: sentence types, key dates, requirements, release types and why a
//! sentence ends.
//!
//! Sources: community order and suspended sentence order (seed 002 l.49; 003 l.1677);
//! determinate and indeterminate custody, licence and post-sentence supervision (seed 002
//! l.53–57; BR-F11); requirements (seed 003 l.325, l.1393–1481, l.1506–1681, l.3443, l.3493,
//! l.3501); release types automatic / HDC / parole (seed 003 l.1015, 002 l.57); key dates as the
//! handover rules name them (handover-rules.md §3.1).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::error::ValueError;

/// Most requirements one sentence may carry. A community order has at most a handful (one of 12
/// kinds each, seed 003 l.1677); 16 leaves room for repeats without unbounded payloads.
pub const REQUIREMENTS_PER_SENTENCE_MAX: u32 = 16;
/// Unpaid work hours a court may order: 40 to 300 (Criminal Justice Act 2003 s.199(2); outside
/// the seeds, which name UPW without its bounds, seed 003 l.1393).
pub const UNPAID_WORK_HOURS_MIN: u16 = 40;
pub const UNPAID_WORK_HOURS_MAX: u16 = 300;
/// Alcohol abstinence and monitoring: up to 120 days (seed 003 l.325).
pub const ALCOHOL_MONITORING_DAYS_MAX: u16 = 120;
/// Rehabilitation activity requirement days: the seeds give no maximum; one year of days bounds
/// the value (a limit, not a statutory rule).
pub const REHABILITATION_ACTIVITY_DAYS_MAX: u16 = 365;
/// Attendance centre hours: 12 to 36 (Criminal Justice Act 2003 s.214; outside the seeds,
/// which name the Senior Attendance Centre requirement, seed 003 l.1677, l.3501).
pub const ATTENDANCE_CENTRE_HOURS_MIN: u16 = 12;
pub const ATTENDANCE_CENTRE_HOURS_MAX: u16 = 36;

/// Sequence number of a sentence on its case (1, 2, …), assigned by `decide` in the order the
/// sentences are imposed. The TR ratchet names the order it holds until (BR-A10).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SentenceId(pub u16);

/// Sequence number of a requirement within its sentence (1, 2, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RequirementId(pub u16);

/// Sentence types the probation service supervises (seed 002 l.49–57).
///
/// `Licence` and `PostSentenceSupervision` are for supervision that starts in the community
/// without the custodial part on this ledger (e.g. a case received already released); a
/// custodial sentence recorded here reaches licence and PSS through `Released` and
/// `PostSentenceSupervisionStarted`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentenceType {
    CommunityOrder,
    SuspendedSentenceOrder,
    DeterminateCustody,
    IndeterminateCustody,
    Licence,
    PostSentenceSupervision,
}

impl SentenceType {
    /// A court order served in the community (CO or SSO): breach goes back to court (BR-I1,
    /// seed 002 l.61).
    pub fn is_community(self) -> bool {
        matches!(
            self,
            SentenceType::CommunityOrder | SentenceType::SuspendedSentenceOrder
        )
    }
    /// A custodial sentence: served in prison, then released on licence (seed 002 l.53–57).
    pub fn is_custodial(self) -> bool {
        matches!(
            self,
            SentenceType::DeterminateCustody | SentenceType::IndeterminateCustody
        )
    }
    pub fn as_str(self) -> &'static str {
        match self {
            SentenceType::CommunityOrder => "community order",
            SentenceType::SuspendedSentenceOrder => "suspended sentence order",
            SentenceType::DeterminateCustody => "determinate custodial sentence",
            SentenceType::IndeterminateCustody => "indeterminate custodial sentence",
            SentenceType::Licence => "licence",
            SentenceType::PostSentenceSupervision => "post-sentence supervision",
        }
    }
}

/// Key dates of a sentence. Abbreviations are the service's own (handover-rules.md §3.1).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceDates {
    /// CRD: conditional release date.
    pub conditional_release_date: Option<Date>,
    /// ARD: automatic release date.
    pub automatic_release_date: Option<Date>,
    /// PED: parole eligibility date.
    pub parole_eligibility_date: Option<Date>,
    /// HDCED: home detention curfew eligibility date.
    pub home_detention_curfew_eligibility_date: Option<Date>,
    /// HDCAD: home detention curfew approved date.
    pub home_detention_curfew_approved_date: Option<Date>,
    /// TED: tariff expiry date (indeterminate sentences).
    pub tariff_expiry_date: Option<Date>,
    /// THD: target hearing date of the latest parole review.
    pub target_hearing_date: Option<Date>,
    /// SED: sentence expiry date.
    pub sentence_expiry_date: Option<Date>,
    /// LED: licence expiry date.
    pub licence_expiry_date: Option<Date>,
    /// TUSED: top-up supervision expiry date, the end of post-sentence supervision for
    /// sentences under 2 years (seed 002 l.53; BR-F11).
    pub top_up_supervision_expiry_date: Option<Date>,
}

impl SentenceDates {
    /// Dates that must not fall before the sentence date. Release, expiry and hearing dates
    /// all lie after the sentence is imposed.
    pub fn all(&self) -> [(&'static str, Option<Date>); 10] {
        [
            ("CRD", self.conditional_release_date),
            ("ARD", self.automatic_release_date),
            ("PED", self.parole_eligibility_date),
            ("HDCED", self.home_detention_curfew_eligibility_date),
            ("HDCAD", self.home_detention_curfew_approved_date),
            ("TED", self.tariff_expiry_date),
            ("THD", self.target_hearing_date),
            ("SED", self.sentence_expiry_date),
            ("LED", self.licence_expiry_date),
            ("TUSED", self.top_up_supervision_expiry_date),
        ]
    }
}

/// Accredited programmes the seeds name (seed 003 l.1506, l.1578–1586; seed 000 l.7).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccreditedProgramme {
    ThinkingSkillsProgramme,
    BuildingBetterRelationships,
    SexualOffendingProgramme,
    Resolve,
    DrinkDrivers,
    HealthyIdentity,
}

/// A requirement of a community order or suspended sentence order (one of 12 kinds, seed 003
/// l.1677; CJA 2003 s.177 for the full list).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequirementKind {
    /// Unpaid work (Community Payback), in hours (seed 003 l.1393–1481).
    UnpaidWork {
        hours: u16,
    },
    /// Rehabilitation activity requirement, in days (seed 003 l.3493).
    RehabilitationActivity {
        days: u16,
    },
    /// Accredited programme (seed 003 l.3434).
    AccreditedProgramme {
        programme: AccreditedProgramme,
    },
    /// Structured intervention (seed 003 l.3510).
    StructuredIntervention,
    /// Curfew, with or without electronic monitoring (seed 003 l.3453).
    Curfew {
        electronic_monitoring: bool,
    },
    /// Alcohol abstinence and monitoring, in days, at most 120 (seed 003 l.325).
    AlcoholAbstinenceMonitoring {
        days: u16,
    },
    /// Treatment requirements (CSTR, with consent; seed 003 l.3443).
    MentalHealthTreatment,
    DrugRehabilitation,
    AlcoholTreatment,
    /// Attendance centre, in hours (seed 003 l.1677, l.3501).
    AttendanceCentre {
        hours: u16,
    },
    Residence,
    ProhibitedActivity,
    Exclusion,
    ForeignTravelProhibition,
}

impl RequirementKind {
    /// Check the numbers a requirement carries are within their bounds.
    pub fn validate(self) -> Result<RequirementKind, ValueError> {
        let range = |field, value: u16, min: u16, max: u16| {
            if (min..=max).contains(&value) {
                Ok(())
            } else {
                Err(ValueError::OutOfRange {
                    field,
                    value: u32::from(value),
                    min: u32::from(min),
                    max: u32::from(max),
                })
            }
        };
        match self {
            RequirementKind::UnpaidWork { hours } => range(
                "unpaid work hours",
                hours,
                UNPAID_WORK_HOURS_MIN,
                UNPAID_WORK_HOURS_MAX,
            )?,
            RequirementKind::RehabilitationActivity { days } => range(
                "rehabilitation activity requirement days",
                days,
                1,
                REHABILITATION_ACTIVITY_DAYS_MAX,
            )?,
            RequirementKind::AlcoholAbstinenceMonitoring { days } => range(
                "alcohol abstinence and monitoring days",
                days,
                1,
                ALCOHOL_MONITORING_DAYS_MAX,
            )?,
            RequirementKind::AttendanceCentre { hours } => range(
                "attendance centre hours",
                hours,
                ATTENDANCE_CENTRE_HOURS_MIN,
                ATTENDANCE_CENTRE_HOURS_MAX,
            )?,
            _ => {}
        }
        Ok(self)
    }

    pub fn name(self) -> &'static str {
        match self {
            RequirementKind::UnpaidWork { .. } => "unpaid work",
            RequirementKind::RehabilitationActivity { .. } => "rehabilitation activity requirement",
            RequirementKind::AccreditedProgramme { .. } => "accredited programme",
            RequirementKind::StructuredIntervention => "structured intervention",
            RequirementKind::Curfew { .. } => "curfew",
            RequirementKind::AlcoholAbstinenceMonitoring { .. } => {
                "alcohol abstinence and monitoring"
            }
            RequirementKind::MentalHealthTreatment => "mental health treatment",
            RequirementKind::DrugRehabilitation => "drug rehabilitation",
            RequirementKind::AlcoholTreatment => "alcohol treatment",
            RequirementKind::AttendanceCentre { .. } => "attendance centre",
            RequirementKind::Residence => "residence",
            RequirementKind::ProhibitedActivity => "prohibited activity",
            RequirementKind::Exclusion => "exclusion",
            RequirementKind::ForeignTravelProhibition => "foreign travel prohibition",
        }
    }
}

/// A requirement as imposed, with its id within the sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Requirement {
    pub id: RequirementId,
    pub kind: RequirementKind,
}

/// How a prisoner is released (seed 002 l.53–57; HDC seed 003 l.1015).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseType {
    /// Automatic (conditional) release at CRD / ARD of a determinate sentence.
    Automatic,
    /// Early release on home detention curfew, decided by the Governor (BR-F8).
    HomeDetentionCurfew,
    /// Discretionary release by the Parole Board (seed 002 l.57).
    Parole,
}

/// Why a sentence ended (seed-digest §4 `SentenceTerminated`; T29).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TerminationReason {
    /// Ran its full length.
    Expired,
    /// Ended early for good progress.
    CompletedEarly,
    /// Revoked by the court (e.g. after a proven breach).
    Revoked,
    /// Revoked and replaced by a new sentence.
    Resentenced,
    /// The person died.
    Deceased,
}

/// The Offender Rehabilitation Act 2014 took effect on 1 February 2015: post-sentence
/// supervision applies to offences from that date (PSS-1).
pub const ORA_2014_START: Date = jiff::civil::date(2015, 2, 1);
/// PSS makes supervision in the community last at least 12 months from release (seed 002
/// l.53): the TUSED is 12 months after release.
pub const TOP_UP_SUPERVISION_MONTHS: i32 = 12;
/// Sentences of less than 2 years are followed by PSS (seed 002 l.53).
pub const POST_SENTENCE_SUPERVISION_LENGTH_MONTHS_BELOW: u16 = 24;

/// May post-sentence supervision follow a sentence of this type, date and length? (PSS-1,
/// seed 002 l.53: a determinate sentence of more than 1 day and less than 2 years, for an
/// offence from 1 February 2015, Offender Rehabilitation Act 2014.) The log records no offence
/// date, so the sentence date stands for it (docs/rules.md PSS-1). `Err` says which part of
/// the rule fails, in words a practitioner can act on.
pub fn post_sentence_supervision_applies(
    sentence_type: SentenceType,
    sentenced_on: Date,
    length_months: Option<u16>,
) -> Result<(), &'static str> {
    if sentence_type != SentenceType::DeterminateCustody {
        return Err("post-sentence supervision follows determinate custodial sentences only");
    }
    if sentenced_on < ORA_2014_START {
        return Err("sentences for offences before 1 February 2015 have no post-sentence supervision (Offender Rehabilitation Act 2014)");
    }
    match length_months {
        None => Err("the sentence has no recorded length; post-sentence supervision applies to sentences of more than 1 day and under 2 years (Offender Rehabilitation Act 2014)"),
        Some(0) => Err("post-sentence supervision applies to sentences of more than 1 day (Offender Rehabilitation Act 2014)"),
        Some(m) if m >= POST_SENTENCE_SUPERVISION_LENGTH_MONTHS_BELOW => Err("post-sentence supervision applies to sentences under 2 years only (Offender Rehabilitation Act 2014)"),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {

    /// PSS-1 (seed 002 l.53; Offender Rehabilitation Act 2014): more than 1 day, under 2
    /// years, determinate, from 1 February 2015.
    #[test]
    fn pss_1_post_sentence_supervision_applies_to_short_determinate_sentences_from_february_2015() {
        use jiff::civil::date;
        let ok = |t, on, m| post_sentence_supervision_applies(t, on, m).is_ok();
        let d = SentenceType::DeterminateCustody;
        assert!(ok(d, date(2015, 2, 1), Some(1)));
        assert!(ok(d, date(2022, 3, 1), Some(23)));
        assert!(!ok(d, date(2022, 3, 1), Some(24)));
        assert!(!ok(d, date(2022, 3, 1), Some(0)));
        assert!(!ok(d, date(2022, 3, 1), None));
        assert!(!ok(d, date(2015, 1, 31), Some(12)));
        assert!(!ok(
            SentenceType::IndeterminateCustody,
            date(2022, 3, 1),
            Some(12)
        ));
        assert!(!ok(
            SentenceType::CommunityOrder,
            date(2022, 3, 1),
            Some(12)
        ));
    }

    use super::*;

    #[test]
    fn requirement_numbers_outside_their_bounds_are_refused() {
        assert!(RequirementKind::UnpaidWork { hours: 40 }.validate().is_ok());
        assert!(RequirementKind::UnpaidWork { hours: 300 }
            .validate()
            .is_ok());
        assert!(RequirementKind::UnpaidWork { hours: 39 }
            .validate()
            .is_err());
        assert!(RequirementKind::UnpaidWork { hours: 301 }
            .validate()
            .is_err());
        assert!(RequirementKind::AlcoholAbstinenceMonitoring { days: 120 }
            .validate()
            .is_ok());
        assert!(RequirementKind::AlcoholAbstinenceMonitoring { days: 121 }
            .validate()
            .is_err());
        assert!(RequirementKind::RehabilitationActivity { days: 0 }
            .validate()
            .is_err());
        assert!(RequirementKind::AttendanceCentre { hours: 11 }
            .validate()
            .is_err());
        assert!(RequirementKind::Residence.validate().is_ok());
    }

    #[test]
    fn community_and_custodial_sentence_types_are_disjoint() {
        use SentenceType::*;
        for t in [
            CommunityOrder,
            SuspendedSentenceOrder,
            DeterminateCustody,
            IndeterminateCustody,
            Licence,
            PostSentenceSupervision,
        ] {
            assert!(!(t.is_community() && t.is_custodial()), "{t:?}");
        }
        assert!(CommunityOrder.is_community() && DeterminateCustody.is_custodial());
    }
}
