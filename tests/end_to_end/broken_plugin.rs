//! A plugin file that does not load: reported once per change, never in a loop, and never a
//! reason for the router to stop serving, not even across a restart.

use std::fs;
use std::time::{Duration, Instant};

use crate::common::plugins::{copy, replace_atomically};
use crate::common::process::cpu_time;
use crate::common::*;

/// How long a broken file is watched sitting there, to see that nothing more happens.
const QUIET: Duration = Duration::from_secs(3);

/// Lines of the router's log reporting a failed load of a plugin.
fn load_failures_logged(router: &Router) -> usize {
    router
        .logs()
        .iter()
        .filter(|line| line.contains("plugin reload failed"))
        .count()
}

async fn load_failures_counted(router: &Router) -> f64 {
    metric_total(
        &router.admin_text("/metrics").await,
        "wasmhook_plugin_reload_failures_total",
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_plugin_file_is_reported_once_per_change_and_costs_no_cpu() {
    let plugins = plugins();
    let work = tempfile::tempdir().unwrap();
    let transform = copy(&plugins.github_to_slack, work.path(), "transform.wasm");
    let ci = Subscriber::ok().await;
    let router = Router::start(&github_to(&transform, &ci)).await;
    assert!(push_bodies(&router, &ci).await[0]["text"].is_string());

    let cpu_before = cpu_time(router.pid());
    replace_atomically(&transform, b"\0asm\x01\0\0\0 this is not a module");
    wait_until("the broken file to be reported", WAIT, async || {
        load_failures_counted(&router).await >= 1.0
    })
    .await;
    // Another file changing beside it reloads, which meets the same broken file: no news.
    fs::write(work.path().join("notes.txt"), "deployed by hand").unwrap();
    // Nothing to wait for: what is checked is that nothing more happens.
    tokio::time::sleep(QUIET).await;
    let cpu = cpu_time(router.pid()) - cpu_before;
    eprintln!("CPU used while the broken file sat there for {QUIET:?}: {cpu:?}");
    assert_eq!(load_failures_counted(&router).await, 1.0);
    assert_eq!(load_failures_logged(&router), 1, "one log line per change");
    assert!(
        cpu < Duration::from_millis(100),
        "the router used {cpu:?} of CPU in {QUIET:?} with a broken plugin file"
    );

    // Another broken version, written in place: reported once more.
    fs::write(&transform, b"\0asm\x01\0\0\0 still not a module").unwrap();
    wait_until("the second broken file to be reported", WAIT, async || {
        load_failures_counted(&router).await >= 2.0
    })
    .await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(load_failures_counted(&router).await, 2.0);
    assert_eq!(load_failures_logged(&router), 2);
    let plugin = router.plugin("transform").await;
    assert_eq!(plugin["version"], 1, "still the first version: {plugin}");
    assert!(plugin["last_error"]["message"].is_string(), "{plugin}");

    // A good file swaps in.
    replace_atomically(&transform, &fs::read(&plugins.split_commits).unwrap());
    let plugin = router
        .wait_plugin("transform", "version 2", |p| p["version"] == 2)
        .await;
    assert!(plugin["last_error"].is_null(), "error cleared: {plugin}");
    let bodies = push_bodies(&router, &ci).await;
    assert!(
        bodies.len() == 2 && bodies.iter().all(|b| b["commit"]["id"].is_string()),
        "the new version splits commits: {bodies:?}"
    );
}

/// A github source with two routes: `chat` through `transform` to `ci`, and `archive`, without
/// plugins, to `archive`.
fn chat_and_archive(transform: &std::path::Path, ci: &Subscriber, archive: &Subscriber) -> String {
    format!(
        "{}\n[plugins.transform]\nwasm = {transform:?}\n\n{}{}\n[[routes]]\nname = \"chat\"\nsource = \"github\"\ntransforms = [\"transform\"]\nsubscribers = [\"ci\"]\n\n[[routes]]\nname = \"archive\"\nsource = \"github\"\nsubscribers = [\"archive\"]\n",
        github_source("github"),
        subscriber_table("ci", ci, ""),
        subscriber_table("archive", archive, ""),
    )
}

fn sha256_of(path: &std::path::Path) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(fs::read(path).unwrap()))
}

/// `GET /readyz` on the ingest listener: its status and JSON answer.
async fn readyz(router: &Router) -> (StatusCode, Value) {
    let response = reqwest::get(format!("{}/readyz", router.ingest_url()))
        .await
        .unwrap();
    let status = response.status();
    let body = response.bytes().await.unwrap();
    (status, serde_json::from_slice(&body).unwrap())
}

/// `wasmhook check` on the router's routes.toml.
async fn check(router: &Router) -> std::process::Output {
    run_cli(&["check", "-c", router.config_path().to_str().unwrap()]).await
}

/// Waits until the event is settled with every message delivered, and returns the bodies
/// `ci` received for those of the `chat` route.
async fn chat_bodies(router: &Router, ci: &Subscriber, event_id: &str) -> Vec<Value> {
    let event = router.wait_settled(event_id).await;
    let mut bodies = Vec::new();
    for message in messages(&event).iter().filter(|m| m["route"] == "chat") {
        assert_eq!(message["status"], "delivered", "{event}");
        let id = message["id"].as_str().expect("message id");
        bodies.push(ci.wait_for_webhook_id(id).await.json());
    }
    bodies
}

/// Posts a push and waits until the `archive` route delivered it; returns the event id. Prints
/// how long that took, `while` what.
async fn push_archived(router: &Router, archive: &Subscriber, while_: &str) -> String {
    let posted = Instant::now();
    let id = accepted(router.github_push(GITHUB_SECRET, &push_to("main", 2)).await);
    let event = router
        .wait_event(&id, "the archive route to deliver", |event| {
            event["status"] == "processed"
                && messages(event)
                    .iter()
                    .any(|m| m["route"] == "archive" && m["status"] == "delivered")
        })
        .await;
    let archived = message_on(&event, "archive")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let arrived = archive.wait_for_webhook_id(&archived).await.at;
    eprintln!(
        "the archive route delivered {:?} after the post, {while_}",
        arrived - posted
    );
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_with_a_broken_plugin_file_serves_its_last_good_version() {
    let plugins = plugins();
    let work = tempfile::tempdir().unwrap();
    let transform = copy(&plugins.github_to_slack, work.path(), "transform.wasm");
    let good_sha = sha256_of(&transform);
    let (ci, archive) = (Subscriber::ok().await, Subscriber::ok().await);
    let mut router = Router::start(&chat_and_archive(&transform, &ci, &archive)).await;
    let id = push_archived(&router, &archive, "with every plugin loaded").await;
    router.wait_settled(&id).await;

    replace_atomically(&transform, b"\0asm\x01\0\0\0 a deploy gone wrong");
    wait_until("the broken file to be reported", WAIT, async || {
        load_failures_counted(&router).await >= 1.0
    })
    .await;
    router.kill();
    router.restart().await;

    let id = push_archived(&router, &archive, "after a restart on the broken file").await;
    let bodies = chat_bodies(&router, &ci, &id).await;
    assert!(
        bodies.iter().any(|b| b["text"].is_string()),
        "the chat route runs the last good version: {bodies:?}"
    );
    let plugin = router.plugin("transform").await;
    assert_eq!(plugin["state"], "last-good", "{plugin}");
    assert_eq!(plugin["sha256"], good_sha.as_str(), "{plugin}");
    assert!(plugin["last_error"]["message"].is_string(), "{plugin}");
    let (status, ready) = readyz(&router).await;
    assert_eq!(status, StatusCode::OK, "events are taken: {ready}");
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["plugins"][0]["name"], "transform", "{ready}");
    assert_eq!(ready["plugins"][0]["state"], "last-good", "{ready}");
    let metrics = router.admin_text("/metrics").await;
    assert_eq!(metric_total(&metrics, "wasmhook_plugin_broken"), 1.0);
    assert_eq!(metric_total(&metrics, "wasmhook_plugin_held"), 0.0);
    router
        .wait_for_log(
            "an error naming the file and the last good version",
            WAIT,
            |l| l.contains("transform.wasm") && l.contains("the last good version"),
        )
        .await;
    let checked = check(&router).await;
    assert_eq!(
        checked.status.code(),
        Some(1),
        "check stays strict: {checked:?}"
    );

    // A good file swaps in and clears it all.
    replace_atomically(&transform, &fs::read(&plugins.split_commits).unwrap());
    let plugin = router
        .wait_plugin("transform", "the new file loaded", |p| {
            p["state"] == "loaded"
        })
        .await;
    assert_eq!(plugin["sha256"], sha256_of(&transform).as_str());
    assert_eq!(readyz(&router).await.1, json!({ "status": "ready" }));
    let id = push_archived(&router, &archive, "with the new file").await;
    let bodies = chat_bodies(&router, &ci, &id).await;
    assert!(
        bodies
            .iter()
            .filter(|b| b["commit"]["id"].is_string())
            .count()
            == 2,
        "the new version splits commits: {bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_that_never_loaded_holds_its_routes_events_until_it_does() {
    let plugins = plugins();
    let work = tempfile::tempdir().unwrap();
    let transform = work.path().join("transform.wasm");
    fs::write(&transform, b"\0asm\x01\0\0\0 never a module").unwrap();
    let (ci, archive) = (Subscriber::ok().await, Subscriber::ok().await);
    let mut router = Router::start(&chat_and_archive(&transform, &ci, &archive)).await;

    let held = push_archived(&router, &archive, "while the chat route holds").await;
    let event = router.event(&held).await;
    let chat = message_on(&event, "chat");
    assert_eq!(chat["status"], "held", "{event}");
    assert!(
        chat["error"].as_str().unwrap().contains("transform"),
        "{chat}"
    );
    let plugin = router.plugin("transform").await;
    assert_eq!(plugin["state"], "held", "{plugin}");
    assert!(plugin["sha256"].is_null(), "{plugin}");
    assert!(plugin["last_error"]["message"].is_string(), "{plugin}");
    let (status, ready) = readyz(&router).await;
    assert_eq!(status, StatusCode::OK, "events are taken: {ready}");
    assert_eq!(ready["plugins"][0]["state"], "held", "{ready}");
    let metrics = router.admin_text("/metrics").await;
    assert_eq!(metric_total(&metrics, "wasmhook_plugin_held"), 1.0);
    assert_eq!(check(&router).await.status.code(), Some(1));

    // Held durably: a kill -9 and a restart with the file still broken change nothing.
    router.kill();
    router.restart().await;
    let also_held = push_archived(&router, &archive, "after a restart, still holding").await;
    for id in [&held, &also_held] {
        let event = router.event(id).await;
        assert_eq!(message_on(&event, "chat")["status"], "held", "{event}");
    }
    assert_eq!(ci.count(), 0, "nothing reached the chat subscriber");

    // A good file: the held events go through the route.
    let written = Instant::now();
    replace_atomically(&transform, &fs::read(&plugins.github_to_slack).unwrap());
    for id in [&held, &also_held] {
        let bodies = chat_bodies(&router, &ci, id).await;
        let event = router.event(id).await;
        assert_eq!(message_on(&event, "chat")["status"], "delivered", "{event}");
        assert!(bodies.iter().any(|b| b["text"].is_string()), "{bodies:?}");
    }
    let last = ci.received().iter().map(|r| r.at).max().unwrap();
    eprintln!(
        "the held events were delivered {:?} after a good file was written",
        last - written
    );
    assert_eq!(ci.count(), 2, "each held event delivered once");
    assert_eq!(readyz(&router).await.1, json!({ "status": "ready" }));
    assert_eq!(router.plugin("transform").await["state"], "loaded");
    let metrics = router.admin_text("/metrics").await;
    assert_eq!(metric_total(&metrics, "wasmhook_plugin_held"), 0.0);
    assert_eq!(
        metric_total(&metrics, "wasmhook_events_released_total"),
        2.0
    );
}
