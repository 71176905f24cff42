//! `GET /api/overview`: what the dashboard's first page draws, in one answer: each route as a
//! flow from its source through its plugins to its subscribers, with the rates on its edges,
//! and each subscriber's queue.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::{Admin, subscribers, wiring};
use crate::activity::{Flow, activity};
use crate::api_error::ApiError;

pub async fn overview(State(admin): State<Admin>) -> Result<Json<Value>, ApiError> {
    let topology = admin.wiring.current();
    let mut routes = wiring::routes_shown(&topology);
    for (shown, config) in routes.iter_mut().zip(&topology.config.routes) {
        shown["rates"] = json!({
            "accepted": activity().rate(Flow::Accepted, &config.source),
            "filtered": activity().rate(Flow::Filtered, &config.name),
        });
    }
    Ok(Json(json!({
        "at": crate::clock::rfc3339(crate::clock::now_ms()),
        "routes": routes,
        "subscribers": subscribers::all(&admin).await?,
    })))
}
