//! Available points (enforcement-and-workload.md §4.3) and capacity (§4.4), in exact integer
//! arithmetic so the worked examples come out the same on every platform: hours are fixed
//! point in thousandths, the ratio is an integer scaled by 10^15 (15 decimal places, half-up),
//! capacity is an integer in tenths of a percent (3 decimal places of the fraction, half-up).

use std::fmt;

use serde::{Deserialize, Serialize};

use super::table::{Grade, Hours, WorkloadTable};

/// 10^15: the ratio is kept to 15 decimal places (§4.3).
const RATIO_SCALE: u128 = 1_000_000_000_000_000;

/// Available points with the figures that produced them (§4.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailablePoints {
    pub table_id: String,
    pub grade: Grade,
    pub weekly_hours: Hours,
    pub reduction_hours: Hours,
    /// Weekly minus reduction hours, in thousandths of an hour; may be negative.
    pub available_hours_thousandths: i64,
    pub contracted_hours: Hours,
    pub nominal_target_points: u32,
    /// available ÷ contracted, × 10^15, rounded half-up; `None` when the rule makes the points
    /// 0 without a ratio (available hours ≤ 0 or contracted hours 0).
    pub ratio_scaled_1e15: Option<u64>,
    pub points: u64,
}

/// §4.3: `available hours = weekly − reductions`; `ratio = available ÷ contracted` to 15
/// decimal places half-up; `points = floor(nominal target × ratio)`; 0 when available hours
/// ≤ 0 or contracted hours are 0.
pub fn available_points(
    table: &WorkloadTable,
    grade: Grade,
    weekly_hours: Hours,
    reduction_hours: Hours,
) -> AvailablePoints {
    let available =
        i64::from(weekly_hours.thousandths()) - i64::from(reduction_hours.thousandths());
    let contracted = table.contracted_hours.get(grade);
    let nominal = table.nominal_target_points.get(grade);
    let mut result = AvailablePoints {
        table_id: table.id.clone(),
        grade,
        weekly_hours,
        reduction_hours,
        available_hours_thousandths: available,
        contracted_hours: contracted,
        nominal_target_points: nominal,
        ratio_scaled_1e15: None,
        points: 0,
    };
    let (Ok(available), true) = (u128::try_from(available), contracted.thousandths() > 0) else {
        return result;
    };
    if available == 0 {
        return result;
    }
    let denominator = u128::from(contracted.thousandths());
    // Half-up: floor((2·a·S + d) / 2d). a ≤ 168,000 and S = 10^15 keep this far below u128::MAX.
    let ratio = (2 * available * RATIO_SCALE + denominator) / (2 * denominator);
    let points = u128::from(nominal) * ratio / RATIO_SCALE;
    // weekly ≤ 168 h and contracted ≥ 0.001 h bound the ratio by 168,000.
    assert!(ratio <= 168_000 * RATIO_SCALE, "ratio out of range");
    result.ratio_scaled_1e15 = u64::try_from(ratio).ok();
    // nominal ≤ u32::MAX and ratio ≤ 168,000 keep points below 2^64.
    result.points = u64::try_from(points).unwrap_or(u64::MAX);
    result
}

/// Capacity as an exact number of tenths of a percent (667 = 66.7 %).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CapacityPercent {
    pub tenths_of_percent: i64,
}

impl fmt::Display for CapacityPercent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.tenths_of_percent < 0 { "-" } else { "" };
        let abs = self.tenths_of_percent.unsigned_abs();
        write!(f, "{sign}{}.{}%", abs / 10, abs % 10)
    }
}

/// §4.4: `capacity % = round(total ÷ available, 3 dp, half-up) × 100`; 0 when either is 0.
/// Half-up rounds halves away from zero (BigDecimal `HALF_UP`), which matters only for a
/// negative total (more weighted contacts done by others than case points).
pub fn capacity(total_workload_points: i64, available_points: u64) -> CapacityPercent {
    if total_workload_points == 0 || available_points == 0 {
        return CapacityPercent {
            tenths_of_percent: 0,
        };
    }
    let numerator = i128::from(total_workload_points) * 1000;
    let denominator = i128::from(available_points);
    let magnitude = (2 * numerator.abs() + denominator) / (2 * denominator);
    let signed = if numerator < 0 { -magnitude } else { magnitude };
    CapacityPercent {
        // |total| is bounded by the caseload limits, so this fits.
        tenths_of_percent: i64::try_from(signed).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Hours {
        Hours::parse(s).unwrap()
    }

    /// §4.3 worked example: 2176 × 35.2/37 = 2070.1 → 2070.
    #[test]
    fn workload_4_3_available_points_example() {
        let t = WorkloadTable::hmpps_workload_seed_v1();
        let a = available_points(&t, Grade::Po, h("37"), h("1.8"));
        assert_eq!(a.available_hours_thousandths, 35_200);
        assert_eq!(a.ratio_scaled_1e15, Some(951_351_351_351_351));
        assert_eq!(a.points, 2070);
        let full = available_points(&t, Grade::Po, h("37"), Hours::ZERO);
        assert_eq!(full.points, 2176);
        let part_time = available_points(&t, Grade::Pso, h("18.5"), Hours::ZERO);
        assert_eq!(part_time.points, 1088);
    }

    /// §4.3: 0 when available hours ≤ 0 or the grade's contracted hours are 0 (SPO seeds 0).
    #[test]
    fn workload_4_3_zero_available_points() {
        let t = WorkloadTable::hmpps_workload_seed_v1();
        assert_eq!(available_points(&t, Grade::Po, h("10"), h("10")).points, 0);
        let over = available_points(&t, Grade::Po, h("10"), h("12.5"));
        assert_eq!((over.points, over.available_hours_thousandths), (0, -2_500));
        let spo = available_points(&t, Grade::Spo, h("37"), Hours::ZERO);
        assert_eq!((spo.points, spo.ratio_scaled_1e15), (0, None));
    }

    /// The ratio is rounded half-up at 15 decimal places before the floor: 2/3 rounds up to
    /// …667, and 2176 × 0.666666666666667 = 1450.666… → 1450.
    #[test]
    fn workload_4_3_ratio_rounding_half_up() {
        let mut t = WorkloadTable::hmpps_workload_seed_v1();
        t.contracted_hours.po = h("3");
        let a = available_points(&t, Grade::Po, h("2"), Hours::ZERO);
        assert_eq!(a.ratio_scaled_1e15, Some(666_666_666_666_667));
        assert_eq!(a.points, 1450);
        // A ratio that rounds up to exactly 1 gives the full target, not target − 1.
        t.contracted_hours.po = h("37");
        t.nominal_target_points.po = 1_000_000;
        let b = available_points(&t, Grade::Po, h("37"), Hours::ZERO);
        assert_eq!(b.points, 1_000_000);
    }

    /// §4.4 worked example: 1452 ÷ 2176 = 0.66728 → 0.667 → 66.7 %.
    #[test]
    fn workload_4_4_capacity_example() {
        let c = capacity(1452, 2176);
        assert_eq!(c.tenths_of_percent, 667);
        assert_eq!(c.to_string(), "66.7%");
        assert_eq!(capacity(0, 2176).tenths_of_percent, 0);
        assert_eq!(capacity(1452, 0).tenths_of_percent, 0);
        // Exactly half rounds up: 1 ÷ 2000 = 0.0005 → 0.001 → 0.1 %.
        assert_eq!(capacity(1, 2000).tenths_of_percent, 1);
        assert_eq!(capacity(-1, 2000).to_string(), "-0.1%");
        assert_eq!(capacity(4352, 2176).to_string(), "200.0%");
    }

    proptest! {
        #[test]
        fn available_points_never_panic_and_never_exceed_ratio(
            weekly in 0u32..=168_000, reduction in 0u32..=168_000, grade in 0u8..4,
            contracted in 0u32..=168_000, nominal in 0u32..100_000,
        ) {
            let mut t = WorkloadTable::hmpps_workload_seed_v1();
            let grade = [Grade::Po, Grade::Pso, Grade::Spo, Grade::Pqip][usize::from(grade)];
            let c = Hours::from_thousandths(contracted).unwrap();
            t.contracted_hours = crate::workload::table::PerGrade { po: c, pso: c, spo: c, pqip: c };
            t.nominal_target_points = crate::workload::table::PerGrade { po: nominal, pso: nominal, spo: nominal, pqip: nominal };
            let a = available_points(&t, grade, Hours::from_thousandths(weekly).unwrap(), Hours::from_thousandths(reduction).unwrap());
            if weekly > reduction && contracted > 0 {
                // floor(n × a/c) within one point of the exact value (ratio rounding ≤ 0.5e-15).
                let exact_floor = u128::from(nominal) * u128::from(weekly - reduction) / u128::from(contracted);
                prop_assert!(u128::from(a.points).abs_diff(exact_floor) <= 1);
            } else {
                prop_assert_eq!(a.points, 0);
            }
        }

        #[test]
        fn capacity_never_panics(total in -10_000_000i64..10_000_000, available in 0u64..1_000_000) {
            let c = capacity(total, available);
            if available > 0 {
                let exact = total as f64 * 1000.0 / available as f64;
                prop_assert!((c.tenths_of_percent as f64 - exact).abs() <= 0.5 + 1e-9);
            }
        }
    }
}
