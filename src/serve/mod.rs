//! `caseledger serve`: an authenticated HTTP API over the [`Engine`] (design.md "Shells": it
//! goes through the Engine's API only, never into the store or the domain past it).
//!
//! - [`auth`]: bearer tokens (HS256 secret or RS256/ES256 JWKS) → the request's actor;
//! - [`api`]: the JSON endpoints; [`timeline`]: the inspector's HTML timeline;
//! - [`problem`]: RFC 9457 errors; [`metrics`]: Prometheus text; [`openapi`]: the spec,
//!   generated from the handlers' annotations.
//!
//! While serving, the read models are kept level with the log ([`Engine::follow_read_models`])
//! and reports are read from them; `/info` and `/metrics` show the lag. With a relay
//! configuration (`serve --publish-nats`), the server also runs the NATS JetStream relay of
//! `caseledger publish --follow` ([`crate::relay::run`], its durable consumer and checkpoint)
//! on the same log, retrying NATS failures for as long as it serves; `/info` and `/metrics`
//! show the relay's lag too. On SIGTERM or Ctrl-C the server stops accepting, lets in-flight
//! requests finish (an acknowledged command is durable before its answer is sent), stops the
//! read-model follower and the relay (its acknowledged publishes checkpointed) and flushes.

pub mod api;
pub mod auth;
pub mod case_locks;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod timeline;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::Router;
use caseledger_projections::ReadModelDb;
use tower_http::trace::TraceLayer;

use crate::engine::Engine;
use crate::relay::{RelayConfig, RelayError};
use auth::Authenticator;
use metrics::Metrics;

/// Largest request body, in bytes: one command (the same bound as `exec` and `import` lines).
pub const REQUEST_BODY_BYTES_MAX: usize = caseledger_commands::envelope::COMMAND_BYTES_MAX;
/// Requests handled at once; more wait for a slot.
pub const REQUESTS_IN_FLIGHT_MAX: usize = 1_024;
/// Longest graceful shutdown waits for in-flight requests before it stops anyway.
pub const SHUTDOWN_GRACE_MS_MAX: u64 = 30_000;
/// Longest the relay is given to settle the publishes it has in flight once the server stops.
pub const RELAY_STOP_GRACE_MS_MAX: u64 = 10_000;

/// What the handlers share.
pub struct AppState {
    pub engine: Arc<Engine>,
    pub auth: Authenticator,
    pub metrics: Metrics,
    /// Commands on one case run one at a time in this process.
    pub case_locks: case_locks::CaseLocks,
    /// The read models kept current while serving (`None`: reports are folded from the log).
    pub readmodels: Option<Arc<ReadModelDb>>,
    /// `sled`, `postgres` or `memory`, for `/info`.
    pub store_kind: &'static str,
    /// The relay to NATS JetStream run while serving (`None`: nothing is published).
    pub relay: Option<RelayConfig>,
}

/// The router with every endpoint, limits and tracing.
pub fn router(state: Arc<AppState>) -> Router {
    api::routes()
        .merge(timeline::routes())
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .layer(DefaultBodyLimit::max(REQUEST_BODY_BYTES_MAX))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                // The route pattern, never the path: a path holds a CRN.
                let route = request
                    .extensions()
                    .get::<axum::extract::MatchedPath>()
                    .map(|m| m.as_str().to_owned())
                    .unwrap_or_else(|| "unmatched".to_owned());
                tracing::info_span!("request", method = %request.method(), route = %route)
            }),
        )
        .layer(tower::limit::ConcurrencyLimitLayer::new(
            REQUESTS_IN_FLIGHT_MAX,
        ))
        .with_state(state)
}

/// Every route pattern, as metrics label it.
const ROUTES: [&str; 11] = [
    "/health",
    "/info",
    "/metrics",
    "/openapi.json",
    "/commands",
    "/cases/{crn}",
    "/cases/{crn}/history",
    "/cases/{crn}/timeline",
    "/events/{event_id}/explain",
    "/reports/{name}",
    "/verify",
];

/// Count each answer by route pattern (never the path: it holds a CRN) and status.
async fn count_requests(
    axum::extract::State(state): axum::extract::State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .and_then(|m| ROUTES.iter().find(|r| **r == m.as_str()).copied())
        .unwrap_or("unmatched");
    let response = next.run(request).await;
    state.metrics.request(route, response.status().as_u16());
    response
}

/// Serve on `listener` until `shutdown` resolves, keeping `readmodels` current and running the
/// relay (when configured) meanwhile. Returns once in-flight requests finished, the relay
/// settled and the store is flushed.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_background, background_stopped) = tokio::sync::watch::channel(false);
    let follower = state.readmodels.clone().map(|db| {
        let engine = state.engine.clone();
        let stopped = background_stopped.clone();
        tokio::spawn(async move {
            if let Err(e) = engine.follow_read_models(&db, stopped, |_| {}).await {
                tracing::error!(error = %e, "the read-model follower stopped");
            }
            if let Err(e) = db.flush() {
                tracing::error!(error = %e, "flushing the read models failed");
            }
        })
    });
    let relay = state
        .relay
        .clone()
        .map(|config| spawn_relay(state.engine.clone(), config, background_stopped));
    let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let (grace_tx, grace_rx) = tokio::sync::oneshot::channel::<()>();
    let graceful = async move {
        shutdown.await;
        tracing::info!("shutting down: no new connections, finishing in-flight requests");
        let _ = grace_tx.send(());
    };
    let server = axum::serve(listener, app).with_graceful_shutdown(graceful);
    let bounded = async move {
        let _ = grace_rx.await;
        tokio::time::sleep(Duration::from_millis(SHUTDOWN_GRACE_MS_MAX)).await;
    };
    tokio::select! {
        served = server => served?,
        () = bounded => tracing::warn!("in-flight requests outlived the shutdown grace period"),
    }
    let _ = stop_background.send(true);
    if let Some(follower) = follower {
        let _ = follower.await;
    }
    if let Some(mut relay) = relay {
        let grace = Duration::from_millis(RELAY_STOP_GRACE_MS_MAX);
        if tokio::time::timeout(grace, &mut relay).await.is_err() {
            tracing::warn!("the relay outlived its stop grace period; its unacknowledged publishes are sent again on the next start");
            relay.abort();
        }
    }
    if let Err(e) = state.engine.flush().await {
        tracing::error!(error = %e, "flushing the log failed");
    }
    tracing::info!("stopped");
    Ok(())
}

/// The relay of `caseledger publish --follow` on the served log until `stop` turns true. NATS
/// failures are retried for as long as the server runs (each one logged); a failure of the
/// log or of the stream's identity stops the relay and is logged as an error.
fn spawn_relay(
    engine: Arc<Engine>,
    mut config: RelayConfig,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    config.follow = true;
    config.retry_ms_max = u64::MAX;
    tokio::spawn(async move {
        let mut on_error =
            |e: &RelayError| tracing::warn!(error = %e, "publishing to NATS failed; retrying");
        let store = engine.store().clone();
        match crate::relay::run(store, &config, stop, &mut on_error).await {
            Ok(report) => tracing::info!(
                published = report.published,
                duplicates = report.duplicates,
                checkpoint = report.checkpoint,
                "the relay stopped"
            ),
            Err(e) => tracing::error!(
                error = %e,
                "the relay stopped: nothing more is published until the server is restarted"
            ),
        }
    })
}

/// Resolves on SIGTERM or Ctrl-C (SIGINT).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
