//! The JSON endpoints. Each handler authenticates, checks what the role may read, calls one
//! Engine method and maps its answer or error onto a status (docs/operations.md "HTTP
//! server" lists them).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use caseledger_commands::audit::RefusalKind;
use caseledger_commands::envelope::parse_command_as;
use caseledger_commands::handler::{CommandError, Receipt};
use caseledger_commands::Role;
use caseledger_projections::report::Format;
use caseledger_projections::ProjectionError;
use caseledger_replay::asof::{parse_bound, AsOf};
use caseledger_replay::ReplayError;
use caseledger_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::Principal;
use super::metrics::Outcome;
use super::problem::ApiError;
use super::AppState;
use crate::engine::EngineError;
use crate::engine_audit::AuditError;

type AppResult<T> = Result<T, ApiError>;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/health", get(health))
        .route("/info", get(info))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi_json))
        .route("/commands", post(post_command))
        .route("/cases/{crn}", get(get_case))
        .route("/cases/{crn}/history", get(get_history))
        .route("/events/{event_id}/explain", get(get_explain))
        .route("/reports/{name}", get(get_report))
        .route("/verify", get(get_verify))
}

/// Unknown paths: 404 as a problem report.
pub async fn not_found(uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(128).collect();
    ApiError::not_found(
        "path",
        format!("no endpoint at {path:?}; see /openapi.json"),
    )
}

/// What a role may read (docs/operations.md "Who may read what").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// A case, its history, timeline and the explanation of its decisions.
    Cases,
    /// Reports over every case, and verification of the whole log.
    Everything,
}

/// Inspectors, regulators and senior probation officers read everything; every other role
/// reads cases one at a time.
pub fn may_read(role: Role, reading: Reading) -> bool {
    match reading {
        Reading::Cases => true,
        Reading::Everything => matches!(
            role,
            Role::Inspector | Role::Regulator | Role::SeniorProbationOfficer
        ),
    }
}

/// The authenticated actor of a request.
pub struct Authenticated(pub Principal);

impl FromRequestParts<Arc<AppState>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> AppResult<Self> {
        let header = parts
            .headers
            .get(header::AUTHORIZATION)
            .map(|h| h.as_bytes());
        match state.auth.authenticate(header) {
            Ok(p) => Ok(Authenticated(p)),
            Err(e) => {
                let status = if e == super::auth::AuthError::SystemRole {
                    StatusCode::FORBIDDEN
                } else {
                    StatusCode::UNAUTHORIZED
                };
                let kind = if status == StatusCode::FORBIDDEN {
                    "forbidden"
                } else {
                    "unauthenticated"
                };
                Err(ApiError::new(status, kind, Some(e.field()), e.to_string()))
            }
        }
    }
}

impl Authenticated {
    fn may(&self, reading: Reading) -> AppResult<&Principal> {
        if may_read(self.0.role, reading) {
            return Ok(&self.0);
        }
        Err(ApiError::forbidden(format!(
            "the {} role does not read reports or verify the log; inspectors, regulators and senior probation officers do",
            self.0.role
        )))
    }
}

fn path_error(e: PathRejection, field: &str) -> ApiError {
    ApiError::bad_request(field, e.body_text())
}

fn query_error(e: QueryRejection) -> ApiError {
    ApiError::bad_request("query", e.body_text())
}

// ---------------------------------------------------------------------------------------
// Health, info, metrics, OpenAPI

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `UP` when the log answers.
    pub status: String,
}

/// Liveness and readiness: the log answers.
#[utoipa::path(get, path = "/health", tag = "service",
    responses((status = 200, description = "The service is up", body = Health),
              (status = 503, description = "The log does not answer", body = Health)))]
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    match state.engine.head().await {
        Ok(_) => Json(Health {
            status: "UP".into(),
        })
        .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health: the log does not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "DOWN".into(),
                }),
            )
                .into_response()
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct Info {
    pub name: String,
    pub version: String,
    /// `sled`, `postgres` or `memory`.
    pub store: String,
    /// Position of the last record in the log.
    pub head: u64,
    /// Records not yet folded into the read models in service (`null`: never built).
    pub read_model_lag: Option<u64>,
    /// Records after the relay's checkpoint: not yet published to NATS or passed over
    /// (`null`: the server does not publish).
    pub relay_lag: Option<u64>,
}

/// Version, store kind, head position and read-model lag.
#[utoipa::path(get, path = "/info", tag = "service",
    responses((status = 200, description = "About this service", body = Info),
              (status = 500, description = "The log or read models failed", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn info(State(state): State<Arc<AppState>>) -> AppResult<Json<Info>> {
    let head = state
        .engine
        .head()
        .await
        .map_err(internal("reading the head"))?;
    let lag = read_model_lag(&state).await?;
    Ok(Json(Info {
        name: "caseledger".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        store: state.store_kind.into(),
        head,
        read_model_lag: lag,
        relay_lag: relay_lag(&state).await?,
    }))
}

/// Records after the relay consumer's checkpoint, when the server runs the relay.
async fn relay_lag(state: &AppState) -> AppResult<Option<u64>> {
    match &state.relay {
        None => Ok(None),
        Some(relay) => state
            .engine
            .consumer_lag(&relay.consumer)
            .await
            .map(Some)
            .map_err(internal("reading the relay's checkpoint")),
    }
}

async fn read_model_lag(state: &AppState) -> AppResult<Option<u64>> {
    match &state.readmodels {
        None => Ok(None),
        Some(db) => state
            .engine
            .read_model_lag(db)
            .await
            .map_err(internal("reading the read-model checkpoint")),
    }
}

fn internal<E: std::fmt::Display>(what: &'static str) -> impl FnOnce(E) -> ApiError {
    move |e| {
        tracing::error!(error = %e, "{what}");
        ApiError::internal(what)
    }
}

/// Prometheus text metrics.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "Prometheus text exposition format", body = String, content_type = "text/plain"),
              (status = 500, description = "The log or read models failed", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn metrics(State(state): State<Arc<AppState>>) -> AppResult<Response> {
    let head = state
        .engine
        .head()
        .await
        .map_err(internal("reading the head"))?;
    let lag = read_model_lag(&state).await?;
    let relay = relay_lag(&state).await?;
    let text = state
        .metrics
        .render(head, lag, relay, state.engine.writer_stats());
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}

/// This API's OpenAPI 3.1 description.
#[utoipa::path(get, path = "/openapi.json", tag = "service",
    responses((status = 200, description = "OpenAPI 3.1", body = Object)))]
pub async fn openapi_json() -> Response {
    let text = super::openapi::spec_json();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

// ---------------------------------------------------------------------------------------
// Commands

/// A command as sent over HTTP: as in docs/commands.md but without `actor`, which comes from
/// the token.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommandRequest {
    /// The idempotency key: sending the same command id again applies it once.
    #[schema(format = "uuid")]
    pub command_id: String,
    /// The case: one capital letter then six digits.
    #[schema(pattern = "^[A-Z][0-9]{6}$")]
    pub crn: String,
    /// A date `YYYY-MM-DD` or an RFC 3339 instant.
    pub effective_at: String,
    /// `{"type": "<command type>", …}` (docs/commands.md).
    #[schema(value_type = Object)]
    pub command: serde_json::Value,
}

/// What an applied command wrote.
#[derive(Serialize, ToSchema)]
pub struct CommandReceipt {
    #[schema(format = "uuid")]
    pub command_id: String,
    pub crn: String,
    pub first_position: u64,
    pub last_position: u64,
    pub stream_version: u64,
    /// The command's own event types, then derived decisions.
    pub event_types: Vec<String>,
    pub derived_events: u32,
    /// True when the command id had been applied before: nothing was written now.
    pub deduplicated: bool,
}

impl From<Receipt> for CommandReceipt {
    fn from(r: Receipt) -> Self {
        CommandReceipt {
            command_id: r.command_id.to_string(),
            crn: r.crn,
            first_position: r.first_position,
            last_position: r.last_position,
            stream_version: r.stream_version,
            event_types: r.event_types,
            derived_events: r.derived_events,
            deduplicated: r.deduplicated,
        }
    }
}

/// Execute one command as the token's actor.
#[utoipa::path(post, path = "/commands", tag = "commands", request_body = CommandRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Applied (or applied before: `deduplicated`)", body = CommandReceipt),
        (status = 400, description = "Not JSON, or not an object", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or not a valid one", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role may not send this command (recorded in audit-refusals)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 409, description = "The command id was used for another case, or the case kept changing", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 413, description = "The body is larger than the limit", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, or the rules refused the command (recorded in audit-refusals)", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The log failed", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn post_command(
    State(state): State<Arc<AppState>>,
    actor: Authenticated,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<Json<CommandReceipt>> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                Some("body"),
                format!(
                    "a command is at most {} bytes",
                    super::REQUEST_BODY_BYTES_MAX
                ),
            )
        } else {
            ApiError::bad_request("body", e.body_text())
        }
    })?;
    let envelope = command_envelope(&body, &actor.0)?;
    let command_type = envelope.command_type();
    let span = tracing::info_span!("command", command_id = %envelope.command_id,
        crn = %envelope.crn, command_type, outcome = tracing::field::Empty,
        elapsed_us = tracing::field::Empty, retries = tracing::field::Empty,
        flush_wait_us = tracing::field::Empty);
    let _entered = span.enter();
    let started = Instant::now();
    let case = state.case_locks.lock(envelope.crn.as_str()).await;
    let result = state.engine.execute(&envelope).await;
    drop(case);
    let elapsed = started.elapsed();
    span.record("elapsed_us", elapsed.as_micros() as u64);
    match &result {
        Ok(r) => {
            span.record("retries", r.timing.retries);
            span.record("flush_wait_us", r.timing.flush_wait.as_micros() as u64);
        }
        Err(CommandError::Conflict { attempts, .. }) => {
            span.record("retries", attempts.saturating_sub(1));
        }
        Err(_) => {}
    }
    let outcome = match &result {
        Ok(r) if r.deduplicated => Some(Outcome::Deduplicated),
        Ok(r) => Some(Outcome::Applied {
            events: u32::try_from(r.event_types.len()).unwrap_or(u32::MAX),
        }),
        Err(CommandError::Refused(r)) => Some(Outcome::Refused {
            kind: refusal_kind(r.kind),
        }),
        Err(_) => None,
    };
    if let Some(outcome) = outcome {
        state.metrics.command(command_type, outcome, elapsed);
    }
    span.record("outcome", tracing::field::debug(outcome));
    tracing::info!("command answered");
    result.map(|r| Json(r.into())).map_err(command_error)
}

fn refusal_kind(kind: RefusalKind) -> &'static str {
    match kind {
        RefusalKind::Unauthorised => "unauthorised",
        RefusalKind::BadInput => "bad_input",
        RefusalKind::Rule => "rule",
        RefusalKind::IdempotencyConflict => "idempotency_conflict",
    }
}

/// The body as a command of `actor`: the command JSON without `actor` (the commands crate's
/// parser refuses a body that names one, duplicate keys and unknown fields, naming the field).
/// Nothing is written for a body that cannot be read.
fn command_envelope(
    body: &[u8],
    actor: &Principal,
) -> AppResult<caseledger_commands::CommandEnvelope> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request("body", "is not UTF-8 text"))?;
    parse_command_as(&actor.actor, text).map_err(|(e, _)| match e.field.as_str() {
        "input" => ApiError::bad_request("body", e.message),
        field => ApiError::unprocessable(field, e.message),
    })
}

fn command_error(e: CommandError) -> ApiError {
    match e {
        CommandError::Refused(r) => {
            let (status, kind, field) = match r.kind {
                RefusalKind::Unauthorised => (StatusCode::FORBIDDEN, "forbidden", "role"),
                RefusalKind::IdempotencyConflict => {
                    (StatusCode::CONFLICT, "idempotency-conflict", "command_id")
                }
                RefusalKind::Rule | RefusalKind::BadInput => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "refused", "command")
                }
            };
            ApiError::new(
                status,
                kind,
                Some(field),
                format!(
                    "{} (refusal recorded at position {})",
                    r.reason, r.audit_position
                ),
            )
        }
        CommandError::Conflict { .. } => {
            ApiError::new(StatusCode::CONFLICT, "conflict", Some("crn"), e.to_string())
        }
        CommandError::Store(StoreError::IdempotencyKeyReused { .. }) => ApiError::new(
            StatusCode::CONFLICT,
            "idempotency-conflict",
            Some("command_id"),
            e.to_string(),
        ),
        other => internal::<CommandError>("executing the command")(other),
    }
}

// ---------------------------------------------------------------------------------------
// Cases and audit

fn bad_crn(crn: &str) -> ApiError {
    let shown: String = crn.chars().take(32).collect();
    ApiError::bad_request(
        "crn",
        format!("{shown:?} is not a CRN: one capital letter then six digits, e.g. X123456"),
    )
}

fn engine_error(e: EngineError) -> ApiError {
    match e {
        EngineError::BadCrn(crn) => bad_crn(&crn),
        other => internal::<EngineError>("reading the case")(other),
    }
}

fn audit_error(e: AuditError) -> ApiError {
    match e {
        AuditError::BadCrn(crn) => bad_crn(&crn),
        AuditError::Replay(ReplayError::NoSuchCase { stream_id }) => {
            ApiError::not_found("crn", format!("no case {stream_id}; check the CRN"))
        }
        AuditError::Replay(ReplayError::NoSuchEvent { .. }) => {
            ApiError::not_found("event_id", e.to_string())
        }
        AuditError::Replay(ReplayError::NotADecision { .. }) => {
            ApiError::unprocessable("event_id", e.to_string())
        }
        AuditError::Replay(ReplayError::BadAsOf { ref option, .. }) => {
            let field = option.clone();
            ApiError::bad_request(&field, e.to_string())
        }
        other => internal::<AuditError>("reading the log")(other),
    }
}

/// The current state of a case.
#[utoipa::path(get, path = "/cases/{crn}", tag = "cases",
    params(("crn" = String, Path, pattern = "^[A-Z][0-9]{6}$", example = "X123456", description = "The case's CRN")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The case's state", body = Object),
        (status = 400, description = "Not a CRN", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or not a valid one", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role cannot be used", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The log failed", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn get_case(
    State(state): State<Arc<AppState>>,
    actor: Authenticated,
    crn: Result<Path<String>, PathRejection>,
) -> AppResult<Json<serde_json::Value>> {
    actor.may(Reading::Cases)?;
    let Path(crn) = crn.map_err(|e| path_error(e, "crn"))?;
    let case = state.engine.case(&crn).await.map_err(engine_error)?;
    let case =
        case.ok_or_else(|| ApiError::not_found("crn", format!("no case {crn}; check the CRN")))?;
    serde_json::to_value(case)
        .map(Json)
        .map_err(internal("showing the case"))
}

/// As-of bounds of a history or timeline.
#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// What the service knew at this instant (RFC 3339, or a date: the end of that day UTC).
    pub as_of_recorded: Option<String>,
    /// Only events effective by this instant are applied (RFC 3339, or a date).
    pub as_of_effective: Option<String>,
}

impl HistoryQuery {
    pub fn as_of(&self) -> AppResult<AsOf> {
        let bound = |what: &str, text: &Option<String>| -> AppResult<Option<i64>> {
            text.as_deref()
                .filter(|t| !t.is_empty())
                .map(|t| {
                    parse_bound(what, t).map_err(|e| ApiError::bad_request(what, e.to_string()))
                })
                .transpose()
        };
        Ok(AsOf {
            recorded_through_us: bound("as_of_recorded", &self.as_of_recorded)?,
            effective_through_us: bound("as_of_effective", &self.as_of_effective)?,
        })
    }
}

/// The case's events as of a recorded and an effective instant, each with times, actor,
/// ruleset, reason, corrections and what it changed.
#[utoipa::path(get, path = "/cases/{crn}/history", tag = "cases",
    params(("crn" = String, Path, pattern = "^[A-Z][0-9]{6}$", example = "X123456", description = "The case's CRN"), HistoryQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The case's history", body = Object),
        (status = 400, description = "Not a CRN, or a bad as-of bound", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or not a valid one", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role cannot be used", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The log failed", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn get_history(
    State(state): State<Arc<AppState>>,
    actor: Authenticated,
    crn: Result<Path<String>, PathRejection>,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> AppResult<Json<serde_json::Value>> {
    actor.may(Reading::Cases)?;
    let Path(crn) = crn.map_err(|e| path_error(e, "crn"))?;
    let Query(query) = query.map_err(query_error)?;
    let history = state
        .engine
        .history(&crn, query.as_of()?)
        .await
        .map_err(audit_error)?;
    serde_json::to_value(history)
        .map(Json)
        .map_err(internal("showing the history"))
}

/// The day rules such as "overdue" are judged on.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TodayQuery {
    /// `YYYY-MM-DD`; default: today's date (UTC).
    pub today: Option<String>,
}

pub fn today(text: Option<&str>) -> AppResult<jiff::civil::Date> {
    match text.filter(|t| !t.is_empty()) {
        Some(t) => t.parse().map_err(|_| {
            ApiError::bad_request(
                "today",
                format!(
                    "{:?} is not a date YYYY-MM-DD",
                    t.chars().take(32).collect::<String>()
                ),
            )
        }),
        // The shell may read the clock; the engine never does.
        None => Ok(jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date()),
    }
}

/// A decision explained: its inputs, ruleset and reason, re-evaluated under the rules of its
/// time and, labelled, under the rules in force `today`.
#[utoipa::path(get, path = "/events/{event_id}/explain", tag = "cases",
    params(("event_id" = String, Path, format = "uuid", description = "The decision event's id"), TodayQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The explanation", body = Object),
        (status = 400, description = "Not a UUID, or a bad date", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or not a valid one", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role cannot be used", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such event", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 422, description = "The event is a fact, not a decision", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The log failed", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn get_explain(
    State(state): State<Arc<AppState>>,
    actor: Authenticated,
    event_id: Result<Path<String>, PathRejection>,
    query: Result<Query<TodayQuery>, QueryRejection>,
) -> AppResult<Json<serde_json::Value>> {
    actor.may(Reading::Cases)?;
    let Path(event_id) = event_id.map_err(|e| path_error(e, "event_id"))?;
    let Query(query) = query.map_err(query_error)?;
    let event_id = uuid::Uuid::parse_str(&event_id).map_err(|_| {
        ApiError::bad_request(
            "event_id",
            "must be a UUID such as 0b7f3c8e-2f1a-4c55-9d5e-1d2c3b4a5f60",
        )
    })?;
    let today = today(query.today.as_deref())?;
    let explanation = state
        .engine
        .explain(event_id, today)
        .await
        .map_err(audit_error)?;
    serde_json::to_value(explanation)
        .map(Json)
        .map_err(internal("showing the explanation"))
}

/// The reports (`caseledger_projections::report::REPORTS`).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum ReportName {
    Caseload,
    Mappa,
    Handovers,
    Enforcement,
    Allocations,
    Performance,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
    /// What the service knew at this instant (RFC 3339, or a date); not with `as_of_effective`.
    pub as_of_recorded: Option<String>,
    /// What was true in the world by this instant, as known now; not with `as_of_recorded`.
    pub as_of_effective: Option<String>,
    /// `YYYY-MM-DD`; default: today's date (UTC).
    pub today: Option<String>,
}

/// A report over every case: from the read models kept current while serving, or folded from
/// the log as of an instant.
#[utoipa::path(get, path = "/reports/{name}", tag = "reports",
    params(("name" = ReportName, Path, description = "The report"), ReportQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report's rows", content(
            (Vec<Object> = "application/json"),
            (String = "text/csv"))),
        (status = 400, description = "A bad format, date or as-of bound", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or not a valid one", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not read reports", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such report", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The log or read models failed", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn get_report(
    State(state): State<Arc<AppState>>,
    actor: Authenticated,
    name: Result<Path<String>, PathRejection>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> AppResult<Response> {
    actor.may(Reading::Everything)?;
    let Path(name) = name.map_err(|e| path_error(e, "name"))?;
    let Query(query) = query.map_err(query_error)?;
    if !caseledger_projections::report::REPORTS.contains(&name.as_str()) {
        return Err(ApiError::not_found(
            "name",
            format!(
                "no report {:?}; choose one of {}",
                name.chars().take(32).collect::<String>(),
                caseledger_projections::report::REPORTS.join(", ")
            ),
        ));
    }
    let format = match query.format.as_deref().unwrap_or("json") {
        "json" => Format::Json,
        "csv" => Format::Csv,
        other => {
            return Err(ApiError::bad_request(
                "format",
                format!(
                    "{:?} is not json or csv",
                    other.chars().take(32).collect::<String>()
                ),
            ))
        }
    };
    let nonempty = |o: &Option<String>| o.clone().filter(|t| !t.is_empty());
    let (recorded, effective) = (
        nonempty(&query.as_of_recorded),
        nonempty(&query.as_of_effective),
    );
    let field = if recorded.is_some() {
        "as_of_recorded"
    } else {
        "as_of_effective"
    };
    let as_of = crate::cli_report::parse_as_of(recorded.as_deref(), effective.as_deref())
        .map_err(|e| ApiError::bad_request(field, e.replace("--as-of-", "as_of_")))?;
    let today = today(query.today.as_deref())?;
    let table = state
        .engine
        .report(state.readmodels.as_deref(), &name, as_of, today)
        .await
        .map_err(|e| match e {
            ProjectionError::InvalidArgument(m) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "not-ready", None, m)
            }
            other => internal::<ProjectionError>("reading the report")(other),
        })?;
    Ok(match format {
        Format::Csv => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            table.render(Format::Csv),
        )
            .into_response(),
        _ => Json(table.objects()).into_response(),
    })
}

/// The outcome of verifying the whole log.
#[derive(Serialize, ToSchema)]
pub struct Verification {
    /// True when the hash chain is intact.
    pub intact: bool,
    /// The records 1..=head were checked.
    pub head: u64,
    pub records_checked: u64,
    /// RFC 6962 Merkle root over records 1..=head, hex; publish as `ROOT@HEAD`.
    pub root: String,
    /// The first position that fails a check.
    pub first_bad_position: Option<u64>,
    pub first_bad_reason: Option<String>,
}

/// Recompute the hash chain and the Merkle root over the whole log.
#[utoipa::path(get, path = "/verify", tag = "audit",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The chain was checked (see `intact`)", body = Verification),
        (status = 401, description = "No token, or not a valid one", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The role does not verify the log", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The log failed", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn get_verify(
    State(state): State<Arc<AppState>>,
    actor: Authenticated,
) -> AppResult<Json<Verification>> {
    actor.may(Reading::Everything)?;
    let outcome = state.engine.verify(None).await.map_err(audit_error)?;
    let (first_bad_position, first_bad_reason) = match &outcome.first_bad {
        Some((p, r)) => (Some(*p), Some(r.clone())),
        None => (None, None),
    };
    Ok(Json(Verification {
        intact: outcome.is_ok(),
        head: outcome.head,
        records_checked: outcome.records_checked,
        root: outcome.root.iter().map(|b| format!("{b:02x}")).collect(),
        first_bad_position,
        first_bad_reason,
    }))
}
