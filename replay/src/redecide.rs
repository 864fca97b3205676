//! Re-evaluating decisions the domain's `decide` makes itself (TR provider allocation, BR-A2–A5,
//! seed 001 l.55–67; risk escalation outcome, BR-A9 and BR-A11, seed 001 l.65–68): the command
//! is rebuilt from what the event records, and `decide` runs again on the case state as it stood,
//! under a chosen ruleset, with the decision's own date as `today`.

use caseledger_domain::event::Event;
use caseledger_domain::reference::{CrcName, Nation, Organisation, Provider};
use caseledger_domain::{decide, CaseState, DomainCommand, Ruleset};
use jiff::civil::Date;
use serde_json::{json, Value};

/// Name used for "the CRC serving the area" when the recorded decision chose the NPS and so
/// never named one; shown as is if a re-evaluation sends the case to a CRC.
const UNRECORDED_CRC: &str = "the CRC serving the area (not recorded)";

/// The command that produced `event`, and the date it was decided on; `None` for decision
/// types `decide` does not make from a command rebuilt this way.
pub fn command_for(event: &Event) -> Option<(DomainCommand, Date)> {
    match event {
        Event::CaseAllocatedToProvider(e) => {
            let crc = match &e.provider {
                Provider::Crc(name) => name.clone(),
                _ => CrcName::new(UNRECORDED_CRC).ok()?,
            };
            Some((
                DomainCommand::AllocateToProvider {
                    on: e.allocated_on,
                    crc,
                    deportation_order: e.inputs.deportation_order,
                    notoriety: e.inputs.notoriety,
                    // Only the NPS allocates (BR-A2, seed 001 l.55).
                    by: Organisation::Nps,
                },
                e.allocated_on,
            ))
        }
        Event::RiskEscalationDecided(e) => Some((
            DomainCommand::DecideRiskEscalation {
                on: e.decided_on,
                confirmed_rosh: e.inputs.confirmed_rosh,
                // Only the NPS decides an escalation (BR-A11, seed 001 l.68).
                by: Organisation::Nps,
            },
            e.decided_on,
        )),
        _ => None,
    }
}

/// The nation whose rules apply to the case (its PDU; England when not recorded).
pub fn nation_of(state: &CaseState) -> Nation {
    state.pdu.map_or(Nation::England, |p| p.nation())
}

/// The ruleset in force on `on` for the case, or a refusal text.
pub fn ruleset_on(state: &CaseState, on: Date) -> Result<Ruleset, String> {
    Ruleset::for_date(on, nation_of(state)).map_err(|e| e.to_string())
}

/// Run `decide` again and return the event of type `event_type` it emits, as JSON (fields
/// only), or `{"refused": why}`.
pub fn redecide(
    state: &CaseState,
    command: &DomainCommand,
    ruleset: &Ruleset,
    on: Date,
    event_type: &str,
) -> Value {
    match decide(state, command, ruleset, on) {
        Err(refusal) => json!({ "refused": refusal.to_string() }),
        Ok(events) => match events.iter().find(|e| e.event_type() == event_type) {
            None => json!({ "refused": format!("no {event_type} would be recorded") }),
            Some(event) => match serde_json::to_value(event) {
                Ok(Value::Object(mut tagged)) => tagged.remove(event_type).unwrap_or(Value::Null),
                Ok(other) => other,
                Err(e) => json!({ "refused": format!("cannot be shown as JSON: {e}") }),
            },
        },
    }
}
