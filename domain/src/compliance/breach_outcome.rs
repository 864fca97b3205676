//! Breach-end contact types and whether the breach was proven (enforcement-and-workload.md
//! §5.3; CAPI `Conviction.java`).

use serde::{Deserialize, Serialize};

use super::ComplianceError;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BreachEndContact {
    /// `ABCC` proven, committed to custody.
    ProvenCommittedToCustody,
    /// `ABCF` proven, fine.
    ProvenFine,
    /// `ABNA` proven, no action.
    ProvenNoAction,
    /// `ABPC` proven, concluded.
    ProvenConcluded,
    /// `ABPP` proven, re-sentenced.
    ProvenResentenced,
    /// `ABSD` proven, SDO.
    ProvenSdo,
    /// `CPSS` start of post-sentence supervision.
    StartOfPostSentenceSupervision,
    /// `ERCL` recalled to prison.
    RecalledToPrison,
    /// `ABNP` not proven.
    NotProven,
    /// `ABWD` withdrawn.
    Withdrawn,
}

impl BreachEndContact {
    pub fn parse(code: &str) -> Result<Self, ComplianceError> {
        use BreachEndContact::*;
        Ok(match code {
            "ABCC" => ProvenCommittedToCustody,
            "ABCF" => ProvenFine,
            "ABNA" => ProvenNoAction,
            "ABPC" => ProvenConcluded,
            "ABPP" => ProvenResentenced,
            "ABSD" => ProvenSdo,
            "CPSS" => StartOfPostSentenceSupervision,
            "ERCL" => RecalledToPrison,
            "ABNP" => NotProven,
            "ABWD" => Withdrawn,
            other => {
                return Err(ComplianceError::BreachEndContact(
                    other.chars().take(8).collect(),
                ))
            }
        })
    }

    /// §5.3 "proven" column.
    pub fn proven(self) -> bool {
        !matches!(
            self,
            BreachEndContact::NotProven | BreachEndContact::Withdrawn
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §5.3: eight proven outcomes, two not proven.
    #[test]
    fn compliance_5_3_breach_end_contacts() {
        let proven = [
            "ABCC", "ABCF", "ABNA", "ABPC", "ABPP", "ABSD", "CPSS", "ERCL",
        ];
        for code in proven {
            assert!(BreachEndContact::parse(code).unwrap().proven(), "{code}");
        }
        for code in ["ABNP", "ABWD"] {
            assert!(!BreachEndContact::parse(code).unwrap().proven(), "{code}");
        }
        assert!(matches!(
            BreachEndContact::parse("AIBR"),
            Err(ComplianceError::BreachEndContact(_))
        ));
    }
}
