//! `/api/routes`, `/api/plugins` and `/api/reload`: what is loaded, and loading it again.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::Admin;
use crate::api_error::ApiError;

pub async fn routes(State(admin): State<Admin>) -> Json<Value> {
    let topology = admin.ingest.reloader.current();
    let routes: Vec<Value> = topology
        .routes
        .iter()
        .map(|route| {
            json!({
                "name": route.name,
                "source": route.source,
                "filters": route.filters.iter().map(|p| &p.name).collect::<Vec<_>>(),
                "transforms": route.transforms.iter().map(|p| &p.name).collect::<Vec<_>>(),
                "subscribers": route.subscribers,
            })
        })
        .collect();
    Json(json!({ "routes": routes }))
}

pub async fn plugins(State(admin): State<Admin>) -> Json<Value> {
    let reloader = &admin.ingest.reloader;
    let topology = reloader.current();
    let plugins: Vec<Value> = topology
        .plugins
        .values()
        .map(|plugin| {
            json!({
                "name": plugin.name,
                "path": plugin.compiled.path,
                "kind": plugin.compiled.kind,
                "sha256": plugin.compiled.sha256,
                "version": plugin.version,
                "loaded_at": humantime::format_rfc3339_millis(plugin.loaded_at).to_string(),
                "reuse": plugin.reuses_instances(),
                "last_error": reloader.plugin_error(&plugin.name),
            })
        })
        .collect();
    Json(json!({ "plugins": plugins, "config_error": reloader.config_error() }))
}

pub async fn reload(State(admin): State<Admin>) -> Result<Json<Value>, ApiError> {
    let reloader = admin.ingest.reloader.clone();
    let report = tokio::task::spawn_blocking(move || reloader.reload())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        serde_json::to_value(report).map_err(ApiError::internal)?,
    ))
}
