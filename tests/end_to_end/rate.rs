//! A subscriber's `rate` holds for every attempt, a backlog and dead letters retried in bulk
//! included; after an outage the drain starts at a tenth of it and climbs over `ramp`.

use std::time::{Duration, Instant};

use crate::common::*;

/// The most requests that arrived within any one second.
fn most_in_a_second(arrivals: &[Instant]) -> usize {
    arrivals
        .iter()
        .map(|start| {
            arrivals
                .iter()
                .filter(|at| **at >= *start && at.duration_since(*start) < Duration::from_secs(1))
                .count()
        })
        .max()
        .unwrap_or(0)
}

/// When the requests from the `from`-th on arrived.
fn arrivals(sink: &Subscriber, from: usize) -> Vec<Instant> {
    sink.received()[from..].iter().map(|r| r.at).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_after_an_outage_ramps_up_and_keeps_to_the_rate() {
    const EVENTS: usize = 60;
    let sink = Subscriber::always(503).await;
    let table = "rate = \"20/s\"\nramp = \"2s\"\nretry = [\"1s\", \"1s\"]\n\
                 circuit = { failures = 2, probe = \"200ms\", max_probe = \"200ms\" }";
    let router = Router::start(&plain_route(&[("sink", &sink, table)])).await;
    let mut ids = Vec::new();
    for n in 0..EVENTS {
        let body = json!({ "n": n }).to_string();
        ids.push(accepted(router.post_hook("plain", body, JSON).await));
    }
    wait_for("the circuit to open", WAIT, async || {
        let sink = router.subscriber("sink").await;
        (sink["circuit"]["state"] == "open").then_some(())
    })
    .await;

    let failed = sink.count();
    sink.answer_always(200);
    for id in &ids {
        let event = router.wait_settled(id).await;
        assert_eq!(messages(&event)[0]["status"], "delivered", "{event}");
    }
    let drain = arrivals(&sink, failed);
    // 20 a second, and a tenth of a second's worth at once.
    assert!(
        most_in_a_second(&drain) <= 22,
        "{} requests within one second",
        most_in_a_second(&drain)
    );
    // The ramp: about a third of the rate over the first second.
    let first_second = drain
        .iter()
        .filter(|at| at.duration_since(drain[0]) < Duration::from_secs(1))
        .count();
    assert!(
        first_second <= 12,
        "{first_second} requests in the first second of the drain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribers_dead_letters_are_retried_in_bulk_at_its_rate() {
    const EVENTS: usize = 20;
    let sink = Subscriber::always(500).await;
    let table = "rate = \"10/s\"\nretry = []\ncircuit = false";
    let router = Router::start(&plain_route(&[("sink", &sink, table)])).await;
    for n in 0..EVENTS {
        let body = json!({ "n": n }).to_string();
        accepted(router.post_hook("plain", body, JSON).await);
    }
    wait_for("every message dead", WAIT, async || {
        let dead = router
            .admin_get("/api/messages?status=dead&limit=100")
            .await;
        (dead["messages"].as_array().map(Vec::len) == Some(EVENTS)).then_some(())
    })
    .await;

    let failed = sink.count();
    sink.answer_always(200);
    let answer = admin_cli(&router, &["subscribers", "retry-dead", "sink"]).await;
    assert_eq!(answer, json!({ "name": "sink", "retried": EVENTS }));
    sink.wait_for_requests(failed + EVENTS, WAIT).await;
    let retried = arrivals(&sink, failed);
    let took = retried[EVENTS - 1].duration_since(retried[0]);
    assert!(
        took >= Duration::from_millis(1500),
        "{EVENTS} retries at 10/s took {took:?}"
    );
    assert!(most_in_a_second(&retried) <= 11, "{retried:?}");
    let pending = router.admin_get("/api/messages?status=dead").await;
    assert_eq!(pending["messages"], json!([]), "{pending}");

    let (status, _) = router
        .admin_post("/api/subscribers/nobody/retry-dead")
        .await;
    assert_eq!(status, 404);
}
