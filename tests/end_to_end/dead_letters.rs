//! A message its subscriber never took is kept as a dead letter with every attempt; once the
//! subscriber is back, an operator sends it again (admin API or CLI), or replays its event.

use crate::common::*;

/// The answer of a subscriber in trouble: longer than the 4 KiB an attempt keeps.
fn trouble() -> String {
    "database is down; ".repeat(300)
}

fn ids(listed: &Value) -> Vec<&str> {
    let messages = listed["messages"].as_array().expect("a message list");
    messages.iter().map(|m| m["id"].as_str().unwrap()).collect()
}

async fn wait_delivered(router: &Router, event: &str, count: usize) -> Value {
    let what = format!("event {event} with {count} messages, all delivered");
    router
        .wait_event(event, &what, |e| {
            e["messages"].as_array().is_some_and(|ms| {
                ms.len() == count && ms.iter().all(|m| m["status"] == "delivered")
            })
        })
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_letter_keeps_every_attempt_and_is_delivered_when_retried() {
    let ci = Subscriber::replying(|_, _| Reply::status(500).body(trouble())).await;
    let router = Router::start(&plain_route(&[("ci", &ci, r#"retry = ["50ms"]"#)])).await;
    let first = accepted(router.post_hook("plain", r#"{"n":1}"#, JSON).await);
    let second = accepted(router.post_hook("plain", r#"{"n":2}"#, JSON).await);

    let mut dead = Vec::new();
    for event in [&first, &second] {
        let event = router.wait_settled(event).await;
        let [message] = messages(&event) else {
            panic!("expected one message: {event}")
        };
        assert_eq!(message["status"], "dead", "{event}");
        assert_eq!(attempt_statuses(message), [json!(500), json!(500)]);
        for attempt in message["attempts"].as_array().unwrap() {
            time_of(&attempt["at"]);
            assert!(attempt["latency_ms"].as_i64().is_some_and(|ms| ms >= 0));
            assert_eq!(attempt["error"], "HTTP 500");
            let response = attempt["response"].as_str().expect("the answer is kept");
            assert_eq!(
                response,
                &trouble()[..4096],
                "the first 4 KiB of the answer"
            );
        }
        dead.push(message["id"].as_str().unwrap().to_owned());
    }
    let listed = router.admin_get("/api/messages?status=dead").await;
    assert_eq!(ids(&listed), [&dead[1], &dead[0]], "newest first");
    assert_eq!(
        ids(&admin_cli(&router, &["messages", "list"]).await).len(),
        2
    );

    ci.answer_always(200);
    let path = format!("/api/messages/{}/retry", dead[0]);
    let answer = router.admin_post(&path).await;
    let pending = json!({ "id": dead[0], "status": "pending" });
    assert_eq!(answer, (StatusCode::ACCEPTED, pending));
    let event = wait_delivered(&router, &first, 1).await;
    let statuses = attempt_statuses(&messages(&event)[0]);
    assert_eq!(statuses, [json!(500), json!(500), json!(200)]);
    let same_id = |id: &str| {
        ci.received()
            .iter()
            .filter(|r| r.webhook_id() == id)
            .count()
    };
    assert_eq!(
        same_id(&dead[0]),
        3,
        "the retry is the same message, same webhook-id"
    );

    let answer = admin_cli(&router, &["messages", "retry", &dead[1]]).await;
    assert_eq!(answer, json!({ "id": dead[1], "status": "pending" }));
    wait_delivered(&router, &second, 1).await;
    assert_eq!(same_id(&dead[1]), 3);
    let listed = router.admin_get("/api/messages?status=dead").await;
    assert!(ids(&listed).is_empty(), "no dead letter left: {listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_an_event_makes_new_messages_beside_the_old_ones() {
    let ci = Subscriber::ok().await;
    let router = Router::start(&plain_route(&[("ci", &ci, "")])).await;
    let id = accepted(router.post_hook("plain", r#"{"n":7}"#, JSON).await);
    let original = wait_delivered(&router, &id, 1).await;

    let (status, _) = router.admin_post(&format!("/api/events/{id}/replay")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    wait_delivered(&router, &id, 2).await;
    admin_cli(&router, &["events", "replay", &id]).await;
    wait_delivered(&router, &id, 3).await;

    let shown = admin_cli(&router, &["events", "show", &id]).await;
    let all = messages(&shown);
    assert_eq!(
        all[0]["id"],
        messages(&original)[0]["id"],
        "the old one is kept"
    );
    for message in all {
        let received = ci
            .wait_for_webhook_id(message["id"].as_str().unwrap())
            .await;
        assert_eq!(received.json(), json!({ "n": 7 }));
    }
    let listed = admin_cli(&router, &["events", "list"]).await;
    assert_eq!(
        listed["events"].as_array().unwrap().len(),
        1,
        "one event: {listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_and_replay_refuse_what_does_not_exist_or_is_not_dead() {
    let ci = Subscriber::ok().await;
    let router = Router::start(&plain_route(&[("ci", &ci, "")])).await;
    let id = accepted(router.post_hook("plain", r#"{"n":1}"#, JSON).await);
    let delivered = wait_delivered(&router, &id, 1).await;
    let message = messages(&delivered)[0]["id"].as_str().unwrap().to_owned();

    let not_found = StatusCode::NOT_FOUND;
    rejected(
        router.admin_post("/api/messages/msg_nope/retry").await,
        not_found,
    );
    rejected(
        router.admin_post("/api/events/evt_nope/replay").await,
        not_found,
    );
    let retry = format!("/api/messages/{message}/retry");
    rejected(router.admin_post(&retry).await, StatusCode::CONFLICT);

    let args = ["messages", "retry", &message, "--admin", router.admin_url()];
    let output = run_cli(&args).await;
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("409"),
        "{output:?}"
    );
    assert_eq!(ci.received().len(), 1, "nothing was sent again");
}
