//! `POST /api/routes/{name}/dry-run`: the route debugger. A stored event, or a request pasted
//! in, runs through one route as the pipeline would run it, and every stage is shown: each
//! filter's verdict, each transform's output, each plugin's time and stderr, and the messages
//! each subscriber would get. Nothing is stored or sent.
//!
//! A pasted request becomes an event as `wasmhook test` makes one (as if its signature were
//! good); both then run the route logic of [`crate::pipeline`], on the pipeline's engine and
//! within its limits.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Admin, redact};
use crate::api_error::ApiError;
use crate::pipeline::Stage;
use crate::store::{MessageStatus, NewEvent, NewMessage, json_column};
use crate::topology::Topology;

/// What to run: a stored event, or a request's body and headers.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DryRun {
    event_id: Option<String>,
    body: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

pub async fn dry_run(
    State(admin): State<Admin>,
    Path(name): Path<String>,
    Json(asked): Json<DryRun>,
) -> Result<Json<Value>, ApiError> {
    let topology = admin.wiring.current();
    let route = topology
        .routes
        .iter()
        .find(|route| route.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no route named {name:?}")))?
        .clone();
    let event = event_to_run(&admin, &topology, &route.source, asked).await?;
    let (messages, stages) = crate::pipeline::trace_route(admin.pipeline.engine(), &route, &event)
        .await
        .map_err(|shutting_down| ApiError::unavailable(shutting_down.to_string()))?;
    let (outcome, reason) = outcome(&messages);
    Ok(Json(json!({
        "route": route.name,
        "source": route.source,
        "event": { "id": event.id, "type": event.event_type },
        "stages": stages.iter().map(stage_shown).collect::<Vec<_>>(),
        "outcome": outcome,
        "reason": reason,
        "messages": messages
            .iter()
            .map(|message| message_shown(&topology, &event, message))
            .collect::<Vec<_>>(),
    })))
}

async fn event_to_run(
    admin: &Admin,
    topology: &Topology,
    source: &str,
    asked: DryRun,
) -> Result<NewEvent, ApiError> {
    let bad = |message: String| ApiError::new(StatusCode::BAD_REQUEST, message);
    match (asked.event_id, asked.body) {
        (Some(id), None) => {
            let event = admin
                .store
                .load_event(id.clone())
                .await
                .map_err(ApiError::internal)?;
            event.ok_or_else(|| ApiError::not_found(format!("no event {id}")))
        }
        (None, Some(body)) => {
            let verifier = topology
                .sources
                .get(source)
                .ok_or_else(|| bad(format!("source {source:?} is not set up")))?;
            let headers = header_map(&asked.headers).map_err(bad)?;
            let clock = topology.config.server.clock;
            crate::ingest::event_as_verified(verifier, source, headers, Bytes::from(body), clock)
                .map_err(|refused| bad(refused.to_string()))
        }
        _ => Err(bad(
            "give either `event_id` (a stored event) or `body` (with `headers`)".to_owned(),
        )),
    }
}

fn header_map(headers: &BTreeMap<String, String>) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let name = HeaderName::try_from(name.as_str())
            .map_err(|_| format!("{name:?} is not a header name"))?;
        let value = HeaderValue::try_from(value.as_str())
            .map_err(|_| format!("the value of {name} is not a header value"))?;
        map.insert(name, value);
    }
    Ok(map)
}

fn stage_shown(stage: &Stage) -> Value {
    json!({
        "plugin": stage.plugin,
        "kind": stage.kind,
        "sha256": stage.sha256,
        "version": stage.version,
        "duration_ms": stage.elapsed.as_secs_f64() * 1000.0,
        "stderr": stage.stderr,
        "output": stage.output.as_deref().map(json_column),
        "error": stage.error,
    })
}

/// What the route made of the event, in a word, and why when it made no messages.
fn outcome(messages: &[NewMessage]) -> (&'static str, Option<String>) {
    let first = messages.first();
    let reason = first.and_then(|message| message.error.clone());
    match first.map(|message| message.status) {
        Some(MessageStatus::Held) => ("held", reason),
        Some(MessageStatus::Filtered) => ("dropped", reason),
        Some(MessageStatus::Dead) => ("failed", reason),
        _ => ("messages", None),
    }
}

/// A message as its subscriber would get it, without the signature headers each attempt adds
/// and with the values of the subscriber's own configured headers hidden.
fn message_shown(topology: &Topology, event: &NewEvent, message: &NewMessage) -> Value {
    let config = &topology.subscribers[&message.subscriber].config;
    let sent = crate::delivery::content_headers(config, &message.headers);
    let mut headers: serde_json::Map<String, Value> = sent
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.to_string(), Value::String(value))
        })
        .collect();
    for (name, _) in &config.headers {
        if let Some(value) = headers.get_mut(name) {
            *value = Value::String(redact::REDACTED.to_owned());
        }
    }
    let mut headers = Value::Object(headers);
    redact::headers_shown(&mut headers);
    let body = match (&message.body, message.body_is_event) {
        (Some(body), _) => Some(json_column(body)),
        (None, true) => Some(json_column(&event.body)),
        (None, false) => None,
    };
    json!({
        "subscriber": message.subscriber,
        "status": message.status.as_str(),
        "type": message.message_type,
        "key": message.key,
        "headers": headers,
        "body": body,
        "error": message.error,
    })
}
