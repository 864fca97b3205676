//! Errors as RFC 9457 problem details (`application/problem+json`), each naming the field at
//! fault where there is one.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// An RFC 9457 problem report.
#[derive(Serialize, ToSchema, Debug, Clone)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:caseledger:problem:<kind>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What is wrong with this request and what to do about it.
    pub detail: String,
    /// The field, parameter or claim at fault (`command.rosh`, `crn`, `authorization`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// A failed request: the status and what to say about it.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub field: Option<String>,
    pub detail: String,
}

/// Problem details never quote more than this of what a client sent, in characters.
pub const DETAIL_CHARS_MAX: usize = 1_024;

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        field: Option<&str>,
        detail: impl Into<String>,
    ) -> ApiError {
        let detail: String = detail.into();
        ApiError {
            status,
            kind,
            field: field.map(str::to_owned),
            detail: detail.chars().take(DETAIL_CHARS_MAX).collect(),
        }
    }
    pub fn bad_request(field: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad-request", Some(field), detail)
    }
    pub fn unprocessable(field: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            Some(field),
            detail,
        )
    }
    pub fn not_found(field: &str, detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", Some(field), detail)
    }
    pub fn forbidden(detail: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", Some("role"), detail)
    }
    /// The store or read models failed: the detail is logged, not sent.
    pub fn internal(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            None,
            format!("{what} failed; the server log has the cause"),
        )
    }

    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:caseledger:problem:{}", self.kind),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail.clone(),
            field: self.field.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"caseledger\""),
            );
        }
        response
    }
}
