//! Plugins and routes.toml change under a running router: no request is refused, the new
//! version takes over, and a broken change leaves the last good one serving.

use std::fs;

use crate::common::load::Load;
use crate::common::plugins::{copy, replace_atomically};
use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_replaced_under_load_answers_every_request_then_serves_the_new_version() {
    let plugins = plugins();
    let work = tempfile::tempdir().unwrap();
    let transform = copy(&plugins.github_to_slack, work.path(), "transform.wasm");
    let ci = Subscriber::ok().await;
    let router = Router::start(&github_to(&transform, &ci)).await;
    assert_eq!(router.plugin("transform").await["version"], 1);
    let slack_shaped = |bodies: &[Value]| bodies.len() == 1 && bodies[0]["text"].is_string();
    let split_shaped = |bodies: &[Value]| {
        bodies.len() == 2 && bodies.iter().all(|b| b["commit"]["id"].is_string())
    };
    assert!(slack_shaped(&push_bodies(&router, &ci).await));

    let load = Load::start(router.ingest(), 4);
    load.wait_for_more(25).await;
    // A deploy tool: write beside, rename over.
    replace_atomically(&transform, &fs::read(&plugins.split_commits).unwrap());
    router
        .wait_plugin("transform", "version 2", |p| p["version"] == 2)
        .await;
    load.wait_for_more(25).await;
    let after_rename = push_bodies(&router, &ci).await;
    assert!(
        split_shaped(&after_rename),
        "the new version splits commits: {after_rename:?}"
    );

    // A plain copy over the file in place.
    fs::write(&transform, fs::read(&plugins.github_to_slack).unwrap()).unwrap();
    router
        .wait_plugin("transform", "version 3", |p| p["version"] == 3)
        .await;
    load.wait_for_more(25).await;
    let answers = load.stop().await;
    let after_overwrite = push_bodies(&router, &ci).await;
    assert!(
        slack_shaped(&after_overwrite),
        "back to Slack messages: {after_overwrite:?}"
    );

    let refused: Vec<_> = answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::ACCEPTED)
        .collect();
    assert!(
        refused.is_empty(),
        "{} of {} requests not accepted during the swaps: {refused:?}",
        refused.len(),
        answers.len()
    );
    wait_until(
        "every event accepted under load is processed",
        2 * WAIT,
        async || {
            router
                .admin_get("/api/events?status=received&limit=1000")
                .await["events"]
                == json!([])
        },
    )
    .await;
    assert_eq!(
        router.admin_get("/api/messages?status=dead").await["messages"],
        json!([]),
        "no event failed during the swaps"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_plugin_file_keeps_the_last_good_version_serving() {
    let plugins = plugins();
    let work = tempfile::tempdir().unwrap();
    let transform = copy(
        &plugins.github_to_slack,
        work.path(),
        "slack_transform.wasm",
    );
    let ci = Subscriber::ok().await;
    let router = Router::start(&github_to(&transform, &ci)).await;
    assert!(push_bodies(&router, &ci).await[0]["text"].is_string());

    replace_atomically(&transform, b"\0asm\x01\0\0\0 this is not a module");
    let plugin = router
        .wait_plugin("transform", "a last_error", |p| !p["last_error"].is_null())
        .await;
    assert_eq!(
        plugin["version"], 1,
        "the broken file is not a new version: {plugin}"
    );
    assert!(plugin["last_error"]["message"].is_string(), "{plugin}");
    router
        .wait_for_log("an error log line naming the file", WAIT, |l| {
            l.contains("slack_transform.wasm") && l.contains(r#""level":"ERROR""#)
        })
        .await;
    let metrics = router.admin_text("/metrics").await;
    assert!(
        metric_total(&metrics, "wasmhook_plugin_reload_failures_total") > 0.0,
        "no reload failure counted:\n{metrics}"
    );

    let bodies = push_bodies(&router, &ci).await;
    assert!(
        bodies.len() == 1 && bodies[0]["text"].is_string(),
        "the old version still serves: {bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_toml_edits_rewire_the_router_and_a_broken_edit_changes_nothing() {
    let (a, b) = (Subscriber::ok().await, Subscriber::ok().await);
    let wiring = |subscribers: &str, extra: &str| {
        format!(
            "[sources.plain]\n\n[subscribers.a]\nurl = \"{}\"\n\n[subscribers.b]\nurl = \"{}\"\n\n[[routes]]\nname = \"fan\"\nsource = \"plain\"\nsubscribers = [{subscribers}]\n{extra}\n",
            a.url(),
            b.url()
        )
    };
    let router = Router::start(&wiring("\"a\"", "")).await;
    let send = async |n: u32| {
        router
            .wait_settled(&accepted(
                router
                    .post_hook("plain", json!({ "n": n }).to_string(), &[])
                    .await,
            ))
            .await
    };
    assert_eq!(messages(&send(1).await).len(), 1);

    router.write_routes(&wiring("\"a\", \"b\"", ""));
    wait_until("the route to list both subscribers", WAIT, async || {
        router.admin_get("/api/routes").await["routes"][0]["subscribers"] == json!(["a", "b"])
    })
    .await;
    assert_eq!(messages(&send(2).await).len(), 2);
    b.wait_for_requests(1, WAIT).await;

    let broken = router.write_routes(&wiring("\"a\", \"b\"", "bogus = true"));
    let line = broken.lines().position(|l| l.starts_with("bogus")).unwrap() + 1;
    let at = format!("routes.toml:{line}:");
    router
        .wait_for_log(&format!("an error at {at}"), WAIT, |l| {
            l.contains(&at) && l.contains(r#""level":"ERROR""#)
        })
        .await;
    let event = send(3).await;
    assert_eq!(
        messages(&event).len(),
        2,
        "the old wiring still serves: {event}"
    );
    assert_eq!(
        b.wait_for_requests(2, WAIT).await[1].json(),
        json!({ "n": 3 })
    );
    assert_eq!(a.received().len(), 3);

    // What an editor that rewrites the file in place leaves for a moment: not a wiring.
    std::fs::write(router.config_path(), "").unwrap();
    router
        .wait_for_log("an error for the empty file", WAIT, |l| {
            l.contains("the file is empty") && l.contains(r#""level":"ERROR""#)
        })
        .await;
    let event = send(4).await;
    assert_eq!(messages(&event).len(), 2, "still the old wiring: {event}");
    assert_eq!(
        b.wait_for_requests(3, WAIT).await[2].json(),
        json!({ "n": 4 })
    );
}
