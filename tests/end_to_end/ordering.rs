//! With `ordering = "per-key"`, the messages of one key reach the subscriber strictly in the
//! order their events were accepted, one at a time, even while the first fails and is retried;
//! meanwhile the other keys go on.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;

const EVENTS: u64 = 20;

/// Two sources, so two ordering keys (`a:` and `b:`, the default `source:type`), both routed
/// to one per-key subscriber.
fn wiring(ordered: &Subscriber) -> String {
    let table = "ordering = \"per-key\"\nretry = [\"1s\", \"1s\", \"1s\"]";
    format!(
        "[sources.a]\n[sources.b]\n\n{}\n[[routes]]\nsource = \"a\"\nsubscribers = [\"ordered\"]\n\n[[routes]]\nsource = \"b\"\nsubscribers = [\"ordered\"]\n",
        subscriber_table("ordered", ordered, table)
    )
}

/// The requests of key `key`, as (event number, request).
fn of_key(all: &[Received], key: &str) -> Vec<(u64, Received)> {
    let of = |r: &Received| {
        (r.json()["key"] == key).then(|| (r.json()["n"].as_u64().unwrap(), r.clone()))
    };
    all.iter().filter_map(of).collect()
}

#[track_caller]
fn assert_one_at_a_time(key: &str, requests: &[(u64, Received)]) {
    for pair in requests.windows(2) {
        let answered = pair[0].1.answered.expect("answered");
        assert!(
            pair[1].1.at >= answered,
            "key {key}: event {} arrived while event {} was still in flight",
            pair[1].0,
            pair[0].0
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_waits_for_its_failing_head_while_another_key_flows() {
    let failed_a = Arc::new(AtomicUsize::new(0));
    let ordered = Subscriber::replying(move |request, _| {
        let head_of_a = request.json()["key"] == "a" && failed_a.fetch_add(1, Ordering::SeqCst) < 3;
        Reply::status(if head_of_a { 500 } else { 200 })
    })
    .await;
    // Each answer takes a while, so that two requests in flight at once would overlap.
    ordered.answer_after(Duration::from_millis(20));
    let router = Router::start(&wiring(&ordered)).await;

    let mut events = Vec::new();
    for n in 0..EVENTS {
        for key in ["a", "b"] {
            let body = json!({ "key": key, "n": n }).to_string();
            events.push(accepted(router.post_hook(key, body, JSON).await));
        }
    }
    for id in &events {
        let event = router.wait_settled(id).await;
        assert_eq!(messages(&event)[0]["status"], "delivered", "{event}");
    }

    let all = ordered.received();
    let (a, b) = (of_key(&all, "a"), of_key(&all, "b"));
    let order = |requests: &[(u64, Received)]| requests.iter().map(|(n, _)| *n).collect::<Vec<_>>();
    let a_expected: Vec<u64> = [0, 0, 0].into_iter().chain(0..EVENTS).collect();
    assert_eq!(
        order(&a),
        a_expected,
        "key a: three failures of its first event, then in order"
    );
    assert_eq!(order(&b), (0..EVENTS).collect::<Vec<_>>(), "key b in order");
    assert_one_at_a_time("a", &a);
    assert_one_at_a_time("b", &b);

    let a_first_success = a[3].1.at;
    let b_done = b.last().unwrap().1.answered.unwrap();
    assert!(
        b_done < a_first_success,
        "key b finished {:?} after key a's first success",
        b_done - a_first_success
    );
    println!(
        "key b done {:?} before key a's head got through",
        a_first_success - b_done
    );
}
