//! `GET /cases/{crn}/timeline`: the inspector's page. Server-rendered HTML, no script and no
//! external resource: the case's events in log order with effective and recorded times,
//! actor and role, ruleset and reason code, each decision's explanation inline, corrections
//! beside what they correct, an as-of selector (recorded and effective), and the changes of
//! responsibility (provider CRC→NPS, custody→community i.e. POM→COM, practitioner) listed
//! at the top and flagged in the list. GOV.UK Design System look (its colours, type scale
//! and components, restyled here rather than loaded), landmarks, headings, labels and focus
//! styles for keyboard and screen-reader users.
//!
//! A browser cannot add an `Authorization` header to a link, so this page also accepts the
//! token as an `access_token` query parameter (RFC 6750 §2.3); the request's span records the
//! route pattern only, never the query.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use caseledger_replay::explain::Explanation;
use caseledger_replay::history::{CaseHistory, HistoryEntry};
use serde::Deserialize;
use utoipa::IntoParams;

use super::api::{may_read, HistoryQuery, Reading};
use super::problem::ApiError;
use super::AppState;

/// Most decisions explained inline on one page (each explanation replays the case up to it).
pub const TIMELINE_EXPLANATIONS_MAX: usize = 500;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/cases/{crn}/timeline", get(get_timeline))
}

#[derive(Deserialize, IntoParams, Default)]
#[into_params(parameter_in = Query)]
pub struct TimelineQuery {
    /// What the service knew at this instant (RFC 3339, or a date: the end of that day UTC).
    pub as_of_recorded: Option<String>,
    /// Only events effective by this instant are applied (RFC 3339, or a date).
    pub as_of_effective: Option<String>,
    /// The bearer token, for a browser that cannot send the header (RFC 6750 §2.3).
    pub access_token: Option<String>,
    /// The day decisions are re-evaluated "under today's rules" (`YYYY-MM-DD`; default today).
    pub today: Option<String>,
}

/// The case's timeline as an HTML page for inspectors.
#[utoipa::path(get, path = "/cases/{crn}/timeline", tag = "cases",
    params(("crn" = String, Path, pattern = "^[A-Z][0-9]{6}$", example = "X123456", description = "The case's CRN"), TimelineQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The timeline page", body = String, content_type = "text/html"),
        (status = 400, description = "Not a CRN, or a bad as-of bound", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 401, description = "No token, or not a valid one", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 403, description = "The token's role cannot be used", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = super::problem::Problem, content_type = "application/problem+json"),
        (status = 500, description = "The log failed", body = super::problem::Problem, content_type = "application/problem+json")))]
pub async fn get_timeline(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    crn: Result<Path<String>, PathRejection>,
    query: Result<Query<TimelineQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request("query", e.body_text()))?;
    let bearer = query.access_token.as_ref().map(|t| format!("Bearer {t}"));
    let authorization = headers
        .get(header::AUTHORIZATION)
        .map(|h| h.as_bytes())
        .or(bearer.as_deref().map(str::as_bytes));
    let principal = state.auth.authenticate(authorization).map_err(|e| {
        let status = if e == super::auth::AuthError::SystemRole {
            axum::http::StatusCode::FORBIDDEN
        } else {
            axum::http::StatusCode::UNAUTHORIZED
        };
        ApiError::new(status, "unauthenticated", Some(e.field()), e.to_string())
    })?;
    if !may_read(principal.role, Reading::Cases) {
        return Err(ApiError::forbidden("this role does not read cases"));
    }
    let Path(crn) = crn.map_err(|e| ApiError::bad_request("crn", e.body_text()))?;
    let bounds = HistoryQuery {
        as_of_recorded: query.as_of_recorded.clone(),
        as_of_effective: query.as_of_effective.clone(),
    };
    let as_of = bounds.as_of()?;
    let today = super::api::today(query.today.as_deref())?;
    let history = state.engine.history(&crn, as_of).await.map_err(audit)?;
    let explanations = state
        .engine
        .explain_case_decisions(&crn, today, TIMELINE_EXPLANATIONS_MAX)
        .await
        .map_err(audit)?;
    let page = render(&history, &explanations, &query);
    Ok(Html(page).into_response())
}

fn audit(e: crate::engine_audit::AuditError) -> ApiError {
    use crate::engine_audit::AuditError;
    use caseledger_replay::ReplayError;
    match e {
        AuditError::BadCrn(c) => ApiError::bad_request(
            "crn",
            format!("{c:?} is not a CRN: one capital letter then six digits, e.g. X123456"),
        ),
        AuditError::Replay(ReplayError::NoSuchCase { stream_id }) => {
            ApiError::not_found("crn", format!("no case {stream_id}; check the CRN"))
        }
        other => {
            tracing::error!(error = %other, "timeline: reading the log failed");
            ApiError::internal("reading the log")
        }
    }
}

/// HTML-escape text (element content and quoted attribute values).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
body{margin:0;font-family:"GDS Transport",arial,sans-serif;color:#0b0c0c;background:#fff;font-size:19px;line-height:1.32}
a{color:#1d70b8}a:visited{color:#4c2c92}a:focus,input:focus,button:focus,summary:focus{outline:3px solid transparent;background:#ffdd00;box-shadow:0 -2px #ffdd00,0 4px #0b0c0c;color:#0b0c0c}
.skip{position:absolute;left:-9999px}.skip:focus{position:static}
.govuk-header{background:#0b0c0c;color:#fff;border-bottom:10px solid #1d70b8;padding:10px 30px}
.govuk-header__title{font-weight:700;font-size:24px}
.govuk-width-container{max-width:1100px;margin:0 30px}
main{padding-top:30px;padding-bottom:40px}
h1{font-size:48px;margin:0 0 20px}h2{font-size:27px;margin:30px 0 15px}h3{font-size:21px;margin:0 0 10px}
.govuk-caption{color:#505a5f;font-size:24px;display:block}
.govuk-summary-list{display:table;width:100%;border-collapse:collapse;margin:0 0 20px}
.govuk-summary-list__row{display:table-row;border-bottom:1px solid #b1b4b6}
.govuk-summary-list dt,.govuk-summary-list dd{display:table-cell;padding:8px 20px 8px 0;border-bottom:1px solid #b1b4b6;margin:0}
.govuk-summary-list dt{font-weight:700;width:30%}
.govuk-form{background:#f3f2f1;padding:15px 20px;margin-bottom:30px}
.govuk-form fieldset{border:0;padding:0;margin:0;display:flex;gap:30px;flex-wrap:wrap;align-items:flex-end}
.govuk-label{display:block;font-weight:700;margin-bottom:5px}.govuk-hint{display:block;color:#505a5f;font-size:16px;margin-bottom:5px}
.govuk-input{font-size:19px;padding:5px;border:2px solid #0b0c0c;width:16em}
.govuk-button{font-size:19px;background:#00703c;color:#fff;border:0;padding:8px 12px;box-shadow:0 2px 0 #002d18;cursor:pointer}
.govuk-tag{display:inline-block;padding:2px 8px;font-weight:700;font-size:16px;background:#cce2d8;color:#005a30;margin-right:5px}
.govuk-tag--responsibility{background:#fcd6c3;color:#6e3619}.govuk-tag--correction{background:#f4cdc6;color:#942514}
.govuk-tag--corrected{background:#fff7bf;color:#594d00}.govuk-tag--pending{background:#e5e6e7;color:#383f43}.govuk-tag--decision{background:#bbd4ea;color:#0c2d4a}
.govuk-inset{border-left:10px solid #b1b4b6;padding:10px 15px;margin:15px 0}
.govuk-inset--responsibility{border-left-color:#d4351c;background:#fef6f3}
ol.timeline{list-style:none;padding:0;margin:0}
ol.timeline>li{border-left:5px solid #1d70b8;padding:10px 0 10px 20px;margin-bottom:20px}
ol.timeline>li.responsibility{border-left-color:#d4351c}ol.timeline>li.not-applied{border-left-color:#b1b4b6;color:#505a5f}
.event-grid{display:grid;grid-template-columns:minmax(0,2fr) minmax(0,1fr);gap:20px}
aside.correction{background:#fef6f3;border:2px solid #d4351c;padding:10px 15px}
aside.corrects{background:#f3f2f1;border:2px solid #505a5f;padding:10px 15px}
.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 15px;margin:0 0 10px}.meta dt{font-weight:700}.meta dd{margin:0}
details{margin-top:10px}summary{color:#1d70b8;cursor:pointer;text-decoration:underline}
pre{background:#f3f2f1;padding:10px;overflow-x:auto;font-size:14px;white-space:pre-wrap}
table.changes{border-collapse:collapse;font-size:16px;margin-top:5px}table.changes th,table.changes td{text-align:left;padding:4px 10px 4px 0;border-bottom:1px solid #b1b4b6;vertical-align:top}
"#;

/// Paths of the case state whose change is a change of who is responsible.
fn responsibility_change(path: &str) -> Option<&'static str> {
    if path == "/provider" {
        return Some("Provider (CRC → NPS or back)");
    }
    if path.starts_with("/sentences/") && path.ends_with("/responsibility") {
        return Some("Responsibility (custody POM → community COM)");
    }
    if path == "/practitioner" || path.starts_with("/practitioner/") {
        return Some("Practitioner");
    }
    None
}

fn compact(value: &Option<serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => "—".into(),
        // A provider as the state holds it: "Nps" or {"Crc": "DLNR CRC"}.
        Some(serde_json::Value::String(s)) if s == "Nps" => "NPS".into(),
        Some(serde_json::Value::Object(o))
            if o.len() == 1 && o.get("Crc").is_some_and(|v| v.is_string()) =>
        {
            format!("CRC ({})", o["Crc"].as_str().unwrap_or_default())
        }
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 160 {
                format!("{}…", text.chars().take(160).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn responsibility_changes(entry: &HistoryEntry) -> Vec<(&'static str, String, String)> {
    let mut out: Vec<(&'static str, String, String)> = Vec::new();
    for change in &entry.changes {
        if let Some(what) = responsibility_change(&change.path) {
            if what == "Practitioner" && out.iter().any(|(w, _, _)| *w == what) {
                continue;
            }
            let (before, after) = if what == "Practitioner" {
                (String::new(), String::new())
            } else {
                (compact(&change.before), compact(&change.after))
            };
            out.push((what, before, after));
        }
    }
    out
}

fn render(history: &CaseHistory, explanations: &[Explanation], query: &TimelineQuery) -> String {
    let explained: BTreeMap<uuid::Uuid, &Explanation> =
        explanations.iter().map(|e| (e.event_id, e)).collect();
    let crn = escape(&history.stream_id);
    let mut html = String::with_capacity(16 * 1024 + history.entries.len() * 2048);
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>Case {crn} – timeline – caseledger</title><style>{STYLE}</style></head><body>\
<a class=\"skip\" href=\"#main\">Skip to main content</a>\
<header class=\"govuk-header\" role=\"banner\"><span class=\"govuk-header__title\">caseledger</span> · Case timeline for inspectors</header>\
<div class=\"govuk-width-container\"><main id=\"main\" role=\"main\">\
<h1><span class=\"govuk-caption\">Case</span>{crn}</h1>"
    );
    render_summary(&mut html, history);
    render_as_of_form(&mut html, query);
    render_responsibility(&mut html, history);
    let _ = write!(html, "<h2 id=\"events\">Events in the order they were recorded</h2><ol class=\"timeline\" aria-labelledby=\"events\">");
    for entry in &history.entries {
        render_entry(&mut html, entry, explained.get(&entry.event_id).copied());
    }
    html.push_str("</ol></main></div></body></html>\n");
    html
}

fn render_summary(html: &mut String, history: &CaseHistory) {
    let state = &history.state;
    let field = |p: &str| compact(&state.pointer(p).cloned());
    let corrections = history
        .entries
        .iter()
        .filter(|e| e.corrects.is_some())
        .count();
    let decisions = history
        .entries
        .iter()
        .filter(|e| e.reason_code.is_some())
        .count();
    let rows = [
        ("Opened on", field("/opened_on")),
        ("Provider", field("/provider")),
        ("RoSH", field("/risk/rosh")),
        ("Events shown", history.entries.len().to_string()),
        ("Decisions", decisions.to_string()),
        ("Corrections", corrections.to_string()),
        (
            "Recorded after the chosen time (not shown)",
            history.recorded_later.to_string(),
        ),
    ];
    html.push_str("<dl class=\"govuk-summary-list\">");
    for (k, v) in rows {
        let _ = write!(
            html,
            "<div class=\"govuk-summary-list__row\"><dt>{}</dt><dd>{}</dd></div>",
            escape(k),
            escape(&v)
        );
    }
    html.push_str("</dl>");
}

fn render_as_of_form(html: &mut String, query: &TimelineQuery) {
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    let _ = write!(
        html,
        "<form class=\"govuk-form\" method=\"get\" role=\"search\" aria-labelledby=\"as-of-heading\">\
<h2 id=\"as-of-heading\" style=\"margin-top:0\">Show the case as of</h2><fieldset>\
<div><label class=\"govuk-label\" for=\"as_of_recorded\">Recorded by</label><span class=\"govuk-hint\" id=\"as_of_recorded-hint\">What the service knew then: a date (2021-06-30) or an instant (2021-06-30T12:00:00Z)</span>\
<input class=\"govuk-input\" id=\"as_of_recorded\" name=\"as_of_recorded\" type=\"text\" aria-describedby=\"as_of_recorded-hint\" value=\"{}\"></div>\
<div><label class=\"govuk-label\" for=\"as_of_effective\">Effective by</label><span class=\"govuk-hint\" id=\"as_of_effective-hint\">What was true in the world then, as known now</span>\
<input class=\"govuk-input\" id=\"as_of_effective\" name=\"as_of_effective\" type=\"text\" aria-describedby=\"as_of_effective-hint\" value=\"{}\"></div>",
        value(&query.as_of_recorded),
        value(&query.as_of_effective)
    );
    if let Some(token) = &query.access_token {
        let _ = write!(
            html,
            "<input type=\"hidden\" name=\"access_token\" value=\"{}\">",
            escape(token)
        );
    }
    html.push_str(
        "<div><button class=\"govuk-button\" type=\"submit\">Show</button></div></fieldset></form>",
    );
}

fn render_responsibility(html: &mut String, history: &CaseHistory) {
    html.push_str("<h2 id=\"responsibility\">Changes of responsibility</h2>");
    let mut any = false;
    for entry in history.entries.iter().filter(|e| e.applied) {
        for (what, before, after) in responsibility_changes(entry) {
            if !any {
                html.push_str("<ul class=\"govuk-inset govuk-inset--responsibility\" aria-labelledby=\"responsibility\">");
                any = true;
            }
            let change = if before.is_empty() && after.is_empty() {
                "reallocated".to_owned()
            } else {
                format!("{} → {}", escape(&before), escape(&after))
            };
            let _ = write!(
                html,
                "<li><strong>{}</strong>: {change} on {} (<a href=\"#event-{}\">event {} {}</a>)</li>",
                escape(what),
                escape(date_part(&entry.effective_at)),
                entry.position,
                entry.position,
                escape(&entry.event_type)
            );
        }
    }
    if any {
        html.push_str("</ul>");
    } else {
        html.push_str("<p>None at the chosen time.</p>");
    }
}

fn date_part(instant: &str) -> &str {
    instant.get(..10).unwrap_or(instant)
}

fn render_entry(html: &mut String, entry: &HistoryEntry, explanation: Option<&Explanation>) {
    let responsibility = responsibility_changes(entry);
    let mut classes = Vec::new();
    if !responsibility.is_empty() && entry.applied {
        classes.push("responsibility");
    }
    if !entry.applied {
        classes.push("not-applied");
    }
    let _ = write!(
        html,
        "<li id=\"event-{pos}\" class=\"{cls}\"><div class=\"event-grid\"><div><h3>{pos}. {ty}</h3><p>",
        pos = entry.position,
        cls = classes.join(" "),
        ty = escape(&entry.event_type)
    );
    if entry.reason_code.is_some() {
        html.push_str("<strong class=\"govuk-tag govuk-tag--decision\">Decision</strong>");
    }
    if entry.event_type.contains("Escalation") {
        html.push_str("<strong class=\"govuk-tag govuk-tag--responsibility\">Escalation</strong>");
    }
    if !responsibility.is_empty() {
        html.push_str("<strong class=\"govuk-tag govuk-tag--responsibility\">Change of responsibility</strong>");
    }
    if entry.corrects.is_some() {
        html.push_str("<strong class=\"govuk-tag govuk-tag--correction\">Correction</strong>");
    }
    if !entry.corrected_by.is_empty() {
        html.push_str("<strong class=\"govuk-tag govuk-tag--corrected\">Corrected later</strong>");
    }
    if !entry.applied {
        html.push_str("<strong class=\"govuk-tag govuk-tag--pending\">Not yet effective at the chosen time</strong>");
    }
    html.push_str("</p><dl class=\"meta\">");
    let meta = [
        ("Effective", entry.effective_at.clone()),
        ("Recorded", entry.recorded_at.clone()),
        (
            "Actor",
            format!(
                "{} ({}, {})",
                entry.actor.id, entry.actor.role, entry.actor.organisation
            ),
        ),
        (
            "Ruleset",
            if entry.ruleset_id.is_empty() {
                "—".into()
            } else {
                entry.ruleset_id.clone()
            },
        ),
        (
            "Reason code",
            entry.reason_code.clone().unwrap_or_else(|| "—".into()),
        ),
    ];
    for (k, v) in meta {
        let _ = write!(html, "<dt>{k}</dt><dd>{}</dd>", escape(&v));
    }
    html.push_str("</dl>");
    for (what, before, after) in &responsibility {
        if !before.is_empty() || !after.is_empty() {
            let _ = write!(html, "<p class=\"govuk-inset govuk-inset--responsibility\"><strong>{}</strong>: {} → {}</p>", escape(what), escape(before), escape(after));
        }
    }
    render_changes(html, entry);
    if let Some(explanation) = explanation {
        render_explanation(html, explanation);
    }
    html.push_str("</div><div>");
    if let Some(link) = &entry.corrects {
        let target = link
            .position
            .map(|p| format!("<a href=\"#event-{p}\">event {p}</a>"))
            .unwrap_or_else(|| "an event not shown".into());
        let _ = write!(html, "<aside class=\"corrects\" aria-label=\"What this corrects\"><h3>Corrects {target}</h3><p>{}</p></aside>", escape(&link.reason));
    }
    for link in &entry.corrected_by {
        let by = link
            .position
            .map(|p| format!("<a href=\"#event-{p}\">event {p}</a>"))
            .unwrap_or_else(|| "a later event".into());
        let _ = write!(html, "<aside class=\"correction\" aria-label=\"Correction\"><h3>Corrected by {by}</h3><p>{}</p><p>The original stays in the log.</p></aside>", escape(&link.reason));
    }
    html.push_str("</div></div></li>");
}

fn render_changes(html: &mut String, entry: &HistoryEntry) {
    if entry.changes.is_empty() {
        return;
    }
    let _ = write!(html, "<details><summary>What changed ({} field{})</summary><table class=\"changes\"><thead><tr><th scope=\"col\">Field</th><th scope=\"col\">Before</th><th scope=\"col\">After</th></tr></thead><tbody>",
        entry.changes.len(), if entry.changes.len() == 1 { "" } else { "s" });
    for change in &entry.changes {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&change.path),
            escape(&compact(&change.before)),
            escape(&compact(&change.after))
        );
    }
    html.push_str("</tbody></table></details>");
}

fn render_explanation(html: &mut String, e: &Explanation) {
    let _ = write!(html, "<section class=\"govuk-inset\" aria-label=\"Explanation of this decision\"><h3>Why</h3><p>Decided under <strong>{}</strong> for reason <strong>{}</strong> by {} ({}).</p>",
        escape(e.decision_ruleset.as_deref().unwrap_or(&e.ruleset_id)),
        escape(e.reason_code.as_deref().unwrap_or("—")),
        escape(&e.actor.id), escape(&e.actor.role));
    for (label, evaluation) in [
        ("Re-evaluated under the rules of its time", &e.reevaluation),
        ("Under the rules in force on", &e.under_todays_rules),
    ] {
        if let Some(ev) = evaluation {
            let verdict = if ev.same_as_recorded {
                "same outcome as recorded"
            } else {
                "a different outcome"
            };
            let label = if label.ends_with("on") {
                format!("{label} {}", e.today)
            } else {
                label.to_owned()
            };
            let _ = write!(
                html,
                "<p>{} ({}): <strong>{}</strong>.</p>",
                escape(&label),
                escape(&ev.ruleset),
                verdict
            );
        }
    }
    if let Some(why) = &e.not_reevaluated {
        let _ = write!(html, "<p>Not re-evaluated: {}</p>", escape(why));
    }
    if let Some(inputs) = &e.inputs {
        let pretty = serde_json::to_string_pretty(inputs).unwrap_or_default();
        let _ = write!(
            html,
            "<details><summary>Inputs as they stood</summary><pre>{}</pre></details>",
            escape(&pretty)
        );
    }
    html.push_str("</section>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn provider_and_custody_responsibility_are_changes_of_responsibility() {
        assert!(responsibility_change("/provider").is_some());
        assert!(responsibility_change("/sentences/1/responsibility").is_some());
        assert!(responsibility_change("/risk/rosh").is_none());
    }
}
