//! The ingest listener: `/hooks/{source}` (SPEC section 4).
//!
//! A POST is verified, its body checked against what its content type promises, and the event
//! committed to the store before the sender hears `202`. Plugins run afterwards, in the
//! pipeline: a sender never waits on a plugin, and a plugin never loses an event. Requests that
//! are a provider's handshake (other methods, or a verified POST the scheme recognises) are
//! answered by the source's scheme and never stored.

mod budget;
mod dedup;
mod request;
mod simulated;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;

pub use budget::BodyBudget;
pub use simulated::{RefusedBody, event_as_verified};

use crate::api_error::ApiError;
use crate::config::ServerConfig;
use crate::health::{self, Health};
use crate::pipeline::{Pipeline, envelope};
use crate::store::{Dedup, Inserted, NewEvent, Store};
use crate::telemetry;
use crate::topology::Topology;
use crate::topology::Wiring;
use crate::verify::{self, Handshake, Rejection, Verifier};
use request::Received;

#[derive(Clone)]
pub struct Ingest {
    pub store: Store,
    pub pipeline: Pipeline,
    pub wiring: Wiring,
    /// Cleared at shutdown: from then on senders are told to retry (503).
    pub accepting: Arc<AtomicBool>,
    /// The room for bodies being read, over all requests (`max_body_memory`).
    pub bodies: BodyBudget,
}

impl Ingest {
    /// What the health checks look at: the same store, wiring and shutdown flag, so that
    /// `/readyz` says 503 on both listeners as soon as ingest stops taking events.
    pub fn health(&self) -> Health {
        Health {
            store: self.store.clone(),
            wiring: self.wiring.clone(),
            accepting: self.accepting.clone(),
        }
    }
}

/// The ingest listener's routes, health checks included.
pub fn router(ingest: Ingest) -> Router {
    let health = health::router(ingest.health());
    Router::new()
        .route("/hooks/{source}", any(receive))
        .route("/hooks/{source}/{*rest}", any(receive_with_rest))
        .merge(health)
        .fallback(no_such_path)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(ingest)
}

/// Every error answer is JSON (SPEC section 4), a path outside `/hooks/{source}` too.
async fn no_such_path() -> ApiError {
    ApiError::not_found("events are taken at /hooks/{source}")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "this path does not take that method",
    )
}

/// What the sender is told.
enum Reply {
    Accepted(String),
    /// Stored, and answered as the source or its scheme asks (Slack slash commands).
    Acknowledged(Handshake),
    Duplicate(String),
    Handshake(Handshake),
}

async fn receive(
    State(ingest): State<Ingest>,
    path: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match path {
        Ok(Path(source)) => {
            answer(&ingest, source, String::new(), query, method, headers, body).await
        }
        Err(rejection) => unreadable_path(rejection),
    }
}

async fn receive_with_rest(
    State(ingest): State<Ingest>,
    path: Result<Path<(String, String)>, PathRejection>,
    RawQuery(query): RawQuery,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match path {
        Ok(Path((source, rest))) => {
            answer(&ingest, source, rest, query, method, headers, body).await
        }
        Err(rejection) => unreadable_path(rejection),
    }
}

/// A path whose escapes do not decode to UTF-8 names no source: a JSON `400`, as every other
/// error answer, rather than the framework's text.
fn unreadable_path(rejection: PathRejection) -> Response {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        format!("the request path cannot be read: {}", rejection.body_text()),
    )
    .into_response()
}

async fn answer(
    ingest: &Ingest,
    source: String,
    rest: String,
    query: Option<String>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let topology = ingest.wiring.current();
    // From here on the source is named by the configuration's key: metrics and logs are
    // labelled with names an operator chose, never with whatever a request asked for.
    let Some((source, verifier)) = topology.sources.get_key_value(&source) else {
        telemetry::unknown_source(&source);
        // The name is the sender's own, shown back short: an answer is no larger than it must be.
        let shown = telemetry::excerpt(&source, telemetry::NAME_SHOWN);
        return ApiError::not_found(format!("no source named {shown:?} is configured"))
            .into_response();
    };
    let received = Received::new(source.clone(), rest, query, method, headers);
    match accept(ingest, &topology, verifier, &received, body).await {
        Ok(Reply::Accepted(id)) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({ "id": id })),
        )
            .into_response(),
        Ok(Reply::Acknowledged(reply)) => request::handshake_response(reply),
        Ok(Reply::Duplicate(id)) => {
            telemetry::event_duplicate(source, &id);
            (
                StatusCode::OK,
                axum::Json(serde_json::json!({ "id": id, "duplicate": true })),
            )
                .into_response()
        }
        Ok(Reply::Handshake(handshake)) => {
            telemetry::handshake_answered(source, &received.method, handshake.status);
            request::handshake_response(handshake)
        }
        Err(error) => {
            telemetry::event_rejected(source, error.status.as_u16(), &error.message);
            error.into_response()
        }
    }
}

async fn accept(
    ingest: &Ingest,
    topology: &Topology,
    verifier: &Verifier,
    received: &Received,
    body: Body,
) -> Result<Reply, ApiError> {
    if !ingest.accepting.load(Ordering::SeqCst) {
        return Err(ApiError::unavailable(
            "wasmhook is shutting down; retry shortly",
        ));
    }
    let source = &received.source;
    let server = &topology.config.server;
    if received.method != Method::POST {
        let incoming = received.incoming(&[], server.clock);
        return match verifier.handshake(&incoming).await {
            Some(answer) => answer.map(Reply::Handshake).map_err(rejected),
            None => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("source {source:?} takes events as POST requests"),
            )),
        };
    }
    let no_room = || {
        ApiError::unavailable(
            "wasmhook is reading as many request bodies as it has room for; retry shortly",
        )
    };
    let (body, reading) = ingest
        .bodies
        .meter(&received.headers, server.max_body, body)
        .ok_or_else(no_room)?;
    let body = match read_body_in_time(body, &received.headers, server).await {
        Err(_) if reading.ran_out() => return Err(no_room()),
        read => read?,
    };
    let incoming = received.incoming(&body, server.clock);
    verifier.verify(&incoming).await.map_err(rejected)?;
    if let Some(answer) = verifier.handshake(&incoming).await {
        return answer.map(Reply::Handshake).map_err(rejected);
    }
    let content_type = verify::header(&received.headers, "content-type");
    envelope::check_body(content_type, &body)
        .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, error.to_string()))?;
    let config = topology.config.sources.get(source);
    let dedup = config
        .map(|config| dedup::keys(config, verifier, &incoming))
        .unwrap_or_default();
    let ack = config
        .and_then(|config| config.ack.clone())
        .or_else(|| verifier.acknowledgement(&incoming));
    let event = Arc::new(new_event(received, verifier, &incoming, body.clone()));
    // A task of its own, which the sender hanging up cannot cancel: hyper drops this handler
    // when the connection closes, and an event committed but never handed to the pipeline
    // would wait, `received`, for the next start (and hold up its ordering key meanwhile).
    let answer = tokio::spawn(commit(ingest.clone(), event, dedup))
        .await
        .map_err(ApiError::internal)??;
    Ok(match (answer, ack) {
        (Reply::Accepted(_), Some(ack)) => Reply::Acknowledged((&ack).into()),
        (answer, _) => answer,
    })
}

/// Stores the event and starts it on its way (see [`Pipeline::admit`]).
async fn commit(
    ingest: Ingest,
    event: Arc<NewEvent>,
    dedup: Vec<Dedup>,
) -> Result<Reply, ApiError> {
    let inserted = ingest
        .pipeline
        .admit(Arc::clone(&event), dedup)
        .await
        .map_err(|error| {
            tracing::error!(%error, "cannot store an event");
            ApiError::unavailable("the event store cannot take events right now; retry later")
        })?;
    if let Inserted::Duplicate(first) = inserted {
        return Ok(Reply::Duplicate(first));
    }
    telemetry::event_accepted(&event.source, &event.id, event.event_type.as_deref());
    Ok(Reply::Accepted(event.id.clone()))
}

/// Reads the body within `body_read_timeout`: a sender that trickles its body holds its
/// connection, and the room set aside for the body, only that long.
async fn read_body_in_time(
    body: Body,
    headers: &HeaderMap,
    server: &ServerConfig,
) -> Result<Bytes, ApiError> {
    let timeout = server.body_read_timeout;
    tokio::time::timeout(timeout, request::read_body(body, headers, server.max_body))
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {}; send the request again",
                    humantime::format_duration(timeout)
                ),
            )
        })?
}

/// The event stored for a verified POST: what plugins will see of the request.
fn new_event(
    received: &Received,
    verifier: &Verifier,
    incoming: &verify::Incoming<'_>,
    body: Bytes,
) -> NewEvent {
    NewEvent {
        id: crate::ids::event_id(),
        source: received.source.clone(),
        event_type: verifier.event_type(incoming),
        received_at: crate::clock::now_ms(),
        request: received.meta(&verifier.credentials()),
        body,
    }
}

fn rejected(rejection: Rejection) -> ApiError {
    let status = StatusCode::from_u16(rejection.status).unwrap_or(StatusCode::UNAUTHORIZED);
    ApiError::new(status, rejection.message)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use axum::body::to_bytes;
    use axum::http::Request;
    use axum::http::header::RETRY_AFTER;
    use hmac::{Hmac, Mac};
    use serde_json::{Value, json};
    use sha2::Sha256;
    use tower::ServiceExt;

    use super::*;
    use crate::testing::Stages;

    const SECRET: &str = "It's a Secret to Everybody";

    const WIRING: &str = r#"
[sources.github]
verify = { scheme = "github", secret = "It's a Secret to Everybody" }

[sources.plain]
"#;

    async fn stages() -> Stages {
        Stages::start("max_body = \"1KiB\"", WIRING).await
    }

    fn github_push(body: &str, secret: &str) -> Request<Body> {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        Request::post("/hooks/github")
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-hub-signature-256", signature)
            .body(Body::from(body.to_owned()))
            .unwrap()
    }

    /// The status, the headers and the JSON of `request`'s answer.
    async fn send(stages: &Stages, request: Request<Body>) -> (StatusCode, HeaderMap, Value) {
        let response = router(stages.ingest()).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = to_bytes(body, 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (parts.status, parts.headers, json)
    }

    async fn stored(stages: &Stages) -> usize {
        stages
            .store
            .list_events(crate::store::EventQuery {
                limit: 100,
                ..Default::default()
            })
            .await
            .unwrap()
            .items
            .len()
    }

    #[tokio::test]
    async fn a_signed_push_is_stored_before_it_is_answered_202() {
        let stages = stages().await;
        let body = r#"{"ref":"refs/heads/main"}"#;
        let (status, _, answer) = send(&stages, github_push(body, SECRET)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let id = answer["id"].as_str().unwrap().to_owned();
        let event = stages.store.event(id).await.unwrap().expect("stored");
        assert_eq!(event.summary.source, "github");
        assert_eq!(event.summary.event_type.as_deref(), Some("push"));
    }

    /// Nothing stands between such an event and its delivery: the one commit before the `202`
    /// holds the event and its messages, and the message carries the body as it was sent.
    #[tokio::test]
    async fn a_route_without_plugins_commits_the_event_with_its_messages() {
        let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = nowhere.local_addr().unwrap().port();
        drop(nowhere);
        let wiring = format!(
            "[sources.plain]\n[subscribers.nowhere]\nurl = \"http://127.0.0.1:{port}/\"\n\
             [[routes]]\nsource = \"plain\"\nsubscribers = [\"nowhere\"]\n"
        );
        let stages = Stages::start("", &wiring).await;
        let body = r#"{"n": 1,   "kept": "as sent"}"#;
        let request = Request::post("/hooks/plain")
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap();
        let (status, _, answer) = send(&stages, request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
        let id = answer["id"].as_str().unwrap().to_owned();
        let event = stages.store.event(id).await.unwrap().expect("stored");
        assert_eq!(event.summary.status, "processed");
        let subscribers: Vec<_> = event
            .messages
            .iter()
            .map(|m| m.subscriber.as_str())
            .collect();
        assert_eq!(subscribers, ["nowhere"]);
        assert_eq!(
            event.messages[0].body,
            serde_json::from_str::<Value>(body).unwrap()
        );
    }

    #[tokio::test]
    async fn what_is_refused_is_not_stored_and_says_why_in_json() {
        let stages = stages().await;
        let body = r#"{"ref":"refs/heads/main"}"#;
        let cases = [
            (github_push(body, "guess"), StatusCode::UNAUTHORIZED),
            (
                github_push(&format!(r#"{{"pad":"{}"}}"#, "x".repeat(2048)), SECRET),
                StatusCode::PAYLOAD_TOO_LARGE,
            ),
            (
                Request::post("/hooks/nobody")
                    .body(Body::from("{}"))
                    .unwrap(),
                StatusCode::NOT_FOUND,
            ),
            (
                Request::get("/elsewhere").body(Body::empty()).unwrap(),
                StatusCode::NOT_FOUND,
            ),
        ];
        for (request, expected) in cases {
            let what = format!("{} {}", request.method(), request.uri());
            let (status, _, answer) = send(&stages, request).await;
            assert_eq!(status, expected, "{what}: {answer}");
            assert!(answer["error"].is_string(), "{what}: {answer}");
        }
        assert_eq!(stored(&stages).await, 0);
    }

    #[tokio::test]
    async fn while_shutting_down_senders_are_told_to_retry_and_readyz_says_so() {
        let stages = stages().await;
        let ready = Request::get("/readyz").body(Body::empty()).unwrap();
        let (status, _, answer) = send(&stages, ready).await;
        assert_eq!(
            (status, answer),
            (StatusCode::OK, json!({"status": "ready"}))
        );

        stages.accepting.store(false, Ordering::SeqCst);
        let plain = Request::post("/hooks/plain")
            .body(Body::from("{}"))
            .unwrap();
        let (status, headers, answer) = send(&stages, plain).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
        assert!(headers.contains_key(RETRY_AFTER));
        let ready = Request::get("/readyz").body(Body::empty()).unwrap();
        let (status, _, _) = send(&stages, ready).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(stored(&stages).await, 0);
    }
}
