//! The admin listener: the dashboard, the API of SPEC section 8 and what it grew since,
//! `/metrics`, and health checks.
//!
//! Every API route is behind [`access::guard`]: the token when one is set, else this machine
//! only. The dashboard's page and assets are not: they hold no data, and the page must load
//! to ask for the token. The health checks are not either: load balancers ask them.

pub mod access;
mod actions;
mod dashboard;
mod debugger;
mod events;
mod openapi;
mod overview;
pub mod redact;
mod subscribers;
mod wiring;

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::middleware;
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
    /// Replays run events through it again; dry runs use its engine.
    pub pipeline: Pipeline,
    /// The running wiring, read only.
    pub wiring: Wiring,
    /// `POST /api/reload`, and the history of reloads.
    pub reloader: Arc<Reloader>,
    pub delivery: Arc<Delivery>,
    pub metrics: PrometheusHandle,
    pub health: Health,
}

/// Declares the API's routes once: the router is built from the list, and the test of the
/// OpenAPI description reads the same list, so neither can drift from the other.
macro_rules! api_routes {
    ($($method:ident $path:literal => $handler:path,)*) => {
        /// Every guarded route: method and path as axum matches them.
        pub const API_ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path)),*];

        fn api() -> Router<Admin> {
            Router::new()$(.route($path, axum::routing::$method($handler)))*
        }
    };
}

api_routes! {
    get "/metrics" => metrics,
    get "/api/openapi.json" => openapi::document,
    get "/api/overview" => overview::overview,
    get "/api/routes" => wiring::routes,
    post "/api/routes/{name}/dry-run" => debugger::dry_run,
    get "/api/plugins" => wiring::plugins,
    post "/api/reload" => wiring::reload,
    get "/api/reloads" => wiring::reloads,
    get "/api/nodes" => wiring::nodes,
    get "/api/events" => events::list_events,
    get "/api/events/{id}" => events::show_event,
    post "/api/events/{id}/replay" => actions::replay_event,
    get "/api/messages" => events::list_messages,
    post "/api/messages/{id}/retry" => actions::retry_message,
    get "/api/subscribers" => subscribers::list,
    post "/api/subscribers/{name}/enable" => actions::enable_subscriber,
    post "/api/subscribers/{name}/disable" => actions::disable_subscriber,
    post "/api/subscribers/{name}/retry-dead" => actions::retry_dead_of,
}

pub fn router(admin: Admin) -> Router {
    let api = api().route_layer(middleware::from_fn_with_state(admin.clone(), access::guard));
    let health = health::router(admin.health.clone());
    api.merge(dashboard::router())
        .with_state(admin)
        .merge(health)
}

async fn metrics(State(admin): State<Admin>) -> String {
    admin.metrics.render()
}
