//! Bounds every command's values must keep, checked where a command is parsed (before it is
//! authorised, decided or recorded): a value outside them is bad input naming its field, and
//! nothing is written for it.
//!
//! - **INPUT-DATE**: every date a command carries (`effective_at` and each date field of
//!   `command`, a date of birth included) lies in 1900-01-01..=2100-12-31. Probation records
//!   the lives of people alive now and sentences that end this century; a date outside is a
//!   typing error (`0216-03-01`, `2106-03-01`), and rule calendars (bank holidays, working days)
//!   are not defined there.
//! - **INPUT-ID**: the command id is not the nil UUID. It is the idempotency key: every sender
//!   that forgot to set one would otherwise share it, and the second such command would be
//!   answered as a repeat of the first (or refused as a conflict) instead of being applied.

use jiff::civil::{date, Date};
use serde_json::Value;
use uuid::Uuid;

use crate::envelope::ParseError;

/// Earliest date a command may carry (INPUT-DATE).
pub const DATE_MIN: Date = date(1900, 1, 1);
/// Latest date a command may carry (INPUT-DATE).
pub const DATE_MAX: Date = date(2100, 12, 31);

/// INPUT-ID: the command id is a real idempotency key, not the nil UUID.
pub fn check_command_id(id: Uuid) -> Result<(), ParseError> {
    if id.is_nil() {
        return Err(ParseError::new(
            "command_id",
            "is the nil UUID (all zeros); every command needs its own id, e.g. a random \
             (version 4) UUID",
        ));
    }
    Ok(())
}

/// INPUT-DATE for one date: `field` names it in the error.
pub fn check_date(field: &str, value: Date) -> Result<(), ParseError> {
    if value < DATE_MIN || value > DATE_MAX {
        return Err(ParseError::new(
            field,
            format!("{value} is outside {DATE_MIN}..={DATE_MAX}; check the year"),
        ));
    }
    Ok(())
}

/// INPUT-DATE for every date in `value` (a command's typed fields re-encoded as JSON), whose
/// field path is `path` (`command`): the first date out of bounds is named by its path
/// (`command.person.date_of_birth`, `command.dates.sentence_expiry_date`).
pub fn check_dates(value: &Value, path: &str) -> Result<(), ParseError> {
    match value {
        Value::String(s) => match as_date(s) {
            Some(d) => check_date(path, d),
            None => Ok(()),
        },
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_dates(item, &format!("{path}[{i}]"))),
        Value::Object(fields) => fields
            .iter()
            .try_for_each(|(key, item)| check_dates(item, &format!("{path}.{key}"))),
        _ => Ok(()),
    }
}

/// A string the way a typed date field encodes: `YYYY-MM-DD` (an extended year with a sign,
/// `-000001-01-01`, for years outside 0..=9999).
fn as_date(s: &str) -> Option<Date> {
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    let year_digits = unsigned.len().checked_sub(6)?;
    let shaped = (4..=6).contains(&year_digits)
        && unsigned.bytes().enumerate().all(|(i, b)| {
            let from_end = unsigned.len() - i;
            if from_end == 3 || from_end == 6 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if shaped {
        s.parse().ok()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn input_date_bounds_are_inclusive() {
        assert!(check_date("on", date(1900, 1, 1)).is_ok());
        assert!(check_date("on", date(2100, 12, 31)).is_ok());
        let err = check_date("on", date(1899, 12, 31)).unwrap_err();
        assert_eq!(err.field, "on");
        assert!(err.message.contains("1899-12-31"), "{err}");
        assert_eq!(check_date("on", date(2101, 1, 1)).unwrap_err().field, "on");
    }

    #[test]
    fn input_date_names_the_nested_field() {
        let body = json!({"on": "2016-03-01", "court": "0216-03-01 Court",
                          "person": {"date_of_birth": "0985-04-02", "name": "2016-03-01"},
                          "items": [{"due_on": null}, {"due_on": "2106-01-01"}]});
        let err = check_dates(&body, "command").unwrap_err();
        assert_eq!(err.field, "command.items[1].due_on");
        let mut body = body;
        body["items"][1]["due_on"] = json!(null);
        let err = check_dates(&body, "command").unwrap_err();
        assert_eq!(err.field, "command.person.date_of_birth");
        assert!(err.message.contains("0985-04-02"), "{err}");
        body["person"]["date_of_birth"] = json!("-000001-01-01");
        let err = check_dates(&body, "command").unwrap_err();
        assert_eq!(err.field, "command.person.date_of_birth");
        body["person"]["date_of_birth"] = json!("1985-04-02");
        assert!(check_dates(&body, "command").is_ok());
    }

    #[test]
    fn input_id_the_nil_uuid_is_not_a_command_id() {
        assert_eq!(
            check_command_id(Uuid::nil()).unwrap_err().field,
            "command_id"
        );
        assert!(check_command_id(Uuid::from_u128(1)).is_ok());
    }
}
