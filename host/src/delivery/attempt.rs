//! One HTTP attempt: the request SPEC section 6 describes, and what came back.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Client;

use super::retry::Hint;
use crate::config::SubscriberConfig;
use crate::store::{Attempt, DueMessage};
use crate::topology::Subscriber;

/// How much of a subscriber's answer is kept with the attempt.
const RESPONSE_KEPT: usize = 4096;

const AGENT: &str = concat!("wasmhook/", env!("CARGO_PKG_VERSION"));

/// An attempt made: its record, and what it means for the next one.
pub struct Attempted {
    pub attempt: Attempt,
    pub success: bool,
    /// The subscriber answered `410 Gone`: it wants no more messages.
    pub gone: bool,
    pub hint: Hint,
    pub elapsed: Duration,
}

/// A client that never follows redirects: a 3xx is the subscriber's answer, not a new target.
pub fn client() -> Client {
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()
        .expect("an HTTP client with default TLS-free settings builds")
}

/// The headers of a message that do not change from one attempt to the next: the content type,
/// then the subscriber's headers, then the message's (later ones win). `wasmhook test` checks
/// these; the protocol's (`webhook-id`, signature, ...) are added per attempt.
pub fn content_headers(
    subscriber: &SubscriberConfig,
    message_headers: &BTreeMap<String, String>,
) -> HeaderMap {
    // Room for these, the protocol's four and the client's `host`: a map that grows is copied.
    let room = 1 + subscriber.headers.len() + message_headers.len() + 5;
    let mut headers = HeaderMap::with_capacity(room);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in subscriber
        .headers
        .iter()
        .map(|(n, v)| (n, v))
        .chain(message_headers)
        // Refused in routes.toml and dropped from plugin output; this holds for messages
        // stored before either was.
        .filter(|(name, _)| crate::router_headers::reserved(name).is_none())
    {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.insert(name, value);
        }
    }
    headers
}

pub async fn attempt(client: &Client, subscriber: &Subscriber, message: &DueMessage) -> Attempted {
    let started = Instant::now();
    let at = crate::clock::now_ms();
    let timestamp = at / 1000;
    let config = &subscriber.config;
    let mut headers = content_headers(config, &message.headers);
    headers.insert(
        "webhook-id",
        HeaderValue::try_from(message.id.as_str()).expect("ids are ASCII"),
    );
    headers.insert("webhook-timestamp", HeaderValue::from(timestamp));
    headers.insert(USER_AGENT, HeaderValue::from_static(AGENT));
    if let Some(signature) = subscriber.signature(&message.id, timestamp, &message.body) {
        headers.insert(
            "webhook-signature",
            HeaderValue::try_from(signature).expect("base64 is ASCII"),
        );
    }
    let request = client
        .post(config.url.clone())
        .timeout(config.timeout)
        .headers(headers);
    let result = request.body(message.body.clone()).send().await;
    let mut timed_out = false;
    let (status, error, response, retry_after) = match result {
        Ok(response) => {
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let body = read_prefix(response).await;
            let error = (!status.is_success()).then(|| format!("HTTP {}", status.as_u16()));
            (Some(status.as_u16()), error, Some(body), retry_after)
        }
        Err(error) => {
            timed_out = error.is_timeout();
            (None, Some(describe(&error)), None, None)
        }
    };
    let elapsed = started.elapsed();
    Attempted {
        success: status.is_some_and(|code| (200..300).contains(&code)),
        gone: status == Some(410),
        hint: Hint {
            retry_after,
            overloaded: timed_out || status == Some(429),
        },
        attempt: Attempt {
            at,
            status,
            latency_ms: elapsed.as_millis() as i64,
            error,
            response,
        },
        elapsed,
    }
}

/// The first bytes of the answer, without waiting for the rest.
async fn read_prefix(mut response: reqwest::Response) -> Bytes {
    let mut kept = Vec::new();
    while kept.len() < RESPONSE_KEPT {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                kept.extend_from_slice(&chunk[..chunk.len().min(RESPONSE_KEPT - kept.len())])
            }
            _ => break,
        }
    }
    Bytes::from(kept)
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        format!("cannot connect: {}", root(error))
    } else {
        root(error)
    }
}

fn root(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}
