//! `wasmhook serve --watch`, the plugin author's dev loop: a change to a watched file runs the
//! plugin's `build` command, and hot reload swaps in what it wrote; a failing build is logged
//! and the last good version keeps serving.

use std::fs;
use std::path::Path;

use crate::common::plugins::copy;
use crate::common::*;

/// A `transform` plugin in the router's folder, rebuilt by `build` when `variant.wasm`
/// changes.
fn wiring(build: &str, subscriber: &Subscriber) -> String {
    format!(
        "{}\n[plugins.transform]\nwasm = \"plugin.wasm\"\nbuild = {build:?}\nwatch = [\"variant.wasm\"]\n\n[subscribers.ci]\nurl = \"{}\"\n\n[[routes]]\nsource = \"github\"\ntransforms = [\"transform\"]\nsubscribers = [\"ci\"]\n",
        github_source("github"),
        subscriber.url()
    )
}

/// Starts `serve --watch` with the Slack transform as both `plugin.wasm` and `variant.wasm`.
async fn start(build: &str, subscriber: &Subscriber) -> Router {
    let slack = &plugins().github_to_slack;
    Router::start_with_args(&["--watch"], &wiring(build, subscriber), |dir: &Path| {
        copy(slack, dir, "plugin.wasm");
        copy(slack, dir, "variant.wasm");
    })
    .await
}

fn slack_shaped(bodies: &[Value]) -> bool {
    bodies.len() == 1 && bodies[0]["text"].is_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watched_file_change_runs_the_build_and_the_result_is_hot_reloaded() {
    let ci = Subscriber::ok().await;
    let router = start("cp variant.wasm plugin.wasm", &ci).await;
    assert_eq!(router.plugin("transform").await["version"], 1);
    assert!(slack_shaped(&push_bodies(&router, &ci).await));

    // The author's "compiler" produces another plugin.
    fs::write(
        router.dir().join("variant.wasm"),
        fs::read(&plugins().split_commits).unwrap(),
    )
    .unwrap();
    router
        .wait_for_log("the build to start", WAIT, |l| {
            l.contains("plugin build started") && l.contains(r#""plugin":"transform""#)
        })
        .await;
    router
        .wait_for_log("the build to succeed", WAIT, |l| {
            l.contains("plugin build succeeded") && l.contains("duration_ms")
        })
        .await;
    router
        .wait_plugin("transform", "version 2", |p| p["version"] == 2)
        .await;
    let bodies = push_bodies(&router, &ci).await;
    assert!(
        bodies.len() == 2 && bodies.iter().all(|b| b["commit"]["id"].is_string()),
        "the rebuilt plugin splits commits: {bodies:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_build_is_logged_and_the_old_version_keeps_serving() {
    let ci = Subscriber::ok().await;
    let router = start("echo 'error: expected `;` in lib.rs' >&2; exit 3", &ci).await;
    assert!(slack_shaped(&push_bodies(&router, &ci).await));

    fs::write(
        router.dir().join("variant.wasm"),
        fs::read(&plugins().split_commits).unwrap(),
    )
    .unwrap();
    let line = router
        .wait_for_log("an ERROR line about the failed build", WAIT, |l| {
            l.contains(r#""level":"ERROR""#) && l.contains("plugin build failed")
        })
        .await;
    assert!(line.contains(r#""plugin":"transform""#), "{line}");
    assert!(line.contains("exit status: 3"), "{line}");
    assert!(
        line.contains("expected `;` in lib.rs"),
        "the stderr tail: {line}"
    );

    let plugin = router.plugin("transform").await;
    assert_eq!(plugin["version"], 1, "{plugin}");
    assert!(
        slack_shaped(&push_bodies(&router, &ci).await),
        "the old version keeps serving"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_change_runs_one_build_though_the_build_reads_the_watched_file() {
    let ci = Subscriber::ok().await;
    let router = start("cp variant.wasm plugin.wasm", &ci).await;
    let builds = || {
        router
            .logs()
            .iter()
            .filter(|l| l.contains("plugin build started"))
            .count()
    };

    fs::write(
        router.dir().join("variant.wasm"),
        fs::read(&plugins().split_commits).unwrap(),
    )
    .unwrap();
    router
        .wait_plugin("transform", "version 2", |p| p["version"] == 2)
        .await;
    // Nothing to wait for: what is checked is that no more builds start.
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    assert_eq!(
        builds(),
        1,
        "the build's own reading of variant.wasm is no change"
    );
    assert_eq!(router.plugin("transform").await["version"], 2);
}
