//! What a subscriber receives: a GitHub push through a filter and a transform reaches Slack,
//! signed; through a route without plugins, an event's body arrives as it was sent.

use crate::common::signature::{now_unix, verify_standard_webhook};
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_reaches_the_subscriber_as_a_signed_slack_message() {
    let plugins = plugins();
    let slack = Subscriber::ok().await;
    let router = Router::start(&format!(
        r#"{github}
[plugins.push-only]
wasm = {push_only:?}
config = {{ branches = ["master"] }}

[plugins.to-slack]
wasm = {to_slack:?}

[subscribers.slack]
url = "{url}"
secret = "{SUBSCRIBER_SECRET}"
headers = {{ "x-team" = "platform" }}

[[routes]]
source = "github"
filters = ["push-only"]
transforms = ["to-slack"]
subscribers = ["slack"]
"#,
        github = github_source("github"),
        push_only = plugins.push_only,
        to_slack = plugins.github_to_slack,
        url = slack.url(),
    ))
    .await;

    // octokit's example of a push creating `master` with one commit, byte for byte.
    let push = fixture("github/push.with-new-branch.payload.json");
    let id = accepted(router.github_push(GITHUB_SECRET, &push).await);

    let got = slack.wait_for_requests(1, WAIT).await.remove(0);
    assert_eq!(got.method, "POST");
    let text = got.json()["text"]
        .as_str()
        .unwrap_or_else(|| panic!("not a Slack message: {}", got.json()))
        .to_owned();
    for expected in ["Codertocat", "Hello-World", "master", "6113728"] {
        assert!(
            text.contains(expected),
            "Slack text lacks {expected:?}: {text}"
        );
    }
    assert_eq!(got.header("content-type"), Some("application/json"));
    assert_eq!(got.header("x-team"), Some("platform"));
    let sent_at: i64 = got
        .header("webhook-timestamp")
        .expect("webhook-timestamp")
        .parse()
        .unwrap();
    assert!(
        (now_unix() - sent_at).abs() <= 60,
        "webhook-timestamp {sent_at} is not now"
    );
    let agent = got.header("user-agent").unwrap_or_default();
    assert!(agent.starts_with("wasmhook/"), "user-agent {agent:?}");
    verify_standard_webhook(SUBSCRIBER_SECRET, &got.headers, &got.body)
        .expect("the delivery's signature verifies");

    let event = router.wait_settled(&id).await;
    assert_eq!(event["status"], "processed");
    assert_eq!(event["source"], "github");
    assert_eq!(event["type"], "push");
    let [message] = messages(&event) else {
        panic!("expected one message: {event}")
    };
    assert_eq!(message["status"], "delivered");
    assert_eq!(message["subscriber"], "slack");
    assert_eq!(
        message["id"],
        got.webhook_id(),
        "webhook-id is the message id"
    );
    assert_eq!(attempt_statuses(message), [json!(200)]);
}

/// Without plugins, the subscriber gets the provider's JSON exactly as it was sent: its member
/// order, spacing and number forms, not the same JSON written out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_without_plugins_passes_the_json_body_on_byte_for_byte() {
    let ci = Subscriber::ok().await;
    let router = Router::start(&plain_route(&[("ci", &ci, "")])).await;
    let sent = "{\"zeta\": 1,\n  \"alpha\": [1.50, 2e3, \"caf\\u00e9\"] }";
    for headers in [JSON, &[]] {
        accepted(router.post_hook("plain", sent, headers).await);
    }
    for received in ci.wait_for_requests(2, WAIT).await {
        assert_eq!(received.body, sent.as_bytes());
        assert_eq!(received.header("content-type"), Some("application/json"));
    }
}
