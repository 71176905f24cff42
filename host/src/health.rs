//! `GET /healthz` and `GET /readyz`, served on both listeners: a load balancer asks the
//! ingest port, an operator the admin port, and the container's health check either.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::api_error::ApiError;
use crate::store::Store;
use crate::topology::Wiring;

/// What the health checks look at.
#[derive(Clone)]
pub struct Health {
    pub store: Store,
    pub wiring: Wiring,
    /// Cleared at shutdown: a draining router is not ready.
    pub accepting: Arc<AtomicBool>,
}

/// The two routes, to merge into a listener's router.
pub fn router<S>(health: Health) -> Router<S> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health)
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The store answers and the router is not shutting down, so a load balancer stops sending to a
/// draining instance. A plugin whose file does not load makes the answer `degraded`, still
/// `200`: events are taken, and the routes using it serve its last good version or hold them.
/// Served on the ingest port too, so it names what is wrong and not why: the log and the admin
/// API say why.
async fn readyz(State(health): State<Health>) -> Response {
    if !health.accepting.load(Ordering::SeqCst) {
        return ApiError::unavailable("wasmhook is shutting down").into_response();
    }
    if let Err(error) = health.store.list_events(latest_event()).await {
        tracing::error!(%error, "readiness: the event store does not answer");
        return ApiError::unavailable("the event store is not available; see the wasmhook log")
            .into_response();
    }
    let troubles = health.wiring.running().plugin_troubles();
    if troubles.is_empty() {
        return Json(json!({ "status": "ready" })).into_response();
    }
    Json(json!({ "status": "degraded", "plugins": troubles })).into_response()
}

/// The smallest read of the store: whether it answers.
fn latest_event() -> crate::store::EventQuery {
    crate::store::EventQuery {
        limit: 1,
        ..Default::default()
    }
}
