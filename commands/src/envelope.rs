//! The public command JSON (docs/commands.md) and its strict parser.
//!
//! ```json
//! {"command_id": "0b7f…", "crn": "X123456",
//!  "actor": {"id": "jsmith", "role": "probation_officer", "organisation": "nps"},
//!  "effective_at": "2016-03-01",
//!  "command": {"type": "assess_risk", "on": "2016-03-01", "kind": "initial", "rosh": "high", …}}
//! ```
//!
//! Every error names the field it is about (`command.rosh: unknown variant …`), unknown
//! fields are refused at every level, and the acting organisation is taken from the actor:
//! commands whose rules depend on it get their `by` field filled here, never from the body.

use std::collections::BTreeSet;

use caseledger_domain::identity::Crn;
use caseledger_domain::reference::{CrcName, Organisation};
use caseledger_domain::DomainCommand;
use jiff::civil::Date;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::bounds;
use crate::role::Role;

/// Longest command line accepted, in bytes. Real commands are under 2 KiB; the limit keeps a
/// broken file from being buffered without bound.
pub const COMMAND_BYTES_MAX: usize = 64 * 1024;
/// Longest actor id, in bytes (the store's limit for actor fields is 256).
pub const ACTOR_ID_BYTES_MAX: usize = 128;

/// Every command type: public `snake_case` name, the domain's variant name, and whether the
/// command carries the acting organisation (`by`).
pub const COMMAND_TYPES: &[(&str, &str, bool)] = &[
    ("open_case", "OpenCase", false),
    (
        "request_pre_sentence_report",
        "RequestPreSentenceReport",
        false,
    ),
    (
        "complete_pre_sentence_report",
        "CompletePreSentenceReport",
        false,
    ),
    ("impose_sentence", "ImposeSentence", false),
    (
        "recalculate_sentence_dates",
        "RecalculateSentenceDates",
        false,
    ),
    ("assess_risk", "AssessRisk", true),
    ("add_registration", "AddRegistration", false),
    ("remove_registration", "RemoveRegistration", false),
    ("screen_for_mappa", "ScreenForMappa", false),
    ("refer_to_mappa", "ReferToMappa", true),
    ("set_mappa_level", "SetMappaLevel", true),
    ("allocate_to_provider", "AllocateToProvider", true),
    ("allocate_practitioner", "AllocatePractitioner", true),
    ("reallocate_practitioner", "ReallocatePractitioner", true),
    ("record_tier", "RecordTier", false),
    ("record_tier_v3", "RecordTierV3", false),
    ("request_risk_escalation", "RequestRiskEscalation", true),
    ("decide_risk_escalation", "DecideRiskEscalation", true),
    ("unify_probation_service", "UnifyProbationService", false),
    (
        "allocate_prison_offender_manager",
        "AllocatePrisonOffenderManager",
        false,
    ),
    ("record_handover_dates", "RecordHandoverDates", false),
    (
        "allocate_community_offender_manager",
        "AllocateCommunityOffenderManager",
        false,
    ),
    ("transfer_responsibility", "TransferResponsibility", false),
    ("override_responsibility", "OverrideResponsibility", false),
    ("record_handover_meeting", "RecordHandoverMeeting", false),
    (
        "record_pre_release_contact",
        "RecordPreReleaseContact",
        false,
    ),
    ("release", "Release", false),
    ("end_licence", "EndLicence", false),
    (
        "start_post_sentence_supervision",
        "StartPostSentenceSupervision",
        false,
    ),
    (
        "end_post_sentence_supervision",
        "EndPostSentenceSupervision",
        false,
    ),
    ("lapse_supervision", "LapseSupervision", false),
    ("schedule_appointment", "ScheduleAppointment", false),
    ("record_attendance", "RecordAttendance", false),
    ("record_absence", "RecordAbsence", false),
    ("issue_warning", "IssueWarning", false),
    ("raise_breach", "RaiseBreach", false),
    ("conclude_breach", "ConcludeBreach", false),
    ("raise_recall", "RaiseRecall", false),
    ("conclude_recall", "ConcludeRecall", false),
    ("credit_unpaid_work", "CreditUnpaidWork", false),
    ("complete_requirement", "CompleteRequirement", false),
    ("terminate_requirement", "TerminateRequirement", false),
    ("create_sentence_plan", "CreateSentencePlan", false),
    ("review_sentence_plan", "ReviewSentencePlan", false),
    ("record_accommodation", "RecordAccommodation", false),
    ("record_employment", "RecordEmployment", false),
    ("transfer_case", "TransferCase", false),
    ("terminate_sentence", "TerminateSentence", false),
    ("close_case", "CloseCase", false),
    ("reopen_case", "ReopenCase", false),
    ("correct_event", "CorrectEvent", false),
    ("erase_personal_data", "ErasePersonalData", false),
];

/// Who sends a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandActor {
    pub id: String,
    pub role: Role,
    /// The organisation as written (`nps`, `crc:DLNR CRC`, `prison`, …).
    pub organisation: String,
}

impl CommandActor {
    /// The organisation as the domain rules see it.
    pub fn domain_organisation(&self) -> Result<Organisation, ParseError> {
        parse_organisation(&self.organisation)
    }
}

/// When the command takes effect: a civil date or an instant. Its date is the `today` given
/// to `decide` (the engine never reads the system clock for a decision).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveAt {
    /// The calendar date (for an instant, its date in UTC).
    pub date: Date,
    /// Microseconds since the Unix epoch (UTC); a date is taken at 00:00 UTC.
    pub instant_us: i64,
    /// True when the JSON gave a date rather than an instant (kept for round-trips).
    pub date_only: bool,
}

impl EffectiveAt {
    pub fn from_date(date: Date) -> EffectiveAt {
        let instant_us = date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map(|z| z.timestamp().as_microsecond())
            .unwrap_or(0);
        EffectiveAt {
            date,
            instant_us,
            date_only: true,
        }
    }

    pub fn parse(s: &str) -> Result<EffectiveAt, String> {
        if s.len() == 10 {
            let date: Date = s
                .parse()
                .map_err(|_| "must be a date YYYY-MM-DD or an RFC 3339 instant".to_string())?;
            return Ok(EffectiveAt::from_date(date));
        }
        let ts: jiff::Timestamp = s.parse().map_err(|_| {
            "must be a date YYYY-MM-DD or an RFC 3339 instant such as 2016-03-01T09:30:00Z"
                .to_string()
        })?;
        Ok(EffectiveAt {
            date: ts.to_zoned(jiff::tz::TimeZone::UTC).date(),
            instant_us: ts.as_microsecond(),
            date_only: false,
        })
    }

    fn to_json(self) -> String {
        if self.date_only {
            self.date.to_string()
        } else {
            jiff::Timestamp::from_microsecond(self.instant_us)
                .map(|t| t.to_string())
                .unwrap_or_else(|_| self.date.to_string())
        }
    }
}

/// One command: its idempotency key, the case, the actor, when, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandEnvelope {
    /// The idempotency key: sending the same command id twice applies it once.
    pub command_id: Uuid,
    pub crn: Crn,
    pub actor: CommandActor,
    pub effective_at: EffectiveAt,
    pub command: DomainCommand,
}

/// A command that cannot be read: which field, and why.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("{field}: {message}")]
pub struct ParseError {
    /// Dotted path of the field (`command.rosh`, `actor.role`); `input` for the whole line.
    pub field: String,
    pub message: String,
}

impl ParseError {
    pub(crate) fn new(field: impl Into<String>, message: impl Into<String>) -> ParseError {
        ParseError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// What could be read of a bad command, so its refusal can still be recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartialHeader {
    pub command_id: Option<Uuid>,
    pub crn: Option<String>,
    pub actor: Option<CommandActor>,
    pub command_type: Option<String>,
    pub effective_at: Option<EffectiveAt>,
}

/// Map the actor's organisation text onto the domain's [`Organisation`].
///
/// `nps`, `crc:<name>` (e.g. `crc:DLNR CRC`, seed 001 l.10), `prison`, `court`,
/// `parole_board`, `mappa_panel`; anything else that is non-empty (`hmpps`, `hmi_probation`, …)
/// is another organisation.
pub fn parse_organisation(s: &str) -> Result<Organisation, ParseError> {
    let field = "actor.organisation";
    if s.trim().is_empty() {
        return Err(ParseError::new(
            field,
            "must not be empty (e.g. nps, crc:DLNR CRC)",
        ));
    }
    if s.len() > ACTOR_ID_BYTES_MAX {
        return Err(ParseError::new(
            field,
            format!("is {} bytes; at most {ACTOR_ID_BYTES_MAX} allowed", s.len()),
        ));
    }
    Ok(match s {
        "nps" => Organisation::Nps,
        "prison" => Organisation::Prison,
        "court" => Organisation::Court,
        "parole_board" => Organisation::ParoleBoard,
        "mappa_panel" => Organisation::MappaPanel,
        _ => match s.strip_prefix("crc:") {
            Some(name) => Organisation::Crc(
                CrcName::new(name).map_err(|e| ParseError::new(field, e.to_string()))?,
            ),
            None => Organisation::Other,
        },
    })
}

fn type_entry_by_name(name: &str) -> Option<&'static (&'static str, &'static str, bool)> {
    COMMAND_TYPES.iter().find(|(snake, _, _)| *snake == name)
}

fn type_entry_by_variant(variant: &str) -> Option<&'static (&'static str, &'static str, bool)> {
    COMMAND_TYPES
        .iter()
        .find(|(_, pascal, _)| *pascal == variant)
}

const TOP_LEVEL_FIELDS: [&str; 5] = ["command_id", "crn", "actor", "effective_at", "command"];
const ACTOR_FIELDS: [&str; 3] = ["id", "role", "organisation"];

/// Parse one command line.
pub fn parse_command(line: &str) -> Result<CommandEnvelope, ParseError> {
    parse_command_with_header(line).map_err(|(e, _)| e)
}

/// Parse one command line; on failure also return what could be read of its header.
pub fn parse_command_with_header(
    line: &str,
) -> Result<CommandEnvelope, (ParseError, Box<PartialHeader>)> {
    let mut header = PartialHeader::default();
    match parse_inner(line, None, &mut header) {
        Ok(envelope) => Ok(envelope),
        Err(e) => Err((e, Box::new(header))),
    }
}

fn parse_inner(
    line: &str,
    verified: Option<&VerifiedActor>,
    header: &mut PartialHeader,
) -> Result<CommandEnvelope, ParseError> {
    if line.len() > COMMAND_BYTES_MAX {
        return Err(ParseError::new(
            "input",
            format!(
                "line is {} bytes; at most {COMMAND_BYTES_MAX} allowed",
                line.len()
            ),
        ));
    }
    let value = strict_json(line)?;
    let Value::Object(mut top) = value else {
        return Err(ParseError::new("input", "a command must be a JSON object"));
    };
    reject_unknown(&top, &TOP_LEVEL_FIELDS, "")?;

    let command_id = match top.get("command_id") {
        None | Some(Value::Null) => return Err(ParseError::new("command_id", "required")),
        Some(Value::String(s)) => Uuid::parse_str(s).map_err(|_| {
            ParseError::new(
                "command_id",
                "must be a UUID such as 0b7f3c8e-2f1a-4c55-9d5e-1d2c3b4a5f60",
            )
        })?,
        Some(_) => return Err(ParseError::new("command_id", "must be a UUID string")),
    };
    // Before the header names it: a refusal recorded under the nil id would be one shared by
    // every sender that forgot its id.
    bounds::check_command_id(command_id)?;
    header.command_id = Some(command_id);

    let crn_text = required_string(&top, "crn", "crn")?;
    header.crn = Some(crn_text.chars().take(32).collect());
    let crn = Crn::new(crn_text).map_err(|e| ParseError::new("crn", e.to_string()))?;

    let actor = match (verified, top.get("actor")) {
        (Some(verified), None) => verified.0.clone(),
        (Some(_), Some(_)) => {
            return Err(ParseError::new(
                "actor",
                "is taken from the authenticated caller, never from the command; remove it",
            ))
        }
        (None, None | Some(Value::Null)) => return Err(ParseError::new("actor", "required")),
        (None, Some(Value::Object(actor))) => parse_actor(actor)?,
        (None, Some(_)) => {
            return Err(ParseError::new(
                "actor",
                "must be an object {\"id\", \"role\", \"organisation\"}",
            ))
        }
    };
    let organisation = actor.domain_organisation()?;
    header.actor = Some(actor.clone());

    let effective_at = EffectiveAt::parse(required_string(&top, "effective_at", "effective_at")?)
        .map_err(|m| ParseError::new("effective_at", m))?;
    bounds::check_date("effective_at", effective_at.date)?;
    header.effective_at = Some(effective_at);

    let body = match top.remove("command") {
        None | Some(Value::Null) => return Err(ParseError::new("command", "required")),
        Some(Value::Object(body)) => body,
        Some(_) => {
            return Err(ParseError::new(
                "command",
                "must be an object with a \"type\"",
            ))
        }
    };
    let command = parse_body(body, &organisation, header)?;
    if let DomainCommand::OpenCase { crn: named, .. }
    | DomainCommand::ErasePersonalData { crn: named, .. } = &command
    {
        if named != &crn {
            return Err(ParseError::new(
                "command.crn",
                format!("is {named} but the command is addressed to crn {crn}"),
            ));
        }
    }
    Ok(CommandEnvelope {
        command_id,
        crn,
        actor,
        effective_at,
        command,
    })
}

fn parse_actor(actor: &Map<String, Value>) -> Result<CommandActor, ParseError> {
    reject_unknown(actor, &ACTOR_FIELDS, "actor.")?;
    let id = required_string(actor, "id", "actor.id")?;
    let role_text = required_string(actor, "role", "actor.role")?;
    let role = Role::parse(role_text).ok_or_else(|| {
        ParseError::new(
            "actor.role",
            format!(
                "must be one of {}",
                Role::ALL
                    .into_iter()
                    .filter(|r| *r != Role::System)
                    .map(Role::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
    })?;
    let organisation = required_string(actor, "organisation", "actor.organisation")?;
    Ok(VerifiedActor::new(id, role, organisation)?.0)
}

/// An actor the host has authenticated: the only way a caller's identity reaches the library
/// API without being read from a command body ([`parse_command_as`], `Engine::execute_as`).
///
/// The host builds it after its own authentication (a verified token, a mutual-TLS
/// certificate, the operating-system user of a trusted shell) from what that authentication
/// established, never from the request. It cannot hold the engine's own identity: the role
/// `system` and the actor id [`ENGINE_ACTOR_ID`] belong to the engine, which writes derived
/// decisions and time-driven commands itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedActor(CommandActor);

impl VerifiedActor {
    /// Check and wrap an authenticated identity. Refused: an empty, over-long or
    /// control-character id, the engine's own id or role, and an unusable organisation.
    pub fn new(id: &str, role: Role, organisation: &str) -> Result<VerifiedActor, ParseError> {
        if id.trim().is_empty() || id.len() > ACTOR_ID_BYTES_MAX {
            return Err(ParseError::new(
                "actor.id",
                format!("must be 1 to {ACTOR_ID_BYTES_MAX} bytes"),
            ));
        }
        if id.chars().any(char::is_control) {
            return Err(ParseError::new(
                "actor.id",
                "must not contain control characters",
            ));
        }
        if id == ENGINE_ACTOR_ID {
            return Err(ParseError::new(
                "actor.id",
                format!("{ENGINE_ACTOR_ID} is the engine's own actor and cannot be supplied by a caller"),
            ));
        }
        if role == Role::System {
            return Err(ParseError::new(
                "actor.role",
                "system is the engine's own role and cannot be supplied by a caller; an \
                 integrated HMPPS service acts as \"service\"",
            ));
        }
        parse_organisation(organisation)?;
        Ok(VerifiedActor(CommandActor {
            id: id.to_owned(),
            role,
            organisation: organisation.to_owned(),
        }))
    }

    pub fn actor(&self) -> &CommandActor {
        &self.0
    }
}

/// The actor id of the engine itself (derived decisions, time-driven commands).
pub const ENGINE_ACTOR_ID: &str = "caseledger";

/// Parse one command sent by an authenticated caller: the command JSON without `actor`
/// (`command_id`, `crn`, `effective_at`, `command`); the actor is `actor`. A body that names
/// an actor is refused (field `actor`), so a caller cannot claim another identity.
pub fn parse_command_as(
    actor: &VerifiedActor,
    body: &str,
) -> Result<CommandEnvelope, (ParseError, Box<PartialHeader>)> {
    let mut header = PartialHeader {
        actor: Some(actor.0.clone()),
        ..PartialHeader::default()
    };
    match parse_inner(body, Some(actor), &mut header) {
        Ok(envelope) => Ok(envelope),
        Err(e) => Err((e, Box::new(header))),
    }
}

/// Most nested objects and arrays in a command; real commands nest four deep.
const JSON_DEPTH_MAX: u32 = 32;

/// Parse JSON refusing a key that appears twice in one object, anywhere: with duplicates a
/// check that reads the first `"role"` and a decoder that keeps the last would disagree about
/// who sent the command. The error names the repeated field (`actor.role`).
fn strict_json(line: &str) -> Result<Value, ParseError> {
    use serde::de::DeserializeSeed;
    let failure = std::cell::RefCell::new(None);
    let mut deserializer = serde_json::Deserializer::from_str(line);
    let seed = StrictSeed {
        path: String::new(),
        depth: 0,
        failure: &failure,
    };
    let parsed = seed
        .deserialize(&mut deserializer)
        .and_then(|v| deserializer.end().map(|()| v));
    match (parsed, failure.into_inner()) {
        (_, Some(e)) => Err(e),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(ParseError::new("input", format!("not valid JSON ({e})"))),
    }
}

struct StrictSeed<'a> {
    path: String,
    depth: u32,
    failure: &'a std::cell::RefCell<Option<ParseError>>,
}

impl StrictSeed<'_> {
    fn child(&self, path: String) -> Result<Self, ParseError> {
        if self.depth >= JSON_DEPTH_MAX {
            return Err(ParseError::new(
                if self.path.is_empty() {
                    "input"
                } else {
                    &self.path
                },
                format!("nested more than {JSON_DEPTH_MAX} levels deep"),
            ));
        }
        Ok(StrictSeed {
            path,
            depth: self.depth + 1,
            failure: self.failure,
        })
    }

    fn fail<E: serde::de::Error>(&self, error: ParseError) -> E {
        let message = error.to_string();
        *self.failure.borrow_mut() = Some(error);
        E::custom(message)
    }
}

impl<'de> serde::de::DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        loop {
            let child = self
                .child(format!("{}[{}]", self.path, out.len()))
                .map_err(|e| self.fail(e))?;
            match seq.next_element_seed(child)? {
                Some(v) => out.push(v),
                None => return Ok(Value::Array(out)),
            }
        }
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if out.contains_key(&key) {
                return Err(self.fail(ParseError::new(
                    path,
                    "appears twice; a key may appear once in an object",
                )));
            }
            let child = self.child(path).map_err(|e| self.fail(e))?;
            let value = map.next_value_seed(child)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

fn parse_body(
    mut body: Map<String, Value>,
    organisation: &Organisation,
    header: &mut PartialHeader,
) -> Result<DomainCommand, ParseError> {
    let type_name = match body.remove("type") {
        None | Some(Value::Null) => return Err(ParseError::new("command.type", "required")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(ParseError::new("command.type", "must be a string")),
    };
    header.command_type = Some(type_name.chars().take(64).collect());
    let Some(&(_, variant, takes_by)) = type_entry_by_name(&type_name) else {
        return Err(ParseError::new(
            "command.type",
            format!(
                "unknown command type {:?}; see docs/commands.md for the list",
                type_name.chars().take(64).collect::<String>()
            ),
        ));
    };
    if body.contains_key("by") {
        return Err(ParseError::new(
            "command.by",
            "is taken from actor.organisation; remove it",
        ));
    }
    if takes_by {
        let by = serde_json::to_value(organisation)
            .map_err(|e| ParseError::new("actor.organisation", e.to_string()))?;
        body.insert("by".into(), by);
    }
    let given = Value::Object(body);
    let mut wrapped = Map::new();
    wrapped.insert(variant.to_owned(), given.clone());
    let wrapped = Value::Object(wrapped);
    let command: DomainCommand = serde_path_to_error::deserialize(&wrapped).map_err(|e| {
        let path = e.path().to_string();
        // The path starts with the variant name; the public path starts with `command`.
        let field = match path.split_once('.') {
            Some((_, rest)) => format!("command.{rest}"),
            None => "command".to_owned(),
        };
        ParseError::new(field, e.into_inner().to_string())
    })?;
    // serde ignores fields it does not know; re-encoding shows which were not used.
    let used =
        serde_json::to_value(&command).map_err(|e| ParseError::new("command", e.to_string()))?;
    let used = used.get(variant).cloned().unwrap_or(Value::Null);
    let mut unknown = BTreeSet::new();
    unknown_fields(&given, &used, "command", &mut unknown);
    if !unknown.is_empty() {
        let names: Vec<String> = unknown.into_iter().collect();
        return Err(ParseError::new(
            names[0].clone(),
            format!("unknown field (unknown: {})", names.join(", ")),
        ));
    }
    bounds::check_dates(&used, "command")?;
    Ok(command)
}

/// Paths present in `given` but absent from `used`, recursively through objects and arrays.
fn unknown_fields(given: &Value, used: &Value, path: &str, out: &mut BTreeSet<String>) {
    match (given, used) {
        (Value::Object(g), Value::Object(u)) => {
            for (key, value) in g {
                let child = format!("{path}.{key}");
                match u.get(key) {
                    Some(used_value) => unknown_fields(value, used_value, &child, out),
                    None => {
                        out.insert(child);
                    }
                }
            }
        }
        (Value::Array(g), Value::Array(u)) => {
            for (i, (gv, uv)) in g.iter().zip(u.iter()).enumerate() {
                unknown_fields(gv, uv, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

fn reject_unknown(
    object: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), ParseError> {
    let unknown: Vec<String> = object
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("{prefix}{k}"))
        .collect();
    match unknown.first() {
        None => Ok(()),
        Some(first) => Err(ParseError::new(
            first.clone(),
            format!(
                "unknown field; expected only {}",
                allowed
                    .iter()
                    .map(|a| format!("{prefix}{a}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

fn required_string<'a>(
    object: &'a Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<&'a str, ParseError> {
    match object.get(key) {
        None | Some(Value::Null) => Err(ParseError::new(field, "required")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ParseError::new(field, "must be a string")),
    }
}

impl CommandEnvelope {
    /// The public JSON of this command (the inverse of [`parse_command`]).
    pub fn to_json(&self) -> Value {
        // A unit variant or a serialisation failure cannot happen for DomainCommand (every
        // variant has fields); fall back to an empty body rather than panic.
        let (variant, mut body) = match serde_json::to_value(&self.command) {
            Ok(Value::Object(outer)) => match outer.into_iter().next() {
                Some((variant, Value::Object(inner))) => (variant, inner),
                Some((variant, _)) => (variant, Map::new()),
                None => (String::new(), Map::new()),
            },
            _ => (String::new(), Map::new()),
        };
        let type_name = type_entry_by_variant(&variant)
            .map(|(snake, _, _)| *snake)
            .unwrap_or("unknown");
        body.remove("by");
        let mut command = Map::new();
        command.insert("type".into(), Value::String(type_name.into()));
        command.append(&mut body);
        serde_json::json!({
            "command_id": self.command_id.to_string(),
            "crn": self.crn.as_str(),
            "actor": {
                "id": self.actor.id,
                "role": self.actor.role.as_str(),
                "organisation": self.actor.organisation,
            },
            "effective_at": self.effective_at.to_json(),
            "command": Value::Object(command),
        })
    }

    /// The fingerprint kept with the command id in the store's idempotency index: SHA-256 of
    /// the command's canonical public JSON ([`CommandEnvelope::to_json`], compact, keys in a
    /// fixed order), so the same command id sent again with any other content — another body,
    /// case, date or actor — is told apart from a true repeat.
    pub fn fingerprint(&self) -> caseledger_store::Fingerprint {
        use sha2::{Digest, Sha256};
        /// Feeds the compact JSON straight into the hash: the same bytes `to_string` gives,
        /// without building the string.
        struct Hashing(Sha256);
        impl std::io::Write for Hashing {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.update(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut hashing = Hashing(Sha256::new());
        serde_json::to_writer(&mut hashing, &self.to_json())
            .expect("a JSON value always serialises, and hashing never fails to write");
        hashing.0.finalize().into()
    }

    /// The public type name of the command (`assess_risk`, …).
    pub fn command_type(&self) -> &'static str {
        crate::role::permission(&self.command).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ASSESS: &str = r#"{"command_id":"0b7f3c8e-2f1a-4c55-9d5e-1d2c3b4a5f60","crn":"X123456",
        "actor":{"id":"jsmith","role":"probation_officer","organisation":"nps"},
        "effective_at":"2016-03-01",
        "command":{"type":"assess_risk","on":"2016-03-01","kind":"initial","rosh":"high",
                   "rsr":null,"ogrs":null,"needs":{}}}"#;

    #[test]
    fn a_valid_command_parses_and_takes_the_organisation_from_the_actor() {
        let envelope = parse_command(ASSESS).unwrap();
        assert_eq!(envelope.crn.as_str(), "X123456");
        assert_eq!(envelope.actor.role, Role::ProbationOfficer);
        assert_eq!(envelope.effective_at.date, jiff::civil::date(2016, 3, 1));
        match &envelope.command {
            DomainCommand::AssessRisk { by, rosh, .. } => {
                assert_eq!(*by, Organisation::Nps);
                assert_eq!(rosh.as_str(), "high");
            }
            other => panic!("parsed as {other:?}"),
        }
        assert_eq!(envelope.command_type(), "assess_risk");
    }

    #[test]
    fn the_public_json_round_trips() {
        let envelope = parse_command(ASSESS).unwrap();
        let json = envelope.to_json().to_string();
        assert_eq!(parse_command(&json).unwrap(), envelope);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (ASSESS.replace("\"high\"", "\"extreme\""), "command.rosh"),
            (ASSESS.replace("probation_officer", "judge"), "actor.role"),
            (ASSESS.replace("X123456", "123"), "crn"),
            (
                ASSESS.replace("\"2016-03-01\",\n", "\"01/03/2016\",\n"),
                "effective_at",
            ),
            (ASSESS.replace("assess_risk", "assess_rsik"), "command.type"),
            (
                ASSESS.replace("\"needs\":{}", "\"needs\":{},\"colour\":1"),
                "command.colour",
            ),
            (
                ASSESS.replace("\"needs\":{}", "\"needs\":{},\"by\":\"Nps\""),
                "command.by",
            ),
            (
                ASSESS.replace("\"command_id\"", "\"commandid\""),
                "commandid",
            ),
            (ASSESS.replace("0b7f3c8e-", "zz"), "command_id"),
            ("[1,2]".to_owned(), "input"),
            ("{".to_owned(), "input"),
        ];
        for (line, field) in cases {
            let err = parse_command(&line).unwrap_err();
            assert_eq!(err.field, field, "{line}: {err}");
        }
        let err = parse_command(&ASSESS.replace("\"high\"", "\"extreme\"")).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("command.rosh: unknown variant `extreme`"),
            "{err}"
        );
    }

    #[test]
    fn a_key_given_twice_anywhere_is_refused_naming_it() {
        let cases = [
            (
                ASSESS.replace(
                    "\"role\":\"probation_officer\"",
                    "\"role\":\"inspector\",\"role\":\"senior_probation_officer\"",
                ),
                "actor.role",
            ),
            (
                ASSESS.replace(
                    "\"crn\":\"X123456\",",
                    "\"crn\":\"X123456\",\"crn\":\"X654321\",",
                ),
                "crn",
            ),
            (
                ASSESS.replace("\"rosh\":\"high\"", "\"rosh\":\"low\",\"rosh\":\"high\""),
                "command.rosh",
            ),
            (
                ASSESS.replace(
                    "\"needs\":{}",
                    "\"needs\":{\"accommodation\":\"standard\",\"accommodation\":\"severe\"}",
                ),
                "command.needs.accommodation",
            ),
        ];
        for (line, field) in cases {
            let err = parse_command(&line).unwrap_err();
            assert_eq!(err.field, field, "{line}: {err}");
            assert!(err.message.contains("appears twice"), "{err}");
        }
    }

    #[test]
    fn the_engines_own_role_and_actor_cannot_be_supplied() {
        let err = parse_command(&ASSESS.replace("probation_officer", "system")).unwrap_err();
        assert_eq!(err.field, "actor.role", "{err}");
        assert!(err.message.contains("engine's own"), "{err}");
        let err = parse_command(&ASSESS.replace("jsmith", "caseledger")).unwrap_err();
        assert_eq!(err.field, "actor.id", "{err}");
        assert!(VerifiedActor::new("svc", Role::System, "hmpps").is_err());
        assert!(VerifiedActor::new(ENGINE_ACTOR_ID, Role::Service, "hmpps").is_err());
        // The list of roles offered in an error does not advertise `system`.
        let err = parse_command(&ASSESS.replace("probation_officer", "judge")).unwrap_err();
        assert!(!err.message.contains("system"), "{err}");
    }

    #[test]
    fn an_authenticated_caller_sends_the_body_without_an_actor() {
        let actor = VerifiedActor::new("jsmith", Role::ProbationOfficer, "nps").unwrap();
        let mut body: Value = serde_json::from_str(ASSESS).unwrap();
        body.as_object_mut().unwrap().remove("actor");
        let envelope = parse_command_as(&actor, &body.to_string()).unwrap();
        assert_eq!(&envelope.actor, actor.actor());
        assert_eq!(envelope, parse_command(ASSESS).unwrap());
        // A body claiming an actor, even the same one, is refused: identity is not the body's.
        let (err, header) = parse_command_as(&actor, ASSESS).unwrap_err();
        assert_eq!(err.field, "actor", "{err}");
        assert_eq!(header.actor.as_ref(), Some(actor.actor()));
        let senior = ASSESS.replace("probation_officer", "senior_probation_officer");
        assert_eq!(
            parse_command_as(&actor, &senior).unwrap_err().0.field,
            "actor"
        );
    }

    #[test]
    fn the_fingerprint_tells_a_repeat_from_another_command_under_the_same_id() {
        let envelope = parse_command(ASSESS).unwrap();
        // Whitespace and key order do not matter: the fingerprint is of the canonical JSON.
        let spaced = ASSESS.replace(",\"crn\"", ", \"crn\"");
        assert_eq!(
            parse_command(&spaced).unwrap().fingerprint(),
            envelope.fingerprint()
        );
        let low = parse_command(&ASSESS.replace("\"high\"", "\"low\"")).unwrap();
        assert_eq!(low.command_id, envelope.command_id);
        assert_ne!(low.fingerprint(), envelope.fingerprint());
    }

    /// Stores keep the fingerprints of every command they applied: a build that computed them
    /// differently would take a true repeat for a conflicting command.
    #[test]
    fn the_fingerprint_is_the_sha256_of_the_compact_canonical_json_as_stored() {
        use sha2::{Digest, Sha256};
        let envelope = parse_command(ASSESS).unwrap();
        let by_definition: [u8; 32] = Sha256::digest(envelope.to_json().to_string()).into();
        assert_eq!(envelope.fingerprint(), by_definition);
        assert_eq!(
            hex::encode(envelope.fingerprint()),
            "1fc06910fa6ebf0a92cb4e2efb445185d974a0f455ab135f5625ed624f420a6d"
        );
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}{}", "[".repeat(40), "]".repeat(40));
        let err = parse_command(&deep).unwrap_err();
        assert!(err.message.contains("nested"), "{err}");
    }

    #[test]
    fn a_bad_command_still_yields_its_header_for_the_refusal_record() {
        let (_, header) =
            parse_command_with_header(&ASSESS.replace("\"high\"", "\"extreme\"")).unwrap_err();
        assert!(header.command_id.is_some());
        assert_eq!(header.actor.unwrap().id, "jsmith");
        assert_eq!(header.command_type.as_deref(), Some("assess_risk"));
    }

    #[test]
    fn organisations_map_onto_the_domain() {
        assert_eq!(parse_organisation("nps").unwrap(), Organisation::Nps);
        assert_eq!(
            parse_organisation("crc:DLNR CRC").unwrap(),
            Organisation::Crc(CrcName::new("DLNR CRC").unwrap())
        );
        assert_eq!(
            parse_organisation("hmi_probation").unwrap(),
            Organisation::Other
        );
        assert!(parse_organisation("").is_err());
        assert!(parse_organisation("crc:").is_err());
    }

    #[test]
    fn effective_at_takes_a_date_or_an_instant() {
        let d = EffectiveAt::parse("2020-02-29").unwrap();
        assert!(d.date_only);
        assert_eq!(d.instant_us, 1_582_934_400_000_000);
        let i = EffectiveAt::parse("2020-02-29T23:30:00Z").unwrap();
        assert_eq!(i.date, jiff::civil::date(2020, 2, 29));
        assert!(EffectiveAt::parse("2020-02-30").is_err());
        assert!(EffectiveAt::parse("yesterday").is_err());
    }

    #[test]
    fn every_command_type_has_a_distinct_public_name_matching_the_matrix() {
        let mut names: Vec<&str> = COMMAND_TYPES.iter().map(|t| t.0).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), COMMAND_TYPES.len());
    }

    proptest! {
        #[test]
        fn arbitrary_input_never_panics(line in "\\PC{0,300}") {
            let _ = parse_command(&line);
        }

        #[test]
        fn arbitrary_field_values_are_errors_not_panics(value in "\\PC{0,40}", n in 0u32..5) {
            let field = ["rosh", "kind", "on", "needs", "ogrs"][n as usize];
            let mut v: Value = serde_json::from_str(ASSESS).unwrap();
            v["command"][field] = Value::String(value);
            if let Err(e) = parse_command(&v.to_string()) {
                prop_assert!(e.field.starts_with("command."), "{e}");
            }
        }
    }
}
