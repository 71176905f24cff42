//! A provider that sends an event again (same delivery id) is answered
//! `200 {"id": <first>, "duplicate": true}` and nothing is delivered twice; a new delivery id
//! is a new event; `dedup = false` turns this off; the id can come from the body.

use std::time::{Duration, Instant};

use crate::common::*;

fn wiring(ci: &Subscriber) -> String {
    let mut sources = github_source("github");
    sources += &format!("{}dedup = false\n", github_source("nodedup"));
    sources += "[sources.orders]\ndedup = { json = \"/id\" }\n";
    sources += "[sources.brief]\ndedup = { json = \"/id\", window = \"1s\" }\n";
    let routes: String = ["github", "nodedup", "orders", "brief"]
        .iter()
        .map(|s| format!("[[routes]]\nsource = \"{s}\"\nsubscribers = [\"ci\"]\n"))
        .collect();
    format!("{sources}\n{}\n{routes}", subscriber_table("ci", ci, ""))
}

/// A GitHub push delivery with the given `X-GitHub-Delivery`, signed with `secret`.
async fn signed(router: &Router, source: &str, secret: &str, id: &str) -> (StatusCode, Value) {
    let body = push_to("main", 1);
    let ingest = router.ingest();
    ingest
        .github_delivery(source, "push", secret, &body, id)
        .await
}

async fn deliver(router: &Router, source: &str, id: &str) -> (StatusCode, Value) {
    signed(router, source, GITHUB_SECRET, id).await
}

/// Waits until each event is delivered, then checks the subscriber got exactly these.
async fn delivered_exactly(router: &Router, ci: &Subscriber, events: &[&str]) {
    for event in events {
        delivered_bodies(router, ci, event).await;
    }
    assert_eq!(ci.received().len(), events.len(), "one delivery per event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_github_redelivery_is_answered_as_a_duplicate_and_delivered_once() {
    let ci = Subscriber::ok().await;
    let router = Router::start(&wiring(&ci)).await;

    let first = accepted(deliver(&router, "github", "delivery-1").await);
    let again = deliver(&router, "github", "delivery-1").await;
    let duplicate = json!({ "id": first, "duplicate": true });
    assert_eq!(again, (StatusCode::OK, duplicate));
    let forged = signed(&router, "github", "not the secret", "delivery-1").await;
    rejected(forged, StatusCode::UNAUTHORIZED);
    let other = accepted(deliver(&router, "github", "delivery-2").await);
    assert_ne!(other, first);

    delivered_exactly(&router, &ci, &[&first, &other]).await;
    let listed = router.admin_get("/api/events?source=github").await;
    assert_eq!(listed["events"].as_array().unwrap().len(), 2, "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_dedup_off_every_delivery_is_a_new_event() {
    let ci = Subscriber::ok().await;
    let router = Router::start(&wiring(&ci)).await;

    let first = accepted(deliver(&router, "nodedup", "delivery-1").await);
    let second = accepted(deliver(&router, "nodedup", "delivery-1").await);
    assert_ne!(first, second);
    delivered_exactly(&router, &ci, &[&first, &second]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_id_can_come_from_a_json_path_of_the_body() {
    let ci = Subscriber::ok().await;
    let router = Router::start(&wiring(&ci)).await;
    let order = |id: &str, total: u32| json!({ "id": id, "total": total }).to_string();

    let first = accepted(router.post_hook("orders", order("ord_1", 5), JSON).await);
    let again = router.post_hook("orders", order("ord_1", 5), JSON).await;
    assert_eq!(
        again,
        (StatusCode::OK, json!({ "id": first, "duplicate": true }))
    );
    let other = accepted(router.post_hook("orders", order("ord_2", 7), JSON).await);
    // Without the id there is nothing to recognise: each is a new event.
    let anonymous = r#"{"total": 1}"#;
    let third = accepted(router.post_hook("orders", anonymous, JSON).await);
    let fourth = accepted(router.post_hook("orders", anonymous, JSON).await);

    delivered_exactly(&router, &ci, &[&first, &other, &third, &fourth]).await;
    let bodies: Vec<Value> = ci.received().iter().map(Received::json).collect();
    assert!(
        bodies.contains(&json!({ "id": "ord_1", "total": 5 })),
        "{bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_window_the_same_id_is_a_new_event() {
    let ci = Subscriber::ok().await;
    let router = Router::start(&wiring(&ci)).await;
    let order = r#"{"id": "ord_1"}"#;

    let sent = Instant::now();
    let first = accepted(router.post_hook("brief", order, JSON).await);
    wait_until("the 1s window to pass", WAIT, async || {
        sent.elapsed() > Duration::from_millis(1100)
    })
    .await;
    let second = accepted(router.post_hook("brief", order, JSON).await);
    assert_ne!(first, second);
    delivered_exactly(&router, &ci, &[&first, &second]).await;
}
