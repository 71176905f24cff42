//! Mailgun: the JSON body's `signature` object, `{timestamp, token, signature}`, where
//! `signature` is the hex HMAC-SHA256 of `timestamp` then `token` with the webhook signing key,
//! the timestamp within 300 s. The type is `event-data.event`; a retry keeps `event-data.id`.
//! Mailgun signs the timestamp and token, not the rest of the body: a token is taken once.

use serde_json::json;

use crate::common::providers::*;

const KEY: &str = "TEST_WEBHOOK_SIGNING_KEY";

fn wiring(key: &str) -> String {
    format!("[sources.mailgun]\nverify = {{ scheme = \"mailgun\", signing_key = {key:?} }}\n")
}

/// The `signature` object for `timestamp` and `token`.
fn signature(key: &str, timestamp: &str, token: &str) -> Value {
    let mac = hmac_sha256(key.as_bytes(), &[timestamp.as_bytes(), token.as_bytes()]);
    json!({ "timestamp": timestamp, "token": token, "signature": hex::encode(mac) })
}

fn webhook(body: &Value) -> Hook {
    post("mailgun", serde_json::to_vec(body).unwrap()).json()
}

/// The real delivered event (signed with anymail's test key), at its own time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivered_event_is_stored_with_its_type() {
    let v = &vectors("mailgun")[2];
    assert_eq!(v["signing_key"], KEY);
    let now: i64 = v["timestamp"].as_str().unwrap().parse().unwrap();
    let router = start_at(now, &wiring(KEY)).await;
    let hooks = Hooks::new(&router);

    let body = fixture("mailgun/anymail.delivered.signed.json");
    let event: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(event["signature"]["signature"], v["signature"]);
    let delivered = post("mailgun", body).json();
    let id = hooks.accepts(delivered.clone(), Some("delivered")).await;
    // A retry carries the same event-data.id.
    hooks.duplicate(delivered, &id).await;
}

/// mailgun-php's good and bad vectors, in a webhook body, at their time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mailgun_php_vectors_are_judged_as_the_fixture_says() {
    let vectors = vectors("mailgun");
    let key = vectors[0]["signing_key"].as_str().unwrap();
    let now: i64 = vectors[0]["timestamp"].as_str().unwrap().parse().unwrap();
    let router = start_at(now, &wiring(key)).await;
    let hooks = Hooks::new(&router);
    for (i, v) in vectors
        .iter()
        .enumerate()
        .filter(|(_, v)| v["signing_key"] == key)
    {
        let body = json!({
            "signature": {
                "timestamp": v["timestamp"],
                "token": v["token"],
                "signature": v["signature"],
            },
            "event-data": { "event": "opened", "id": format!("mailgun-php-{i}"), "timestamp": now },
        });
        if v["valid"] == true {
            hooks.accepts(webhook(&body), Some("opened")).await;
        } else {
            hooks.refuses(webhook(&body), &format!("vector {i}")).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_forged_mailgun_events_are_refused_and_nothing_is_stored() {
    let now = 1_534_108_637;
    let router = start_at(now, &wiring(KEY)).await;
    let hooks = Hooks::new(&router);
    let real: Value = fixture_json("mailgun/anymail.delivered.signed.json");
    let with = |signature: Value| {
        let mut body = real.clone();
        body["signature"] = signature;
        body
    };
    let token = real["signature"]["token"].as_str().unwrap();
    let timestamp = real["signature"]["timestamp"].as_str().unwrap();

    let mut other_token = with(real["signature"].clone());
    other_token["signature"]["token"] =
        json!(String::from_utf8(tampered(token.as_bytes())).unwrap());
    hooks.refuses(webhook(&other_token), "tampered token").await;
    let mut other_time = with(real["signature"].clone());
    other_time["signature"]["timestamp"] = json!((now + 1).to_string());
    hooks
        .refuses(webhook(&other_time), "tampered timestamp")
        .await;
    hooks
        .refuses(
            webhook(&with(signature("OTHER_SIGNING_KEY", timestamp, token))),
            "wrong key",
        )
        .await;
    for sent in [now - 301, now + 301] {
        let stale = hooks
            .refuses(
                webhook(&with(signature(KEY, &sent.to_string(), token))),
                &format!("timestamp now {:+}", sent - now),
            )
            .await;
        assert!(stale.contains("300 seconds"), "{stale}");
    }
    let mut unsigned = real.clone();
    unsigned.as_object_mut().unwrap().remove("signature");
    let missing = hooks
        .refuses(webhook(&unsigned), "no signature object")
        .await;
    assert!(missing.contains("signature"), "{missing}");
    hooks
        .refuses_with(
            post("mailgun", "timestamp=1&token=2&signature=3").form(),
            400,
            "a form body",
        )
        .await;

    // Signed again at the edge of the tolerance, it passes.
    hooks
        .accepts(
            webhook(&with(signature(KEY, &(now - 300).to_string(), token))),
            Some("delivered"),
        )
        .await;
}

/// Mailgun signs only `timestamp` and `token`, so a captured signature object could carry any
/// event data: a token already taken is answered as a duplicate, whatever the event data
/// around it and whatever the source's `dedup`, and still after a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_captured_signature_is_taken_once() {
    let now = 1_534_108_637;
    let wiring = format!(
        "{}[sources.keep_all]\ndedup = false\nverify = {{ scheme = \"mailgun\", signing_key = {KEY:?} }}\n",
        wiring(KEY)
    );
    let mut router = start_at(now, &wiring).await;
    let hooks = Hooks::new(&router);
    let real: Value = fixture_json("mailgun/anymail.delivered.signed.json");
    let first = hooks.accepts(webhook(&real), Some("delivered")).await;
    let mut forged = real.clone();
    forged["event-data"]["id"] = json!("forged-event-1");
    forged["event-data"]["event"] = json!("failed");
    hooks.duplicate(webhook(&forged), &first).await;

    let to_keep_all = webhook(&real).to("keep_all");
    let kept = hooks.accepts(to_keep_all.clone(), Some("delivered")).await;
    hooks.duplicate(to_keep_all.clone(), &kept).await;
    router.restart().await;
    Hooks::new(&router).duplicate(to_keep_all, &kept).await;
}
