//! Nothing accepted is lost when the router is killed: it picks up where it stopped.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::common::*;

fn plain_to(subscriber: &Subscriber, retry: &str) -> String {
    format!(
        "[sources.plain]\n\n[subscribers.ci]\nurl = \"{}\"\nretry = {retry}\n\n[[routes]]\nsource = \"plain\"\nsubscribers = [\"ci\"]\n",
        subscriber.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_retry_survives_kill_9_and_keeps_its_webhook_id() {
    let ci = Subscriber::always(503).await;
    let mut router = Router::start(&plain_to(&ci, r#"["2s"]"#)).await;
    let id = accepted(
        router
            .post_hook(
                "plain",
                r#"{"deploy":"v2"}"#,
                &[("content-type", "application/json")],
            )
            .await,
    );
    let first = ci.wait_for_requests(1, WAIT).await.remove(0);

    router.kill();
    ci.answer_always(200);
    router.restart().await;

    let second = ci.wait_for_requests(2, WAIT).await.remove(1);
    assert_eq!(
        second.webhook_id(),
        first.webhook_id(),
        "the retry is the same message"
    );
    assert_eq!(second.json(), json!({ "deploy": "v2" }));
    let event = router.wait_settled(&id).await;
    assert_eq!(messages(&event)[0]["status"], "delivered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_acknowledged_right_before_kill_9_are_delivered_after_restart() {
    const EVENTS: usize = 20;
    let ci = Subscriber::ok().await;
    // A slow subscriber: no delivery can complete before the kill.
    ci.answer_after(Duration::from_secs(5));
    let mut router = Router::start(&plain_to(&ci, r#"["100ms", "1s"]"#)).await;

    let mut senders = JoinSet::new();
    for n in 0..EVENTS {
        let ingest = router.ingest();
        senders.spawn(async move {
            (
                n,
                ingest
                    .post_hook(
                        "plain",
                        json!({ "n": n }).to_string(),
                        &[("content-type", "application/json")],
                    )
                    .await,
            )
        });
    }
    let mut ids = BTreeMap::new();
    while let Some(answer) = senders.join_next().await {
        let (n, answer) = answer.unwrap();
        ids.insert(n, accepted(answer));
    }
    router.kill();
    ci.answer_after(Duration::ZERO);
    let restarted = Instant::now();
    router.restart().await;

    for (n, id) in &ids {
        let event = router.wait_settled(id).await;
        assert_eq!(
            messages(&event)[0]["status"],
            "delivered",
            "event {n}: {event}"
        );
    }
    let after_restart: Vec<Value> = ci
        .received()
        .iter()
        .filter(|r| r.at >= restarted)
        .map(Received::json)
        .collect();
    for n in 0..EVENTS {
        assert!(
            after_restart.contains(&json!({ "n": n })),
            "event {n} was not delivered after the restart"
        );
    }
}
