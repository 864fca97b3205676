//! Failure-to-comply limits per sentence type, as reference data.
//!
//! enforcement-and-workload.md §5.1 says each sentence (disposal) type has a
//! `failureToComplyLimit`, "the number of failures to comply after which a breach should be
//! started", but gives no numbers, and the seeds do not either (seed-digest §3 BR-I6: "number
//! of warnings before breach … NOT IN SEEDS"). The version here records our source and
//! assumption instead of hiding a magic number:
//!
//! - Source: National Standards for the Management of Offenders (NOMS, 2015): at most one
//!   warning for an unacceptable failure to comply within 12 months; breach action on the
//!   second unacceptable failure. So the limit is **2** for community orders and suspended
//!   sentence orders.
//! - Assumption: licences and post-sentence supervision use the same limit of 2. Recall and
//!   PSS breach have their own processes, but a limit is needed for the compliance status;
//!   replace this version when production reference data is available.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ComplianceError;

/// Sentence types that carry a failure-to-comply limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplianceSentenceType {
    CommunityOrder,
    SuspendedSentenceOrder,
    Licence,
    PostSentenceSupervision,
}

/// One version of the limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureToComplyLimits {
    pub id: String,
    /// Where the numbers come from, for a reviewer.
    pub source: String,
    pub limits: BTreeMap<ComplianceSentenceType, u32>,
}

/// Identifier of the National Standards 2015 version.
pub const NATIONAL_STANDARDS_2015_ID: &str = "national-standards-2015-v1";

/// One warning, breach on the second unacceptable failure (National Standards 2015).
const NATIONAL_STANDARDS_2015_LIMIT: u32 = 2;

impl FailureToComplyLimits {
    /// See the module documentation for the source and the assumption.
    pub fn national_standards_2015() -> Self {
        let limits = [
            ComplianceSentenceType::CommunityOrder,
            ComplianceSentenceType::SuspendedSentenceOrder,
            ComplianceSentenceType::Licence,
            ComplianceSentenceType::PostSentenceSupervision,
        ]
        .into_iter()
        .map(|t| (t, NATIONAL_STANDARDS_2015_LIMIT))
        .collect();
        FailureToComplyLimits {
            id: NATIONAL_STANDARDS_2015_ID.to_owned(),
            source: "National Standards for the Management of Offenders 2015: one warning \
                     within 12 months, breach on the second unacceptable failure to comply; \
                     licence and post-sentence supervision assumed the same"
                .to_owned(),
            limits,
        }
    }

    pub fn limit_for(&self, sentence_type: ComplianceSentenceType) -> Result<u32, ComplianceError> {
        match self.limits.get(&sentence_type) {
            Some(0) | None => Err(ComplianceError::NoLimitForSentenceType {
                table_id: self.id.clone(),
                sentence_type,
            }),
            Some(limit) => Ok(*limit),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// §5.1 limits as reference data: National Standards 2015, breach on the 2nd failure.
    #[test]
    fn compliance_5_1_failure_to_comply_limits_reference_data() {
        let limits = FailureToComplyLimits::national_standards_2015();
        assert_eq!(limits.id, "national-standards-2015-v1");
        assert_eq!(
            limits.limit_for(ComplianceSentenceType::CommunityOrder),
            Ok(2)
        );
        assert_eq!(limits.limit_for(ComplianceSentenceType::Licence), Ok(2));
        let mut partial = limits.clone();
        partial.limits.remove(&ComplianceSentenceType::Licence);
        assert!(matches!(
            partial.limit_for(ComplianceSentenceType::Licence),
            Err(ComplianceError::NoLimitForSentenceType { .. })
        ));
    }
}
