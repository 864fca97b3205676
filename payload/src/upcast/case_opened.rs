//! `CaseOpened`: the stored shape holds the person (name, date of birth, gender) as a plain
//! struct; the domain sees it as a [`Sealable`] datum (docs/decisions/0009-crypto-shredding.md),
//! whose serde refuses binary formats, so this module is the one place the person is written
//! into a payload and read out of one.

use caseledger_domain::event::CaseOpened;
use caseledger_domain::identity::{Crn, Person, TeamCode};
use caseledger_domain::reference::Pdu;
use caseledger_domain::sealable::Sealable;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};

/// `CaseOpened` as schema versions 1 and 2 store it (version 1 behind the legacy variant
/// index). Frozen: never edited again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseOpenedV2 {
    pub crn: Crn,
    pub person: Person,
    pub pdu: Pdu,
    pub team: Option<TeamCode>,
    pub opened_on: Date,
}

/// The stored shape of a case opening; a person who is not known cannot be written.
pub fn to_stored(event: &CaseOpened) -> Result<CaseOpenedV2, String> {
    let person = event.person.known().cloned().ok_or_else(|| {
        format!(
            "the person is {}: only a known person is written",
            event.person.state_name()
        )
    })?;
    Ok(CaseOpenedV2 {
        crn: event.crn.clone(),
        person,
        pdu: event.pdu,
        team: event.team.clone(),
        opened_on: event.opened_on,
    })
}

/// The case opening a stored shape records: its person is known.
pub fn from_stored(stored: CaseOpenedV2) -> CaseOpened {
    CaseOpened {
        crn: stored.crn,
        person: Sealable::Known(stored.person),
        pdu: stored.pdu,
        team: stored.team,
        opened_on: stored.opened_on,
    }
}
