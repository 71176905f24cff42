//! Running wasmhook as a service: SIGHUP reloads, systemd hears when it is ready, reloading
//! and stopping (`NOTIFY_SOCKET`), and `wasmhook health` answers a container's health check.

use std::time::Duration;

use tokio::net::UnixDatagram;

use crate::common::plugins::copy;
use crate::common::*;

/// The JSON log line of `router` whose message is `message`, once it is there.
async fn logged(router: &Router, message: &str) -> Value {
    let field = format!(r#""message":{message:?}"#);
    let line = router
        .wait_for_log(message, WAIT, |line| line.contains(&field))
        .await;
    serde_json::from_str::<Value>(&line).unwrap()["fields"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_a_plugin_changed_where_the_file_watch_cannot_see_it() {
    let plugins = plugins();
    let work = tempfile::tempdir().unwrap();
    let watched = work.path().join("plugins");
    std::fs::create_dir(&watched).unwrap();
    let transform = copy(&plugins.github_to_slack, &watched, "transform.wasm");
    // The same file under a second name in a folder nobody watches: a write through it changes
    // the plugin without an event in `plugins/`, as on a network file system.
    let unwatched = work.path().join("elsewhere");
    std::fs::create_dir(&unwatched).unwrap();
    std::fs::hard_link(&transform, unwatched.join("transform.wasm")).unwrap();
    let ci = Subscriber::ok().await;
    let router = Router::start(&github_to(&transform, &ci)).await;

    router.signal("HUP");
    logged(&router, "SIGHUP: nothing changed").await;

    let split_commits = std::fs::read(&plugins.split_commits).unwrap();
    std::fs::write(unwatched.join("transform.wasm"), &split_commits).unwrap();
    assert_eq!(std::fs::read(&transform).unwrap(), split_commits);
    router.signal("HUP");
    let reloaded = logged(&router, "SIGHUP: reloaded").await;
    assert!(
        reloaded["changes"].as_str().unwrap().contains("transform"),
        "{reloaded}"
    );
    assert_eq!(router.plugin("transform").await["version"], 2);
    let bodies = push_bodies(&router, &ci).await;
    assert!(
        bodies.len() == 2 && bodies.iter().all(|b| b["commit"]["id"].is_string()),
        "the new version splits commits: {bodies:?}"
    );
    assert!(router.is_running());
}

/// The next datagram on `socket`: one notification to the service manager.
async fn next_notification(socket: &UnixDatagram) -> String {
    let mut buffer = vec![0; 4096];
    let read = tokio::time::timeout(WAIT, socket.recv(&mut buffer))
        .await
        .expect("a notification on NOTIFY_SOCKET")
        .unwrap();
    let text = String::from_utf8(buffer[..read].to_vec()).unwrap();
    text.trim_end().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systemd_hears_ready_reloading_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    let ci = Subscriber::ok().await;
    let notify_socket = path.to_str().unwrap();
    let mut router = Router::start_with_env(
        &[("NOTIFY_SOCKET", notify_socket)],
        &plain_route(&[("ci", &ci, "")]),
    )
    .await;

    let ready = next_notification(&socket).await;
    assert_eq!(ready.lines().next(), Some("READY=1"), "{ready}");
    assert!(ready.contains("STATUS=serving 1 routes"), "{ready}");
    // Ready means ready: events are taken.
    accepted(router.post_hook("plain", "{}", JSON).await);

    router.signal("HUP");
    let reloading = next_notification(&socket).await;
    let lines: Vec<&str> = reloading.lines().collect();
    assert_eq!(lines[0], "RELOADING=1", "{reloading}");
    let usec = lines[1].strip_prefix("MONOTONIC_USEC=").expect(&reloading);
    assert!(
        usec.parse::<u64>().is_ok_and(|usec| usec > 0),
        "{reloading}"
    );
    assert_eq!(next_notification(&socket).await, "READY=1");

    router.terminate();
    assert_eq!(next_notification(&socket).await, "STOPPING=1");
    let status = router.wait_exit(WAIT).await;
    assert_eq!(status.code(), Some(0), "exit status {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_exits_0_for_a_ready_router_and_1_when_none_answers() {
    let ci = Subscriber::ok().await;
    let router = Router::start(&plain_route(&[("ci", &ci, "")])).await;
    let url = format!("{}/readyz", router.ingest_url());
    let ready = run_cli(&["health", "--url", &url]).await;
    assert_eq!(ready.status.code(), Some(0), "{}", printed(&ready));
    let stdout = String::from_utf8_lossy(&ready.stdout);
    let (status, body) = stdout.trim().split_once(' ').expect(&stdout);
    assert_eq!(status, "200");
    assert_eq!(
        serde_json::from_str::<Value>(body).unwrap()["status"],
        "ready"
    );

    let url = format!("http://127.0.0.1:{}/readyz", free_port());
    let down = tokio::time::timeout(Duration::from_secs(30), run_cli(&["health", "--url", &url]))
        .await
        .expect("health gives up within its timeout");
    assert_eq!(down.status.code(), Some(1), "{}", printed(&down));
    assert!(printed(&down).contains(&url), "{}", printed(&down));
}
