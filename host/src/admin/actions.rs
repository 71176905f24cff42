//! What an operator can do: retry a dead message or all of a subscriber's, replay an event,
//! disable and enable a subscriber.

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

/// `POST /api/subscribers/{name}/retry-dead`: every dead message of the subscriber becomes
/// pending, due now, after a fix on its side; they are sent at its `rate` and `concurrency`.
pub async fn retry_dead_of(
    State(admin): State<Admin>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    configured(&admin, &name)?;
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

/// `POST /api/subscribers/{name}/enable`: a subscriber disabled by `410 Gone` or by an
/// operator resumes.
pub async fn enable_subscriber(
    State(admin): State<Admin>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    configured(&admin, &name)?;
    let was_disabled = admin
        .delivery
        .enable(&name)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(
        json!({ "name": name, "disabled": false, "was_disabled": was_disabled }),
    ))
}

/// `POST /api/subscribers/{name}/disable`: no attempt starts for the subscriber until it is
/// enabled again (on every node sharing the store); its messages wait, pending.
pub async fn disable_subscriber(
    State(admin): State<Admin>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    configured(&admin, &name)?;
    admin
        .delivery
        .disable(&name, "disabled by an operator".to_owned())
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "name": name, "disabled": true })))
}

fn configured(admin: &Admin, name: &str) -> Result<(), ApiError> {
    if admin.wiring.current().subscribers.contains_key(name) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no subscriber named {name:?}")))
    }
}
