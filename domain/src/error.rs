//! Errors of the functional core.
//!
//! Two families: [`ValueError`] (a value that cannot be constructed, e.g. a malformed CRN) and
//! [`DomainError`] (a command refused for this case in its current state). Every message says
//! what was wrong and what would make it acceptable, in words a practitioner can act on
//! (design.md invariant 8).

use crate::risk::RiskValueError;

/// A value that cannot be constructed. Nothing is written when one occurs.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ValueError {
    #[error(
        "CRN {0:?} is not valid: a CRN is one capital letter followed by six digits, e.g. X123456"
    )]
    Crn(String),
    #[error("{field} is empty; give a value")]
    Empty { field: &'static str },
    #[error("{field} is {len} characters; at most {max} are allowed")]
    TooLong {
        field: &'static str,
        len: u32,
        max: u32,
    },
    #[error("{field} contains {found:?}; only {allowed} are allowed")]
    BadCharacter {
        field: &'static str,
        found: char,
        allowed: &'static str,
    },
    #[error("PDU number {0} does not exist: PDUs are numbered 1 to 108 (TOM Annex C)")]
    PduNumber(u32),
    #[error("region code {0:?} does not exist: regions are A to L")]
    RegionCode(String),
    #[error("{field} is {value}; it must be between {min} and {max}")]
    OutOfRange {
        field: &'static str,
        value: u32,
        min: u32,
        max: u32,
    },
    #[error("event id {0:?} is not a UUID in its 36-character hyphenated form")]
    EventId(String),
    #[error("inputs digest {0:?} is not a hex SHA-256 (64 lowercase hex characters)")]
    InputsDigest(String),
    #[error("tier {0:?} is not a tier: expected A–D then 0–3, optionally S for unsupervised (e.g. B2, C1S)")]
    Tier(String),
    #[error("{code:?} is not a known {what} code")]
    UnknownCode { what: &'static str, code: String },
    #[error(transparent)]
    Risk(#[from] RiskValueError),
}

/// A command refused for this case: why, in words the person who sent it can act on.
///
/// A refused command emits no events; the commands crate records the refusal in the audit
/// stream.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum DomainError {
    #[error(transparent)]
    InvalidValue(#[from] ValueError),
    #[error("CRN {crn} is already open; a case is opened once")]
    CaseAlreadyOpen { crn: String },
    #[error(
        "no case is open on this stream; open the case (CaseOpened) before recording anything else"
    )]
    CaseNotOpen,
    #[error("no case {crn} is recorded; check the CRN")]
    NoSuchCase { crn: String },
    #[error("case {crn} is closed; reopen it (reopen_case) or impose a new sentence first; until then only a correction can be recorded on it")]
    CaseClosed { crn: String },
    #[error("the command names CRN {given} but this case is CRN {case}")]
    WrongCase { case: String, given: String },
    #[error("cannot {action} on CRN {crn} before a sentence is imposed")]
    NoSentence { crn: String, action: &'static str },
    #[error("cannot {action} on CRN {crn}: {why}")]
    NotAllowedInState {
        crn: String,
        action: &'static str,
        why: String,
    },
    #[error("cannot {action} on CRN {crn}: {why} ({rule})")]
    RuleRefused {
        crn: String,
        action: &'static str,
        why: String,
        rule: &'static str,
    },
    #[error("cannot {action} on CRN {crn}: only {allowed} may do this ({rule}); the acting organisation is {acting}")]
    WrongOrganisation {
        crn: String,
        action: &'static str,
        allowed: &'static str,
        acting: String,
        rule: &'static str,
    },
    #[error("cannot {action} on CRN {crn}: {what} under ruleset {ruleset}; {instead}")]
    WrongEra {
        crn: String,
        action: &'static str,
        what: &'static str,
        ruleset: &'static str,
        instead: &'static str,
    },
    #[error("cannot {action} on CRN {crn}: the case is already managed by the NPS ({rule})")]
    AlreadyWithNps {
        crn: String,
        action: &'static str,
        rule: &'static str,
    },
    #[error("sentence {sentence} does not exist on CRN {crn}; it has {count} sentence(s)")]
    UnknownSentence {
        crn: String,
        sentence: u16,
        count: u16,
    },
    #[error("sentence {sentence} on CRN {crn} has already ended; cannot {action}")]
    SentenceEnded {
        crn: String,
        sentence: u16,
        action: &'static str,
    },
    #[error("requirement {requirement} does not exist on sentence {sentence} of CRN {crn}")]
    UnknownRequirement {
        crn: String,
        sentence: u16,
        requirement: u16,
    },
    #[error("{what} {id} does not exist on CRN {crn}")]
    UnknownItem {
        crn: String,
        what: &'static str,
        id: u32,
    },
    #[error("no ruleset covers {date} in {nation}: caseledger models probation from the start of Transforming Rehabilitation on 2014-06-01")]
    NoRuleset { date: String, nation: &'static str },
    #[error(
        "{what} {date} is in the future (today is {today}); record facts once they have happened"
    )]
    DateInFuture {
        what: &'static str,
        date: String,
        today: String,
    },
    #[error("{what} {date} is before {earlier_what} {earlier}; check the date")]
    DateTooEarly {
        what: &'static str,
        date: String,
        earlier_what: &'static str,
        earlier: String,
    },
    #[error("the ruleset given is for {given} but the case's PDU is in {case}; choose the ruleset by the case's nation")]
    RulesetNationMismatch {
        given: &'static str,
        case: &'static str,
    },
    #[error("CRN {crn} has reached the limit of {limit} {what}; this is far beyond any real case and suggests a runaway caller")]
    LimitReached {
        crn: String,
        what: &'static str,
        limit: u32,
    },
}
