//! Data protection: erasure of a person's personal data.
//!
//! - ERASE-1 (UK GDPR Art. 17; Data Protection Act 2018 Part 3 s.47: erasure when the
//!   processing is no longer lawful or the retention period has ended;
//!   docs/decisions/0009-crypto-shredding.md): `PersonalDataErased` is recorded once per case,
//!   naming no personal data; the engine then destroys the person's data key. An unknown case
//!   is refused naming the CRN; an erased case is erased again as a no-op (no event), so a
//!   repeat only finishes destroying the key.

use jiff::civil::Date;

use crate::error::DomainError;
use crate::event::{Event, PersonalDataErased};
use crate::identity::{Crn, Text};
use crate::state::CaseState;

/// The rule id of erasure, as docs/rules.md names it.
pub const ERASE_RULE: &str = "ERASE-1, UK GDPR Art. 17 / DPA 2018 s.47";

/// ERASE-1 (UK GDPR Art. 17; DPA 2018 Part 3 s.47; docs/decisions/0009): erase the person's
/// personal data on case `crn` on `on`. Refused for a case that does not exist (naming the
/// CRN) or is another CRN, dated in the future or before the case was opened, and for a
/// reason that names the person or their date of birth (the reason stays in the log for
/// good, in the clear). A closed case may be erased: retention ends after closure. Already
/// erased: nothing to record (`Ok` with no event).
pub(super) fn erase_personal_data(
    state: &CaseState,
    crn: &Crn,
    on: Date,
    reason: &Text,
    today: Date,
) -> Result<Vec<Event>, DomainError> {
    let (Some(case), Some(opened_on)) = (&state.crn, state.opened_on) else {
        return Err(DomainError::NoSuchCase {
            crn: crn.as_str().to_owned(),
        });
    };
    if case != crn {
        return Err(DomainError::WrongCase {
            case: case.as_str().to_owned(),
            given: crn.as_str().to_owned(),
        });
    }
    if state.personal_data_erased_on.is_some() {
        return Ok(vec![]);
    }
    super::not_future("the erasure date", on, today)?;
    super::not_before("the erasure date", on, "the case opening date", opened_on)?;
    if let Some(field) = personal_datum_in(state, reason) {
        return Err(DomainError::RuleRefused {
            crn: crn.as_str().to_owned(),
            action: "erase personal data",
            why: format!(
                "the reason contains the person's {field}; it is kept in the log for good, so \
                 give the rule that ended the retention instead (e.g. \"retention ended (RET-1)\")"
            ),
            rule: ERASE_RULE,
        });
    }
    Ok(vec![PersonalDataErased {
        crn: crn.clone(),
        erased_on: on,
        reason: reason.clone(),
    }
    .into()])
}

/// The field of the person's known personal data that `reason` contains (name or date of
/// birth), compared without case; `None` when it contains neither, or the person is not
/// known to this fold (sealed and read without the key).
fn personal_datum_in(state: &CaseState, reason: &Text) -> Option<&'static str> {
    let person = state.person.as_ref()?.known()?;
    let reason = reason.as_str().to_lowercase();
    if reason.contains(&person.name.as_str().to_lowercase()) {
        return Some("name");
    }
    if reason.contains(&person.date_of_birth.to_string()) {
        return Some("date of birth");
    }
    None
}

#[cfg(test)]
mod tests {
    use jiff::civil::date;

    use crate::command::DomainCommand;
    use crate::error::DomainError;
    use crate::event::{CaseClosed, Event, PersonalDataErased};
    use crate::sealable::Sealable;
    use crate::testing::*;

    fn erase(on: jiff::civil::Date, reason: &str) -> DomainCommand {
        DomainCommand::ErasePersonalData {
            crn: crn(),
            on,
            reason: text(reason),
        }
    }

    /// A case opened in 2016, sentenced and closed in 2017.
    fn closed_case() -> Vec<Event> {
        let (_, events) = run([
            open_case(1, date(2016, 3, 1)),
            DomainCommand::CloseCase {
                on: date(2017, 3, 1),
                reason: text("all sentences ended"),
            },
        ]);
        assert!(matches!(
            events.last(),
            Some(Event::CaseClosed(CaseClosed { .. }))
        ));
        events
    }

    #[test]
    fn erase_1_records_the_erasure_without_personal_data_and_the_person_becomes_erased() {
        let before = crate::CaseState::from_events(&closed_case());
        let after = given(closed_case())
            .on(date(2026, 12, 6))
            .when(erase(date(2026, 12, 6), "retention ended (RET-1)"))
            .then([PersonalDataErased {
                crn: crn(),
                erased_on: date(2026, 12, 6),
                reason: text("retention ended (RET-1)"),
            }
            .into()]);
        assert_eq!(after.person, Some(Sealable::Erased));
        assert_eq!(after.personal_data_erased_on, Some(date(2026, 12, 6)));
        // Every other fact stays.
        let unchanged = crate::CaseState {
            person: before.person.clone(),
            personal_data_erased_on: None,
            version: before.version,
            ..after.clone()
        };
        assert_eq!(unchanged, before);
    }

    #[test]
    fn erase_1_an_erased_case_is_erased_again_as_a_no_op() {
        let mut history = closed_case();
        history.push(
            PersonalDataErased {
                crn: crn(),
                erased_on: date(2026, 12, 6),
                reason: text("retention ended (RET-1)"),
            }
            .into(),
        );
        given(history)
            .on(date(2026, 12, 7))
            .when(erase(date(2026, 12, 7), "retention ended (RET-1)"))
            .then([]);
    }

    #[test]
    fn erase_1_an_unknown_case_is_refused_naming_the_crn() {
        let e = given([])
            .on(date(2026, 12, 6))
            .when(erase(date(2026, 12, 6), "retention ended (RET-1)"))
            .then_error(|e| matches!(e, DomainError::NoSuchCase { crn } if crn == "X123456"));
        assert!(e.to_string().contains("X123456"), "{e}");
    }

    #[test]
    fn erase_1_another_crn_a_future_date_or_one_before_opening_is_refused() {
        let other = DomainCommand::ErasePersonalData {
            crn: crate::identity::Crn::new("Y654321").unwrap(),
            on: date(2026, 12, 6),
            reason: text("retention ended (RET-1)"),
        };
        given(closed_case())
            .on(date(2026, 12, 6))
            .when(other)
            .then_error(|e| matches!(e, DomainError::WrongCase { .. }));
        given(closed_case())
            .on(date(2026, 12, 6))
            .when(erase(date(2026, 12, 7), "retention ended (RET-1)"))
            .then_error(|e| matches!(e, DomainError::DateInFuture { .. }));
        given(closed_case())
            .on(date(2026, 12, 6))
            .when(erase(date(2016, 2, 29), "retention ended (RET-1)"))
            .then_error(|e| matches!(e, DomainError::DateTooEarly { .. }));
    }

    #[test]
    fn erase_1_a_reason_naming_the_person_or_their_date_of_birth_is_refused_without_quoting_it() {
        for (reason, field) in [
            ("retention ended for SAM EXAMPLE", "name"),
            ("born 1990-04-12, retention ended", "date of birth"),
        ] {
            let e = given(closed_case())
                .on(date(2026, 12, 6))
                .when(erase(date(2026, 12, 6), reason))
                .then_error(|e| matches!(e, DomainError::RuleRefused { .. }));
            let message = e.to_string();
            assert!(message.contains(field), "{message}");
            assert!(!message.to_lowercase().contains("sam example"), "{message}");
            assert!(!message.contains("1990-04-12"), "{message}");
        }
    }
}
