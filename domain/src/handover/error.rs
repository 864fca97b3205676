//! Why a handover cannot be calculated (handover-rules.md §3.3). `Display` gives the
//! contract error texts: the field (or `outside_omic_policy`), then `: `, then the why.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::input::PrisonEstate;

/// Why a person is outside OMiC policy (handover-rules.md §5), in check order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutsideOmicReason {
    Under18,
    NotSentenced,
    CivilSentence,
}

impl fmt::Display for OutsideOmicReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutsideOmicReason::Under18 => "under 18",
            OutsideOmicReason::NotSentenced => "not sentenced",
            OutsideOmicReason::CivilSentence => "civil sentence",
        })
    }
}

/// The rules that cannot run without a sentence start date (handover-rules.md §3.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SentenceStartRule {
    /// `omic-2019`/`omic-2022` §7.1 step 5: release ≤ sentence start + 10 months.
    LessThan10MonthsLeftToServe,
    /// `omic-2023` §9.3: sentence start + 10 months ≥ ERD.
    DeterminateShort,
}

impl fmt::Display for SentenceStartRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SentenceStartRule::LessThan10MonthsLeftToServe => {
                "the less-than-10-months-left-to-serve rule (handover-rules.md §7.1 step 5); \
                 give the sentence start date"
            }
            SentenceStartRule::DeterminateShort => {
                "the determinate-sentence-10-months-or-less rule (handover-rules.md §9.3); \
                 give the sentence start date"
            }
        })
    }
}

/// A handover that cannot be calculated. Nothing is decided when this is returned.
#[derive(thiserror::Error, Clone, Debug, PartialEq, Eq)]
pub enum HandoverError {
    /// Outside OMiC policy (handover-rules.md §5): no handover applies.
    #[error("outside_omic_policy: {0}")]
    OutsideOmicPolicy(OutsideOmicReason),
    /// A rule needs the sentence start date and it is unknown (handover-rules.md §3.3).
    #[error("sentence_start: required for {0}")]
    SentenceStartRequired(SentenceStartRule),
    /// HMP Prescoed is a male open prison (handover-rules.md §3.2).
    #[error(
        "prison.prescoed: HMP Prescoed is a male open prison, so prescoed true needs estate \
         \"male_open\" (estate is \"{estate}\")"
    )]
    PrescoedOutsideMaleOpenEstate { estate: PrisonEstate },
    /// A text input is longer than its limit.
    #[error("{field}: {bytes} bytes is too long; at most {bytes_max} bytes allowed")]
    TextTooLong {
        field: &'static str,
        bytes: u64,
        bytes_max: u32,
    },
    /// The era given is `pre-omic`: before OMiC there is no handover (handover-rules.md §4).
    #[error("era: pre-omic is before OMiC, which has no handover; give \"omic-2019\", \"omic-2022\" or \"omic-2023\"")]
    PreOmicEra,
    /// Date arithmetic on `field` left the calendar jiff supports (years −9999 to 9999).
    #[error("{field}: too close to the limits of the calendar (years -9999 to 9999) for the handover date arithmetic")]
    DateOutOfRange { field: &'static str },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn section_3_3_error_texts_start_with_the_contract_prefixes() {
        assert_eq!(
            HandoverError::OutsideOmicPolicy(OutsideOmicReason::CivilSentence).to_string(),
            "outside_omic_policy: civil sentence"
        );
        assert_eq!(
            HandoverError::OutsideOmicPolicy(OutsideOmicReason::Under18).to_string(),
            "outside_omic_policy: under 18"
        );
        assert_eq!(
            HandoverError::OutsideOmicPolicy(OutsideOmicReason::NotSentenced).to_string(),
            "outside_omic_policy: not sentenced"
        );
        assert!(
            HandoverError::SentenceStartRequired(SentenceStartRule::DeterminateShort)
                .to_string()
                .starts_with("sentence_start: required for ")
        );
        assert!(HandoverError::PrescoedOutsideMaleOpenEstate {
            estate: PrisonEstate::Womens
        }
        .to_string()
        .starts_with("prison.prescoed: "));
    }
}
