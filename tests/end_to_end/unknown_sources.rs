//! Requests to sources that are not configured are refused with `404` and leave nothing
//! behind: metrics are labelled with configured names only, so random names sent by anyone
//! cannot grow `/metrics` (or the memory behind it).

use tokio::task::JoinSet;

use crate::common::*;

/// Random source names sent by a hostile client.
const NAMES: usize = 2_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_unknown_sources_do_not_grow_the_metrics() {
    let router = Router::start("[sources.plain]\n").await;
    rejected(
        router.post_hook("first-unknown", "{}", JSON).await,
        StatusCode::NOT_FOUND,
    );
    let before = router.admin_text("/metrics").await;

    let names: Vec<String> = (0..NAMES)
        .map(|n| format!("nosuch{n}x{:08x}", rand::random::<u32>()))
        .collect();
    let mut senders = JoinSet::new();
    for chunk in names.chunks(NAMES / 4) {
        let (ingest, chunk) = (router.ingest(), chunk.to_vec());
        senders.spawn(async move {
            for name in chunk {
                rejected(
                    ingest.post_hook(&name, "{}", JSON).await,
                    StatusCode::NOT_FOUND,
                );
            }
        });
    }
    senders.join_all().await;

    let after = router.admin_text("/metrics").await;
    eprintln!(
        "/metrics: {} bytes before, {} bytes after {NAMES} unknown names",
        before.len(),
        after.len()
    );
    let named: Vec<&String> = names
        .iter()
        .filter(|n| after.contains(n.as_str()))
        .collect();
    assert!(
        named.is_empty(),
        "{} of the {NAMES} unknown names are in /metrics, e.g. {:?}",
        named.len(),
        named.first()
    );
    assert!(
        !after.contains("first-unknown"),
        "an unknown source name is in /metrics"
    );
    // Counters going from 1 to 2001 add a few digits, and a series of the router's own work
    // (a store commit) may appear meanwhile; one series per name would add hundreds of KB.
    assert!(
        after.len() < before.len() + 4096,
        "/metrics grew from {} to {} bytes with {NAMES} unknown names",
        before.len(),
        after.len()
    );
    assert_eq!(
        metric_total(&after, "wasmhook_requests_unknown_source_total"),
        (NAMES + 1) as f64,
        "the refused requests are counted, without their names"
    );
}

/// Whatever path or method a request has, the ingest listener answers it with a JSON error
/// a sender can read: a path outside `/hooks/{source}`, a method the path does not take, and
/// a path whose escapes are not UTF-8.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_the_listener_does_not_serve_get_json_errors() {
    let router = Router::start("[sources.plain]\n").await;
    let client = reqwest::Client::new();
    let ask = async |method: reqwest::Method, path: &str| {
        let answer = client
            .request(method, format!("{}{path}", router.ingest_url()))
            .send()
            .await
            .expect("an answer");
        let status = answer.status();
        let body = answer.bytes().await.expect("a body");
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    };
    for (method, path, expected) in [
        (
            reqwest::Method::POST,
            "/nothing-here",
            StatusCode::NOT_FOUND,
        ),
        (reqwest::Method::POST, "/hooks/", StatusCode::NOT_FOUND),
        (
            reqwest::Method::POST,
            "/healthz",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (reqwest::Method::POST, "/hooks/%FF", StatusCode::BAD_REQUEST),
        (
            reqwest::Method::POST,
            "/hooks/plain/%C0%AF",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let answer = ask(method.clone(), path).await;
        assert_eq!(answer.0, expected, "{method} {path}: {}", answer.1);
        rejected(answer, expected);
    }
}
