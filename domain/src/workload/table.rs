//! Workload reference data as versioned, effective-dated tables (enforcement-and-workload.md
//! §4.2: "The engine should treat the table as versioned reference data, not constants").

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::{date, Date};
use serde::{Deserialize, Serialize};

use super::case_type::CaseType;
use super::WorkloadError;
use crate::tier::{ProtectLevel, V2Tier};

/// Practitioner grades in the workload tables (§3 grade codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Grade {
    /// Probation Officer (`PSM`).
    Po,
    /// Probation Services Officer (`PSQ`).
    Pso,
    /// Senior Probation Officer (`PSC`).
    Spo,
    /// Professional Qualification in Probation trainee (`PSP`).
    Pqip,
}

impl Grade {
    /// nDelius staff grade codes (§3: `PSQ` → PSO, `PSP` → PQiP, `PSM` → PO, `PSC` → SPO).
    pub fn from_delius_code(code: &str) -> Result<Self, WorkloadError> {
        match code {
            "PSM" => Ok(Grade::Po),
            "PSQ" => Ok(Grade::Pso),
            "PSC" => Ok(Grade::Spo),
            "PSP" => Ok(Grade::Pqip),
            other => Err(WorkloadError::GradeCode(other.chars().take(8).collect())),
        }
    }
}

/// One value per grade.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerGrade<T> {
    pub po: T,
    pub pso: T,
    pub spo: T,
    pub pqip: T,
}

impl<T: Copy> PerGrade<T> {
    pub fn get(&self, grade: Grade) -> T {
        match grade {
            Grade::Po => self.po,
            Grade::Pso => self.pso,
            Grade::Spo => self.spo,
            Grade::Pqip => self.pqip,
        }
    }
}

/// Hours as a fixed-point number with three decimal places (thousandths of an hour), so
/// 35.2 h is exact and the §4.3 arithmetic never depends on binary floating point.
///
/// Serialised as the decimal string (`"35.2"`) and validated on the way in, so a stored table
/// cannot smuggle in hours that [`Hours::parse`] would reject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Hours {
    thousandths: u32,
}

/// Most hours a week can hold (7 × 24); anything above is a data-entry error.
pub const WEEK_HOURS_MAX: u32 = 168;
const HOURS_DECIMALS_MAX: u32 = 3;
const THOUSANDTHS_PER_HOUR: u32 = 1000;

impl Hours {
    pub const ZERO: Hours = Hours { thousandths: 0 };

    pub fn from_whole(hours: u32) -> Result<Self, WorkloadError> {
        Self::from_thousandths(hours.saturating_mul(THOUSANDTHS_PER_HOUR))
    }

    pub fn from_thousandths(thousandths: u32) -> Result<Self, WorkloadError> {
        if thousandths > WEEK_HOURS_MAX * THOUSANDTHS_PER_HOUR {
            return Err(WorkloadError::Hours(format!("{} thousandths", thousandths)));
        }
        Ok(Hours { thousandths })
    }

    /// Parse a decimal such as `37`, `1.8` or `0.125` (at most 3 decimal places, at most
    /// 168 hours, not negative).
    pub fn parse(s: &str) -> Result<Self, WorkloadError> {
        let bad = || WorkloadError::Hours(s.chars().take(16).collect());
        let (whole, fraction) = match s.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s, ""),
        };
        let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || (s.contains('.') && !digits(fraction)) {
            return Err(bad());
        }
        if fraction.len() > HOURS_DECIMALS_MAX as usize || whole.len() > 3 {
            return Err(bad());
        }
        let whole: u32 = whole.parse().map_err(|_| bad())?;
        let mut frac: u32 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| bad())?
        };
        for _ in fraction.len()..HOURS_DECIMALS_MAX as usize {
            frac *= 10;
        }
        Self::from_thousandths(whole * THOUSANDTHS_PER_HOUR + frac).map_err(|_| bad())
    }

    pub fn thousandths(self) -> u32 {
        self.thousandths
    }
}

impl fmt::Display for Hours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.thousandths / THOUSANDTHS_PER_HOUR;
        let frac = self.thousandths % THOUSANDTHS_PER_HOUR;
        if frac == 0 {
            write!(f, "{whole}")
        } else {
            let s = format!("{frac:03}");
            write!(f, "{whole}.{}", s.trim_end_matches('0'))
        }
    }
}

impl TryFrom<String> for Hours {
    type Error = WorkloadError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Hours::parse(&s)
    }
}

impl From<Hours> for String {
    fn from(h: Hours) -> String {
        h.to_string()
    }
}

/// Which row of the points table a case was scored from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointsRow {
    Community,
    Custody,
    Licence,
    /// Young adult (Transition to Adulthood) row, for all three case types.
    T2a,
    /// Unsupervised tiers (`…S`) score 0 (§4.2, HW migrations V1_57–V1_69).
    Unsupervised,
}

/// One version of the workload reference data (§4.2 seed values).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadTable {
    pub id: String,
    /// First day this version applies.
    pub effective_from: Date,
    /// First day it no longer applies (exclusive); `None` while in force.
    pub effective_to: Option<Date>,
    /// Columns A3, A2, A1, A0, B3, …, D0 (tier_1 … tier_16).
    pub community_points: [u32; TIER_COLUMNS_COUNT],
    pub custody_points: [u32; TIER_COLUMNS_COUNT],
    pub licence_points: [u32; TIER_COLUMNS_COUNT],
    pub t2a_points: [u32; TIER_COLUMNS_COUNT],
    /// Standard court report ("sdr").
    pub court_report_standard_points: u32,
    /// Fast court report ("sdr_conversion").
    pub court_report_fast_points: u32,
    /// Weighted contact types; a type not listed counts 0 (§4.1).
    pub contact_type_weightings: BTreeMap<String, u32>,
    /// Nominal target (available points at full contracted hours) per grade (§4.3).
    pub nominal_target_points: PerGrade<u32>,
    /// Contracted weekly hours per grade (§4.3).
    pub contracted_hours: PerGrade<Hours>,
}

/// Identifier of the seeded table.
pub const SEED_TABLE_ID: &str = "hmpps-workload-seed-v1";

impl WorkloadTable {
    /// The seeded HMPPS workload reference data (HW `db/migration/V1_1__SEED_REF_DATA.sql`,
    /// restated in enforcement-and-workload.md §4.2), with these documented assumptions:
    ///
    /// - **effective_from 2014-01-01**: the seed carries no business effective date; applying it
    ///   from the first year the engine covers means every replay finds a table. A production
    ///   table is added as a new version with its own `effective_from`.
    /// - **PSO and PQiP nominal target 2176**: only PO and SPO (2176 each) are seeded; we use the
    ///   same figure until production reference data says otherwise.
    /// - **PQiP contracted hours 37**: only PO 37, PSO 37, SPO 0 are seeded; PQiP trainees are
    ///   full-time staff, so 37 like PO and PSO. SPO 0 means SPOs have no available points.
    /// - **No contact-type weightings**: our notes of the seed give none, so weighted contacts
    ///   count 0 in this version (§4.1 "a contact type with no weighting counts 0").
    pub fn hmpps_workload_seed_v1() -> Self {
        let hours = |h: u32| Hours {
            thousandths: h * THOUSANDTHS_PER_HOUR,
        };
        WorkloadTable {
            id: SEED_TABLE_ID.to_owned(),
            effective_from: date(2014, 1, 1),
            effective_to: None,
            community_points: [
                206, 158, 146, 110, 146, 115, 102, 72, 79, 63, 50, 35, 51, 41, 29, 29,
            ],
            custody_points: [75, 60, 59, 0, 59, 48, 47, 0, 30, 24, 23, 0, 17, 14, 13, 0],
            licence_points: [
                219, 175, 163, 0, 161, 132, 119, 0, 77, 65, 52, 0, 51, 43, 31, 0,
            ],
            t2a_points: [75, 60, 59, 0, 59, 48, 47, 0, 30, 24, 23, 0, 17, 14, 13, 0],
            court_report_standard_points: 138,
            court_report_fast_points: 65,
            contact_type_weightings: BTreeMap::new(),
            nominal_target_points: PerGrade {
                po: 2176,
                pso: 2176,
                spo: 2176,
                pqip: 2176,
            },
            contracted_hours: PerGrade {
                po: hours(37),
                pso: hours(37),
                spo: hours(0),
                pqip: hours(37),
            },
        }
    }

    /// Is this version in force on `on`? `effective_from <= on < effective_to`.
    pub fn is_in_force_on(&self, on: Date) -> bool {
        self.effective_from <= on
            && match self.effective_to {
                Some(to) => on < to,
                None => true,
            }
    }

    /// Case points by case type and tier (§4.2): unsupervised tiers score 0; young adults
    /// (T2A) use the T2A row whatever the case type.
    pub fn case_points(
        &self,
        case_type: CaseType,
        tier: V2Tier,
        young_adult_t2a: bool,
    ) -> (PointsRow, u32) {
        if tier.unsupervised {
            return (PointsRow::Unsupervised, 0);
        }
        let (row, values) = match (young_adult_t2a, case_type) {
            (true, _) => (PointsRow::T2a, &self.t2a_points),
            (false, CaseType::Community) => (PointsRow::Community, &self.community_points),
            (false, CaseType::Custody) => (PointsRow::Custody, &self.custody_points),
            (false, CaseType::Licence) => (PointsRow::Licence, &self.licence_points),
        };
        (row, values[tier_column(tier)])
    }

    /// Weighting of a contact type; 0 when the type has none (§4.1).
    pub fn contact_weighting(&self, contact_type: &str) -> u32 {
        self.contact_type_weightings
            .get(contact_type)
            .copied()
            .unwrap_or(0)
    }
}

/// Most table versions kept; each is a deliberate reference-data change.
pub const TABLE_VERSIONS_MAX: usize = 256;

/// All versions of the workload reference data; chosen by effective date.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkloadTables {
    versions: Vec<WorkloadTable>,
}

impl WorkloadTables {
    /// Versions must have distinct ids and `effective_from < effective_to`.
    pub fn new(versions: Vec<WorkloadTable>) -> Result<Self, WorkloadError> {
        if versions.is_empty() || versions.len() > TABLE_VERSIONS_MAX {
            return Err(WorkloadError::TableVersionsCount {
                count: u64::try_from(versions.len()).unwrap_or(u64::MAX),
            });
        }
        let mut ids = std::collections::BTreeSet::new();
        for v in &versions {
            if !ids.insert(v.id.as_str()) {
                return Err(WorkloadError::DuplicateTableId(v.id.clone()));
            }
            if v.effective_to.is_some_and(|to| to <= v.effective_from) {
                return Err(WorkloadError::EmptyEffectivePeriod(v.id.clone()));
            }
        }
        Ok(WorkloadTables { versions })
    }

    /// Just the seeded version.
    pub fn seed() -> Self {
        WorkloadTables {
            versions: vec![WorkloadTable::hmpps_workload_seed_v1()],
        }
    }

    /// The version in force on `on`; when several are, the one with the latest
    /// `effective_from` (§4.2 "the latest row … is used").
    pub fn in_force_on(&self, on: Date) -> Result<&WorkloadTable, WorkloadError> {
        self.versions
            .iter()
            .filter(|v| v.is_in_force_on(on))
            .max_by_key(|v| v.effective_from)
            .ok_or(WorkloadError::NoTableInForce { on })
    }
}

/// Number of seeded tier columns, tier_1 … tier_16 (enforcement-and-workload.md §4.2).
pub const TIER_COLUMNS_COUNT: usize = 16;

/// §4.2: the 0-based column of `tier` in the seeded points table — tier_1 … tier_16 are A3,
/// A2, A1, A0, B3, …, D0 (the unsupervised flag does not choose a column).
pub fn tier_column(tier: V2Tier) -> usize {
    let protect: u8 = match tier.protect {
        ProtectLevel::A => 0,
        ProtectLevel::B => 1,
        ProtectLevel::C => 2,
        ProtectLevel::D => 3,
    };
    let change_max = crate::tier::ChangeLevel::Three.digit();
    let column = usize::from(protect * 4 + (change_max - tier.change.digit()));
    debug_assert!(column < TIER_COLUMNS_COUNT);
    column
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §4.2: tier_1 … tier_16 map to A3 … D0.
    #[test]
    fn workload_4_2_tier_columns() {
        let order = [
            "A3", "A2", "A1", "A0", "B3", "B2", "B1", "B0", "C3", "C2", "C1", "C0", "D3", "D2",
            "D1", "D0",
        ];
        for (i, s) in order.iter().enumerate() {
            assert_eq!(tier_column(tier(s)), i, "{s}");
            assert_eq!(tier_column(tier(&format!("{s}S"))), i, "{s}S");
        }
    }

    fn tier(s: &str) -> V2Tier {
        V2Tier::new(s).unwrap()
    }

    /// §4.2 seeded case points, spot checks in every row.
    #[test]
    fn workload_4_2_seeded_case_points() {
        let t = WorkloadTable::hmpps_workload_seed_v1();
        assert_eq!(t.id, "hmpps-workload-seed-v1");
        assert_eq!(
            t.case_points(CaseType::Community, tier("A3"), false),
            (PointsRow::Community, 206)
        );
        assert_eq!(
            t.case_points(CaseType::Community, tier("D0"), false),
            (PointsRow::Community, 29)
        );
        assert_eq!(
            t.case_points(CaseType::Community, tier("B0"), false),
            (PointsRow::Community, 72)
        );
        assert_eq!(
            t.case_points(CaseType::Custody, tier("B2"), false),
            (PointsRow::Custody, 48)
        );
        assert_eq!(
            t.case_points(CaseType::Custody, tier("A0"), false),
            (PointsRow::Custody, 0)
        );
        assert_eq!(
            t.case_points(CaseType::Licence, tier("A3"), false),
            (PointsRow::Licence, 219)
        );
        assert_eq!(
            t.case_points(CaseType::Licence, tier("C1"), false),
            (PointsRow::Licence, 52)
        );
        assert_eq!(
            t.case_points(CaseType::Licence, tier("D1"), true),
            (PointsRow::T2a, 13)
        );
        assert_eq!(
            t.case_points(CaseType::Community, tier("A3"), true),
            (PointsRow::T2a, 75)
        );
        assert_eq!(t.court_report_standard_points, 138);
        assert_eq!(t.court_report_fast_points, 65);
    }

    /// §4.2: unsupervised tiers `A3S` … `D0S` score 0 in every row.
    #[test]
    fn workload_4_2_unsupervised_tiers_score_zero() {
        let t = WorkloadTable::hmpps_workload_seed_v1();
        for p in ["A", "B", "C", "D"] {
            for c in 0..=3 {
                for ct in [CaseType::Community, CaseType::Custody, CaseType::Licence] {
                    for t2a in [false, true] {
                        let s = format!("{p}{c}S");
                        assert_eq!(
                            t.case_points(ct, tier(&s), t2a),
                            (PointsRow::Unsupervised, 0)
                        );
                    }
                }
            }
        }
    }

    /// §4.2: rows are effective-dated; the version in force is chosen by date.
    #[test]
    fn workload_4_2_effective_dated_versions() {
        let seed = WorkloadTable {
            effective_to: Some(date(2024, 4, 1)),
            ..WorkloadTable::hmpps_workload_seed_v1()
        };
        let mut next = WorkloadTable::hmpps_workload_seed_v1();
        next.id = "test-v2".into();
        next.effective_from = date(2024, 4, 1);
        next.community_points[0] = 210;
        let tables = WorkloadTables::new(vec![seed, next]).unwrap();
        assert_eq!(
            tables.in_force_on(date(2024, 3, 31)).unwrap().id,
            SEED_TABLE_ID
        );
        assert_eq!(tables.in_force_on(date(2024, 4, 1)).unwrap().id, "test-v2");
        assert_eq!(
            tables.in_force_on(date(2013, 12, 31)),
            Err(WorkloadError::NoTableInForce {
                on: date(2013, 12, 31)
            })
        );
        let dup = WorkloadTables::new(vec![WorkloadTable::hmpps_workload_seed_v1(); 2]);
        assert!(matches!(dup, Err(WorkloadError::DuplicateTableId(_))));
        let empty_period = WorkloadTable {
            effective_to: Some(date(2014, 1, 1)),
            ..WorkloadTable::hmpps_workload_seed_v1()
        };
        assert!(matches!(
            WorkloadTables::new(vec![empty_period]),
            Err(WorkloadError::EmptyEffectivePeriod(_))
        ));
        assert!(WorkloadTables::new(vec![]).is_err());
    }

    #[test]
    fn workload_3_grade_codes() {
        assert_eq!(Grade::from_delius_code("PSQ"), Ok(Grade::Pso));
        assert_eq!(Grade::from_delius_code("PSP"), Ok(Grade::Pqip));
        assert_eq!(Grade::from_delius_code("PSM"), Ok(Grade::Po));
        assert_eq!(Grade::from_delius_code("PSC"), Ok(Grade::Spo));
        assert!(Grade::from_delius_code("PO").is_err());
    }

    #[test]
    fn hours_parse_exactly_and_reject_bad_input() {
        assert_eq!(Hours::parse("37").unwrap().thousandths(), 37_000);
        assert_eq!(Hours::parse("1.8").unwrap().thousandths(), 1_800);
        assert_eq!(Hours::parse("0.125").unwrap().thousandths(), 125);
        assert_eq!(Hours::parse("168").unwrap().thousandths(), 168_000);
        assert_eq!(Hours::parse("1.8").unwrap().to_string(), "1.8");
        assert_eq!(Hours::parse("37.000").unwrap().to_string(), "37");
        assert_eq!(
            serde_json::to_string(&Hours::parse("35.2").unwrap()).unwrap(),
            "\"35.2\""
        );
        assert!(serde_json::from_str::<Hours>("\"999\"").is_err());
        let table = WorkloadTable::hmpps_workload_seed_v1();
        let json = serde_json::to_string(&table).unwrap();
        assert_eq!(serde_json::from_str::<WorkloadTable>(&json).unwrap(), table);
        for bad in [
            "", ".5", "5.", "-1", "1.2345", "168.001", "1e3", "x", "1.2.3", "0001",
        ] {
            assert!(
                matches!(Hours::parse(bad), Err(WorkloadError::Hours(_))),
                "{bad:?}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn hours_parse_never_panics(s in "[0-9.\\-]{0,8}") {
            if let Ok(h) = Hours::parse(&s) {
                proptest::prop_assert_eq!(Hours::parse(&h.to_string()), Ok(h));
            }
        }
    }
}
