//! Domain events for the replay tests, built with the domain's own constructors.

#![allow(dead_code)]

use std::collections::BTreeMap;

use caseledger_domain::event::{
    CaseOpened, Decision, MappaLevelSet, ReasonCode, RegistrationAdded, RiskAssessed, RoshStatus,
};
use caseledger_domain::identity::{Crn, Person, PersonName};
use caseledger_domain::reference::{Organisation, Pdu};
use caseledger_domain::risk::{
    AssessmentKind, MappaCategory, MappaLevel, Need, NeedSeverity, OgrsScore, RegistrationKind,
    RoshLevel, RsrScore,
};
use caseledger_domain::ruleset::RulesetId;
use caseledger_domain::Event;
use jiff::civil::Date;

pub fn date(text: &str) -> Date {
    text.parse().expect("test date")
}

pub fn decision(ruleset: RulesetId, reason: &str) -> Decision {
    Decision {
        ruleset_id: ruleset,
        reason_code: ReasonCode::new(reason).expect("test reason code"),
    }
}

pub fn case_opened(crn: &str, on: &str) -> Event {
    Event::CaseOpened(CaseOpened {
        crn: Crn::new(crn).expect("test CRN"),
        person: caseledger_domain::sealable::Sealable::Known(Person {
            name: PersonName::new("Alex Example").expect("name"),
            date_of_birth: date("1990-05-17"),
            gender: caseledger_domain::identity::Gender::Male,
        }),
        pdu: Pdu::new(1).expect("PDU 1"),
        team: None,
        opened_on: date(on),
    })
}

pub fn risk_assessed(on: &str, rosh: RoshLevel, ruleset: RulesetId) -> Event {
    let mut needs = BTreeMap::new();
    needs.insert(Need::Accommodation, NeedSeverity::Standard);
    needs.insert(Need::DrugMisuse, NeedSeverity::Severe);
    Event::RiskAssessed(RiskAssessed {
        assessed_on: date(on),
        kind: AssessmentKind::Review,
        assessed_by: Organisation::Nps,
        rosh,
        rosh_status: RoshStatus::Confirmed,
        rsr: Some(RsrScore::from_hundredths(512).expect("rsr")),
        ogrs: Some(OgrsScore::new(42).expect("ogrs")),
        needs,
        decision: decision(ruleset, "risk_reassessed"),
    })
}

pub fn mappa_level_set(on: &str, level: u8) -> Event {
    Event::MappaLevelSet(MappaLevelSet {
        set_on: date(on),
        category: MappaCategory::new(1).expect("category"),
        level: MappaLevel::new(level).expect("level"),
        decision: decision(RulesetId::Unified2021, "panel_decision"),
    })
}

pub fn registration_added(id: u16, on: &str) -> Event {
    Event::RegistrationAdded(RegistrationAdded {
        registration_id: id,
        kind: RegistrationKind::DomesticAbusePerpetrator,
        registered_on: date(on),
        review_on: None,
    })
}

pub fn event_corrected(
    on: &str,
    corrected: uuid::Uuid,
    corrected_type: &str,
    reason: &str,
) -> Event {
    Event::EventCorrected(caseledger_domain::event::EventCorrected {
        corrected_on: date(on),
        corrected_event_id: caseledger_domain::identity::EventRef::new(corrected.to_string())
            .expect("event ref"),
        corrected_event_type: caseledger_domain::event::EventTypeName::new(corrected_type)
            .expect("event type"),
        reason: caseledger_domain::identity::Text::new(reason).expect("reason"),
    })
}
