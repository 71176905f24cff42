//! OpenStack Aodh alarm notifications and Zaqar queue notifications are not signed: with
//! `secret`, a request carries it as `?secret=` or in `x-openstack-secret`. The type is
//! `alarm.<current state>` for Aodh and the message body's `event` for Zaqar; Aodh's retries keep
//! `x-openstack-request-id`. There is no timestamp to check. Zaqar's subscription confirmation
//! is answered and not stored.

use serde_json::json;

use crate::common::providers::*;
use crate::common::{Subscriber, WAIT};

const WIRING: &str = "[sources.alarms]\nverify = { scheme = \"openstack\", secret = \"s3cret\" }\n\
                      [sources.queue]\nverify = { scheme = \"openstack\" }\n";

/// The Aodh REST notifier's POST: the fixture's body and headers (its `note` is not one).
fn aodh(path: &str) -> Hook {
    let mut hook = post(path, fixture("openstack/aodh.rest-notifier.body.json"));
    let headers = fixture_json("openstack/aodh.rest-notifier.headers.json");
    for (name, value) in headers.as_object().unwrap() {
        if name != "note" {
            hook = hook.header(name, value.as_str().unwrap());
        }
    }
    hook
}

/// Each Zaqar notification as Zaqar POSTs it: one JSON message per request.
fn zaqar_messages() -> Vec<Vec<u8>> {
    let all = fixture_json("openstack/zaqar.webhook-notifications.json");
    all.as_array()
        .unwrap()
        .iter()
        .map(|m| serde_json::to_vec(m).unwrap())
        .collect()
}

/// A Zaqar `SubscriptionConfirmation` (with `require_confirmation`), its signed URL pointing at
/// `confirm_url`, as Zaqar's notifier builds it, with the fixture's signed-URL vector.
fn confirmation(confirm_url: &str) -> Vec<u8> {
    let v = &fixture_json("openstack/vectors.json")["zaqar_signed_url"]["vectors"][0];
    serde_json::to_vec(&json!({
        "WSGISubscribeURL": confirm_url,
        "SubscribeBody": {"confirmed": true},
        "UnsubscribeBody": {"confirmed": false},
        "Message_Type": "SubscriptionConfirmation",
        "Message": "You have chosen to subscribe to the queue: shared",
        "URL-Signature": v["signature"],
        "URL-Methods": "PUT",
        "URL-Paths": v["paths"][0],
        "X-Project-ID": v["project"],
        "URL-Expires": v["expires"],
        "queue_name": "shared",
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aodh_and_zaqar_notifications_are_stored_with_their_type() {
    let router = Router::start(WIRING).await;
    let hooks = Hooks::new(&router);

    let id = hooks
        .accepts(aodh("alarms?secret=s3cret"), Some("alarm.alarm"))
        .await;
    // The REST notifier retries with the same x-openstack-request-id.
    hooks.duplicate(aodh("alarms?secret=s3cret"), &id).await;
    hooks
        .accepts(
            aodh("queue").header("x-openstack-request-id", "req-4f0c2b8e"),
            Some("alarm.alarm"),
        )
        .await;

    for (body, expected) in zaqar_messages()
        .into_iter()
        .zip(["BackupStarted", "BackupProgress"])
    {
        hooks
            .accepts(
                post("alarms", body.clone())
                    .json()
                    .header("x-openstack-secret", "s3cret"),
                Some(expected),
            )
            .await;
        hooks
            .accepts(post("queue", body).json(), Some(expected))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zaqar_subscription_confirmation_is_answered_and_not_stored() {
    let router = Router::start(WIRING).await;
    let hooks = Hooks::new(&router);
    let body = confirmation(
        "https://zaqar.example.com:8888/v2/queues/shared/subscriptions/576256b03990b480617b4063/confirm",
    );
    // Without a secret the URL a request names is not called: answered, not confirmed.
    hooks
        .answers(post("queue", body.clone()).json(), 200, b"")
        .await;
    let mut unsubscribed: Value = serde_json::from_slice(&body).unwrap();
    unsubscribed["Message_Type"] = json!("UnsubscribeConfirmation");
    hooks
        .answers(
            post("queue", serde_json::to_vec(&unsubscribed).unwrap()).json(),
            200,
            b"",
        )
        .await;
    hooks
        .refuses(
            post("alarms", body).json(),
            "a confirmation without the secret",
        )
        .await;
}

/// Zaqar waits for the subscriber to confirm: `PUT {"confirmed": true}` to `WSGISubscribeURL`
/// with the signed-URL headers the message carries. docs/configuration.md says wasmhook
/// confirms it; the router answers 200 but never makes that call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zaqar_subscription_confirmation_is_confirmed() {
    let zaqar = Subscriber::ok().await;
    let router = Router::start(WIRING).await;
    let hooks = Hooks::new(&router);
    let confirm_url = format!(
        "{}/v2/queues/shared/subscriptions/576256b03990b480617b4063/confirm",
        zaqar.url().trim_end_matches("/hook")
    );
    hooks
        .answers(
            post("alarms?secret=s3cret", confirmation(&confirm_url)).json(),
            200,
            b"",
        )
        .await;
    let put = zaqar.wait_for_requests(1, WAIT).await.remove(0);
    assert_eq!(put.method, "PUT");
    assert_eq!(put.json(), json!({"confirmed": true}));
    let v = &fixture_json("openstack/vectors.json")["zaqar_signed_url"]["vectors"][0];
    assert_eq!(put.header("url-signature"), v["signature"].as_str());
    assert_eq!(put.header("url-methods"), Some("PUT"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_without_the_secret_are_refused_and_nothing_is_stored() {
    let router = Router::start(WIRING).await;
    let hooks = Hooks::new(&router);
    let missing = hooks.refuses(aodh("alarms"), "no secret").await;
    assert!(missing.contains("secret"), "{missing}");
    hooks
        .refuses(aodh("alarms?secret=s3cret2"), "wrong secret in the query")
        .await;
    hooks
        .refuses(
            aodh("alarms").header("x-openstack-secret", "S3CRET"),
            "wrong secret in the header",
        )
        .await;
    let zaqar = zaqar_messages().remove(0);
    hooks
        .refuses(post("alarms?secret=", zaqar).json(), "an empty secret")
        .await;
}
