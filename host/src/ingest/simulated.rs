//! The event ingest would store for a request, built without a network and without checking
//! its signature: `wasmhook test` runs fixtures through the routes this way, so that a test
//! needs no secret and no provider, while the event (its type, its request metadata, its body)
//! is exactly the one a genuine request would give.

use axum::http::{HeaderMap, Method};
use bytes::Bytes;

use super::new_event;
use super::request::Received;
use crate::pipeline::envelope;
use crate::store::NewEvent;
use crate::verify::{self, Verifier};

/// A body ingest would refuse with `400`, as the content type promises something else.
#[derive(Debug, thiserror::Error)]
#[error("ingest would refuse this request (400): {0}")]
pub struct RefusedBody(#[from] envelope::BodyError);

/// The event stored for a POST to `/hooks/{source}` with `headers` and `body`, as if its
/// signature were good. `clock` is `[server] clock`, as for live requests.
pub fn event_as_verified(
    verifier: &Verifier,
    source: &str,
    headers: HeaderMap,
    body: Bytes,
    clock: Option<std::time::SystemTime>,
) -> Result<NewEvent, RefusedBody> {
    let received = Received::new(
        source.to_owned(),
        String::new(),
        None,
        Method::POST,
        headers,
    );
    let content_type = verify::header(&received.headers, "content-type");
    envelope::check_body(content_type, &body)?;
    let incoming = received.incoming(&body, clock);
    Ok(new_event(&received, verifier, &incoming, body.clone()))
}
