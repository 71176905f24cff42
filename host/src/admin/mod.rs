//! The admin listener: the API of SPEC section 8, `/metrics`, and health checks.
//! Every route but the health checks is behind [`access::guard`]: the token when one is set,
//! else this machine only.

pub mod access;
mod actions;
mod events;
mod wiring;

use axum::Router;
use axum::extract::State;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::api_error::ApiError;
use crate::ingest::Ingest;

#[derive(Clone)]
pub struct Admin {
    pub ingest: Ingest,
    pub delivery: std::sync::Arc<crate::delivery::Delivery>,
    pub metrics: PrometheusHandle,
}

pub fn router(admin: Admin) -> Router {
    let api = Router::new()
        .route("/metrics", get(metrics))
        .route("/api/routes", get(wiring::routes))
        .route("/api/plugins", get(wiring::plugins))
        .route("/api/reload", post(wiring::reload))
        .route("/api/events", get(events::list_events))
        .route("/api/events/{id}", get(events::show_event))
        .route("/api/messages", get(events::list_messages))
        .route("/api/messages/{id}/retry", post(actions::retry_message))
        .route("/api/events/{id}/replay", post(actions::replay_event))
        .route("/api/subscribers", get(actions::subscribers))
        .route(
            "/api/subscribers/{name}/enable",
            post(actions::enable_subscriber),
        )
        .route_layer(middleware::from_fn_with_state(admin.clone(), access::guard));
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .merge(api)
        .with_state(admin)
}

async fn metrics(State(admin): State<Admin>) -> String {
    admin.metrics.render()
}

/// The process is up.
pub async fn healthz() -> impl IntoResponse {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

/// The store answers and the router is not shutting down, so a load balancer stops sending to a
/// draining instance. A plugin whose file does not load makes the answer `degraded`, still
/// `200`: events are taken, and the routes using it serve its last good version or hold them.
/// Served on the ingest port too, so it names what is wrong and not why: the log and the admin
/// API say why.
pub async fn readyz(State(ingest): State<Ingest>) -> Response {
    if !ingest.accepting.load(std::sync::atomic::Ordering::SeqCst) {
        return ApiError::unavailable("wasmhook is shutting down").into_response();
    }
    match ingest.store.list_events(None, None, 1).await {
        Ok(_) => wiring::readiness(&ingest.reloader).into_response(),
        Err(error) => {
            tracing::error!(%error, "readiness: the event store does not answer");
            ApiError::unavailable("the event store is not available; see the wasmhook log")
                .into_response()
        }
    }
}

impl axum::extract::FromRef<Admin> for Ingest {
    fn from_ref(admin: &Admin) -> Ingest {
        admin.ingest.clone()
    }
}
