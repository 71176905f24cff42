//! Ingest's handling of whole requests, as the listener hands them over: any method, path,
//! query, headers and body, to configured and unknown sources, through verification, the body
//! checks, dedup and the store. Every request gets an answer with a JSON error or an accepted
//! event, never a panic, and no answer holds a configured secret the request did not.
#![no_main]

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, LazyLock};

use arbitrary::Arbitrary;
use axum::body::{Body, to_bytes};
use http::{Method, Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;
use wasmhook::delivery::Delivery;
use wasmhook::ingest::{self, BodyBudget, Ingest};
use wasmhook::pipeline::Pipeline;
use wasmhook::plugin::PluginEngine;
use wasmhook::store::Store;
use wasmhook::topology::reload::{Reloader, read_config};

/// Sources of several schemes, one with a route to a subscriber on a closed local port (its
/// messages fail once and wait an hour), small limits so that the fuzzer reaches them.
/// The secrets of [`ROUTES`].
const SECRETS: &[&str] = &[
    "SECRET-github",
    "whsec_SECRET-stripe",
    "SECRET-slack",
    "SECRET-mailchimp",
    "SECRET-eventgrid",
    "SECRET-websub",
];

const ROUTES: &str = r#"
[server]
data_dir = "data"
max_body = "64KiB"

[sources.plain]
[sources.github]
verify = { scheme = "github", secret = "SECRET-github" }
[sources.stripe]
verify = { scheme = "stripe", secret = "whsec_SECRET-stripe" }
[sources.slack]
verify = { scheme = "slack", secret = "SECRET-slack" }
[sources.standard]
verify = { scheme = "standard-webhooks", secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" }
[sources.mailchimp]
verify = { scheme = "mailchimp", secret = "SECRET-mailchimp" }
[sources.eventgrid]
verify = { scheme = "eventgrid", secret = "SECRET-eventgrid", allowed_origins = ["eventgrid.azure.net"] }
[sources.websub]
verify = { scheme = "websub", secret = "SECRET-websub", topics = ["https://example.com/feed"] }
[sources.acked]
ack = { status = 200, body = { text = "On it" } }

[subscribers.closed]
url = "http://127.0.0.1:9/hook"
retry = ["1h"]

[[routes]]
source = "plain"
subscribers = ["closed"]
"#;

struct App {
    router: axum::Router,
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

static APP: LazyLock<App> = LazyLock::new(|| {
    // The store commits with fsync; on a memory file system that costs little per input.
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
    .expect("a temporary directory");
    let path = dir.path().join("routes.toml");
    std::fs::write(&path, ROUTES).expect("routes.toml written");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let router = runtime.block_on(async {
        let (config, sha256) = read_config(&path).expect("the fuzzing routes.toml is valid");
        let config = Arc::new(config);
        let engine = PluginEngine::new(1, None).expect("a plugin engine");
        let reloader = Reloader::start(path, config.clone(), sha256, engine.clone());
        let wiring = reloader.wiring().clone();
        let store = Store::open(&config.server.data_dir).expect("a store");
        let tasks = wasmhook::tasks::Tasks::new();
        let delivery = Delivery::start(store.clone(), wiring.clone(), 4, &tasks)
            .await
            .expect("delivery");
        let pipeline = Pipeline::start(store.clone(), engine, wiring.clone(), delivery, &tasks);
        ingest::router(Ingest {
            store,
            pipeline,
            wiring,
            accepting: Arc::new(AtomicBool::new(true)),
            bodies: BodyBudget::new(config.server.max_body_memory),
        })
    });
    App {
        router,
        runtime,
        _dir: dir,
    }
});

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    method: u8,
    source: u8,
    /// Used as the source when `source` picks none of the configured ones.
    other_source: &'a str,
    rest: Option<&'a str>,
    query: Option<&'a str>,
    headers: Vec<(&'a str, &'a [u8])>,
    body: &'a [u8],
}

const SOURCES: &[&str] = &[
    "plain",
    "github",
    "stripe",
    "slack",
    "standard",
    "mailchimp",
    "eventgrid",
    "websub",
    "acked",
];

const METHODS: &[Method] = &[
    Method::POST,
    Method::GET,
    Method::HEAD,
    Method::OPTIONS,
    Method::PUT,
    Method::DELETE,
];

fn request(input: &Input<'_>) -> Option<Request<Body>> {
    let source = SOURCES
        .get(input.source as usize)
        .copied()
        .unwrap_or(input.other_source);
    let mut uri = format!("/hooks/{source}");
    if let Some(rest) = input.rest {
        uri = format!("{uri}/{rest}");
    }
    if let Some(query) = input.query {
        uri = format!("{uri}?{query}");
    }
    let mut request = Request::builder()
        .method(METHODS[input.method as usize % METHODS.len()].clone())
        .uri(uri);
    for (name, value) in &input.headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(input.body.to_vec())).ok()
}

fuzz_target!(|input: Input<'_>| {
    let Some(request) = request(&input) else {
        return;
    };
    let method = request.method().clone();
    // What the request said, as written and with its escapes decoded: an answer may show the
    // sender its own words.
    let written = format!("{input:?}");
    let sent = format!(
        "{written} {}",
        percent_encoding::percent_decode_str(&written).decode_utf8_lossy()
    );
    let app = &*APP;
    app.runtime.block_on(async {
        let response = app
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("the router always answers");
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("an answer's body");
        let text = String::from_utf8_lossy(&body);
        for secret in SECRETS {
            assert!(
                !text.contains(secret) || sent.contains(secret),
                "the configured secret {secret:?} is in the answer: {status} {text}"
            );
        }
        // An answer to HEAD has no body, by HTTP's rules.
        let has_body = method != Method::HEAD;
        if has_body && (status.is_client_error() || status.is_server_error()) {
            let error: serde_json::Value = serde_json::from_slice(&body)
                .unwrap_or_else(|e| panic!("a {status} answer that is not JSON ({e}): {text:?}"));
            assert!(error["error"].is_string(), "{status} {text}");
        }
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{text}");
    });
});
