//! A sender who means harm: requests built to make one verification cost seconds of CPU, and
//! credentials sent with a request, which must not be shown or handed to plugins.

use crate::common::StatusCode;
use crate::common::process::cpu_time;
use crate::common::providers::*;

/// A body just under the default `max_body` (1 MiB).
const BODY_BYTES: usize = 900 * 1024;
/// How many signatures each hostile header carries: as many as fit in a request head the
/// listener reads (64 KiB), so that it is verification that must bound its work.
const ENTRIES: usize = 900;
/// Signatures that make a head too large for the listener to read at all.
const OVERSIZED_ENTRIES: usize = 4000;
/// The router's clock, so that the hostile headers' timestamps are current.
const NOW: i64 = 1_700_000_000;

/// A JSON body of about [`BODY_BYTES`].
fn big_body() -> Vec<u8> {
    let pad = "a".repeat(BODY_BYTES);
    serde_json::to_vec(&json!({ "id": "evt_hostile", "type": "x", "pad": pad })).unwrap()
}

/// A `Stripe-Signature` with `entries` `v1` signatures, none of them right.
fn stripe_signature(entries: usize) -> String {
    let wrong = format!("v1={}", "ab".repeat(32));
    format!("t={NOW},{}", vec![wrong; entries].join(","))
}

/// A `webhook-signature` with `entries` `v1` signatures, none of them right.
fn standard_webhooks_signature(entries: usize) -> String {
    vec![format!("v1,{}", base64(&[7; 32])); entries].join(" ")
}

const WIRING: &str = "[sources.stripe]\nverify = { scheme = \"stripe\", secret = \"whsec_test\" }\n\
     [sources.sw]\nverify = { scheme = \"standard-webhooks\", secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\" }\n";

/// 20 requests that each carry hundreds of wrong signatures over a body of almost 1 MiB are
/// refused `401`, and together cost the router less than two seconds of CPU: a request costs
/// one signature check per configured secret, whatever its header holds. Thousands of them
/// make a request head the listener does not read: `431`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_signatures_in_one_header_cost_little_cpu() {
    const BOUND: f64 = 2.0;
    let router = start_at(NOW, WIRING).await;
    let hooks = Hooks::new(&router);
    let body = big_body();
    let stripe = |entries| {
        post("stripe", body.clone())
            .json()
            .header("stripe-signature", &stripe_signature(entries))
    };
    let standard = |entries| {
        post("sw", body.clone())
            .json()
            .header("webhook-id", "msg_hostile")
            .header("webhook-timestamp", &NOW.to_string())
            .header("webhook-signature", &standard_webhooks_signature(entries))
    };
    for oversized in [stripe(OVERSIZED_ENTRIES), standard(OVERSIZED_ENTRIES)] {
        let answer = hooks.send(&oversized).await;
        assert_eq!(
            answer.status,
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "{answer}"
        );
    }
    let (stripe, standard) = (stripe(ENTRIES), standard(ENTRIES));

    let before = cpu_time(router.pid()).as_secs_f64();
    for n in 1..=10 {
        for hook in [&stripe, &standard] {
            let answer = hooks.send(hook).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{answer}");
            let used = cpu_time(router.pid()).as_secs_f64() - before;
            assert!(
                used < BOUND,
                "after {n} rounds of hostile requests to /hooks/{} the router has used {used:.2} s \
                 of CPU (bound {BOUND} s for 20 requests)",
                hook.path
            );
        }
    }
    assert_eq!(hooks.stored().await, 0);
}

/// What a credential's value is replaced by where the request is kept.
const REDACTED: &str = "[redacted]";
const SECRET: &str = "s3cr3t-Key_1";

/// Event Grid, OpenStack and MailChimp take a secret in the URL or a header, and any sender may
/// add `Authorization`: the event shown by the admin API (the request plugins get) has each of
/// them replaced by a marker, and keeps the other headers and parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_sent_with_a_request_are_neither_shown_nor_given_to_plugins() {
    let wiring = format!(
        "[sources.grid]\nverify = {{ scheme = \"eventgrid\", secret = {SECRET:?} }}\n\
         [sources.alarms]\nverify = {{ scheme = \"openstack\", secret = {SECRET:?} }}\n\
         [sources.list]\nverify = {{ scheme = \"mailchimp\", secret = {SECRET:?} }}\n\
         [sources.plain]\n"
    );
    let router = Router::start(&wiring).await;
    let hooks = Hooks::new(&router);
    let event = async |hook: Hook, event_type: Option<&str>| {
        let id = hooks.accepts(hook, event_type).await;
        let event = router.event(&id).await;
        let shown = event.to_string();
        assert!(!shown.contains(SECRET), "the secret is shown: {shown}");
        assert!(
            !shown.contains("dXNlcjpwYXNz"),
            "Authorization is shown: {shown}"
        );
        event["request"].clone()
    };
    let grid_event = br#"{"id":"e1","eventType":"Custom.Thing","data":{}}"#;

    let request = event(
        post(
            &format!("grid?code={SECRET}&region=west"),
            grid_event.to_vec(),
        )
        .json()
        .header("aeg-sas-key", SECRET)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .header("aeg-event-type", "Notification"),
        Some("Custom.Thing"),
    )
    .await;
    assert_eq!(
        request["query"],
        json!({ "code": REDACTED, "region": "west" })
    );
    assert_eq!(request["headers"]["aeg-sas-key"], REDACTED);
    assert_eq!(request["headers"]["authorization"], REDACTED);
    assert_eq!(request["headers"]["aeg-event-type"], "Notification");

    let request = event(
        post(&format!("alarms?secret={SECRET}&stack=web"), b"{}".to_vec())
            .json()
            .header("x-openstack-secret", SECRET),
        None,
    )
    .await;
    assert_eq!(
        request["query"],
        json!({ "secret": REDACTED, "stack": "web" })
    );
    assert_eq!(request["headers"]["x-openstack-secret"], REDACTED);

    let subscribe = || Some("subscribe");
    let request = event(
        post(&format!("list/{SECRET}"), "type=subscribe").form(),
        subscribe(),
    )
    .await;
    assert_eq!(request["path"], format!("/hooks/list/{REDACTED}"));
    let request = event(
        post(&format!("list?secret={SECRET}"), "type=subscribe").form(),
        subscribe(),
    )
    .await;
    assert_eq!(request["path"], "/hooks/list");
    assert_eq!(request["query"], json!({ "secret": REDACTED }));

    let request = event(
        post("plain", b"{}".to_vec())
            .json()
            .header("authorization", "Basic dXNlcjpwYXNz")
            .header("x-request-id", "r-1"),
        None,
    )
    .await;
    assert_eq!(request["headers"]["authorization"], REDACTED);
    assert_eq!(request["headers"]["x-request-id"], "r-1");
    assert_eq!(request["headers"]["content-type"], "application/json");
}
