//! A plugin file that does not load: reported once per change, never in a loop, and never a
//! reason for the router to stop serving, not even across a restart.

use std::fs;
use std::time::Duration;

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

/// A github source with one route through `transform` to `subscriber`.
fn github_to(transform: &std::path::Path, subscriber: &Subscriber) -> String {
    format!(
        "{}\n[plugins.transform]\nwasm = {transform:?}\n\n[subscribers.ci]\nurl = \"{}\"\n\n[[routes]]\nname = \"chat\"\nsource = \"github\"\ntransforms = [\"transform\"]\nsubscribers = [\"ci\"]\n",
        github_source("github"),
        subscriber.url()
    )
}

async fn push_bodies(router: &Router, subscriber: &Subscriber) -> Vec<Value> {
    let id = accepted(router.github_push(GITHUB_SECRET, &push_to("main", 2)).await);
    delivered_bodies(router, subscriber, &id).await
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
