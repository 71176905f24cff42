//! `GET /api/subscribers`: each subscriber as configured, with nothing secret in it, and how
//! it fares: its queue, its last failure, its circuit, its rates.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::Admin;
use super::redact;
use crate::activity::{Flow, activity};
use crate::api_error::ApiError;
use crate::config::SubscriberConfig;
use crate::store::SubscriberQueue;

pub async fn list(State(admin): State<Admin>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "subscribers": all(&admin).await? })))
}

/// Every subscriber, by name.
pub async fn all(admin: &Admin) -> Result<Vec<Value>, ApiError> {
    let queues = admin
        .store
        .subscriber_queues()
        .await
        .map_err(ApiError::internal)?;
    let queues: HashMap<String, SubscriberQueue> = queues
        .into_iter()
        .map(|queue| (queue.subscriber.clone(), queue))
        .collect();
    let topology = admin.wiring.current();
    let disabled = admin.delivery.disabled();
    let mut names: Vec<&String> = topology.subscribers.keys().collect();
    names.sort();
    Ok(names
        .into_iter()
        .map(|name| {
            let config = &topology.subscribers[name].config;
            let off = disabled.get(name);
            let queue = queues.get(name);
            let last_failure = activity().last_failure(name);
            json!({
                "name": name,
                "url": redact::url_shown(&config.url),
                "secret": config.secrets.first().map(|secret| redact::secret_hint(secret)),
                "headers": redact::header_names(&config.headers),
                "ordering": config.ordering,
                "timeout_ms": config.timeout.as_millis() as u64,
                "retry": schedule(config),
                "concurrency": config.concurrency,
                "rate": config.rate.map(|rate| format!("{}/{}", rate.count, humantime::format_duration(rate.per))),
                "disabled": off.is_some(),
                "disabled_at": off.map(|(at, _)| crate::clock::rfc3339(*at)),
                "disabled_reason": off.map(|(_, reason)| reason),
                "circuit": circuit(admin, name, config.circuit.is_some()),
                "pending": queue.map_or(0, |queue| queue.pending),
                "oldest_pending_at": queue.and_then(|queue| queue.oldest_pending_at).map(crate::clock::rfc3339),
                "dead": queue.map_or(0, |queue| queue.dead),
                "last_error": last_failure.map(|failure| json!({
                    "at": crate::clock::rfc3339(failure.at),
                    "status": failure.status,
                    "error": failure.error,
                })),
                "rates": {
                    "delivered": activity().rate(Flow::Delivered, name),
                    "failed": activity().rate(Flow::Failed, name),
                },
            })
        })
        .collect())
}

/// The delays before each retry, as `routes.toml` writes them.
fn schedule(config: &SubscriberConfig) -> Vec<String> {
    config
        .retry
        .iter()
        .map(|delay| humantime::format_duration(*delay).to_string())
        .collect()
}

/// A subscriber's circuit: `closed`, `open` (its messages wait for the next probe) or
/// `half-open` (the probe is in flight); `off` without a circuit breaker.
fn circuit(admin: &Admin, name: &str, breaker: bool) -> Value {
    if !breaker {
        return json!({ "state": "off" });
    }
    match admin.delivery.circuit(name) {
        None => json!({ "state": "closed" }),
        Some((open, probing)) => json!({
            "state": if probing { "half-open" } else { "open" },
            "opened_at": crate::clock::rfc3339(open.opened_at),
            "reason": open.reason,
            "probes": open.probes,
            "next_probe_at": (!probing).then(|| crate::clock::rfc3339(open.probe_at)),
        }),
    }
}
