//! Test support: a given/when/then harness over `decide` and `evolve`, and builders for
//! valid values. Compiled for this crate's tests and behind the `testing` feature for others';
//! it panics on purpose (that is how a test fails), so it is never part of production builds.
//!
//! ```ignore
//! given(events).on(today).when(command).then(expected_events);
//! given(events).when(command).then_error(|e| matches!(e, DomainError::NoSentence { .. }));
//! ```
//!
//! Every `when` also checks the evolve/decide contract: folding the emitted events onto the
//! state `decide` saw gives that state advanced by exactly those events.

use std::collections::BTreeMap;

use jiff::civil::{date, Date};

use crate::command::DomainCommand;
use crate::decide::decide;
use crate::error::DomainError;
use crate::event::Event;
use crate::identity::{
    Crn, Gender, Grade, Person, PersonName, Practitioner, StaffCode, TeamCode, Text,
};
use crate::reference::{CrcName, Organisation, Pdu};
use crate::risk::{AssessmentKind, RoshLevel};
use crate::ruleset::Ruleset;
use crate::sentence::{RequirementKind, SentenceDates, SentenceType};
use crate::state::{evolve, CaseState};

/// Start a scenario from a history.
pub fn given(events: impl IntoIterator<Item = Event>) -> Given {
    let events: Vec<Event> = events.into_iter().collect();
    given_state(CaseState::from_events(&events))
}

/// Start a scenario from a state already folded.
pub fn given_state(state: CaseState) -> Given {
    Given {
        state,
        today: None,
        ruleset: None,
    }
}

pub struct Given {
    state: CaseState,
    today: Option<Date>,
    ruleset: Option<Ruleset>,
}

impl Given {
    /// `today` for `decide`; defaults to the command's own date.
    pub fn on(mut self, today: Date) -> Given {
        self.today = Some(today);
        self
    }

    /// Force a ruleset; by default it is chosen from the command's date and the case's nation.
    pub fn under(mut self, ruleset: Ruleset) -> Given {
        self.ruleset = Some(ruleset);
        self
    }

    pub fn state(&self) -> &CaseState {
        &self.state
    }

    pub fn when(self, command: DomainCommand) -> When {
        let state = self.state;
        let today = self.today.unwrap_or_else(|| command.on());
        let ruleset = match self.ruleset {
            Some(r) => r,
            None => ruleset_for(&state, &command, command.on()),
        };
        let result = decide(&state, &command, &ruleset, today);
        if let Ok(events) = &result {
            check_evolve_contract(&state, events);
        }
        When { state, result }
    }
}

/// The ruleset for a command on a case: by the command's date and the nation of the case's
/// PDU (or of the PDU the command opens the case in).
pub fn ruleset_for(state: &CaseState, command: &DomainCommand, on: Date) -> Ruleset {
    let pdu = match (state.pdu, command) {
        (Some(pdu), _) => pdu,
        (None, DomainCommand::OpenCase { pdu, .. }) => *pdu,
        (None, _) => pdu(78),
    };
    let on = on.max(crate::ruleset::TR_START);
    Ruleset::for_date(on, pdu.nation()).expect("dates from 2014-06-01 have a ruleset")
}

/// evolve over decide's events equals the state decide saw plus the change.
pub fn check_evolve_contract(before: &CaseState, events: &[Event]) {
    let after = events.iter().fold(before.clone(), evolve);
    assert_eq!(
        after.version,
        before.version + events.len() as u64,
        "evolve must advance the version by one per event"
    );
    let again = events.iter().fold(before.clone(), evolve);
    assert_eq!(after, again, "evolve must be deterministic");
}

pub struct When {
    state: CaseState,
    result: Result<Vec<Event>, DomainError>,
}

impl When {
    /// Assert the command emits exactly `expected`.
    pub fn then(self, expected: impl IntoIterator<Item = Event>) -> CaseState {
        let expected: Vec<Event> = expected.into_iter().collect();
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected, "emitted events differ");
                events.iter().fold(self.state, evolve)
            }
            Err(e) => panic!("expected events, got refusal: {e}"),
        }
    }

    /// Assert the command emits events of these types, in order; returns the events.
    pub fn then_types(self, expected: &[&str]) -> Vec<Event> {
        match self.result {
            Ok(events) => {
                let types: Vec<&str> = events.iter().map(Event::event_type).collect();
                assert_eq!(types, expected, "emitted event types differ");
                events
            }
            Err(e) => panic!("expected {expected:?}, got refusal: {e}"),
        }
    }

    /// Assert the command is refused with an error matching `matcher`; returns it.
    pub fn then_error(self, matcher: impl Fn(&DomainError) -> bool) -> DomainError {
        match self.result {
            Ok(events) => panic!("expected a refusal, got events {events:?}"),
            Err(e) => {
                assert!(matcher(&e), "refusal did not match: {e:?}");
                assert!(!e.to_string().is_empty());
                e
            }
        }
    }

    pub fn result(self) -> Result<Vec<Event>, DomainError> {
        self.result
    }
}

/// Run commands one after another from an empty case, each with `today` = its own date and
/// the ruleset for that date; panics on the first refusal. Returns every event emitted.
pub fn run(commands: impl IntoIterator<Item = DomainCommand>) -> (CaseState, Vec<Event>) {
    run_from(CaseState::default(), commands)
}

pub fn run_from(
    mut state: CaseState,
    commands: impl IntoIterator<Item = DomainCommand>,
) -> (CaseState, Vec<Event>) {
    let mut all = Vec::new();
    for command in commands {
        let ruleset = ruleset_for(&state, &command, command.on());
        let events = decide(&state, &command, &ruleset, command.on())
            .unwrap_or_else(|e| panic!("command {command:?} refused: {e}"));
        check_evolve_contract(&state, &events);
        state = events.iter().fold(state, evolve);
        all.extend(events);
    }
    (state, all)
}

// ---- builders for valid values -------------------------------------------------------------

pub fn crn() -> Crn {
    Crn::new("X123456").expect("valid CRN")
}

pub fn pdu(number: u32) -> Pdu {
    Pdu::new(number).expect("valid PDU")
}

pub fn text(s: &str) -> Text {
    Text::new(s).expect("valid text")
}

pub fn team(code: &str) -> TeamCode {
    TeamCode::new(code).expect("valid team code")
}

pub fn crc(name: &str) -> CrcName {
    CrcName::new(name).expect("valid CRC name")
}

pub fn person() -> Person {
    Person {
        name: PersonName::new("Sam Example").expect("valid name"),
        date_of_birth: date(1990, 4, 12),
        gender: Gender::Male,
    }
}

pub fn practitioner(code: &str, grade: Grade) -> Practitioner {
    Practitioner {
        staff_code: StaffCode::new(code).expect("valid staff code"),
        name: PersonName::new(format!("Practitioner {code}")).expect("valid name"),
        grade,
    }
}

pub fn open_case(pdu_number: u32, on: Date) -> DomainCommand {
    DomainCommand::OpenCase {
        crn: crn(),
        person: person(),
        pdu: pdu(pdu_number),
        team: Some(team("T01")),
        on,
    }
}

pub fn community_order(on: Date, requirements: Vec<RequirementKind>) -> DomainCommand {
    DomainCommand::ImposeSentence {
        on,
        sentence_type: SentenceType::CommunityOrder,
        court: text("Hereford Magistrates' Court"),
        length_months: Some(12),
        dates: SentenceDates {
            sentence_expiry_date: on.checked_add(jiff::Span::new().months(12)).ok(),
            ..SentenceDates::default()
        },
        requirements,
    }
}

/// A determinate custodial sentence with CRD / LED / TUSED set from `on`.
pub fn determinate_custody(on: Date, crd_months: i64) -> DomainCommand {
    let plus = |m: i64| on.checked_add(jiff::Span::new().months(m)).ok();
    DomainCommand::ImposeSentence {
        on,
        sentence_type: SentenceType::DeterminateCustody,
        court: text("Nottingham Crown Court"),
        length_months: Some(u16::try_from(crd_months * 2).unwrap_or(0)),
        dates: SentenceDates {
            conditional_release_date: plus(crd_months),
            home_detention_curfew_eligibility_date: plus(crd_months - 2),
            sentence_expiry_date: plus(crd_months * 2),
            licence_expiry_date: plus(crd_months * 2),
            top_up_supervision_expiry_date: plus(crd_months + 12),
            ..SentenceDates::default()
        },
        requirements: vec![],
    }
}

pub fn assess(on: Date, rosh: RoshLevel, kind: AssessmentKind, by: Organisation) -> DomainCommand {
    DomainCommand::AssessRisk {
        on,
        kind,
        rosh,
        rsr: None,
        ogrs: None,
        needs: BTreeMap::new(),
        by,
    }
}
