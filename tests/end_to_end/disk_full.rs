//! The disk of the data dir fills up: ingest answers `503` with `Retry-After` and stores
//! nothing half, a delivery whose record cannot be written is not sent again, nothing spins,
//! and once space returns every accepted event is delivered.
//!
//! The data dir is a small tmpfs the test mounts itself, which takes root (as CI runs).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::process::cpu_time;
use crate::common::*;

/// How long the full disk is watched once an answered delivery could not be recorded.
const QUIET: Duration = Duration::from_secs(3);

/// A tmpfs mounted for the test's lifetime, unmounted (lazily, should a process still hold a
/// file in it) when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("running mount");
        assert!(status.success(), "mount -t tmpfs failed: {status}");
        Tmpfs(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn is_root() -> bool {
    let output = Command::new("id")
        .arg("-u")
        .output()
        .expect("running id -u");
    String::from_utf8_lossy(&output.stdout).trim() == "0"
}

/// Appends to `path` until the file system has no space left.
fn fill(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let chunk = vec![0u8; 64 << 10];
    for size in [chunk.len(), 4096, 512, 1] {
        while file.write_all(&chunk[..size]).is_ok() {}
    }
}

/// Fills the file system of `filler` and posts events until the store refuses even small
/// ones, which it answers `503` with `Retry-After`; pushes the ids of those it accepted.
async fn fill_until_refused(router: &Router, filler: &Path, accepted: &mut Vec<String>) {
    fill(filler);
    post_until_refused(router, 200_000, accepted).await;
    // Whatever the refused writes gave back is taken too.
    fill(filler);
    let (status, headers, answer) = post_until_refused(router, 10, accepted).await;
    rejected((status, answer), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        headers.contains_key("retry-after"),
        "a 503 tells when to retry: {headers:?}"
    );
}

/// Posts JSON events with `pad` bytes of padding until one is refused; pushes the ids of those
/// accepted before it, and returns the refusal.
async fn post_until_refused(
    router: &Router,
    pad: usize,
    accepted: &mut Vec<String>,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    for n in 0..5000 {
        let body = json!({ "n": n, "pad": "x".repeat(pad) }).to_string();
        let (status, headers, answer) = router
            .ingest()
            .try_post_hook("plain", body, JSON)
            .await
            .expect("an answer");
        if status != StatusCode::ACCEPTED {
            return (status, headers, answer);
        }
        accepted.push(answer["id"].as_str().unwrap().to_owned());
    }
    panic!("5000 events of {pad} bytes were accepted on a full disk");
}

/// Plugin calls counted so far.
async fn plugin_calls(router: &Router) -> f64 {
    metric_total(
        &router.admin_text("/metrics").await,
        "wasmhook_plugin_calls_total",
    )
}

/// Once space is back: an event is accepted again, and every event in `accepted` is delivered
/// to `ci`.
async fn recovers(router: &Router, ci: &Subscriber, filler: &Path, accepted: &mut Vec<String>) {
    std::fs::remove_file(filler).unwrap();
    let freed = Instant::now();
    let id = wait_for("an event accepted again", WAIT, async || {
        let body = json!({ "after": true }).to_string();
        let (status, _, answer) = router
            .ingest()
            .try_post_hook("plain", body, JSON)
            .await
            .ok()?;
        (status == StatusCode::ACCEPTED).then(|| answer["id"].as_str().unwrap().to_owned())
    })
    .await;
    accepted.push(id);
    for id in accepted.iter() {
        let event = router.wait_settled(id).await;
        let message = &messages(&event)[0];
        assert_eq!(message["status"], "delivered", "{event}");
        ci.wait_for_webhook_id(message["id"].as_str().unwrap())
            .await;
    }
    eprintln!(
        "{} accepted events all delivered {:?} after the disk had room again",
        accepted.len(),
        freed.elapsed()
    );
    let stored = router.admin_get("/api/events?limit=1000").await;
    assert_eq!(
        stored["events"].as_array().unwrap().len(),
        accepted.len(),
        "exactly the accepted events are stored: nothing of the refused ones"
    );
    assert!(
        !router.logs_contain(|l| l.contains("panicked")),
        "no panic in the log"
    );
}

/// Sources `plain` (no plugins), `slow` (through `stall`, a plugin that spins until its
/// timeout when `stalling`) and `fast` (through `pass`), each to `ci`; one plugin call at a time.
fn wiring(ci: &Subscriber, stalling: bool) -> String {
    let chaos = &plugins().chaos;
    let stall = if stalling { "loop" } else { "pass" };
    format!(
        "plugin_concurrency = 1

[sources.plain]
[sources.slow]
[sources.fast]

         [plugins.stall]
wasm = {chaos:?}
timeout = \"2s\"
on_error = \"pass\"
config = {{ mode = \"{stall}\" }}

         [plugins.pass]
wasm = {chaos:?}

{}
         [[routes]]
source = \"plain\"
subscribers = [\"ci\"]

         [[routes]]
source = \"slow\"
transforms = [\"stall\"]
subscribers = [\"ci\"]

         [[routes]]
source = \"fast\"
transforms = [\"pass\"]
subscribers = [\"ci\"]
",
        subscriber_table("ci", ci, "")
    )
}

/// A router on [`wiring`] whose data dir is a 16 MiB tmpfs; `None` (after saying why) when
/// the test cannot mount one.
async fn on_tmpfs(ci: &Subscriber, stalling: bool) -> Option<(Router, Tmpfs)> {
    if !is_root() {
        eprintln!("SKIPPED: mounting a tmpfs for the data dir needs root");
        return None;
    }
    let mut data = None;
    // The wiring's first line, `plugin_concurrency`, falls in the harness's [server] table.
    let router = Router::start_with_args(&[], &wiring(ci, stalling), |dir| {
        data = Some(Tmpfs::mount(&dir.join("data"), "16m"));
    })
    .await;
    Some((router, data.unwrap()))
}

/// Posts `body` to `source` and returns the event id, asserting it was accepted.
async fn accepted_on(router: &Router, source: &str, body: Value) -> String {
    accepted(router.post_hook(source, body.to_string(), JSON).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_events_resends_nothing_and_recovers() {
    // Each answer is kept with its attempt, so an attempt's record takes more than a page of
    // the store's log: once the disk is full, what is left of the log's last page cannot take it.
    let ci = Subscriber::replying(|_, _| Reply::status(200).body("k".repeat(4096))).await;
    let Some((router, data)) = on_tmpfs(&ci, true).await else {
        return;
    };
    let filler = data.0.join("filler");
    let mut accepted = Vec::new();
    for n in 0..3 {
        let id = accepted_on(&router, "plain", json!({ "n": n })).await;
        router.wait_settled(&id).await;
        accepted.push(id);
    }

    // A delivery under way when the disk fills: its answer comes after.
    ci.answer_after(Duration::from_secs(4));
    accepted.push(accepted_on(&router, "plain", json!({ "in_flight": true })).await);
    let webhook_id = ci.wait_for_requests(4, WAIT).await[3]
        .webhook_id()
        .to_owned();
    // Events in the pipeline when the disk fills: one stalls the only plugin slot for 2 s,
    // the others wait for it; their messages cannot be committed once it is full.
    accepted.push(accepted_on(&router, "slow", json!({ "stall": true })).await);
    for n in 0..5 {
        accepted.push(accepted_on(&router, "fast", json!({ "fast": n })).await);
    }
    fill_until_refused(&router, &filler, &mut accepted).await;
    // What the pipeline tries again runs fast.
    router.write_routes(&wiring(&ci, false));

    wait_until("the held-back answer to arrive", WAIT, async || {
        ci.received()
            .iter()
            .any(|r| r.webhook_id() == webhook_id && r.answered.is_some())
    })
    .await;
    let (cpu_before, calls_before) = (cpu_time(router.pid()), plugin_calls(&router).await);
    // Nothing to wait for: what is checked is that nothing more happens.
    tokio::time::sleep(QUIET).await;
    let cpu = cpu_time(router.pid()) - cpu_before;
    let calls = plugin_calls(&router).await - calls_before;
    let sends = |ci: &Subscriber| {
        ci.received()
            .iter()
            .filter(|r| r.webhook_id() == webhook_id)
            .count()
    };
    eprintln!(
        "on the full disk for {QUIET:?}: CPU {cpu:?}, {calls} plugin calls, the answered message sent {} times",
        sends(&ci)
    );
    assert_eq!(
        sends(&ci),
        1,
        "a delivered message whose record failed was sent again"
    );
    assert!(
        cpu < Duration::from_millis(500),
        "the router used {cpu:?} of CPU in {QUIET:?} on a full disk"
    );
    assert!(
        calls <= 60.0,
        "{calls} plugin calls in {QUIET:?}: the pipeline spins"
    );
    let metrics = router.admin_text("/metrics").await;
    assert!(
        metric_total(&metrics, "wasmhook_store_write_failures_total") >= 1.0,
        "the failed record is counted:\n{metrics}"
    );

    ci.answer_after(Duration::ZERO);
    recovers(&router, &ci, &filler, &mut accepted).await;
    let event = router.event(&accepted[3]).await;
    assert_eq!(
        attempt_statuses(&messages(&event)[0]),
        [json!(200)],
        "one attempt, recorded once the disk had room: {event}"
    );
    assert_eq!(sends(&ci), 1, "sent once in all");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_on_a_full_disk_does_not_spin_on_events_it_cannot_commit() {
    let ci = Subscriber::ok().await;
    let Some((mut router, data)) = on_tmpfs(&ci, true).await else {
        return;
    };
    let filler = data.0.join("filler");
    // Accepted, then killed before the pipeline is through: they are run again at the start.
    let mut accepted = vec![accepted_on(&router, "slow", json!({ "stall": true })).await];
    for n in 0..10 {
        accepted.push(accepted_on(&router, "fast", json!({ "fast": n })).await);
    }
    router.kill();
    router.write_routes(&wiring(&ci, false));
    fill(&filler);
    router.restart().await;

    // The events accepted before the kill wait in the store's log until SQLite has room.
    router
        .wait_for_log("a commit refused by the full disk", WAIT, |l| {
            l.contains("the store's log cannot be applied now")
        })
        .await;
    let (cpu_before, calls_before) = (cpu_time(router.pid()), plugin_calls(&router).await);
    tokio::time::sleep(QUIET).await;
    let cpu = cpu_time(router.pid()) - cpu_before;
    let calls = plugin_calls(&router).await - calls_before;
    eprintln!("restarted on the full disk, for {QUIET:?}: CPU {cpu:?}, {calls} plugin calls");
    assert!(
        calls <= 100.0,
        "{calls} plugin calls in {QUIET:?}: the sweeper spins"
    );
    assert!(
        cpu < Duration::from_millis(500),
        "the router used {cpu:?} of CPU in {QUIET:?} on a full disk"
    );

    recovers(&router, &ci, &filler, &mut accepted).await;
}
