//! A plugin's `timeout` holds while the plugin waits in a WASI call (a sleep), not only while
//! it computes: the call fails at the deadline on every transport, the event goes to
//! `on_error`, and the plugin's slot serves the next event.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::common::plugins::command_component;
use crate::common::*;

/// Each plugin sleeps this long: a call that is not cut at its deadline holds the test past
/// [`WAIT`].
const SLEEP_MS: u64 = 30_000;

/// Far under the sleep, with room for a slow machine: the deadline is 100 ms.
const CUT_WITHIN: Duration = Duration::from_secs(5);

/// `[plugins.NAME]` running `wasm` in chaos's `sleep` mode under `timeout = "100ms"`.
fn sleeper(name: &str, wasm: &Path, extra: &str) -> String {
    format!(
        "[plugins.{name}]\nwasm = {wasm:?}\nconfig = {{ mode = \"sleep\", ms = {SLEEP_MS} }}\ntimeout = \"100ms\"\n{extra}\n"
    )
}

/// `[[routes]]` NAME from `plain` through `transform` to `subscriber`.
fn route(name: &str, transform: &str, subscriber: &str) -> String {
    format!(
        "[[routes]]\nname = \"{name}\"\nsource = \"plain\"\ntransforms = [\"{transform}\"]\nsubscribers = [\"{subscriber}\"]\n\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plugin_sleeping_in_wasi_fails_at_its_deadline_on_every_transport() {
    let (healthy, sink) = (Subscriber::ok().await, Subscriber::ok().await);
    let dir = tempfile::tempdir().unwrap();
    let component = command_component(
        &plugins().chaos_command,
        dir.path(),
        "chaos_command_component.wasm",
    );
    let transports = [
        ("function", sleeper("function", &plugins().chaos, "")),
        (
            "function-reused",
            sleeper("function-reused", &plugins().chaos, "reuse = true"),
        ),
        (
            "command-module",
            sleeper("command-module", &plugins().chaos_command, ""),
        ),
        (
            "command-component",
            sleeper("command-component", &component, ""),
        ),
    ];
    let mut wiring = format!(
        "[sources.plain]\n[subscribers.healthy]\nurl = \"{}\"\n[subscribers.sink]\nurl = \"{}\"\n\n[plugins.pass]\nwasm = {:?}\nconfig = {{ mode = \"pass\" }}\n",
        healthy.url(),
        sink.url(),
        plugins().chaos
    );
    for (name, table) in &transports {
        wiring.push_str(table);
        wiring.push_str(&route(name, name, "sink"));
    }
    wiring.push_str(&route("healthy", "pass", "healthy"));
    // One plugin call at a time: a sleeper holding its slot would hold up every other route.
    let router = Router::start_with_server("plugin_concurrency = 1", &wiring).await;
    for (name, kind) in [
        ("function", "function-component"),
        ("command-module", "command-module"),
        ("command-component", "command-component"),
    ] {
        assert_eq!(router.plugin(name).await["kind"], kind, "plugin {name}");
    }

    // Two events, so that the reused plugin meets its next event after an instance was cut.
    for n in 0..2 {
        let posted = Instant::now();
        let id = accepted(
            router
                .post_hook("plain", json!({ "n": n }).to_string(), JSON)
                .await,
        );
        let event = router.wait_settled(&id).await;
        let took = posted.elapsed();
        for (name, _) in &transports {
            let message = message_on(&event, name);
            assert_eq!(message["status"], "dead", "route {name}: {message}");
            let error = message["error"].as_str().unwrap_or_default();
            assert!(
                error.contains("ran past its 100ms deadline"),
                "route {name}: {error:?} is not the timeout"
            );
        }
        assert_eq!(message_on(&event, "healthy")["status"], "delivered");
        // Four sleepers, one slot: about 4 × 100 ms when each is cut at its deadline.
        assert!(
            took < CUT_WITHIN,
            "event {n} settled after {took:?}: a sleeping plugin ran past its 100 ms deadline"
        );
    }
    assert_eq!(healthy.wait_for_requests(2, WAIT).await.len(), 2);
    assert!(
        sink.received().is_empty(),
        "a failed plugin's message was sent"
    );
    assert!(router.is_running(), "the router died");
}

#[test]
fn plugin_run_reports_the_timeout_at_the_deadline_on_every_transport() {
    let dir = tempfile::tempdir().unwrap();
    let component = command_component(
        &plugins().chaos_command,
        dir.path(),
        "chaos_command_component.wasm",
    );
    let envelope = envelope("plain", "ping", b"{}", json!({}));
    let config = format!(r#"{{"mode":"sleep","ms":{SLEEP_MS}}}"#);
    for (transport, wasm, extra) in [
        ("function", plugins().chaos.as_path(), &[][..]),
        (
            "function, reused",
            plugins().chaos.as_path(),
            &["--reuse"][..],
        ),
        ("command module", plugins().chaos_command.as_path(), &[][..]),
        ("command component", component.as_path(), &[][..]),
    ] {
        let mut args = vec![
            "plugin",
            "run",
            wasm.to_str().unwrap(),
            "--timeout",
            "100ms",
            "--config",
            &config,
        ];
        args.extend_from_slice(extra);
        let started = Instant::now();
        let output = wasmhook(&args, envelope.to_string().as_bytes());
        let took = started.elapsed();
        let printed = printed(&output);
        assert_eq!(output.status.code(), Some(1), "{transport}: {printed}");
        assert!(
            printed.contains("ran past its 100ms deadline"),
            "{transport}: {printed}"
        );
        assert!(
            took < CUT_WITHIN,
            "{transport}: `plugin run` took {took:?} for a 100 ms timeout:\n{printed}"
        );
    }
}
