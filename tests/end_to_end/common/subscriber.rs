//! A subscriber: a real HTTP server on 127.0.0.1:0 that records every request and answers
//! each with what its script gives for that request (and its index).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
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
    /// When the request arrived.
    pub at: Instant,
    /// When the answer was handed back (after any [`Subscriber::answer_after`] delay).
    pub answered: Option<Instant>,
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

/// What to answer one request with: a status, headers and a body.
#[derive(Clone, Debug, Default)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::default()
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Reply {
        self.body = body.into();
        self
    }
}

/// The answer to the request of index `n` (0-based).
type Script = Arc<dyn Fn(&Received, usize) -> Reply + Send + Sync>;

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
        Self::replying(move |_, n| Reply::status(script(n))).await
    }

    /// Answers each request with what `script` makes of it and its index.
    pub async fn replying(
        script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) -> Subscriber {
        Self::replying_on(0, script).await
    }

    /// [`Subscriber::replying`] on `port`: a subscriber coming up where connections were
    /// refused until now.
    pub async fn replying_on(
        port: u16,
        script: impl Fn(&Received, usize) -> Reply + Send + Sync + 'static,
    ) -> Subscriber {
        let inner = Arc::new(Inner {
            script: Mutex::new(Arc::new(script)),
            delay: Mutex::default(),
            received: Mutex::default(),
            count: watch::Sender::new(0),
        });
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(record)
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Subscriber { url, inner }
    }

    /// From now on answer every request with `status`.
    pub fn answer_always(&self, status: u16) {
        *self.inner.script.lock().unwrap() = Arc::new(move |_, _| Reply::status(status));
    }

    /// From now on hold every answer back for `delay` (the request is recorded on arrival).
    pub fn answer_after(&self, delay: Duration) {
        *self.inner.delay.lock().unwrap() = delay;
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// How many requests arrived so far.
    pub fn count(&self) -> usize {
        *self.inner.count.borrow()
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

async fn record(State(inner): State<Arc<Inner>>, request: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let received = Received {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        headers: parts.headers,
        body,
        at,
        answered: None,
    };
    let index = {
        let mut all = inner.received.lock().unwrap();
        all.push(received.clone());
        all.len() - 1
    };
    let script = inner.script.lock().unwrap().clone();
    let reply = script(&received, index);
    inner.count.send_modify(|c| *c += 1);
    let delay = *inner.delay.lock().unwrap();
    tokio::time::sleep(delay).await;
    let mut response = Response::builder().status(StatusCode::from_u16(reply.status).unwrap());
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    inner.received.lock().unwrap()[index].answered = Some(Instant::now());
    response.body(Body::from(reply.body)).unwrap()
}
