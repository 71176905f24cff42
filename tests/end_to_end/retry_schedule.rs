//! A failing subscriber is retried on its own schedule, attempt by attempt; what it says about
//! itself (`Retry-After`, `429`, not answering in time) moves its next attempt; a redirect is
//! a failed attempt, never followed.

use std::time::Duration;

use crate::common::*;

/// What a test process and a router sharing 2 cores may add to a delay.
const SLACK: Duration = Duration::from_millis(250);

#[track_caller]
fn assert_gap(what: &str, gap: Duration, at_least: Duration, at_most: Duration) {
    println!("{what}: {gap:?} (expected {at_least:?} ..= {at_most:?} + {SLACK:?})");
    assert!(
        gap >= at_least && gap <= at_most + SLACK,
        "{what}: came after {gap:?}, expected {at_least:?} ..= {at_most:?} (+ {SLACK:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_retry_comes_after_its_own_delay_give_or_take_20_percent() {
    let flaky = Subscriber::failing_then_ok(3, 500).await;
    let retry = r#"retry = ["100ms", "200ms", "300ms"]"#;
    let router = Router::start(&plain_route(&[("flaky", &flaky, retry)])).await;

    let id = accepted(router.post_hook("plain", r#"{"n":1}"#, JSON).await);
    let attempts = flaky.wait_for_requests(4, WAIT).await;
    let event = router.wait_settled(&id).await;
    let [message] = messages(&event) else {
        panic!("expected one message: {event}")
    };
    assert_eq!(message["status"], "delivered");
    assert_eq!(
        attempt_statuses(message),
        [json!(500), json!(500), json!(500), json!(200)]
    );
    assert_eq!(flaky.received().len(), 4, "no attempt after the success");

    for (n, (pair, ms)) in attempts.windows(2).zip([100, 200, 300]).enumerate() {
        assert_eq!(pair[0].webhook_id(), pair[1].webhook_id());
        let scheduled = Duration::from_millis(ms);
        let gap = pair[1].at - pair[0].at;
        let what = format!("retry {} (scheduled {ms}ms)", n + 1);
        assert_gap(&what, gap, scheduled.mul_f64(0.8), scheduled.mul_f64(1.2));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_up_to_twice_the_scheduled_delay() {
    let asking = |seconds: &'static str| {
        Subscriber::replying(move |_, n| match n {
            0 => Reply::status(503).header("retry-after", seconds),
            _ => Reply::status(200),
        })
    };
    let (polite, greedy) = (asking("1").await, asking("3600").await);
    let retry = r#"retry = ["500ms"]"#;
    let wiring = plain_route(&[("polite", &polite, retry), ("greedy", &greedy, retry)]);
    let router = Router::start(&wiring).await;

    let id = accepted(router.post_hook("plain", r#"{"n":1}"#, JSON).await);
    let asked = polite.wait_for_requests(2, WAIT).await;
    let capped = greedy.wait_for_requests(2, WAIT).await;
    let event = router.wait_settled(&id).await;
    for message in messages(&event) {
        assert_eq!(
            attempt_statuses(message),
            [json!(503), json!(200)],
            "{event}"
        );
    }
    // Retry-After: 1 is within twice 500ms: it is waited for, not the jittered 400-600ms.
    let second = Duration::from_secs(1);
    assert_gap(
        "Retry-After: 1",
        asked[1].at - asked[0].at,
        second.mul_f64(0.9),
        second,
    );
    // Retry-After: 3600 is capped at twice the scheduled 500ms.
    assert_gap(
        "Retry-After: 3600",
        capped[1].at - capped[0].at,
        second.mul_f64(0.9),
        second,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_or_a_timeout_puts_the_next_attempt_at_least_a_minute_away() {
    let busy = Subscriber::always(429).await;
    let slow = Subscriber::ok().await;
    slow.answer_after(Duration::from_secs(2));
    let wiring = plain_route(&[
        ("busy", &busy, r#"retry = ["100ms"]"#),
        ("slow", &slow, "retry = [\"100ms\"]\ntimeout = \"200ms\""),
    ]);
    let router = Router::start(&wiring).await;

    let id = accepted(router.post_hook("plain", r#"{"n":1}"#, JSON).await);
    let event = router
        .wait_event(&id, "one attempt recorded per subscriber", |event| {
            event["messages"].as_array().is_some_and(|ms| {
                ms.len() == 2
                    && ms
                        .iter()
                        .all(|m| m["attempts"].as_array().unwrap().len() == 1)
            })
        })
        .await;
    for message in messages(&event) {
        let attempt = &message["attempts"][0];
        match message["subscriber"].as_str().unwrap() {
            "busy" => assert_eq!(attempt["status"], 429, "{message}"),
            _ => assert_eq!(attempt["error"], "timed out", "{message}"),
        }
        assert_eq!(message["status"], "pending", "{message}");
        let wait = time_of(&message["next_attempt_at"])
            .duration_since(time_of(&attempt["at"]))
            .unwrap();
        println!(
            "{}: next attempt {wait:?} after the first",
            message["subscriber"]
        );
        assert!(
            wait >= Duration::from_secs(60),
            "next attempt after {wait:?}: {message}"
        );
    }
    assert_eq!(
        busy.received().len(),
        1,
        "no second attempt within the minute"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_a_failed_attempt_and_is_not_followed() {
    let elsewhere = Subscriber::ok().await;
    let location = elsewhere.url().to_owned();
    let moved = Subscriber::replying(move |_, _| Reply::status(307).header("location", &location));
    let router = Router::start(&plain_route(&[("moved", &moved.await, "retry = []")])).await;

    let id = accepted(router.post_hook("plain", r#"{"n":1}"#, JSON).await);
    let event = router.wait_settled(&id).await;
    assert_eq!(messages(&event)[0]["status"], "dead", "{event}");
    assert_eq!(attempt_statuses(&messages(&event)[0]), [json!(307)]);
    assert!(elsewhere.received().is_empty(), "the redirect was followed");
}
