//! The harness: a router process ([`Router`]), subscribers that record what they receive
//! ([`Subscriber`]), the example plugins built once per run ([`plugins`]), an independent
//! Standard Webhooks verifier ([`signature`]) and the provider fixtures ([`fixtures`]).
//!
//! Every wait is on a condition with a deadline: [`wait_for`] polls at short intervals and
//! fails the test with what it was waiting for.
#![allow(dead_code)] // each story uses its own part of the harness

#[path = "../../support/browser.rs"]
pub mod browser;
pub mod crash;
pub mod fixtures;
pub mod load;
pub mod plugins;
#[path = "../../support/postgres.rs"]
pub mod postgres;
pub mod process;
pub mod providers;
pub mod raw;
pub mod router;
pub mod signature;
pub mod subscriber;
#[path = "../../support/watchdog.rs"]
pub mod watchdog;

use std::process::Output;
use std::time::{Duration, Instant, SystemTime};

pub use fixtures::{commit_id, envelope, fixture, fixture_json, push_to};
pub use plugins::plugins;
pub use reqwest::StatusCode;
pub use router::{Ingest, Router};
pub use serde_json::{Value, json};
pub use subscriber::{Received, Reply, Subscriber};

/// The deadline for anything a test awaits once the router is up.
pub const WAIT: Duration = Duration::from_secs(30);

/// The headers of a JSON post.
pub const JSON: &[(&str, &str)] = &[("content-type", "application/json")];

/// The GitHub webhook secret the stories' `github` sources use.
pub const GITHUB_SECRET: &str = "It's a Secret to Everybody";

/// A subscriber signing key (the Standard Webhooks Python test key).
pub const SUBSCRIBER_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Polls `probe` every 25 ms until it returns `Some`, failing after `timeout`.
pub async fn wait_for<T>(
    what: &str,
    timeout: Duration,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        if Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// [`wait_for`] for a plain condition.
pub async fn wait_until(what: &str, timeout: Duration, mut cond: impl AsyncFnMut() -> bool) {
    wait_for(what, timeout, async || cond().await.then_some(())).await
}

/// Asserts an ingest answer is `202 {"id": ...}` and returns the event id.
#[track_caller]
pub fn accepted((status, body): (StatusCode, Value)) -> String {
    assert_eq!(
        status,
        StatusCode::ACCEPTED,
        "expected 202 {{\"id\"}}, got {status} {body}"
    );
    let id = body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("202 without an id: {body}"));
    assert!(!id.is_empty(), "202 with an empty id");
    id.to_owned()
}

/// Asserts an ingest or admin answer is an error with status `expected` and a JSON
/// `{"error": "<sentence>"}` body.
#[track_caller]
pub fn rejected((status, body): (StatusCode, Value), expected: StatusCode) {
    assert_eq!(status, expected, "expected {expected}, got {status} {body}");
    let error = body["error"]
        .as_str()
        .unwrap_or_else(|| panic!("error body is not {{\"error\"}}: {body}"));
    assert!(!error.is_empty(), "empty error sentence");
}

/// The messages of an event as shown by `GET /api/events/{id}`.
pub fn messages(event: &Value) -> &[Value] {
    event["messages"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_else(|| panic!("event without messages: {event}"))
}

/// The message of `event` on the route named `route`.
#[track_caller]
pub fn message_on<'a>(event: &'a Value, route: &str) -> &'a Value {
    let found: Vec<&Value> = messages(event)
        .iter()
        .filter(|m| m["route"] == route)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one message on route {route}: {event}"
    );
    found[0]
}

/// The HTTP statuses of a message's attempts, in order.
pub fn attempt_statuses(message: &Value) -> Vec<Value> {
    message["attempts"]
        .as_array()
        .unwrap_or_else(|| panic!("message without attempts: {message}"))
        .iter()
        .map(|a| a["status"].clone())
        .collect()
}

/// A `[sources.NAME]` table verifying GitHub signatures with [`GITHUB_SECRET`].
pub fn github_source(name: &str) -> String {
    format!("[sources.{name}]\nverify = {{ scheme = \"github\", secret = {GITHUB_SECRET:?} }}\n")
}

/// A `github` source with one route through the plugin `transform` (the file `wasm`) to the
/// subscriber `ci`.
pub fn github_to(wasm: &std::path::Path, ci: &Subscriber) -> String {
    format!(
        "{}\n[plugins.transform]\nwasm = {wasm:?}\n\n[subscribers.ci]\nurl = \"{}\"\n\n[[routes]]\nsource = \"github\"\ntransforms = [\"transform\"]\nsubscribers = [\"ci\"]\n",
        github_source("github"),
        ci.url()
    )
}

/// Posts a signed push of two commits to `main` and returns the bodies `subscriber` received
/// for it, once delivered.
pub async fn push_bodies(router: &Router, subscriber: &Subscriber) -> Vec<Value> {
    let id = accepted(router.github_push(GITHUB_SECRET, &push_to("main", 2)).await);
    delivered_bodies(router, subscriber, &id).await
}

/// Waits until the event is settled with every message delivered, and returns the bodies
/// the subscriber received for them (matched by `webhook-id`, the message id).
pub async fn delivered_bodies(
    router: &Router,
    subscriber: &Subscriber,
    event_id: &str,
) -> Vec<Value> {
    let event = router.wait_settled(event_id).await;
    let mut bodies = Vec::new();
    for message in messages(&event) {
        assert_eq!(message["status"], "delivered", "{event}");
        let id = message["id"].as_str().expect("message id");
        bodies.push(subscriber.wait_for_webhook_id(id).await.json());
    }
    bodies
}

/// The sum of every sample of the Prometheus metric `name` (all label sets); 0 when absent.
pub fn metric_total(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The instant an admin API timestamp (RFC 3339, e.g. an attempt's `at`) stands for.
#[track_caller]
pub fn time_of(value: &Value) -> SystemTime {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"));
    humantime::parse_rfc3339(text).unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}"))
}

/// A port on 127.0.0.1 that nothing listens on now: one just freed by a listener of our own.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Runs the `wasmhook` CLI with `args` and `stdin`, blocking, and returns what it did.
pub fn wasmhook(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmhook"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning wasmhook");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// stdout and stderr together, as a user reads them in a terminal.
pub fn printed(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Runs the `wasmhook` CLI with `args` (off the async workers) and returns what it did.
pub async fn run_cli(args: &[&str]) -> Output {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_wasmhook"))
            .args(&args)
            .output()
            .expect("running the wasmhook CLI")
    })
    .await
    .unwrap()
}

/// A `[subscribers.NAME]` table for `subscriber`, with `extra` lines such as `retry = [...]`.
pub fn subscriber_table(name: &str, subscriber: &Subscriber, extra: &str) -> String {
    format!(
        "[subscribers.{name}]\nurl = \"{}\"\n{extra}\n",
        subscriber.url()
    )
}

/// A `plain` source (no verification) with one route to all of `subscribers`, each given as
/// (name, subscriber, extra lines of its table).
pub fn plain_route(subscribers: &[(&str, &Subscriber, &str)]) -> String {
    let tables: String = subscribers
        .iter()
        .map(|(name, subscriber, extra)| subscriber_table(name, subscriber, extra))
        .collect();
    let names: Vec<&str> = subscribers.iter().map(|(name, _, _)| *name).collect();
    format!(
        "[sources.plain]\n\n{tables}\n[[routes]]\nsource = \"plain\"\nsubscribers = {names:?}\n"
    )
}

/// `wasmhook ARGS --admin URL` against the router's admin API, asserting it succeeds; returns
/// what it printed, as JSON.
pub async fn admin_cli(router: &Router, args: &[&str]) -> Value {
    let output = run_cli(&[args, &["--admin", router.admin_url()]].concat()).await;
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "wasmhook {args:?}: {output:?}");
    serde_json::from_str(&printed).unwrap_or_else(|e| panic!("not JSON ({e}): {printed}"))
}
