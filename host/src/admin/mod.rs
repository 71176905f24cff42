//! The admin listener: the API of SPEC section 8, `/metrics`, and health checks.
//! Every route but the health checks is behind [`access::guard`]: the token when one is set,
//! else this machine only.

pub mod access;
mod actions;
mod events;
mod wiring;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::middleware;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

use crate::delivery::Delivery;
use crate::health::{self, Health};
use crate::pipeline::Pipeline;
use crate::store::Store;
use crate::topology::Wiring;
use crate::topology::reload::Reloader;

#[derive(Clone)]
pub struct Admin {
    pub store: Store,
    /// Replays run events through it again.
    pub pipeline: Pipeline,
    /// The running wiring, read only.
    pub wiring: Wiring,
    /// `POST /api/reload`.
    pub reloader: Arc<Reloader>,
    pub delivery: Arc<Delivery>,
    pub metrics: PrometheusHandle,
    pub health: Health,
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
        .route("/api/nodes", get(wiring::nodes))
        .route(
            "/api/subscribers/{name}/enable",
            post(actions::enable_subscriber),
        )
        .route(
            "/api/subscribers/{name}/retry-dead",
            post(actions::retry_dead_of),
        )
        .route_layer(middleware::from_fn_with_state(admin.clone(), access::guard));
    let health = health::router(admin.health.clone());
    api.with_state(admin).merge(health)
}

async fn metrics(State(admin): State<Admin>) -> String {
    admin.metrics.render()
}
