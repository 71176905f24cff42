//! `/api/events` and `/api/messages`: what happened to every event, a page at a time.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Admin, redact};
use crate::activity::activity;
use crate::api_error::ApiError;
use crate::store::{EventQuery, EventStatus, MessageQuery, MessageStatus};

/// Answers list at most this many rows unless asked for fewer.
const MAX_LIMIT: usize = 1000;
/// What a search may be: ids and provider delivery ids are short.
const MAX_SEARCH: usize = 256;

#[derive(Deserialize)]
pub struct EventFilter {
    source: Option<String>,
    status: Option<String>,
    #[serde(rename = "type")]
    event_type: Option<String>,
    since: Option<String>,
    until: Option<String>,
    q: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

pub async fn list_events(
    State(admin): State<Admin>,
    Query(filter): Query<EventFilter>,
) -> Result<Json<Value>, ApiError> {
    let status = match given(filter.status) {
        Some(status) => Some(
            EventStatus::parse(&status)
                .ok_or_else(|| bad_status(&status, "received, processed"))?,
        ),
        None => None,
    };
    let search = given(filter.q).map(|q| q.trim().to_owned());
    if search.as_ref().is_some_and(|q| q.len() > MAX_SEARCH) {
        return Err(bad_request(format!(
            "`q` is an event id, message id or delivery id, at most {MAX_SEARCH} bytes"
        )));
    }
    let query = EventQuery {
        source: given(filter.source),
        status,
        event_type: given(filter.event_type),
        since: time("since", filter.since)?,
        until: time("until", filter.until)?,
        search,
        search_sources: admin
            .wiring
            .current()
            .config
            .sources
            .keys()
            .cloned()
            .collect(),
        before: given(filter.before),
        limit: limit(filter.limit),
    };
    let page = admin
        .store
        .list_events(query)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(json!({ "events": page.items, "next": page.next })))
}

/// One event with its request, body, messages and attempts. The plugins of each message are
/// named by the versions this node loaded.
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
    let mut shown = serde_json::to_value(event).map_err(ApiError::internal)?;
    redact::headers_shown(&mut shown["request"]["headers"]);
    if let Some(messages) = shown["messages"].as_array_mut() {
        messages.iter_mut().for_each(message_shown);
    }
    Ok(Json(shown))
}

/// A message with credential headers hidden and its plugins named.
fn message_shown(message: &mut Value) {
    redact::headers_shown(&mut message["headers"]);
    message["plugins"] = plugins_named(&message["plugins"]);
}

/// A message's list of plugin sha256s as `{name, sha256, version}`; `name` and `version` are
/// `null` for a version this node did not load.
fn plugins_named(sha256s: &Value) -> Value {
    let named: Vec<Value> = sha256s
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|sha256| {
            let build = activity().build(sha256);
            json!({
                "name": build.as_ref().map(|build| &build.name),
                "sha256": sha256,
                "version": build.map(|build| build.version),
            })
        })
        .collect();
    Value::Array(named)
}

#[derive(Deserialize)]
pub struct MessageFilter {
    status: Option<String>,
    subscriber: Option<String>,
    before: Option<String>,
    limit: Option<usize>,
}

pub async fn list_messages(
    State(admin): State<Admin>,
    Query(filter): Query<MessageFilter>,
) -> Result<Json<Value>, ApiError> {
    let status = match given(filter.status) {
        Some(status) => Some(
            MessageStatus::parse(&status)
                .ok_or_else(|| bad_status(&status, "pending, delivered, dead, filtered, held"))?,
        ),
        None => None,
    };
    let query = MessageQuery {
        status,
        subscriber: given(filter.subscriber),
        before: given(filter.before),
        limit: limit(filter.limit),
    };
    let page = admin
        .store
        .list_messages(query)
        .await
        .map_err(ApiError::internal)?;
    let mut messages = serde_json::to_value(page.items).map_err(ApiError::internal)?;
    if let Some(messages) = messages.as_array_mut() {
        messages.iter_mut().for_each(message_shown);
    }
    Ok(Json(json!({ "messages": messages, "next": page.next })))
}

/// A parameter that is there and not empty: a form's empty field filters nothing.
fn given(parameter: Option<String>) -> Option<String> {
    parameter.filter(|value| !value.is_empty())
}

/// An RFC 3339 time parameter as Unix milliseconds.
fn time(name: &str, parameter: Option<String>) -> Result<Option<i64>, ApiError> {
    let Some(text) = given(parameter) else {
        return Ok(None);
    };
    let at = humantime::parse_rfc3339_weak(&text).map_err(|error| {
        bad_request(format!(
            "`{name}` is a time such as 2026-12-07T15:00:00Z: {error}"
        ))
    })?;
    let millis = at
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| bad_request(format!("`{name}` is before 1970")))?
        .as_millis();
    Ok(Some(i64::try_from(millis).unwrap_or(i64::MAX)))
}

fn limit(asked: Option<usize>) -> usize {
    asked.unwrap_or(100).clamp(1, MAX_LIMIT)
}

fn bad_status(status: &str, expected: &str) -> ApiError {
    bad_request(format!(
        "unknown status {status:?}; expected one of: {expected}"
    ))
}

fn bad_request(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}
