//! Typed errors of the tier calculator and the range checks of tier-rules.md §1.
//!
//! Every message starts with the field it is about (or `unsupported_dc_srp`), then `: `,
//! so `caseledger policy tier` can print it as the per-line error unchanged
//! (policy-cli-contract.md: "The error says which field is wrong and why").

use super::input::{
    TierInput, CODE_BYTES_MAX, CONVICTIONS_PER_PERSON_MAX, OASYS_PROBLEM_ANSWER_MAX,
    OGRS_PERCENT_MAX, REGISTRATIONS_PER_PERSON_MAX, REQUIREMENTS_PER_CONVICTION_MAX,
    RSR_PERCENT_MAX, RSR_UNKNOWN,
};

#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum TierError {
    #[error("rsr: must be a number from 0 to 100, or exactly 999.99 (unknown); got {0}")]
    Rsr(f64),
    #[error("ogrs: must be an integer from 0 to 100; got {0}")]
    Ogrs(u8),
    #[error("assessment.impulsivity: must be 0, 1 or 2; got {0}")]
    Impulsivity(u8),
    #[error("assessment.temper_control: must be 0, 1 or 2; got {0}")]
    TemperControl(u8),
    #[error("v3.arp: must be a number of at least 0; got {0}")]
    Arp(f64),
    #[error("v3.csrp: must be a number of at least 0; got {0}")]
    Csrp(f64),
    #[error("v3.dc_srp_score: must be a finite number; got {0}")]
    DcSrpScore(f64),
    #[error("{field}: at most {max} allowed; got {count}")]
    TooMany {
        field: &'static str,
        count: u64,
        max: u32,
    },
    #[error("convictions[{conviction}].requirements: at most {REQUIREMENTS_PER_CONVICTION_MAX} allowed; got {count}")]
    TooManyRequirements { conviction: u64, count: u64 },
    #[error("{field}: must be a Delius code of at most {CODE_BYTES_MAX} bytes; got {bytes} bytes")]
    CodeTooLong { field: String, bytes: u64 },
    #[error("{field}: must not be empty")]
    CodeEmpty { field: String },
    /// A medium DC-SRP band with a score below 0.60, the lowest rung of the ladder
    /// (tier-rules.md §6.2): the source has no tier for it, so the whole line fails.
    #[error(
        "unsupported_dc_srp: band medium with score {0} is below 0.60, the lowest rung of the medium ladder (tier-rules.md §6.2)"
    )]
    UnsupportedDcSrp(f64),
    #[error("today: {today} minus {months} months is outside the supported calendar")]
    DateOutOfRange {
        today: jiff::civil::Date,
        months: i32,
    },
}

fn code_ok(field: impl FnOnce() -> String, code: &str) -> Result<(), TierError> {
    let bytes = code.len() as u64;
    if bytes == 0 {
        return Err(TierError::CodeEmpty { field: field() });
    }
    if bytes > u64::from(CODE_BYTES_MAX) {
        return Err(TierError::CodeTooLong {
            field: field(),
            bytes,
        });
    }
    Ok(())
}

fn count_ok(field: &'static str, count: usize, max: u32) -> Result<(), TierError> {
    let count = count as u64;
    if count > u64::from(max) {
        return Err(TierError::TooMany { field, count, max });
    }
    Ok(())
}

/// Check the ranges and limits of tier-rules.md §1 on an input built by any caller (the
/// CLI checks JSON types first; the engine builds the struct directly).
pub fn validate(input: &TierInput) -> Result<(), TierError> {
    if let Some(rsr) = input.rsr {
        // tier-rules.md §1: 0–100, or exactly 999.99 for "unknown". NaN fails both tests.
        #[allow(clippy::float_cmp)]
        let unknown = rsr == RSR_UNKNOWN;
        if !unknown && !(0.0..=RSR_PERCENT_MAX).contains(&rsr) {
            return Err(TierError::Rsr(rsr));
        }
    }
    if let Some(ogrs) = input.ogrs {
        if ogrs > OGRS_PERCENT_MAX {
            return Err(TierError::Ogrs(ogrs));
        }
    }
    count_ok(
        "registrations",
        input.registrations.len(),
        REGISTRATIONS_PER_PERSON_MAX,
    )?;
    for (i, r) in input.registrations.iter().enumerate() {
        code_ok(|| format!("registrations[{i}].code"), &r.code)?;
        // Level and category may be empty (Delius leaves them blank on most register
        // types; blank has no effect, §2.3) but not unbounded.
        for (name, value) in [("level", &r.level), ("category", &r.category)] {
            let bytes = value.as_ref().map_or(0, |v| v.len() as u64);
            if bytes > u64::from(CODE_BYTES_MAX) {
                return Err(TierError::CodeTooLong {
                    field: format!("registrations[{i}].{name}"),
                    bytes,
                });
            }
        }
    }
    if let Some(a) = &input.assessment {
        if a.impulsivity > OASYS_PROBLEM_ANSWER_MAX {
            return Err(TierError::Impulsivity(a.impulsivity));
        }
        if a.temper_control > OASYS_PROBLEM_ANSWER_MAX {
            return Err(TierError::TemperControl(a.temper_control));
        }
    }
    count_ok(
        "convictions",
        input.convictions.len(),
        CONVICTIONS_PER_PERSON_MAX,
    )?;
    for (i, c) in input.convictions.iter().enumerate() {
        if c.requirements.len() > REQUIREMENTS_PER_CONVICTION_MAX as usize {
            return Err(TierError::TooManyRequirements {
                conviction: i as u64,
                count: c.requirements.len() as u64,
            });
        }
        for (j, r) in c.requirements.iter().enumerate() {
            code_ok(
                || format!("convictions[{i}].requirements[{j}].category"),
                &r.category,
            )?;
        }
    }
    if let Some(v3) = &input.v3 {
        // tier-rules.md §1: `arp` or `csrp` negative is an error. NaN is refused too:
        // it would fall through every threshold of the §6.2 table.
        if let Some(arp) = v3.arp {
            if arp.is_nan() || arp < 0.0 {
                return Err(TierError::Arp(arp));
            }
        }
        if let Some(csrp) = v3.csrp {
            if csrp.is_nan() || csrp < 0.0 {
                return Err(TierError::Csrp(csrp));
            }
        }
        if let Some(score) = v3.dc_srp_score {
            if !score.is_finite() {
                return Err(TierError::DcSrpScore(score));
            }
        }
    }
    Ok(())
}
