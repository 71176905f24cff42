//! A failing subscriber is retried on its schedule, and given up on when the schedule ends.

use std::time::Duration;

use crate::common::*;

fn plain_to(subscriber: &Subscriber, retry: &str) -> String {
    format!(
        "[sources.plain]\n\n[subscribers.flaky]\nurl = \"{}\"\nretry = {retry}\n\n[[routes]]\nsource = \"plain\"\nsubscribers = [\"flaky\"]\n",
        subscriber.url()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_failing_twice_gets_the_message_on_the_third_attempt() {
    let flaky = Subscriber::failing_then_ok(2, 500).await;
    let router = Router::start(&plain_to(&flaky, r#"["100ms", "100ms", "100ms"]"#)).await;

    let id = accepted(
        router
            .post_hook(
                "plain",
                r#"{"n":1}"#,
                &[("content-type", "application/json")],
            )
            .await,
    );
    let attempts = flaky.wait_for_requests(3, WAIT).await;
    let event = router.wait_settled(&id).await;
    let [message] = messages(&event) else {
        panic!("expected one message: {event}")
    };
    assert_eq!(message["status"], "delivered");
    assert_eq!(
        attempt_statuses(message),
        [json!(500), json!(500), json!(200)]
    );
    assert_eq!(flaky.received().len(), 3, "no attempt after the success");

    for pair in attempts.windows(2) {
        assert_eq!(
            pair[0].webhook_id(),
            pair[1].webhook_id(),
            "a retry keeps its webhook-id"
        );
        assert_eq!(pair[0].body, pair[1].body);
        let gap = pair[1].at - pair[0].at;
        // 100 ms with ±20% jitter.
        assert!(
            gap >= Duration::from_millis(80),
            "retried after {gap:?}, scheduled 100ms"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_always_fails_leaves_a_dead_message_after_the_last_delay() {
    let broken = Subscriber::always(500).await;
    let router = Router::start(&plain_to(&broken, r#"["50ms", "50ms"]"#)).await;

    let id = accepted(
        router
            .post_hook(
                "plain",
                r#"{"n":1}"#,
                &[("content-type", "application/json")],
            )
            .await,
    );
    let event = router.wait_settled(&id).await;
    let [message] = messages(&event) else {
        panic!("expected one message: {event}")
    };
    assert_eq!(message["status"], "dead");
    assert_eq!(
        attempt_statuses(message),
        [json!(500), json!(500), json!(500)]
    );
    assert_eq!(
        broken.received().len(),
        3,
        "one attempt, then one per delay"
    );

    let dead = router.admin_get("/api/messages?status=dead").await;
    let listed: Vec<&Value> = dead["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(listed, [&message["id"]], "the dead message is listed");
}
