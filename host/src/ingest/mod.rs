//! The ingest listener: `POST /hooks/{source}` (SPEC section 4).
//!
//! A request is verified, its body checked against what its content type promises, and the
//! event committed to the store before the sender hears `202`. Plugins run afterwards, in the
//! pipeline: a sender never waits on a plugin, and a plugin never loses an event.

mod dedup;
pub mod verify;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;

pub use verify::Verifier;

use crate::api_error::ApiError;
use crate::pipeline::{Pipeline, envelope};
use crate::store::{Inserted as StoreInserted, NewEvent, RequestMeta, Store};
use crate::telemetry;
use crate::topology::reload::Reloader;

#[derive(Clone)]
pub struct Ingest {
    pub store: Store,
    pub pipeline: Pipeline,
    pub reloader: Arc<Reloader>,
    /// Cleared at shutdown: from then on senders are told to retry (503).
    pub accepting: Arc<AtomicBool>,
}

/// The ingest listener's routes, health checks included.
pub fn router(ingest: Ingest) -> Router {
    Router::new()
        .route("/hooks/{source}", post(receive))
        .route("/healthz", get(crate::admin::healthz))
        .route("/readyz", get(crate::admin::readyz))
        .with_state(ingest)
}

async fn receive(
    State(ingest): State<Ingest>,
    Path(source): Path<String>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match accept(&ingest, &source, query, method, headers, body).await {
        Ok(Inserted::New(id)) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({ "id": id })),
        )
            .into_response(),
        Ok(Inserted::Duplicate(id)) => {
            telemetry::event_duplicate(&source, &id);
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "id": id, "duplicate": true })),
            )
                .into_response()
        }
        Err(error) => {
            telemetry::event_rejected(&source, error.status.as_u16(), &error.message);
            error.into_response()
        }
    }
}

async fn accept(
    ingest: &Ingest,
    source: &str,
    query: Option<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Inserted, ApiError> {
    if !ingest.accepting.load(Ordering::SeqCst) {
        return Err(ApiError::unavailable(
            "wasmhook is shutting down; retry shortly",
        ));
    }
    let topology = ingest.reloader.current();
    let verifier = topology.sources.get(source).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no source named {source:?} is configured"),
        )
    })?;
    let body = read_body(body, &headers, topology.config.server.max_body).await?;
    let now_ms = crate::clock::now_ms();
    verifier
        .verify(&headers, &body, now_ms / 1000)
        .map_err(|rejection| ApiError::new(status(rejection.status), rejection.message))?;
    let content_type = verify::header(&headers, "content-type");
    envelope::parse_body(content_type, &body)
        .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, error.to_string()))?;
    let dedup = topology
        .config
        .sources
        .get(source)
        .and_then(|config| config.dedup.as_ref())
        .and_then(|dedup| dedup::key(dedup, verifier, &headers, &body));
    let event = NewEvent {
        id: crate::ids::event_id(),
        source: source.to_owned(),
        event_type: verifier.event_type(&headers, &body),
        received_at: now_ms,
        request: request_meta(source, query, &method, &headers),
        body,
    };
    let inserted = ingest
        .store
        .insert_event(event.clone(), dedup)
        .await
        .map_err(|error| {
            tracing::error!(%error, "cannot store an event");
            ApiError::unavailable("the event store cannot take events right now; retry later")
        })?;
    if let StoreInserted::Duplicate(first) = inserted {
        return Ok(Inserted::Duplicate(first));
    }
    telemetry::event_accepted(source, &event.id, event.event_type.as_deref());
    let id = event.id.clone();
    ingest.pipeline.submit(event);
    Ok(Inserted::New(id))
}

/// What became of an accepted request.
enum Inserted {
    New(String),
    /// A redelivery of this earlier event.
    Duplicate(String),
}

/// Reads the body up to `limit` bytes; a larger body is refused before it is read in full.
async fn read_body(body: Body, headers: &HeaderMap, limit: u64) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this source's limit of {limit} bytes"),
        )
    };
    let declared =
        verify::header(headers, "content-length").and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|error| {
            if std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
            {
                too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the body: {error}"),
                )
            }
        })
}

fn request_meta(
    source: &str,
    query: Option<String>,
    method: &Method,
    headers: &HeaderMap,
) -> RequestMeta {
    let query: BTreeMap<String, String> = query
        .map(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let headers = headers
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    RequestMeta {
        method: method.to_string(),
        path: format!("/hooks/{source}"),
        query,
        headers,
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::UNAUTHORIZED)
}
