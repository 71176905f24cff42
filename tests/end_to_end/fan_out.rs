//! One event, many deliveries: several subscribers, and a plugin that splits an event.

use std::collections::BTreeSet;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transformed_event_reaches_every_subscriber_of_the_route() {
    let plugins = plugins();
    let (alerts, audit) = (Subscriber::ok().await, Subscriber::ok().await);
    let router = Router::start(&format!(
        r#"{github}
[plugins.to-slack]
wasm = {to_slack:?}

[subscribers.alerts]
url = "{alerts}"

[subscribers.audit]
url = "{audit}"

[[routes]]
source = "github"
transforms = ["to-slack"]
subscribers = ["alerts", "audit"]
"#,
        github = github_source("github"),
        to_slack = plugins.github_to_slack,
        alerts = alerts.url(),
        audit = audit.url(),
    ))
    .await;

    let id = accepted(router.github_push(GITHUB_SECRET, &push_to("main", 2)).await);
    let a = alerts.wait_for_requests(1, WAIT).await.remove(0);
    let b = audit.wait_for_requests(1, WAIT).await.remove(0);
    assert!(
        a.json()["text"].is_string(),
        "not a Slack message: {}",
        a.json()
    );
    assert_eq!(a.body, b.body, "both subscribers get the same message");
    assert_ne!(
        a.webhook_id(),
        b.webhook_id(),
        "webhook-id is per subscriber"
    );

    let event = router.wait_settled(&id).await;
    let delivered: BTreeSet<_> = messages(&event)
        .iter()
        .map(|m| {
            (
                m["subscriber"].as_str().unwrap(),
                m["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        delivered,
        BTreeSet::from([("alerts", "delivered"), ("audit", "delivered")])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_plugin_splits_a_push_into_one_message_per_commit() {
    const COMMITS: usize = 3;
    let plugins = plugins();
    let ci = Subscriber::ok().await;
    let router = Router::start(&format!(
        r#"{github}
[plugins.split]
wasm = {split:?}

[subscribers.ci]
url = "{url}"

[[routes]]
source = "github"
transforms = ["split"]
subscribers = ["ci"]
"#,
        github = github_source("github"),
        split = plugins.split_commits,
        url = ci.url(),
    ))
    .await;

    let id = accepted(
        router
            .github_push(GITHUB_SECRET, &push_to("main", COMMITS))
            .await,
    );
    let got = ci.wait_for_requests(COMMITS, WAIT).await;
    let event = router.wait_settled(&id).await;
    assert_eq!(messages(&event).len(), COMMITS, "{event}");
    assert_eq!(ci.received().len(), COMMITS, "one delivery per commit");

    let expected: BTreeSet<String> = (0..COMMITS).map(commit_id).collect();
    let mut seen = BTreeSet::new();
    for request in &got {
        let body = request.json();
        let header = request
            .header("x-commit-id")
            .unwrap_or_else(|| panic!("no x-commit-id: {:?}", request.headers));
        assert_eq!(
            body["commit"]["id"], header,
            "the header names the body's commit"
        );
        assert_eq!(body["ref"], "refs/heads/main");
        assert!(
            body["repository"].is_string() || body["repository"].is_object(),
            "no repository: {body}"
        );
        seen.insert(header.to_owned());
    }
    assert_eq!(seen, expected);
    assert_eq!(
        got.iter()
            .map(Received::webhook_id)
            .collect::<BTreeSet<_>>()
            .len(),
        COMMITS,
        "distinct webhook-ids"
    );
}
