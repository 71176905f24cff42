//! A subscriber that answers `410 Gone`, or that an operator disables, is switched off until
//! an operator enables it again: its messages wait as `pending`, the other subscribers of the
//! route carry on, and a restart keeps it off.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use crate::common::*;

/// The subscriber's entry in `GET /api/subscribers`.
async fn subscriber(router: &Router, name: &str) -> Value {
    let all = router.admin_get("/api/subscribers").await;
    let found = all["subscribers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name);
    found
        .cloned()
        .unwrap_or_else(|| panic!("no subscriber {name} in {all}"))
}

fn message_to<'a>(event: &'a Value, subscriber: &str) -> &'a Value {
    let found = messages(event)
        .iter()
        .find(|m| m["subscriber"] == subscriber);
    found.unwrap_or_else(|| panic!("no message to {subscriber}: {event}"))
}

async fn post(router: &Router, n: usize) -> String {
    accepted(
        router
            .post_hook("plain", json!({ "n": n }).to_string(), JSON)
            .await,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gone_subscriber_waits_switched_off_until_it_is_enabled() {
    let old = Subscriber::always(410).await;
    let ci = Subscriber::ok().await;
    let retry = r#"retry = ["100ms", "100ms"]"#;
    let mut router = Router::start(&plain_route(&[("old", &old, retry), ("ci", &ci, retry)])).await;

    let mut events = vec![post(&router, 0).await];
    let first = router
        .wait_event(&events[0], "the 410 attempt recorded", |event| {
            let attempts = |m: &Value| m["attempts"].as_array().map_or(0, Vec::len);
            let to_old = event["messages"].as_array().into_iter().flatten();
            to_old
                .filter(|m| m["subscriber"] == "old")
                .any(|m| attempts(m) == 1)
        })
        .await;
    let off = subscriber(&router, "old").await;
    assert_eq!(off["disabled"], true, "{off}");
    assert!(
        off["disabled_reason"].as_str().unwrap().contains("410"),
        "{off}"
    );
    time_of(&off["disabled_at"]);
    assert_eq!(subscriber(&router, "ci").await["disabled"], false);

    for n in 1..=3 {
        events.push(post(&router, n).await);
    }
    ci.wait_for_requests(4, WAIT).await;
    let retry_due = time_of(&message_to(&first, "old")["next_attempt_at"]);
    wait_until(
        "the first message's retry to be overdue",
        WAIT,
        async || SystemTime::now() > retry_due + Duration::from_millis(300),
    )
    .await;
    assert_eq!(
        old.received().len(),
        1,
        "nothing is attempted while disabled"
    );
    for id in &events[1..] {
        let message = message_to(&router.event(id).await, "old").clone();
        assert_eq!(message["status"], "pending", "{message}");
        assert_eq!(message["attempts"], json!([]), "{message}");
    }

    router.restart().await;
    assert_eq!(
        subscriber(&router, "old").await["disabled"],
        true,
        "still off after a restart"
    );
    events.push(post(&router, 4).await);
    ci.wait_for_requests(5, WAIT).await;
    assert_eq!(
        old.received().len(),
        1,
        "nothing is attempted after the restart either"
    );

    old.answer_always(200);
    let missing = router.admin_post("/api/subscribers/nobody/enable").await;
    rejected(missing, StatusCode::NOT_FOUND);
    let (status, answer) = router.admin_post("/api/subscribers/old/enable").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["disabled"], false, "{answer}");
    for id in &events {
        let event = router.wait_settled(id).await;
        let message = message_to(&event, "old");
        assert_eq!(message["status"], "delivered", "{event}");
        old.wait_for_webhook_id(message["id"].as_str().unwrap())
            .await;
    }
    assert_eq!(subscriber(&router, "old").await["disabled"], false);
    assert_eq!(
        ci.received().len(),
        5,
        "the other subscriber got each event once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_switches_a_subscriber_off_and_on_and_a_restart_keeps_it_off() {
    let crm = Subscriber::ok().await;
    let mut router = Router::start(&plain_route(&[("crm", &crm, "")])).await;
    let answer = admin_cli(&router, &["subscribers", "disable", "crm"]).await;
    assert_eq!(answer, json!({"name": "crm", "disabled": true}));
    let id = post(&router, 1).await;
    let what = "its message made";
    router
        .wait_event(&id, what, |event| event["status"] == "processed")
        .await;

    router.restart().await;
    let shown = subscriber(&router, "crm").await;
    assert_eq!(shown["disabled"], true, "{shown}");
    assert_eq!(
        shown["disabled_reason"], "disabled by an operator",
        "{shown}"
    );
    assert_eq!(shown["pending"], 1, "{shown}");
    let event = router.event(&id).await;
    assert_eq!(message_to(&event, "crm")["status"], "pending", "{event}");
    assert_eq!(crm.count(), 0, "nothing is sent to a disabled subscriber");

    admin_cli(&router, &["subscribers", "enable", "crm"]).await;
    let event = router.wait_settled(&id).await;
    assert_eq!(message_to(&event, "crm")["status"], "delivered", "{event}");
    assert_eq!(crm.count(), 1);
}

/// More messages wait than delivery holds in memory for a subscriber (some hundreds): those
/// held and those left in the store all go out once it is enabled, each exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backlog_larger_than_memory_holds_is_delivered_whole_and_once_each() {
    const BACKLOG: usize = 600;
    let old = Subscriber::always(410).await;
    let router = Router::start(&plain_route(&[("old", &old, r#"retry = ["100ms"]"#)])).await;
    let first = post(&router, 0).await;
    router
        .wait_event(&first, "the 410 attempt recorded", |event| {
            let attempts = |m: &Value| m["attempts"].as_array().map_or(0, Vec::len);
            messages(event).iter().any(|m| attempts(m) == 1)
        })
        .await;
    assert_eq!(subscriber(&router, "old").await["disabled"], true);

    let mut events = vec![first];
    for n in 1..=BACKLOG {
        events.push(post(&router, n).await);
    }
    old.answer_always(200);
    let (status, answer) = router.admin_post("/api/subscribers/old/enable").await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let received = old.wait_for_requests(BACKLOG + 2, WAIT).await;
    let bodies: BTreeSet<u64> = received[1..]
        .iter()
        .map(|request| request.json()["n"].as_u64().unwrap())
        .collect();
    assert_eq!(
        bodies,
        (0..=BACKLOG as u64).collect(),
        "every event's message arrived"
    );
    for id in &events {
        let event = router.wait_settled(id).await;
        assert_eq!(message_to(&event, "old")["status"], "delivered", "{event}");
    }
    assert_eq!(
        old.received().len(),
        BACKLOG + 2,
        "one attempt each, and one more for the message first answered 410"
    );
}
