//! On SIGTERM the router stops taking events (503 + Retry-After), lets the delivery in flight
//! finish and records it, says what is left, and exits 0; the rest resumes at the next start.

use std::time::{Duration, Instant};

use crate::common::*;

fn wiring(slow: &Subscriber, down: &Subscriber) -> String {
    let mut wiring = plain_route(&[("slow", slow, ""), ("down", down, r#"retry = ["1h"]"#)]);
    wiring += "\n[sources.probe]\n";
    wiring
}

/// The `fields` of the JSON log line whose message is `message`.
fn log_fields(router: &Router, message: &str) -> Value {
    let fields = router.logs().iter().find_map(|line| {
        let fields = serde_json::from_str::<Value>(line).ok()?["fields"].clone();
        (fields["message"] == message).then_some(fields)
    });
    fields.unwrap_or_else(|| panic!("no log line {message:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_delivery_in_flight_and_exits_0() {
    let slow = Subscriber::ok().await;
    slow.answer_after(Duration::from_secs(1));
    let down = Subscriber::always(503).await;
    let server = "shutdown_timeout = \"10s\"";
    let mut router = Router::start_with_server(server, &wiring(&slow, &down)).await;

    let id = accepted(router.post_hook("plain", r#"{"n":1}"#, JSON).await);
    slow.wait_for_requests(1, WAIT).await;
    down.wait_for_requests(1, WAIT).await;
    router.terminate();

    let ingest = router.ingest();
    let (headers, answer) =
        wait_for(
            "ingest to answer 503 during the drain",
            WAIT,
            async || match ingest.try_post_hook("probe", "{}", JSON).await {
                Ok((StatusCode::SERVICE_UNAVAILABLE, headers, answer)) => Some((headers, answer)),
                _ => None,
            },
        )
        .await;
    assert!(
        headers.contains_key("retry-after"),
        "503 without Retry-After: {headers:?}"
    );
    assert!(answer["error"].is_string(), "{answer}");
    assert!(
        slow.received()[0].answered.is_none(),
        "the drain began before the answer"
    );

    let status = router.wait_exit(WAIT).await;
    assert_eq!(status.code(), Some(0), "exit status {status}");
    assert!(
        slow.received()[0].answered.is_some(),
        "the in-flight delivery finished first"
    );
    log_fields(
        &router,
        "shutting down: new events are answered 503 while in-flight work finishes",
    );
    let stopped = log_fields(
        &router,
        "stopped; unfinished work resumes at the next start",
    );
    assert_eq!(stopped["deliveries_left"], 0, "{stopped}");
    assert_eq!(stopped["events_left"], 0, "{stopped}");
    assert_eq!(
        stopped["messages_pending"], 1,
        "the retry to `down` is left: {stopped}"
    );

    router.restart().await;
    let event = router.event(&id).await;
    for message in messages(&event) {
        let attempts = attempt_statuses(message);
        match message["subscriber"].as_str().unwrap() {
            "slow" => assert_eq!(attempts, [json!(200)], "recorded once, as delivered"),
            _ => assert_eq!(attempts, [json!(503)], "still waiting for its retry"),
        }
        let expected = if message["subscriber"] == "slow" {
            "delivered"
        } else {
            "pending"
        };
        assert_eq!(message["status"], expected, "{event}");
    }
    assert_eq!(
        slow.received().len(),
        1,
        "not delivered again after the restart"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_slower_than_the_deadline_is_made_again_at_the_next_start() {
    let stuck = Subscriber::ok().await;
    stuck.answer_after(Duration::from_secs(5));
    let server = "shutdown_timeout = \"500ms\"";
    let mut router =
        Router::start_with_server(server, &plain_route(&[("stuck", &stuck, "")])).await;

    let id = accepted(router.post_hook("plain", r#"{"n":1}"#, JSON).await);
    stuck.wait_for_requests(1, WAIT).await;
    let signalled = Instant::now();
    router.terminate();
    let status = router.wait_exit(WAIT).await;
    assert_eq!(status.code(), Some(0), "exit status {status}");
    let took = signalled.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "exited after {took:?}, not at the deadline"
    );
    let stopped = log_fields(
        &router,
        "stopped; unfinished work resumes at the next start",
    );
    assert_eq!(stopped["deliveries_left"], 1, "{stopped}");
    assert_eq!(stopped["messages_pending"], 1, "{stopped}");

    stuck.answer_after(Duration::ZERO);
    router.restart().await;
    let event = router.wait_settled(&id).await;
    assert_eq!(messages(&event)[0]["status"], "delivered", "{event}");
    let both = stuck.wait_for_requests(2, WAIT).await;
    assert_eq!(
        both[0].webhook_id(),
        both[1].webhook_id(),
        "the same message again"
    );
}
