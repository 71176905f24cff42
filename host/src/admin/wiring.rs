//! `/api/routes`, `/api/plugins`, `/api/reload(s)` and `/api/nodes`: what is loaded and
//! where, loading it again, and what the loads did.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::Admin;
use crate::activity::activity;
use crate::api_error::ApiError;
use crate::topology::Topology;

pub async fn routes(State(admin): State<Admin>) -> Json<Value> {
    Json(json!({ "routes": routes_shown(&admin.wiring.current()) }))
}

/// The routes with the names as configured, in routes.toml order: one held by a plugin
/// without a version lacks it in `filters`/`transforms`, and says so in `held_by`.
pub fn routes_shown(topology: &Topology) -> Vec<Value> {
    let configs = &topology.config.routes;
    configs
        .iter()
        .zip(&topology.routes)
        .map(|(config, route)| {
            json!({
                "name": config.name,
                "source": config.source,
                "filters": config.filters,
                "transforms": config.transforms,
                "subscribers": config.subscribers,
                "held_by": route.held_by,
            })
        })
        .collect()
}

/// Every configured plugin: the version that serves, and `state`: `loaded` (its file),
/// `last-good` (its file does not load; the last version that did serves) or `held` (no
/// version; `kind`, `sha256`, `version` and `loaded_at` are `null`).
pub async fn plugins(State(admin): State<Admin>) -> Json<Value> {
    let running = admin.wiring.running();
    let plugins: Vec<Value> = running
        .topology
        .config
        .plugins
        .iter()
        .map(|(name, settings)| {
            let state = running.plugin_state(name);
            let last_error = running.plugin_errors.get(name);
            match running.topology.plugins.get(name) {
                Some(plugin) => json!({
                    "name": name,
                    "path": plugin.compiled.path,
                    "kind": plugin.compiled.kind,
                    "sha256": plugin.compiled.sha256,
                    "version": plugin.version,
                    "loaded_at": humantime::format_rfc3339_millis(plugin.loaded_at).to_string(),
                    "reuse": plugin.reuses_instances(),
                    "state": state,
                    "last_error": last_error,
                    "stats": activity().plugin_stats(name, &plugin.compiled.sha256),
                }),
                None => json!({
                    "name": name,
                    "path": settings.wasm,
                    "kind": null,
                    "sha256": null,
                    "version": null,
                    "loaded_at": null,
                    "reuse": false,
                    "state": state,
                    "last_error": last_error,
                    "stats": null,
                }),
            }
        })
        .collect();
    Json(json!({ "plugins": plugins, "config_error": running.config_error }))
}

pub async fn reload(State(admin): State<Admin>) -> Result<Json<Value>, ApiError> {
    let reloader = admin.reloader.clone();
    let report =
        tokio::task::spawn_blocking(move || reloader.reload(crate::topology::reload::Trigger::Api))
            .await
            .map_err(ApiError::internal)?;
    Ok(Json(
        serde_json::to_value(report).map_err(ApiError::internal)?,
    ))
}

/// `GET /api/reloads`: the loads and reloads that changed something or met errors, and every
/// one asked for, the latest first.
pub async fn reloads(State(admin): State<Admin>) -> Json<Value> {
    Json(json!({ "reloads": admin.reloader.history() }))
}

/// Every node sharing the store, with the sha256 of routes.toml and of each plugin it runs:
/// a rollout half done shows as two versions side by side.
pub async fn nodes(State(admin): State<Admin>) -> Result<Json<serde_json::Value>, ApiError> {
    let nodes = admin.store.nodes().await.map_err(ApiError::internal)?;
    Ok(Json(serde_json::json!({ "nodes": nodes })))
}
