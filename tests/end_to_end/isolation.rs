//! A slow subscriber holds only its own `concurrency`: the others on the same route get
//! every message at once, and the slow one never has more requests open than it allows.

use std::time::Duration;

use crate::common::*;

const EVENTS: usize = 6;

/// The most requests the subscriber had open at the same moment.
fn most_at_once(requests: &[Received]) -> usize {
    let open_at = |r: &Received| {
        let open = |o: &&Received| o.at <= r.at && o.answered.is_none_or(|a| a > r.at);
        requests.iter().filter(open).count()
    };
    requests.iter().map(open_at).max().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_subscriber_delays_no_one_else_and_gets_at_most_its_concurrency() {
    let slow = Subscriber::ok().await;
    slow.answer_after(Duration::from_secs(1));
    let fast = Subscriber::ok().await;
    let wiring = plain_route(&[("slow", &slow, "concurrency = 2"), ("fast", &fast, "")]);
    let router = Router::start(&wiring).await;

    let mut events = Vec::new();
    for n in 0..EVENTS {
        let body = json!({ "n": n }).to_string();
        events.push(accepted(router.post_hook("plain", body, JSON).await));
    }
    let quick = fast.wait_for_requests(EVENTS, WAIT).await;
    let first_slow_answer = wait_for("the slow subscriber's first answer", WAIT, async || {
        slow.received().iter().filter_map(|r| r.answered).min()
    })
    .await;
    let last_fast = quick.iter().map(|r| r.at).max().unwrap();
    assert!(
        last_fast < first_slow_answer,
        "the fast subscriber waited for the slow one"
    );

    for id in &events {
        let event = router.wait_settled(id).await;
        for message in messages(&event) {
            assert_eq!(message["status"], "delivered", "{event}");
        }
    }
    let requests = slow.received();
    assert_eq!(requests.len(), EVENTS);
    assert_eq!(
        most_at_once(&requests),
        2,
        "concurrency = 2 is used, never exceeded"
    );
}
