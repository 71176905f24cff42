//! SIGTERM while plugin calls are in flight: at `shutdown_timeout` the router cuts them,
//! whether they wait in WASI (a sleep) or compute, and exits 0 without a panic. Their events
//! stay `received` and run again at the next start.

use std::time::{Duration, Instant};

use crate::common::*;

/// Far under the plugins' own timeout, so only the shutdown can end their calls this soon.
const EXIT_WITHIN: Duration = Duration::from_secs(5);

/// `[sources.NAME]` with a route through plugin NAME (chaos.wasm or chaos-command with
/// `config`, a 20 s `timeout`) to `sink`.
fn source_through(name: &str, wasm: &std::path::Path, config: &str) -> String {
    format!(
        "[sources.{name}]\n[plugins.{name}]\nwasm = {wasm:?}\nconfig = {{ {config} }}\ntimeout = \"20s\"\n\n\
         [[routes]]\nname = \"{name}\"\nsource = \"{name}\"\ntransforms = [\"{name}\"]\nsubscribers = [\"sink\"]\n\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_cuts_the_plugin_calls_in_flight_and_their_events_run_at_the_next_start() {
    let sink = Subscriber::ok().await;
    let sleep = r#"mode = "sleep", ms = 2000"#;
    let plugins = plugins();
    let wiring = format!(
        "[subscribers.sink]\nurl = \"{}\"\n\n{}{}{}",
        sink.url(),
        source_through("sleeping-function", &plugins.chaos, sleep),
        source_through("sleeping-command", &plugins.chaos_command, sleep),
        // Computes for the whole 20 s timeout; cut at the shutdown too.
        source_through("spinning", &plugins.chaos, r#"mode = "loop""#),
    );
    let server = "shutdown_timeout = \"300ms\"\nplugin_concurrency = 3";
    let mut router = Router::start_with_server(server, &wiring).await;

    // Each event is in the pipeline once accepted; its plugin call starts within
    // milliseconds, far inside the 300 ms the drain waits before cutting it.
    let mut ids = Vec::new();
    for source in ["sleeping-function", "sleeping-command", "spinning"] {
        ids.push(accepted(router.post_hook(source, r#"{"n":1}"#, JSON).await));
    }
    let signalled = Instant::now();
    router.terminate();
    let status = router.wait_exit(WAIT).await;
    let took = signalled.elapsed();
    assert_eq!(status.code(), Some(0), "exit status {status}");
    assert!(
        took < EXIT_WITHIN,
        "exited {took:?} after SIGTERM with a 300 ms shutdown_timeout"
    );
    let panics: Vec<String> = router
        .logs()
        .into_iter()
        .filter(|line| line.contains("panicked"))
        .collect();
    assert!(panics.is_empty(), "panics at shutdown: {panics:#?}");
    let stopped = router
        .logs()
        .into_iter()
        .find(|line| line.contains("stopped; unfinished work resumes at the next start"))
        .expect("the router logs what it left");
    assert!(stopped.contains(r#""events_left":3"#), "{stopped}");

    // Loops again for its 20 s: the spinning route is left out of the next start.
    router.write_routes(&format!(
        "[subscribers.sink]\nurl = \"{}\"\n\n{}{}[sources.spinning]\n",
        sink.url(),
        source_through("sleeping-function", &plugins.chaos, sleep),
        source_through("sleeping-command", &plugins.chaos_command, sleep),
    ));
    router.restart().await;
    for id in &ids[..2] {
        let event = router.wait_settled(id).await;
        assert_eq!(messages(&event)[0]["status"], "delivered", "{event}");
    }
    let event = router
        .wait_event(&ids[2], "the spinning event processed", |e| {
            e["status"] == "processed"
        })
        .await;
    assert!(messages(&event).is_empty(), "{event}");
    assert_eq!(sink.wait_for_requests(2, WAIT).await.len(), 2);
}
