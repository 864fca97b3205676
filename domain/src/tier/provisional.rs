//! V3 provisional flag (tier-rules.md §7; hmpps-tier `ProvisionalStatusCalculator.kt`).
//!
//! A V3 tier is provisional when better information could still raise it: (a) a static
//! predictor stands in for a dynamic one, or (b) RoSH is missing.

use serde::{Deserialize, Serialize};

use super::input::V3Input;
use super::v3::{arp_column, csrp_row, reoffending_cell, V3Level, V3Steps};
use crate::risk::RoshLevel;

/// Which of the two conditions of tier-rules.md §7 held; provisional iff either.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provisional {
    /// §7 (a): static predictors.
    pub static_predictors: bool,
    /// §7 (b): RoSH missing.
    pub rosh_missing: bool,
}

impl Provisional {
    pub fn any(self) -> bool {
        self.static_predictors || self.rosh_missing
    }
}

/// tier-rules.md §7 (a). *others* = every step except Reoffending. `None` static flags
/// count as not static.
///
/// | static | provisional iff |
/// |---|---|
/// | both | *others* below A |
/// | ARP only | *others* below the cell (ARP first column, actual CSRP row) |
/// | CSRP only | *others* below the cell (CSRP first row, actual ARP column) |
/// | neither | false |
pub fn static_predictors(steps: &V3Steps, v3: &V3Input, arp: f64, csrp: f64) -> bool {
    let others = steps.others();
    match (v3.arp_static == Some(true), v3.csrp_static == Some(true)) {
        (true, true) => others.is_below(V3Level::A),
        (true, false) => others.is_below(reoffending_cell(csrp_row(csrp), 0)),
        (false, true) => others.is_below(reoffending_cell(0, arp_column(arp))),
        (false, false) => false,
    }
}

/// tier-rules.md §7 (b). Only when RoSH is missing. *non-RoSH* = every step except
/// MAPPA + RoSH, with Reoffending counted only when both predictors are stated dynamic
/// (`arp_static` and `csrp_static` both `Some(false)`).
///
/// | | provisional iff |
/// |---|---|
/// | MAPPA present | *non-RoSH* below A |
/// | no MAPPA | *non-RoSH* below C |
pub fn rosh_missing(
    steps: &V3Steps,
    v3: &V3Input,
    rosh: Option<RoshLevel>,
    mappa_present: bool,
) -> bool {
    if rosh.is_some() {
        return false;
    }
    let both_dynamic = v3.arp_static == Some(false) && v3.csrp_static == Some(false);
    let non_rosh = steps.non_rosh(both_dynamic);
    if mappa_present {
        non_rosh.is_below(V3Level::A)
    } else {
        non_rosh.is_below(V3Level::C)
    }
}

/// Both conditions of tier-rules.md §7.
pub fn provisional(
    steps: &V3Steps,
    v3: &V3Input,
    arp: f64,
    csrp: f64,
    rosh: Option<RoshLevel>,
    mappa_present: bool,
) -> Provisional {
    Provisional {
        static_predictors: static_predictors(steps, v3, arp, csrp),
        rosh_missing: rosh_missing(steps, v3, rosh, mappa_present),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(reoffending: V3Level) -> V3Steps {
        V3Steps {
            reoffending,
            sexual_reoffending: None,
            mappa_and_rosh: None,
            lifer: None,
            domestic_abuse: None,
            stalking: None,
            child_protection: None,
            sexual_offence: None,
        }
    }

    fn v3(arp_static: Option<bool>, csrp_static: Option<bool>) -> V3Input {
        V3Input {
            arp: Some(50.0),
            arp_static,
            csrp: Some(1.0),
            csrp_static,
            ..V3Input::default()
        }
    }

    /// tier-rules.md §7 (a), both static: provisional unless another step gives A.
    #[test]
    fn tier_7a_both_static() {
        let mut s = steps(V3Level::D);
        let input = v3(Some(true), Some(true));
        assert!(static_predictors(&s, &input, 50.0, 1.0));
        s.sexual_reoffending = Some(V3Level::A);
        assert!(!static_predictors(&s, &input, 50.0, 1.0));
    }

    /// tier-rules.md §7 (a), only ARP static: compare with the cell at ARP maximum and the
    /// actual CSRP row (CSRP 1.0 → row ≥ 1.0, first column = B).
    #[test]
    fn tier_7a_only_arp_static_uses_first_column() {
        let mut s = steps(V3Level::D);
        let input = v3(Some(true), Some(false));
        s.domestic_abuse = Some(V3Level::E);
        assert!(static_predictors(&s, &input, 50.0, 1.0));
        s.domestic_abuse = Some(V3Level::B);
        assert!(!static_predictors(&s, &input, 50.0, 1.0));
        // `None` counts as not static.
        assert!(!static_predictors(&s, &v3(None, None), 50.0, 1.0));
    }

    /// tier-rules.md §7 (a), only CSRP static: cell at CSRP maximum (first row) and the
    /// actual ARP column (ARP 50 → column ≥ 50, first row = B).
    #[test]
    fn tier_7a_only_csrp_static_uses_first_row() {
        let mut s = steps(V3Level::D);
        let input = v3(None, Some(true));
        s.mappa_and_rosh = Some(V3Level::C);
        assert!(static_predictors(&s, &input, 50.0, 1.0));
        s.mappa_and_rosh = Some(V3Level::B);
        assert!(!static_predictors(&s, &input, 50.0, 1.0));
    }

    /// tier-rules.md §7 (b): RoSH missing, with and without MAPPA; Reoffending counts only
    /// when both predictors are stated dynamic.
    #[test]
    fn tier_7b_rosh_missing() {
        let dynamic = v3(Some(false), Some(false));
        let b = steps(V3Level::B);
        assert!(!rosh_missing(&b, &dynamic, None, false), "B is not below C");
        assert!(rosh_missing(&b, &dynamic, None, true), "B is below A");
        assert!(!rosh_missing(&b, &dynamic, Some(RoshLevel::Low), false));
        // Not stated dynamic: Reoffending does not count, so non-RoSH is G.
        assert!(rosh_missing(&b, &v3(None, Some(false)), None, false));
        let mut c = steps(V3Level::G);
        c.lifer = Some(V3Level::C);
        assert!(!rosh_missing(&c, &dynamic, None, false), "C is not below C");
        c.lifer = Some(V3Level::D);
        assert!(rosh_missing(&c, &dynamic, None, false));
        // MAPPA + RoSH itself never counts towards non-RoSH.
        c.mappa_and_rosh = Some(V3Level::A);
        assert!(rosh_missing(&c, &dynamic, None, true));
    }
}
