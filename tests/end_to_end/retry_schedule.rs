//! What a subscriber says about itself moves its next attempt: a `429` or not answering in time
//! puts it at least a minute away; a redirect is a failed attempt, never followed. (The
//! schedule itself and `Retry-After` are tested in process, under paused time: see the tests
//! of `delivery`.)

use std::time::Duration;

use crate::common::*;

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
