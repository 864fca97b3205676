//! Case type for workload (enforcement-and-workload.md §1, WAD `AllocationDemandRepository.kt`)
//! and the custodial status codes it reads (§2, PCD `CustodialStatusCode.kt`).

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use super::WorkloadError;

/// Most active disposals one person can have in a classification request; far above any real
/// case, it bounds the work per call.
pub const DISPOSALS_PER_PERSON_MAX: usize = 100;

/// Case type as the workload tables use it (§1). The MoJ code for `Licence` is `LICENSE`.
/// The MoJ `UNKNOWN` case type is deliberately not a variant: it is not stored for workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseType {
    Community,
    Custody,
    Licence,
}

impl CaseType {
    /// The code the MoJ services use (`COMMUNITY`, `CUSTODY`, `LICENSE`).
    pub fn moj_code(self) -> &'static str {
        match self {
            CaseType::Community => "COMMUNITY",
            CaseType::Custody => "CUSTODY",
            CaseType::Licence => "LICENSE",
        }
    }
    pub fn parse_moj_code(s: &str) -> Result<Self, WorkloadError> {
        match s {
            "COMMUNITY" => Ok(CaseType::Community),
            "CUSTODY" => Ok(CaseType::Custody),
            "LICENSE" => Ok(CaseType::Licence),
            other => Err(WorkloadError::CaseType(other.chars().take(16).collect())),
        }
    }
}

/// Custodial status codes (§2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum CustodialStatus {
    /// `A` sentenced in custody.
    SentencedInCustody,
    /// `B` released on licence.
    ReleasedOnLicence,
    /// `C` recalled.
    Recalled,
    /// `D` in custody.
    InCustody,
    /// `I` in custody (immigration removal centre).
    InCustodyImmigrationRemovalCentre,
    /// `P` post-sentence supervision.
    PostSentenceSupervision,
    /// `R` custody, release on temporary licence (ROTL).
    ReleaseOnTemporaryLicence,
    /// `T` terminated.
    Terminated,
    /// `AT` auto-terminated.
    AutoTerminated,
}

impl CustodialStatus {
    pub fn parse(code: &str) -> Result<Self, WorkloadError> {
        Ok(match code {
            "A" => CustodialStatus::SentencedInCustody,
            "B" => CustodialStatus::ReleasedOnLicence,
            "C" => CustodialStatus::Recalled,
            "D" => CustodialStatus::InCustody,
            "I" => CustodialStatus::InCustodyImmigrationRemovalCentre,
            "P" => CustodialStatus::PostSentenceSupervision,
            "R" => CustodialStatus::ReleaseOnTemporaryLicence,
            "T" => CustodialStatus::Terminated,
            "AT" => CustodialStatus::AutoTerminated,
            other => {
                return Err(WorkloadError::CustodialStatus(
                    other.chars().take(8).collect(),
                ))
            }
        })
    }

    pub fn code(self) -> &'static str {
        match self {
            CustodialStatus::SentencedInCustody => "A",
            CustodialStatus::ReleasedOnLicence => "B",
            CustodialStatus::Recalled => "C",
            CustodialStatus::InCustody => "D",
            CustodialStatus::InCustodyImmigrationRemovalCentre => "I",
            CustodialStatus::PostSentenceSupervision => "P",
            CustodialStatus::ReleaseOnTemporaryLicence => "R",
            CustodialStatus::Terminated => "T",
            CustodialStatus::AutoTerminated => "AT",
        }
    }

    /// The statuses that make a disposal a `CUSTODY` case: A, C, D, R, I, AT (§1 table).
    pub fn counts_as_custody_for_case_type(self) -> bool {
        use CustodialStatus::*;
        matches!(
            self,
            SentencedInCustody
                | Recalled
                | InCustody
                | ReleaseOnTemporaryLicence
                | InCustodyImmigrationRemovalCentre
                | AutoTerminated
        )
    }

    /// "In custody" = C, A, D (§2 rules table).
    pub fn is_in_custody(self) -> bool {
        use CustodialStatus::*;
        matches!(self, Recalled | SentencedInCustody | InCustody)
    }

    /// Release allowed from D, A, C (§2); the "committal, PSSR breach" exception is the
    /// caller's, since it depends on the disposal, not the status.
    pub fn release_allowed_from(self) -> bool {
        self.is_in_custody()
    }

    /// Recall allowed from B, R (§2); the caller also needs a most recent release with no
    /// recall yet.
    pub fn recall_allowed_from(self) -> bool {
        matches!(
            self,
            CustodialStatus::ReleasedOnLicence | CustodialStatus::ReleaseOnTemporaryLicence
        )
    }

    /// Statuses that no prison-movement event changes: D, I, P, T, AT (§2).
    pub fn is_unchanged_by_events(self) -> bool {
        use CustodialStatus::*;
        matches!(
            self,
            InCustody
                | InCustodyImmigrationRemovalCentre
                | PostSentenceSupervision
                | Terminated
                | AutoTerminated
        )
    }
}

/// Disposal sentence type as nDelius codes it (§1 table).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum DisposalSentenceType {
    /// `SC`: custodial.
    Sc,
    /// `NC`.
    Nc,
    /// `SP`: community.
    Sp,
    /// Any other code: the case type is `UNKNOWN`.
    Other(String),
}

impl DisposalSentenceType {
    pub fn from_code(code: &str) -> Self {
        match code {
            "SC" => DisposalSentenceType::Sc,
            "NC" => DisposalSentenceType::Nc,
            "SP" => DisposalSentenceType::Sp,
            other => DisposalSentenceType::Other(other.to_owned()),
        }
    }
}

/// One active disposal (sentence) of the person, with the dates §1 reads.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveDisposal {
    pub sentence_type: DisposalSentenceType,
    pub custodial_status: Option<CustodialStatus>,
    pub start_date: Date,
    pub notional_end_date: Option<Date>,
    pub entered_notional_end_date: Option<Date>,
    /// The SED (sentence expiry date) key date.
    pub sentence_expiry_date: Option<Date>,
}

impl ActiveDisposal {
    /// §1 step 2: the greatest of notional end date, entered notional end date and SED.
    /// `None` when none is recorded; such a disposal ranks below any with an end date.
    pub fn latest_end_date(&self) -> Option<Date> {
        [
            self.notional_end_date,
            self.entered_notional_end_date,
            self.sentence_expiry_date,
        ]
        .into_iter()
        .flatten()
        .max()
    }

    /// §1 step 3 for this disposal. `None` is the MoJ `UNKNOWN` case type.
    pub fn case_type(&self) -> Option<CaseType> {
        let custody = self
            .custodial_status
            .is_some_and(CustodialStatus::counts_as_custody_for_case_type);
        match (&self.sentence_type, custody) {
            (DisposalSentenceType::Sc | DisposalSentenceType::Nc, true) => Some(CaseType::Custody),
            (DisposalSentenceType::Sc, false) => Some(CaseType::Licence),
            (DisposalSentenceType::Sp, _) => Some(CaseType::Community),
            (DisposalSentenceType::Nc | DisposalSentenceType::Other(_), _) => None,
        }
    }
}

/// The case-type decision with what it was based on, so a manager can see why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseTypeDecision {
    /// Index (in the input order) of the disposal that decided the case type.
    pub chosen_disposal: u32,
    pub chosen_end_date: Option<Date>,
    pub chosen_start_date: Date,
    /// `None` is the MoJ `UNKNOWN` case type: not stored for workload (§1).
    pub case_type: Option<CaseType>,
}

/// §1: over the person's active disposals, pick the one with the latest end date (ties: the
/// latest start date; further ties: the first in the given order, so the answer is
/// deterministic) and classify it.
pub fn classify_case(active: &[ActiveDisposal]) -> Result<CaseTypeDecision, WorkloadError> {
    if active.is_empty() {
        return Err(WorkloadError::NoActiveDisposals);
    }
    if active.len() > DISPOSALS_PER_PERSON_MAX {
        return Err(WorkloadError::TooManyDisposals {
            count: u64::try_from(active.len()).unwrap_or(u64::MAX),
        });
    }
    let mut best = 0usize;
    for (i, d) in active.iter().enumerate().skip(1) {
        let current = &active[best];
        let key = (d.latest_end_date(), d.start_date);
        if key > (current.latest_end_date(), current.start_date) {
            best = i;
        }
    }
    let chosen = &active[best];
    Ok(CaseTypeDecision {
        // Bounded by DISPOSALS_PER_PERSON_MAX.
        chosen_disposal: u32::try_from(best).unwrap_or(u32::MAX),
        chosen_end_date: chosen.latest_end_date(),
        chosen_start_date: chosen.start_date,
        case_type: chosen.case_type(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;
    use proptest::prelude::*;

    fn disposal(
        kind: &str,
        status: Option<&str>,
        start: Date,
        end: Option<Date>,
    ) -> ActiveDisposal {
        ActiveDisposal {
            sentence_type: DisposalSentenceType::from_code(kind),
            custodial_status: status.map(|s| CustodialStatus::parse(s).unwrap()),
            start_date: start,
            notional_end_date: end,
            entered_notional_end_date: None,
            sentence_expiry_date: None,
        }
    }

    /// §1 step 3 table.
    #[test]
    fn workload_1_case_type_table() {
        let s = date(2023, 1, 1);
        let e = Some(date(2025, 1, 1));
        for code in ["A", "C", "D", "R", "I", "AT"] {
            assert_eq!(
                disposal("SC", Some(code), s, e).case_type(),
                Some(CaseType::Custody),
                "{code}"
            );
            assert_eq!(
                disposal("NC", Some(code), s, e).case_type(),
                Some(CaseType::Custody),
                "{code}"
            );
        }
        for code in ["B", "P", "T"] {
            assert_eq!(
                disposal("SC", Some(code), s, e).case_type(),
                Some(CaseType::Licence),
                "{code}"
            );
            assert_eq!(disposal("NC", Some(code), s, e).case_type(), None, "{code}");
        }
        assert_eq!(
            disposal("SC", None, s, e).case_type(),
            Some(CaseType::Licence)
        );
        assert_eq!(
            disposal("SP", None, s, e).case_type(),
            Some(CaseType::Community)
        );
        assert_eq!(
            disposal("SP", Some("A"), s, e).case_type(),
            Some(CaseType::Community)
        );
        assert_eq!(disposal("XX", None, s, e).case_type(), None);
        assert_eq!(CaseType::Licence.moj_code(), "LICENSE");
        assert_eq!(CaseType::parse_moj_code("LICENSE"), Ok(CaseType::Licence));
        assert!(CaseType::parse_moj_code("UNKNOWN").is_err());
    }

    /// §1 step 2: latest end date over the three dates; ties broken by latest start date.
    #[test]
    fn workload_1_latest_end_date_then_latest_start() {
        let community = ActiveDisposal {
            sentence_expiry_date: Some(date(2026, 6, 1)),
            ..disposal("SP", None, date(2023, 1, 1), Some(date(2025, 1, 1)))
        };
        let licence = disposal("SC", Some("B"), date(2022, 1, 1), Some(date(2026, 1, 1)));
        let decision = classify_case(&[licence.clone(), community.clone()]).unwrap();
        assert_eq!(
            decision.chosen_disposal, 1,
            "SED 2026-06-01 is the latest end date"
        );
        assert_eq!(decision.case_type, Some(CaseType::Community));
        assert_eq!(decision.chosen_end_date, Some(date(2026, 6, 1)));

        let tie_early = disposal("SP", None, date(2022, 1, 1), Some(date(2026, 1, 1)));
        let tie_late = disposal("SC", Some("A"), date(2023, 1, 1), Some(date(2026, 1, 1)));
        let decision = classify_case(&[tie_early.clone(), tie_late.clone()]).unwrap();
        assert_eq!(
            (decision.chosen_disposal, decision.case_type),
            (1, Some(CaseType::Custody))
        );
        let decision = classify_case(&[tie_late, tie_early]).unwrap();
        assert_eq!(
            (decision.chosen_disposal, decision.case_type),
            (0, Some(CaseType::Custody))
        );

        // No end date at all ranks below any end date.
        let open = disposal("SP", None, date(2024, 1, 1), None);
        let decision = classify_case(&[open, licence]).unwrap();
        assert_eq!(decision.case_type, Some(CaseType::Licence));
    }

    #[test]
    fn empty_or_oversized_input_is_a_typed_error() {
        assert_eq!(classify_case(&[]), Err(WorkloadError::NoActiveDisposals));
        let d = disposal("SP", None, date(2024, 1, 1), None);
        let many = vec![d; DISPOSALS_PER_PERSON_MAX + 1];
        assert!(matches!(
            classify_case(&many),
            Err(WorkloadError::TooManyDisposals { .. })
        ));
        assert!(matches!(
            CustodialStatus::parse("Z"),
            Err(WorkloadError::CustodialStatus(_))
        ));
    }

    /// §2 rules table.
    #[test]
    fn workload_2_custodial_status_rules() {
        let all = ["A", "B", "C", "D", "I", "P", "R", "T", "AT"];
        let pick = |f: fn(CustodialStatus) -> bool| -> Vec<&str> {
            all.iter()
                .copied()
                .filter(|c| f(CustodialStatus::parse(c).unwrap()))
                .collect()
        };
        assert_eq!(pick(CustodialStatus::release_allowed_from), ["A", "C", "D"]);
        assert_eq!(pick(CustodialStatus::recall_allowed_from), ["B", "R"]);
        assert_eq!(
            pick(CustodialStatus::is_unchanged_by_events),
            ["D", "I", "P", "T", "AT"]
        );
        assert_eq!(pick(CustodialStatus::is_in_custody), ["A", "C", "D"]);
        for c in all {
            assert_eq!(CustodialStatus::parse(c).unwrap().code(), c);
        }
    }

    proptest! {
        #[test]
        fn classify_never_panics_and_picks_a_maximal_disposal(
            raw in proptest::collection::vec(
                (0u8..4, proptest::option::of(0u8..10), 0i32..3000, proptest::option::of(0i32..5000)),
                1..12,
            )
        ) {
            let base = date(2014, 1, 1);
            let day = |n: i32| base.checked_add(jiff::Span::new().days(n)).unwrap();
            let kinds = ["SC", "NC", "SP", "ZZ"];
            let statuses = ["A", "B", "C", "D", "I", "P", "R", "T", "AT"];
            let list: Vec<ActiveDisposal> = raw
                .iter()
                .map(|(k, s, start, end)| disposal(
                    kinds[usize::from(*k)],
                    s.and_then(|i| statuses.get(usize::from(i)).copied()),
                    day(*start),
                    end.map(day),
                ))
                .collect();
            let decision = classify_case(&list).unwrap();
            let chosen = &list[decision.chosen_disposal as usize];
            for d in &list {
                prop_assert!((d.latest_end_date(), d.start_date) <= (chosen.latest_end_date(), chosen.start_date));
            }
            prop_assert_eq!(decision.case_type, chosen.case_type());
        }
    }
}
