//! A sender that hangs up before its answer (a provider timing out under load) loses nothing:
//! every event the router committed is processed and delivered, without a restart.

use std::collections::BTreeSet;

use tokio::task::JoinSet;

use crate::common::raw::{RawClient, post_json};
use crate::common::*;

/// Senders that each send one whole event and close the socket without reading the answer.
const HANG_UPS: usize = 600;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stored_event_of_a_sender_that_hung_up_is_delivered() {
    let sink = Subscriber::ok().await;
    let router = Router::start(&plain_route(&[("sink", &sink, "")])).await;

    let mut senders = JoinSet::new();
    for n in 0..HANG_UPS {
        let base = router.ingest_url().to_owned();
        senders.spawn(async move {
            let mut client = RawClient::connect(&base).await;
            client
                .send(post_json("plain", &json!({ "n": n }).to_string()))
                .await;
            // Dropped here: the socket closes before the answer is read.
        });
    }
    senders.join_all().await;
    // A sender that waits for its answer comes after the others' requests were taken in.
    let last = accepted(router.post_hook("plain", r#"{"n":"last"}"#, JSON).await);
    router.wait_settled(&last).await;

    let (stored, delivered) = wait_for(
        "every stored event processed and delivered, none left `received`",
        WAIT,
        async || {
            let stranded = router
                .admin_get("/api/events?status=received&limit=1000")
                .await;
            let stored = router.admin_get("/api/events?limit=1000").await["events"]
                .as_array()
                .map_or(0, Vec::len);
            let delivered: BTreeSet<String> = sink
                .received()
                .iter()
                .map(|r| r.json()["n"].to_string())
                .collect();
            let done = stranded["events"].as_array().is_some_and(Vec::is_empty)
                && delivered.len() == stored;
            done.then_some((stored, delivered.len()))
        },
    )
    .await;
    eprintln!("{HANG_UPS} senders hung up: {stored} events stored, {delivered} delivered");
    assert!(
        stored > 1,
        "the router stored none of the events of the senders that hung up"
    );
}
