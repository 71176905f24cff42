//! A subscriber: a real HTTP server on 127.0.0.1:0 that records every request and answers
//! each with the status its script gives for that request's index.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use tokio::sync::watch;

use super::WAIT;

/// One request as the subscriber received it.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header is not text"))
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn webhook_id(&self) -> &str {
        self.header("webhook-id")
            .unwrap_or_else(|| panic!("no webhook-id header: {:?}", self.headers))
    }
}

/// The status to answer the request of index `n` (0-based) with.
type Script = Arc<dyn Fn(usize) -> u16 + Send + Sync>;

struct Inner {
    script: Mutex<Script>,
    /// How long to hold each answer back (a slow subscriber).
    delay: Mutex<Duration>,
    received: Mutex<Vec<Received>>,
    count: watch::Sender<usize>,
}

pub struct Subscriber {
    url: String,
    inner: Arc<Inner>,
}

impl Subscriber {
    /// Answers 200 to everything.
    pub async fn ok() -> Subscriber {
        Self::always(200).await
    }

    pub async fn always(status: u16) -> Subscriber {
        Self::start(move |_| status).await
    }

    /// Answers `status` to the first `failures` requests, then 200.
    pub async fn failing_then_ok(failures: usize, status: u16) -> Subscriber {
        Self::start(move |n| if n < failures { status } else { 200 }).await
    }

    pub async fn start(script: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Subscriber {
        let inner = Arc::new(Inner {
            script: Mutex::new(Arc::new(script)),
            delay: Mutex::default(),
            received: Mutex::default(),
            count: watch::Sender::new(0),
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(record)
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Subscriber { url, inner }
    }

    /// From now on answer every request with `status`.
    pub fn answer_always(&self, status: u16) {
        *self.inner.script.lock().unwrap() = Arc::new(move |_| status);
    }

    /// From now on hold every answer back for `delay` (the request is recorded on arrival).
    pub fn answer_after(&self, delay: Duration) {
        *self.inner.delay.lock().unwrap() = delay;
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived and returns all of them.
    pub async fn wait_for_requests(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let mut count = self.inner.count.subscribe();
        match tokio::time::timeout(timeout, count.wait_for(|c| *c >= n)).await {
            Ok(_) => self.received(),
            Err(_) => panic!(
                "subscriber {} got {} requests in {timeout:?}, expected {n}",
                self.url,
                self.received().len()
            ),
        }
    }

    /// Waits for the request carrying `webhook-id: id`.
    pub async fn wait_for_webhook_id(&self, id: &str) -> Received {
        let mut count = self.inner.count.subscribe();
        let find = || {
            self.received()
                .into_iter()
                .find(|r| r.header("webhook-id") == Some(id))
        };
        let found = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(r) = find() {
                    return r;
                }
                count.changed().await.unwrap();
            }
        });
        found
            .await
            .unwrap_or_else(|_| panic!("subscriber {} never received webhook-id {id}", self.url))
    }
}

async fn record(State(inner): State<Arc<Inner>>, request: Request) -> StatusCode {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let index = {
        let mut received = inner.received.lock().unwrap();
        received.push(Received {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            headers: parts.headers,
            body,
            at,
        });
        received.len() - 1
    };
    let status = (inner.script.lock().unwrap())(index);
    inner.count.send_modify(|c| *c += 1);
    let delay = *inner.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    StatusCode::from_u16(status).unwrap()
}
