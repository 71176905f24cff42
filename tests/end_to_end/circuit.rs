//! A subscriber that is down opens its circuit: its messages wait, their retries unspent, while
//! a probe at a time finds out when it is back; then the backlog drains, nothing dead, per-key
//! order kept, and an open circuit stays open across a restart.

use serde_json::Value;

use crate::common::*;

const EVENTS: usize = 30;

/// Probes of the first test's outage, 200 to 400 ms apart: about 3.5 s of outage, longer than
/// its 3 s retry schedule, which would have killed every message without the circuit.
const PROBES_OUTLASTING_THE_SCHEDULE: u64 = 10;

/// Waits until the sink's circuit is open (or half-open) and has made `probes` probes.
async fn wait_for_probes(router: &Router, probes: u64) -> Value {
    wait_for(
        &format!("the circuit open with {probes} probes made"),
        WAIT,
        async || {
            let circuit = router.subscriber("sink").await["circuit"].clone();
            let open = ["open", "half-open"].contains(&circuit["state"].as_str().unwrap_or(""));
            (open && circuit["probes"].as_u64() >= Some(probes)).then_some(circuit)
        },
    )
    .await
}

async fn attempts_made(router: &Router) -> f64 {
    metric_total(
        &router.admin_text("/metrics").await,
        "wasmhook_deliveries_total",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_costs_a_few_probes_kills_nothing_and_the_backlog_drains_after_it() {
    // Nothing listens on the port yet: connections are refused.
    let port = free_port();
    let router = Router::start(&format!(
        r#"[sources.plain]

[subscribers.sink]
url = "http://127.0.0.1:{port}/hook"
retry = ["1s", "1s", "1s"]
concurrency = 2
circuit = {{ failures = 3, probe = "200ms", max_probe = "400ms" }}

[[routes]]
source = "plain"
subscribers = ["sink"]
"#
    ))
    .await;
    let mut ids = Vec::new();
    for n in 0..EVENTS {
        let body = json!({ "n": n }).to_string();
        ids.push(accepted(router.post_hook("plain", body, JSON).await));
    }
    let circuit = wait_for_probes(&router, 2).await;
    let reason = circuit["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("3 failed attempts in a row"), "{circuit}");

    // Up, but answering 503: the probes fail still.
    let sink = Subscriber::replying_on(port, |_, _| Reply::status(503)).await;
    sink.wait_for_requests(2, WAIT).await;
    let circuit = wait_for_probes(&router, PROBES_OUTLASTING_THE_SCHEDULE).await;
    let attempts = attempts_made(&router).await;
    let probes = circuit["probes"].as_f64().unwrap_or_default() + 1.0;
    // Before it opened: 3 failures, and at most `concurrency` more already in flight.
    assert!(
        attempts <= 3.0 + 2.0 + probes,
        "{attempts} attempts for {EVENTS} messages during the outage ({probes} probes)"
    );
    let dead = router.admin_get("/api/messages?status=dead").await;
    assert_eq!(dead["messages"], json!([]), "{dead}");

    sink.answer_always(200);
    for id in &ids {
        let event = router.wait_settled(id).await;
        assert_eq!(messages(&event)[0]["status"], "delivered", "{event}");
    }
    let mut delivered: Vec<u64> = sink
        .received()
        .iter()
        .map(|r| r.json()["n"].as_u64().unwrap())
        .collect();
    delivered.sort_unstable();
    delivered.dedup();
    assert_eq!(delivered, (0..EVENTS as u64).collect::<Vec<_>>());
    assert_eq!(
        router.subscriber("sink").await["circuit"]["state"],
        "closed"
    );
    let metrics = router.admin_text("/metrics").await;
    assert_eq!(metric_total(&metrics, "wasmhook_circuit_open"), 0.0);
    assert!(router.logs_contain(|l| l.contains("circuit opened")));
    assert!(router.logs_contain(|l| l.contains("circuit closed")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_survives_a_restart_and_per_key_order_holds_through_the_outage() {
    let sink = Subscriber::always(503).await;
    let table = "ordering = \"per-key\"\nretry = [\"1s\", \"1s\"]\n\
                 circuit = { failures = 2, probe = \"300ms\", max_probe = \"300ms\" }";
    let mut router = Router::start(&format!(
        "[sources.a]\n[sources.b]\n\n{}\n[[routes]]\nsource = \"a\"\nsubscribers = [\"sink\"]\n\n\
         [[routes]]\nsource = \"b\"\nsubscribers = [\"sink\"]\n",
        subscriber_table("sink", &sink, table)
    ))
    .await;
    for n in 0..10 {
        let source = if n % 2 == 0 { "a" } else { "b" };
        let body = json!({ "key": source, "n": n }).to_string();
        accepted(router.post_hook(source, body, JSON).await);
    }
    let before = wait_for_probes(&router, 1).await;

    router.restart().await;
    let after = router.subscriber("sink").await["circuit"].clone();
    assert!(
        ["open", "half-open"].contains(&after["state"].as_str().unwrap_or("")),
        "{after}"
    );
    assert_eq!(after["opened_at"], before["opened_at"], "{after}");
    let metrics = router.admin_text("/metrics").await;
    assert_eq!(metric_total(&metrics, "wasmhook_circuit_open"), 1.0);

    let failed = sink.count();
    sink.answer_always(200);
    let delivered = sink.wait_for_requests(failed + 10, WAIT).await;
    let dead = router.admin_get("/api/messages?status=dead").await;
    assert_eq!(dead["messages"], json!([]), "{dead}");
    for key in ["a", "b"] {
        let order: Vec<u64> = delivered[failed..]
            .iter()
            .map(Received::json)
            .filter(|body| body["key"] == key)
            .map(|body| body["n"].as_u64().unwrap())
            .collect();
        assert!(
            order.is_sorted(),
            "key {key}: delivered in the order {order:?}"
        );
        assert!(order.len() >= 5, "key {key}: {order:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_the_subscriber_refuses_one_by_one_die_alone_and_open_no_circuit() {
    // The first five messages are answered 400, in a row, the others 200: the subscriber is
    // up, and refuses those messages.
    let sink = Subscriber::replying(|request, _| {
        let refused = request.json()["n"].as_u64().is_some_and(|n| n < 5);
        Reply::status(if refused { 400 } else { 200 })
    })
    .await;
    let table = "retry = []\ncircuit = { failures = 2 }";
    let router = Router::start(&plain_route(&[("sink", &sink, table)])).await;
    let mut ids = Vec::new();
    for n in 0..10 {
        let body = json!({ "n": n }).to_string();
        ids.push((n, accepted(router.post_hook("plain", body, JSON).await)));
    }
    for (n, id) in &ids {
        let event = router.wait_settled(id).await;
        let expected = if *n < 5 { "dead" } else { "delivered" };
        assert_eq!(messages(&event)[0]["status"], expected, "{event}");
    }
    assert_eq!(
        router.subscriber("sink").await["circuit"]["state"],
        "closed"
    );
    let metrics = router.admin_text("/metrics").await;
    assert_eq!(
        metric_total(&metrics, "wasmhook_circuit_changes_total"),
        0.0,
        "the circuit never opened"
    );
    assert_eq!(sink.count(), 10, "one attempt each");
}
