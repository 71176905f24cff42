//! Senders that are slow on purpose cannot hold the router: a stalled header or body is cut
//! off at its timeout, connections over `max_connections` wait until one is free, and bodies
//! over `max_body_memory` are refused with `503` + `Retry-After` before they are read.

use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::common::raw::{Closed, RawClient, head, post_json, status_of};
use crate::common::*;

/// Timeouts small enough for a test to wait them out.
const TIMEOUTS: &str = "header_read_timeout = \"1s\"\nbody_read_timeout = \"1s\"\n";

/// How long after a one-second timeout a connection must be cut off, on a loaded machine.
const CUT_OFF: Duration = Duration::from_secs(5);

/// The start of a request that never ends.
const STALLED_HEAD: &str = "POST /hooks/plain HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-";

#[track_caller]
fn assert_cut_off_in_time(closed: Closed, since: Instant, what: &str) -> String {
    let took = since.elapsed();
    match closed {
        Closed::StillOpen => panic!("{what}: the connection is still open after {took:?}"),
        Closed::By(answer) => {
            assert!(
                took >= Duration::from_millis(900),
                "{what}: cut off after {took:?}, before its timeout"
            );
            answer
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_silent_connection_is_closed_at_the_header_timeout() {
    let router = Router::start_with_server(TIMEOUTS, "[sources.plain]\n").await;
    let mut stalled = RawClient::connect(router.ingest_url()).await;
    let mut silent = RawClient::connect(router.ingest_url()).await;
    let since = Instant::now();
    stalled.send(STALLED_HEAD).await;

    let (stalled, silent) = tokio::join!(
        stalled.read_until_closed(CUT_OFF),
        silent.read_until_closed(CUT_OFF)
    );
    assert_cut_off_in_time(stalled, since, "a header that stops halfway");
    assert_cut_off_in_time(silent, since, "a connection that sends nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickling_body_is_answered_408_at_the_body_timeout() {
    let router = Router::start_with_server(TIMEOUTS, "[sources.plain]\n").await;
    let mut client = RawClient::connect(router.ingest_url()).await;
    client.send(head("POST", "/hooks/plain", 1000, JSON)).await;
    let since = Instant::now();
    client.send("{").await;

    let answer = assert_cut_off_in_time(
        client.read_until_closed(CUT_OFF).await,
        since,
        "a body of which one byte in 1000 came",
    );
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert!(answer.contains(r#"{"error":"#), "{answer}");
    let events = router.admin_get("/api/events").await;
    assert_eq!(events["events"], json!([]), "nothing is stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_over_the_connection_limit_takes_the_place_of_the_oldest_stalled_one() {
    let sink = Subscriber::ok().await;
    // A header timeout long enough that only making room can close a stalled connection
    // before the healthy request is answered.
    let server = "header_read_timeout = \"5s\"\nmax_connections = 3\n";
    let router = Router::start_with_server(server, &plain_route(&[("sink", &sink, "")])).await;

    let mut stalled = Vec::new();
    for _ in 0..3 {
        let mut client = RawClient::connect(router.ingest_url()).await;
        client.send(STALLED_HEAD).await;
        stalled.push(tokio::spawn(async move {
            let closed = client.read_until_closed(WAIT).await;
            (closed, Instant::now())
        }));
    }
    wait_until("the three stalled connections taken in", WAIT, async || {
        let metrics = router.admin_text("/metrics").await;
        metrics.contains("wasmhook_connections_open{listener=\"ingest\"} 3")
    })
    .await;

    let since = Instant::now();
    let mut healthy = RawClient::connect(router.ingest_url()).await;
    let answer = healthy.exchange(post_json("plain", r#"{"n":1}"#)).await;
    let answered = Instant::now();
    assert_eq!(status_of(&answer), 202, "{answer}");
    assert!(
        answered - since < Duration::from_secs(5),
        "the healthy request waited {:?}, for the stalled connections' timeout",
        answered - since
    );
    let mut closed_at = Vec::new();
    for task in stalled {
        let (closed, at) = task.await.unwrap();
        assert!(
            matches!(closed, Closed::By(_)),
            "a stalled connection is still open"
        );
        closed_at.push(at);
    }
    assert!(
        closed_at[0] <= answered,
        "the oldest stalled connection was not closed to make room"
    );
    assert!(
        closed_at[1..].iter().all(|at| *at > answered),
        "more than one connection was closed to make room for one"
    );
    sink.wait_for_requests(1, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_head_over_64_kib_is_refused_with_431() {
    let router = Router::start("[sources.plain]\n").await;
    let padding = "a".repeat(70_000);
    let mut client = RawClient::connect(router.ingest_url()).await;
    let request = head(
        "POST",
        "/hooks/plain",
        2,
        &[("x-padding", padding.as_str()), ("connection", "close")],
    ) + "{}";
    let answer = client.exchange(request).await;
    assert_eq!(status_of(&answer), 431, "{answer}");

    let mut client = RawClient::connect(router.ingest_url()).await;
    let padding = "a".repeat(60_000);
    let request = head(
        "POST",
        "/hooks/plain",
        2,
        &[("x-padding", padding.as_str()), ("connection", "close")],
    ) + "{}";
    assert_eq!(status_of(&client.exchange(request).await), 202);
}

/// Waits until the router holds at least `bytes` of request bodies being read.
async fn wait_for_body_bytes(router: &Router, bytes: usize) {
    wait_until(
        &format!("{bytes} bytes of bodies being read"),
        WAIT,
        async || {
            let metrics = router.admin_text("/metrics").await;
            metric_total(&metrics, "wasmhook_ingest_body_bytes") >= bytes as f64
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_over_the_memory_budget_are_refused_with_503_until_it_frees() {
    let sink = Subscriber::ok().await;
    let server = "header_read_timeout = \"1s\"\nbody_read_timeout = \"3s\"\n\
                  max_body = \"4KiB\"\nmax_body_memory = \"8KiB\"\n";
    let router = Router::start_with_server(server, &plain_route(&[("sink", &sink, "")])).await;
    let probe = json!({ "pad": "x".repeat(1000) }).to_string();

    // Announcing a large body costs nothing until it arrives: four senders that announce
    // 4 KiB and send one byte lock no one out.
    let mut senders = JoinSet::new();
    for _ in 0..4 {
        let mut client = RawClient::connect(router.ingest_url()).await;
        client
            .send(head("POST", "/hooks/plain", 4096, JSON) + "{")
            .await;
        senders.spawn(async move { client.read_until_closed(WAIT).await });
    }
    wait_for_body_bytes(&router, 4).await;
    accepted(router.post_hook("plain", probe.clone(), JSON).await);

    // Two senders that send most of their 4 KiB and stall hold most of the 8 KiB.
    for _ in 0..2 {
        let mut client = RawClient::connect(router.ingest_url()).await;
        let almost = format!("{{{}", " ".repeat(3999));
        client
            .send(head("POST", "/hooks/plain", 4096, JSON) + &almost)
            .await;
        senders.spawn(async move { client.read_until_closed(WAIT).await });
    }
    wait_for_body_bytes(&router, 4 + 2 * 4000).await;
    let (status, headers, answer) = router
        .ingest()
        .try_post_hook("plain", probe.clone(), JSON)
        .await
        .expect("an answer");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{answer}");
    assert!(
        headers.contains_key("retry-after"),
        "503 without Retry-After: {headers:?}"
    );
    assert!(answer["error"].is_string(), "{answer}");

    for closed in senders.join_all().await {
        let Closed::By(answer) = closed else {
            panic!("a stalled body was never cut off")
        };
        assert_eq!(status_of(&answer), 408, "{answer}");
    }
    let id = accepted(router.post_hook("plain", probe, JSON).await);
    router.wait_settled(&id).await;
}
