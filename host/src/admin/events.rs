//! `/api/events` and `/api/messages`: what happened to every event.

use axum::Json;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Admin;
use crate::api_error::ApiError;
use crate::store::{EventStatus, MessageStatus};

/// Answers list at most this many rows unless asked for fewer.
const MAX_LIMIT: usize = 1000;

#[derive(Deserialize)]
pub struct EventFilter {
    source: Option<String>,
    status: Option<String>,
    limit: Option<usize>,
}

pub async fn list_events(
    State(admin): State<Admin>,
    Query(filter): Query<EventFilter>,
) -> Result<Json<Value>, ApiError> {
    if let Some(status) = &filter.status
        && EventStatus::parse(status).is_none()
    {
        return Err(bad_status(status, "received, processed"));
    }
    let events = admin
        .store
        .list_events(filter.source, filter.status, limit(filter.limit))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "events": events })))
}

pub async fn show_event(
    State(admin): State<Admin>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let event = admin
        .store
        .event(id.clone())
        .await
        .map_err(ApiError::internal)?;
    let event = event.ok_or_else(|| ApiError::not_found(format!("no event {id}")))?;
    Ok(Json(
        serde_json::to_value(event).map_err(ApiError::internal)?,
    ))
}

#[derive(Deserialize)]
pub struct MessageFilter {
    status: Option<String>,
    limit: Option<usize>,
}

pub async fn list_messages(
    State(admin): State<Admin>,
    Query(filter): Query<MessageFilter>,
) -> Result<Json<Value>, ApiError> {
    if let Some(status) = &filter.status
        && MessageStatus::parse(status).is_none()
    {
        return Err(bad_status(
            status,
            "pending, delivered, dead, filtered, held",
        ));
    }
    let messages = admin
        .store
        .list_messages(filter.status, limit(filter.limit))
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "messages": messages })))
}

fn limit(asked: Option<usize>) -> usize {
    asked.unwrap_or(100).clamp(1, MAX_LIMIT)
}

fn bad_status(status: &str, expected: &str) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::BAD_REQUEST,
        format!("unknown status {status:?}; expected one of: {expected}"),
    )
}
