//! The OpenAPI 3.1 description, generated from the handlers' `#[utoipa::path]` annotations
//! and the response types' `ToSchema` derives, so it cannot drift from the code.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::api;

#[derive(OpenApi)]
#[openapi(
    info(title = "caseledger", description = "Event-sourced case lifecycle engine for probation in England and Wales. Every request but /health, /info, /metrics and /openapi.json needs `Authorization: Bearer <JWT>`; the actor of a command is the token's."),
    paths(api::health, api::info, api::metrics, api::openapi_json, api::post_command,
          api::get_case, api::get_history, api::get_explain, api::get_report, api::get_verify,
          super::timeline::get_timeline),
    components(schemas(super::problem::Problem, api::Health, api::Info, api::CommandRequest,
                        api::CommandReceipt, api::Verification, api::ReportName)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut http = Http::new(HttpAuthScheme::Bearer);
        http.bearer_format = Some("JWT".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(http));
    }
}

/// The spec as JSON text.
pub fn spec_json() -> String {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc.to_pretty_json().unwrap_or_else(|_| "{}".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_is_openapi_3_1_and_its_report_names_are_the_projections_reports() {
        let spec: serde_json::Value = serde_json::from_str(&spec_json()).unwrap();
        assert_eq!(spec["openapi"], "3.1.0");
        let params = spec["paths"]["/reports/{name}"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let name = params.iter().find(|p| p["name"] == "name").unwrap();
        let mut schema = name["schema"].clone();
        if let Some(reference) = schema["$ref"].as_str() {
            let key = reference.trim_start_matches("#/components/schemas/");
            schema = spec["components"]["schemas"][key].clone();
        }
        let names: Vec<&str> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(names, caseledger_projections::report::REPORTS);
        for path in [
            "/commands",
            "/cases/{crn}",
            "/cases/{crn}/history",
            "/cases/{crn}/timeline",
            "/events/{event_id}/explain",
            "/verify",
            "/health",
            "/info",
            "/metrics",
            "/openapi.json",
        ] {
            assert!(spec["paths"][path].is_object(), "{path} is in the spec");
        }
    }
}
