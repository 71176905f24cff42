//! What an operator can do: retry a dead message or all of a subscriber's, replay an event,
//! enable a subscriber.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::Admin;
use crate::api_error::ApiError;

/// `POST /api/messages/{id}/retry`: a dead message becomes pending, due now.
pub async fn retry_message(
    State(admin): State<Admin>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let store = &admin.store;
    if !store
        .retry_message(id.clone())
        .await
        .map_err(ApiError::internal)?
    {
        let message = store
            .message(id.clone())
            .await
            .map_err(ApiError::internal)?;
        return Err(match message {
            None => ApiError::not_found(format!("no message {id}")),
            Some(message) => ApiError::new(
                StatusCode::CONFLICT,
                format!(
                    "message {id} is {}, not dead with a body to send; replay its event instead",
                    message.status
                ),
            ),
        });
    }
    admin.delivery.wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "status": "pending" })),
    ))
}

/// `POST /api/events/{id}/replay`: the event runs through the current routes and plugins
/// again, making new messages beside the old ones.
pub async fn replay_event(
    State(admin): State<Admin>,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let store = &admin.store;
    if !store
        .mark_for_replay(id.clone())
        .await
        .map_err(ApiError::internal)?
    {
        return Err(ApiError::not_found(format!("no event {id}")));
    }
    let event = store
        .load_event(id.clone())
        .await
        .map_err(ApiError::internal)?;
    let event = event.ok_or_else(|| ApiError::not_found(format!("no event {id}")))?;
    admin.pipeline.submit(std::sync::Arc::new(event));
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "id": id, "status": "received" })),
    ))
}

/// `GET /api/subscribers`: each subscriber, whether it is disabled, and its circuit.
pub async fn subscribers(State(admin): State<Admin>) -> Json<Value> {
    let topology = admin.wiring.current();
    let disabled = admin.delivery.disabled();
    let mut names: Vec<&String> = topology.subscribers.keys().collect();
    names.sort();
    let subscribers: Vec<Value> = names
        .into_iter()
        .map(|name| {
            let subscriber = &topology.subscribers[name].config;
            let off = disabled.get(name);
            json!({
                "name": name,
                "url": subscriber.url.as_str(),
                "ordering": format!("{:?}", subscriber.ordering).to_lowercase(),
                "disabled": off.is_some(),
                "disabled_at": off.map(|(at, _)| crate::clock::rfc3339(*at)),
                "disabled_reason": off.map(|(_, reason)| reason),
                "circuit": circuit(&admin, name, subscriber.circuit.is_some()),
            })
        })
        .collect();
    Json(json!({ "subscribers": subscribers }))
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

/// `POST /api/subscribers/{name}/retry-dead`: every dead message of the subscriber becomes
/// pending, due now, after a fix on its side; they are sent at its `rate` and `concurrency`.
pub async fn retry_dead_of(
    State(admin): State<Admin>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    if !admin.wiring.current().subscribers.contains_key(&name) {
        return Err(ApiError::not_found(format!("no subscriber named {name:?}")));
    }
    let retried = admin
        .store
        .retry_dead_of(name.clone())
        .await
        .map_err(ApiError::internal)?;
    admin.delivery.wake();
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "name": name, "retried": retried })),
    ))
}

/// `POST /api/subscribers/{name}/enable`: a subscriber disabled by `410 Gone` resumes.
pub async fn enable_subscriber(
    State(admin): State<Admin>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    if !admin.wiring.current().subscribers.contains_key(&name) {
        return Err(ApiError::not_found(format!("no subscriber named {name:?}")));
    }
    let was_disabled = admin
        .delivery
        .enable(&name)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "name": name, "disabled": false, "was_disabled": was_disabled }),
    ))
}
