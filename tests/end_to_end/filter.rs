//! A filter drops what the subscriber does not want, and only that.

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_to_other_branches_are_filtered_and_never_delivered() {
    let plugins = plugins();
    let slack = Subscriber::ok().await;
    // push-only without config keeps its default: `main` only.
    let router = Router::start(&format!(
        r#"{github}
[plugins.push-only]
wasm = {push_only:?}

[plugins.to-slack]
wasm = {to_slack:?}

[subscribers.slack]
url = "{url}"

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

    let feature = accepted(
        router
            .github_push(GITHUB_SECRET, &push_to("feature-x", 1))
            .await,
    );
    let ping = fixture("github/ping.payload.json");
    let ping = accepted(
        router
            .ingest()
            .github_event("github", "ping", GITHUB_SECRET, &ping)
            .await,
    );
    for id in [&feature, &ping] {
        let event = router.wait_settled(id).await;
        for message in messages(&event) {
            assert_eq!(message["status"], "filtered", "{event}");
            assert_eq!(
                message["attempts"].as_array().map(Vec::len).unwrap_or(0),
                0,
                "a filtered message was sent: {event}"
            );
        }
    }

    // A push to main, sent after the filtered ones have settled, arrives alone.
    let main = accepted(router.github_push(GITHUB_SECRET, &push_to("main", 1)).await);
    let got = slack.wait_for_requests(1, WAIT).await;
    let event = router.wait_settled(&main).await;
    assert_eq!(messages(&event)[0]["status"], "delivered");
    assert_eq!(
        slack.received().len(),
        1,
        "only the push to main is delivered"
    );
    let text = got[0].json()["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        text.contains("main") && text.contains(&commit_id(0)[..7]),
        "not the push to main: {text}"
    );
}
