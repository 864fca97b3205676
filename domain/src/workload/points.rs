//! Workload points with their breakdown (enforcement-and-workload.md §4.1) and the potential
//! capacity when allocating a case (§4.4).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::capacity::{capacity, CapacityPercent};
use super::case_type::CaseType;
use super::table::{PointsRow, WorkloadTable};
use super::WorkloadError;
use crate::tier::V2Tier;

/// Most cases on one caseload in one calculation; well above any real caseload.
pub const CASELOAD_CASES_MAX: usize = 2_000;
/// Most weighted contacts (in each direction) in one calculation.
pub const WEIGHTED_CONTACTS_MAX: usize = 100_000;
/// Most court reports of each kind in one calculation.
pub const COURT_REPORTS_MAX: u32 = 10_000;
/// Longest CRN or contact-type code accepted, in bytes.
pub const CODE_LENGTH_MAX_BYTES: usize = 32;

/// A case on a practitioner's caseload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseOnCaseload {
    pub crn: String,
    pub case_type: CaseType,
    pub tier: V2Tier,
    /// Young adult (Transition to Adulthood): scored from the T2A row (§4.2).
    pub young_adult_t2a: bool,
}

/// Everything §4.1 sums for one practitioner.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseloadInput {
    pub cases: Vec<CaseOnCaseload>,
    pub standard_court_reports: u32,
    pub fast_court_reports: u32,
    /// Contact-type codes of contacts this practitioner did on other practitioners' cases.
    pub contacts_on_others_cases: Vec<String>,
    /// Contact-type codes of contacts other practitioners did on this practitioner's cases.
    pub contacts_by_others_on_own_cases: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasePoints {
    pub crn: String,
    pub case_type: CaseType,
    pub tier: V2Tier,
    pub row: PointsRow,
    pub points: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPoints {
    pub contact_type: String,
    pub count: u32,
    pub weighting: u32,
    pub points: u64,
}

/// The §4.1 sum, itemised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadBreakdown {
    pub table_id: String,
    /// One line per case, in input order.
    pub cases: Vec<CasePoints>,
    pub case_points_total: u64,
    pub court_report_points_total: u64,
    /// Grouped by contact type (sorted).
    pub contacts_on_others_cases: Vec<ContactPoints>,
    pub contacts_on_others_cases_total: u64,
    pub contacts_by_others_on_own_cases: Vec<ContactPoints>,
    pub contacts_by_others_on_own_cases_total: u64,
    /// case points + court reports + contacts on others' cases − contacts by others.
    pub total: i64,
}

impl WorkloadBreakdown {
    fn case_points_of(&self, crn: &str) -> Option<u32> {
        self.cases.iter().find(|c| c.crn == crn).map(|c| c.points)
    }
}

fn check_code(kind: &'static str, code: &str) -> Result<(), WorkloadError> {
    if code.is_empty() || code.len() > CODE_LENGTH_MAX_BYTES {
        return Err(WorkloadError::BadCode {
            kind,
            value: code.chars().take(CODE_LENGTH_MAX_BYTES).collect(),
        });
    }
    Ok(())
}

fn contact_points(
    table: &WorkloadTable,
    codes: &[String],
) -> Result<(Vec<ContactPoints>, u64), WorkloadError> {
    if codes.len() > WEIGHTED_CONTACTS_MAX {
        return Err(WorkloadError::TooMany {
            what: "weighted contacts",
            count: u64::try_from(codes.len()).unwrap_or(u64::MAX),
            max: WEIGHTED_CONTACTS_MAX as u64,
        });
    }
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for code in codes {
        check_code("contact type", code)?;
        *counts.entry(code.as_str()).or_insert(0) += 1;
    }
    let lines: Vec<ContactPoints> = counts
        .into_iter()
        .map(|(code, count)| {
            let weighting = table.contact_weighting(code);
            ContactPoints {
                contact_type: code.to_owned(),
                count,
                weighting,
                points: u64::from(count) * u64::from(weighting),
            }
        })
        .collect();
    let total = lines.iter().map(|l| l.points).sum();
    Ok((lines, total))
}

/// §4.1: `workload points = Σ case points + Σ court reports + Σ weighted contacts on other
/// officers' cases − Σ weighted contacts others did on the officer's own cases`.
///
/// A CRN may appear once on a caseload; a repeat is a typed error (it would count twice).
pub fn workload_points(
    table: &WorkloadTable,
    input: &CaseloadInput,
) -> Result<WorkloadBreakdown, WorkloadError> {
    if input.cases.len() > CASELOAD_CASES_MAX {
        return Err(WorkloadError::TooMany {
            what: "cases on one caseload",
            count: u64::try_from(input.cases.len()).unwrap_or(u64::MAX),
            max: CASELOAD_CASES_MAX as u64,
        });
    }
    for reports in [input.standard_court_reports, input.fast_court_reports] {
        if reports > COURT_REPORTS_MAX {
            return Err(WorkloadError::TooMany {
                what: "court reports",
                count: u64::from(reports),
                max: u64::from(COURT_REPORTS_MAX),
            });
        }
    }
    let mut seen = BTreeSet::new();
    let mut cases = Vec::with_capacity(input.cases.len());
    for case in &input.cases {
        check_code("CRN", &case.crn)?;
        if !seen.insert(case.crn.as_str()) {
            return Err(WorkloadError::DuplicateCase(case.crn.clone()));
        }
        let (row, points) = table.case_points(case.case_type, case.tier, case.young_adult_t2a);
        cases.push(CasePoints {
            crn: case.crn.clone(),
            case_type: case.case_type,
            tier: case.tier,
            row,
            points,
        });
    }
    let case_points_total: u64 = cases.iter().map(|c| u64::from(c.points)).sum();
    let court_report_points_total = u64::from(input.standard_court_reports)
        * u64::from(table.court_report_standard_points)
        + u64::from(input.fast_court_reports) * u64::from(table.court_report_fast_points);
    let (on_others, on_others_total) = contact_points(table, &input.contacts_on_others_cases)?;
    let (by_others, by_others_total) =
        contact_points(table, &input.contacts_by_others_on_own_cases)?;
    // Every term is bounded by the limits above times a u32 weighting, so i128 is exact and
    // the result fits i64.
    let total = i128::from(case_points_total)
        + i128::from(court_report_points_total)
        + i128::from(on_others_total)
        - i128::from(by_others_total);
    let total = i64::try_from(total).map_err(|_| WorkloadError::PointsOverflow)?;
    Ok(WorkloadBreakdown {
        table_id: table.id.clone(),
        cases,
        case_points_total,
        court_report_points_total,
        contacts_on_others_cases: on_others,
        contacts_on_others_cases_total: on_others_total,
        contacts_by_others_on_own_cases: by_others,
        contacts_by_others_on_own_cases_total: by_others_total,
        total,
    })
}

/// Potential capacity if `case` were allocated to this caseload (§4.4), itemised.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PotentialCapacity {
    pub current_total: i64,
    /// The case's points already on this caseload (removed before adding the new points).
    pub current_case_points: Option<u32>,
    pub new_row: PointsRow,
    pub new_case_points: u32,
    pub potential_total: i64,
    pub available_points: u64,
    pub capacity: CapacityPercent,
}

/// §4.4: `total − (the case's current points, if it is already on this caseload) + the case's
/// points at its new tier/type`, then the capacity formula.
pub fn potential_capacity(
    table: &WorkloadTable,
    current: &WorkloadBreakdown,
    available_points: u64,
    case: &CaseOnCaseload,
) -> Result<PotentialCapacity, WorkloadError> {
    check_code("CRN", &case.crn)?;
    let current_case_points = current.case_points_of(&case.crn);
    let (new_row, new_case_points) =
        table.case_points(case.case_type, case.tier, case.young_adult_t2a);
    let potential_total = current
        .total
        .checked_sub(i64::from(current_case_points.unwrap_or(0)))
        .and_then(|t| t.checked_add(i64::from(new_case_points)))
        .ok_or(WorkloadError::PointsOverflow)?;
    Ok(PotentialCapacity {
        current_total: current.total,
        current_case_points,
        new_row,
        new_case_points,
        potential_total,
        available_points,
        capacity: capacity(potential_total, available_points),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn case(crn: &str, case_type: CaseType, tier: &str, t2a: bool) -> CaseOnCaseload {
        CaseOnCaseload {
            crn: crn.into(),
            case_type,
            tier: V2Tier::new(tier).unwrap(),
            young_adult_t2a: t2a,
        }
    }

    fn weighted_table() -> WorkloadTable {
        let mut t = WorkloadTable::hmpps_workload_seed_v1();
        t.contact_type_weightings.insert("COAI".into(), 10);
        t.contact_type_weightings.insert("CHVS".into(), 4);
        t
    }

    /// §4.1: the sum, itemised, with contacts in both directions and an unweighted type.
    #[test]
    fn workload_4_1_points_sum_with_breakdown() {
        let t = weighted_table();
        let input = CaseloadInput {
            cases: vec![
                case("X000001", CaseType::Community, "A3", false), // 206
                case("X000002", CaseType::Licence, "B2", false),   // 132
                case("X000003", CaseType::Custody, "C1", true),    // T2A 23
                case("X000004", CaseType::Community, "B2S", false), // 0
            ],
            standard_court_reports: 2, // 276
            fast_court_reports: 1,     // 65
            contacts_on_others_cases: vec!["COAI".into(), "COAI".into(), "NOPE".into()], // 20
            contacts_by_others_on_own_cases: vec!["CHVS".into()], // 4
        };
        let b = workload_points(&t, &input).unwrap();
        let points: Vec<u32> = b.cases.iter().map(|c| c.points).collect();
        assert_eq!(points, [206, 132, 23, 0]);
        assert_eq!(b.cases[2].row, PointsRow::T2a);
        assert_eq!(b.cases[3].row, PointsRow::Unsupervised);
        assert_eq!(b.case_points_total, 361);
        assert_eq!(b.court_report_points_total, 341);
        assert_eq!(b.contacts_on_others_cases_total, 20);
        assert_eq!(b.contacts_on_others_cases[1].contact_type, "NOPE");
        assert_eq!(
            b.contacts_on_others_cases[1].points, 0,
            "no weighting counts 0"
        );
        assert_eq!(b.contacts_by_others_on_own_cases_total, 4);
        assert_eq!(b.total, 361 + 341 + 20 - 4);
        assert_eq!(b.table_id, "hmpps-workload-seed-v1");
    }

    /// §4.4 potential capacity: a case already on the caseload is replaced, not added twice.
    #[test]
    fn workload_4_4_potential_capacity_when_allocating() {
        let t = WorkloadTable::hmpps_workload_seed_v1();
        let input = CaseloadInput {
            cases: vec![case("X000001", CaseType::Community, "A3", false)],
            ..CaseloadInput::default()
        };
        let b = workload_points(&t, &input).unwrap();
        // New case: 206 + 219 = 425; 425 / 2176 = 0.19531 → 0.195 → 19.5 %.
        let new = potential_capacity(
            &t,
            &b,
            2176,
            &case("X000009", CaseType::Licence, "A3", false),
        )
        .unwrap();
        assert_eq!(
            (
                new.current_case_points,
                new.new_case_points,
                new.potential_total
            ),
            (None, 219, 425)
        );
        assert_eq!(new.capacity.to_string(), "19.5%");
        // Re-tiered existing case: 206 − 206 + 146 = 146.
        let re = potential_capacity(
            &t,
            &b,
            2176,
            &case("X000001", CaseType::Community, "A1", false),
        )
        .unwrap();
        assert_eq!(
            (re.current_case_points, re.potential_total),
            (Some(206), 146)
        );
        assert_eq!(re.capacity.tenths_of_percent, 67);
    }

    #[test]
    fn bad_caseload_input_is_a_typed_error() {
        let t = WorkloadTable::hmpps_workload_seed_v1();
        let dup = CaseloadInput {
            cases: vec![
                case("X000001", CaseType::Community, "A3", false),
                case("X000001", CaseType::Licence, "A3", false),
            ],
            ..CaseloadInput::default()
        };
        assert_eq!(
            workload_points(&t, &dup),
            Err(WorkloadError::DuplicateCase("X000001".into()))
        );
        let empty_crn = CaseloadInput {
            cases: vec![case("", CaseType::Community, "A3", false)],
            ..CaseloadInput::default()
        };
        assert!(matches!(
            workload_points(&t, &empty_crn),
            Err(WorkloadError::BadCode { .. })
        ));
        let too_many = CaseloadInput {
            standard_court_reports: COURT_REPORTS_MAX + 1,
            ..CaseloadInput::default()
        };
        assert!(matches!(
            workload_points(&t, &too_many),
            Err(WorkloadError::TooMany { .. })
        ));
        let empty = workload_points(&t, &CaseloadInput::default()).unwrap();
        assert_eq!(empty.total, 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn workload_points_never_panic_and_total_is_the_sum(
            cases in proptest::collection::vec((0u8..3, "[A-D][0-3]S?", any::<bool>()), 0..40),
            standard in 0u32..50, fast in 0u32..50,
            on_others in proptest::collection::vec("COAI|CHVS|XXXX", 0..30),
            by_others in proptest::collection::vec("COAI|CHVS|XXXX", 0..30),
        ) {
            let t = weighted_table();
            let types = [CaseType::Community, CaseType::Custody, CaseType::Licence];
            let input = CaseloadInput {
                cases: cases.iter().enumerate().map(|(i, (ct, tier, t2a))| case(&format!("X{i:06}"), types[usize::from(*ct)], tier, *t2a)).collect(),
                standard_court_reports: standard,
                fast_court_reports: fast,
                contacts_on_others_cases: on_others,
                contacts_by_others_on_own_cases: by_others,
            };
            let b = workload_points(&t, &input).unwrap();
            let sum: i64 = b.cases.iter().map(|c| i64::from(c.points)).sum::<i64>()
                + i64::from(standard) * 138 + i64::from(fast) * 65
                + b.contacts_on_others_cases.iter().map(|c| c.points as i64).sum::<i64>()
                - b.contacts_by_others_on_own_cases.iter().map(|c| c.points as i64).sum::<i64>();
            prop_assert_eq!(b.total, sum);
            if let Some(first) = input.cases.first() {
                let p = potential_capacity(&t, &b, 2176, first).unwrap();
                prop_assert_eq!(p.potential_total, b.total);
            }
        }
    }
}
