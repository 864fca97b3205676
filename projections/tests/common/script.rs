//! Histories made by the domain's own `decide`: each command is decided against the case's
//! state (with the ruleset in force on its date, `today` = its date) and only accepted events
//! are kept, so every history is one the engine could have written.
#![allow(dead_code)]

use caseledger_domain::command::DomainCommand;
use caseledger_domain::identity::Crn;
use caseledger_domain::reference::Pdu;
use caseledger_domain::testing::{person, ruleset_for, team};
use caseledger_domain::{decide, evolve, CaseState, DomainError, Event};
use jiff::civil::Date;

use super::TestLog;

/// One case's history under construction.
pub struct Case {
    pub crn: String,
    pub state: CaseState,
    pub events: Vec<Event>,
}

impl Case {
    /// A case opened in PDU `pdu` on `on`.
    pub fn open(crn: &str, pdu: u32, on: Date) -> Case {
        let mut case = Case {
            crn: crn.to_owned(),
            state: CaseState::default(),
            events: Vec::new(),
        };
        case.run(DomainCommand::OpenCase {
            crn: Crn::new(crn).unwrap(),
            person: person(),
            pdu: Pdu::new(pdu).unwrap(),
            team: Some(team("T01")),
            on,
        });
        case
    }

    /// Decide `command` on its own date; keep the events if accepted.
    pub fn try_run(&mut self, command: &DomainCommand) -> Result<usize, DomainError> {
        let ruleset = ruleset_for(&self.state, command, command.on());
        let events = decide(&self.state, command, &ruleset, command.on())?;
        for e in &events {
            self.state = evolve(std::mem::take(&mut self.state), e);
        }
        let n = events.len();
        self.events.extend(events);
        Ok(n)
    }

    /// Decide `command`; a refusal fails the test (hand-made histories must be valid).
    pub fn run(&mut self, command: DomainCommand) -> &mut Case {
        if let Err(e) = self.try_run(&command) {
            panic!("{}: {command:?} refused: {e}", self.crn);
        }
        self
    }
}

/// Microseconds since the epoch of midnight UTC at the start of `on`.
pub fn midnight_us(on: Date) -> i64 {
    on.to_zoned(jiff::tz::TimeZone::UTC)
        .unwrap()
        .timestamp()
        .as_microsecond()
}

/// Append every case's events to `log`, cases one after another; each event is recorded at a
/// strictly later instant and effective at its position (the order of the log).
pub fn append_cases(log: &TestLog, cases: &[&Case]) {
    for case in cases {
        for e in &case.events {
            let at = i64::try_from(log.head()).unwrap() + 1;
            log.push_event(&case.crn, e, at, at);
        }
    }
}
