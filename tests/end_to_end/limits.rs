//! A misbehaving plugin costs only its own route: limits stop it, `on_error` decides what
//! happens to the event, and the router keeps serving.

use crate::common::plugins::command_component;
use crate::common::*;

/// `[plugins.NAME]` running chaos.wasm with `config` (e.g. `mode = "loop"`), and more keys.
fn chaos(name: &str, config: &str, extra: &str) -> String {
    plugin_table(name, &plugins().chaos, config, extra)
}

/// `[plugins.NAME]` running `wasm` with `config`, and more keys.
fn plugin_table(name: &str, wasm: &std::path::Path, config: &str, extra: &str) -> String {
    format!("[plugins.{name}]\nwasm = {wasm:?}\nconfig = {{ {config} }}\n{extra}\n")
}

/// `[[routes]]` NAME from `plain` through `transform` to `subscriber`.
fn route(name: &str, transform: &str, subscriber: &str) -> String {
    format!(
        "[[routes]]\nname = \"{name}\"\nsource = \"plain\"\ntransforms = [\"{transform}\"]\nsubscribers = [\"{subscriber}\"]\n\n"
    )
}

fn subscribers(list: &[(&str, &Subscriber)]) -> String {
    list.iter()
        .map(|(name, s)| format!("[subscribers.{name}]\nurl = \"{}\"\n\n", s.url()))
        .collect()
}

#[track_caller]
fn assert_dead_mentioning(event: &Value, route: &str, words: &[&str]) {
    let message = message_on(event, route);
    assert_eq!(message["status"], "dead", "route {route}: {message}");
    let error = message["error"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        words.iter().any(|w| error.contains(w)),
        "route {route}: error {error:?} mentions none of {words:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_and_a_hogging_plugin_do_not_stop_a_healthy_route() {
    let (healthy, sink) = (Subscriber::ok().await, Subscriber::ok().await);
    let router = Router::start(&format!(
        "[sources.plain]\n{}{}{}{}{}{}{}",
        chaos("spin", r#"mode = "loop""#, "timeout = \"50ms\""),
        chaos("hog", r#"mode = "hog""#, "memory = \"16MiB\""),
        chaos("pass", r#"mode = "pass""#, ""),
        subscribers(&[("healthy", &healthy), ("sink", &sink)]),
        route("spinning", "spin", "sink"),
        route("hogging", "hog", "sink"),
        route("healthy", "pass", "healthy"),
    ))
    .await;

    let ids: Vec<String> = {
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(accepted(
                router
                    .post_hook(
                        "plain",
                        json!({ "n": n }).to_string(),
                        &[("content-type", "application/json")],
                    )
                    .await,
            ));
        }
        ids
    };
    for id in &ids {
        let event = router.wait_settled(id).await;
        assert_eq!(message_on(&event, "healthy")["status"], "delivered");
        assert_dead_mentioning(&event, "spinning", &["deadline", "time", "interrupt"]);
        assert_dead_mentioning(&event, "hogging", &["memory"]);
    }
    let bodies: Vec<Value> = healthy
        .wait_for_requests(3, WAIT)
        .await
        .iter()
        .map(Received::json)
        .collect();
    for n in 0..3 {
        assert!(
            bodies.contains(&json!({ "n": n })),
            "event {n} unchanged on the healthy route: {bodies:?}"
        );
    }
    assert!(
        sink.received().is_empty(),
        "a failed plugin's message was sent"
    );
    assert!(router.is_running(), "the router died");
    assert_eq!(router.ingest().get("/healthz").await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_error_pass_delivers_the_event_unchanged_and_drop_filters_it() {
    let (passed, dropped) = (Subscriber::ok().await, Subscriber::ok().await);
    let router = Router::start(&format!(
        "[sources.plain]\n{}{}{}{}{}",
        chaos("fails-open", r#"mode = "error""#, "on_error = \"pass\""),
        chaos("fails-closed", r#"mode = "error""#, "on_error = \"drop\""),
        subscribers(&[("passed", &passed), ("dropped", &dropped)]),
        route("open", "fails-open", "passed"),
        route("closed", "fails-closed", "dropped"),
    ))
    .await;

    let body = json!({ "order": 42 });
    let id = accepted(
        router
            .post_hook(
                "plain",
                body.to_string(),
                &[("content-type", "application/json")],
            )
            .await,
    );
    let event = router.wait_settled(&id).await;
    assert_eq!(message_on(&event, "open")["status"], "delivered");
    assert_eq!(message_on(&event, "closed")["status"], "filtered");
    assert_eq!(passed.wait_for_requests(1, WAIT).await[0].json(), body);
    assert!(dropped.received().is_empty(), "a dropped event was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_output_and_plugin_stderr_are_reported() {
    let sink = Subscriber::ok().await;
    let dir = tempfile::tempdir().unwrap();
    let component = command_component(&plugins().chaos_command, dir.path(), "command.wasm");
    let big = r#"mode = "big-output", bytes = 100000"#;
    let router = Router::start(&format!(
        "[sources.plain]\n{}{}{}{}{}{}{}{}{}{}{}",
        chaos("big", big, r#"max_output = "64KiB""#),
        chaos("noisy", r#"mode = "stderr""#, ""),
        chaos("long-error", r#"mode = "big-error""#, ""),
        plugin_table(
            "big-command",
            &plugins().chaos_command,
            big,
            r#"max_output = "64KiB""#
        ),
        plugin_table("big-component", &component, big, r#"max_output = "64KiB""#),
        subscribers(&[("sink", &sink)]),
        route("big", "big", "sink"),
        route("noisy", "noisy", "sink"),
        route("long-error", "long-error", "sink"),
        route("big-command", "big-command", "sink"),
        route("big-component", "big-component", "sink"),
    ))
    .await;

    let id = accepted(
        router
            .post_hook("plain", "{}", &[("content-type", "application/json")])
            .await,
    );
    let event = router.wait_settled(&id).await;
    // 100 kB of output, well under the default 1 MiB but over this plugin's `max_output`, on
    // every transport: returned by a function, written to stdout by a command.
    for route in ["big", "big-command", "big-component"] {
        assert_dead_mentioning(&event, route, &["output", "large", "limit"]);
    }
    let noisy = message_on(&event, "noisy");
    assert_eq!(noisy["status"], "dead", "{noisy}");
    let in_error = noisy["error"]
        .as_str()
        .unwrap_or_default()
        .contains(CHAOS_STDERR);
    assert!(
        in_error || router.logs_contain(|l| l.contains(CHAOS_STDERR)),
        "the plugin's stderr {CHAOS_STDERR:?} is neither in the message error nor in the log"
    );
    // A 2 MiB error message is kept to its first 4 KiB, in the dead letter and in the log.
    let long = message_on(&event, "long-error");
    assert_eq!(long["status"], "dead", "route long-error");
    let kept = long["error"].as_str().unwrap_or_default().len();
    assert!(
        (4096..8192).contains(&kept),
        "the dead letter keeps {kept} bytes of a 2 MiB plugin error"
    );
    let longest_log = router.logs().iter().map(String::len).max().unwrap_or(0);
    assert!(longest_log < 16 * 1024, "a log line of {longest_log} bytes");
    assert!(sink.received().is_empty());
}

/// What chaos.wasm writes to stderr in `stderr` mode.
const CHAOS_STDERR: &str = "chaos: line 1 on stderr, as asked";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fan_out_over_the_cap_is_dead_lettered_and_holds_up_no_other_event() {
    let shared = Subscriber::ok().await;
    let router = Router::start(&format!(
        "[sources.plain]\n[sources.other]\n{}{}{}\n[[routes]]\nname = \"quiet\"\nsource = \"other\"\nsubscribers = [\"shared\"]\n",
        // Time to write all 20,000 on a loaded machine: the cap is tested, not the deadline.
        chaos("flood", r#"mode = "fan-out", messages = 20000"#, "timeout = \"1s\""),
        subscribers(&[("shared", &shared)]),
        route("flood", "flood", "shared"),
    ))
    .await;

    let flood = accepted(router.post_hook("plain", "{}", JSON).await);
    let posted = std::time::Instant::now();
    let quiet = accepted(
        router
            .post_hook("other", json!({ "quiet": true }).to_string(), JSON)
            .await,
    );
    let delivered = delivered_bodies(&router, &shared, &quiet).await;
    let took = posted.elapsed();
    assert_eq!(delivered, vec![json!({ "quiet": true })]);
    assert!(
        took < std::time::Duration::from_secs(5),
        "the other route's event reached the shared subscriber after {took:?}"
    );

    let event = router.wait_settled(&flood).await;
    assert_dead_mentioning(&event, "flood", &["max_messages"]);
    let error = message_on(&event, "flood")["error"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(error.contains("1000"), "the error names the cap: {error}");
    assert_eq!(
        shared.received().len(),
        1,
        "messages of the flood were sent"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_under_the_cap_is_delivered_and_a_chain_cannot_multiply_past_it() {
    let (sink, chained, over) = (
        Subscriber::ok().await,
        Subscriber::ok().await,
        Subscriber::ok().await,
    );
    let router = Router::start(&format!(
        "[sources.plain]\n{}{}{}{}{}\n{}{}\n[[routes]]\nname = \"chain\"\nsource = \"plain\"\ntransforms = [\"wide\", \"wider\"]\nsubscribers = [\"chained\"]\n",
        chaos("ten", r#"mode = "fan-out", messages = 10"#, "max_messages = 10"),
        chaos("eleven", r#"mode = "fan-out", messages = 11"#, "max_messages = 10"),
        chaos("wide", r#"mode = "fan-out", messages = 40"#, ""),
        chaos("wider", r#"mode = "fan-out", messages = 40"#, ""),
        subscribers(&[("sink", &sink), ("chained", &chained), ("over", &over)]),
        route("under", "ten", "sink"),
        route("over", "eleven", "over"),
    ))
    .await;

    let id = accepted(router.post_hook("plain", "{}", JSON).await);
    let event = router
        .wait_event(&id, "the event processed", |e| e["status"] == "processed")
        .await;
    let under: Vec<&Value> = messages(&event)
        .iter()
        .filter(|m| m["route"] == "under")
        .collect();
    assert_eq!(under.len(), 10, "{event}");
    let mut numbers: Vec<u64> = sink
        .wait_for_requests(10, WAIT)
        .await
        .iter()
        .map(|r| r.json()["n"].as_u64().unwrap())
        .collect();
    numbers.sort_unstable();
    assert_eq!(numbers, (0..10).collect::<Vec<u64>>());

    let event = router.wait_settled(&id).await;
    assert_dead_mentioning(&event, "over", &["max_messages"]);
    let error = message_on(&event, "over")["error"].as_str().unwrap();
    assert!(error.contains("eleven") && error.contains("10"), "{error}");
    // 40 messages, each made into 40 more: 1,600, over the default cap of 1,000.
    assert_dead_mentioning(&event, "chain", &["max_messages"]);
    let error = message_on(&event, "chain")["error"].as_str().unwrap();
    assert!(error.contains("wider") && error.contains("1000"), "{error}");
    assert!(chained.received().is_empty() && over.received().is_empty());
}

/// A JSON body of about 1 MiB: `{"data": "xxx..."}`.
fn one_mib_body() -> String {
    json!({ "data": "x".repeat((1 << 20) - 12) }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_carrying_a_large_body_are_bounded_in_bytes() {
    let (flooded, few) = (Subscriber::ok().await, Subscriber::ok().await);
    let carry = |messages: u32| format!(r#"mode = "fan-out", carry = true, messages = {messages}"#);
    let router = Router::start_with_server(
        "max_body = \"2MiB\"",
        &format!(
            "[sources.plain]\n{}{}{}{}{}",
            chaos("copies", &carry(1000), ""),
            chaos("three-copies", &carry(3), ""),
            subscribers(&[("flooded", &flooded), ("few", &few)]),
            route("copies", "copies", "flooded"),
            route("few", "three-copies", "few"),
        ),
    )
    .await;

    let body = one_mib_body();
    let id = accepted(router.post_hook("plain", body.clone(), JSON).await);
    let event = router.wait_settled(&id).await;
    // 1,000 copies of a 1 MiB body would be 1 GB of messages: over the default 16 MiB.
    assert_dead_mentioning(&event, "copies", &["max_messages_size"]);
    let error = message_on(&event, "copies")["error"].as_str().unwrap();
    assert!(
        error.contains("copies") && error.contains(&(16u64 << 20).to_string()),
        "the error names the plugin and the limit: {error}"
    );
    assert!(flooded.received().is_empty(), "a copy was sent");
    let got = few.wait_for_requests(3, WAIT).await;
    assert_eq!(got.len(), 3);
    for received in got {
        assert_eq!(
            received.body,
            body.as_bytes(),
            "the carried body, unchanged"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_messages_size_counts_carried_bodies_and_a_chain() {
    let (tight, chained) = (Subscriber::ok().await, Subscriber::ok().await);
    let router = Router::start_with_server(
        "max_body = \"2MiB\"",
        &format!(
            "[sources.plain]\n{}{}{}{}{}\n[[routes]]\nname = \"chain\"\nsource = \"plain\"\ntransforms = [\"one\", \"two\"]\nsubscribers = [\"chained\"]\n",
            chaos(
                "tight",
                r#"mode = "fan-out", carry = true, messages = 3"#,
                "max_messages_size = \"2MiB\""
            ),
            chaos("one", r#"mode = "fan-out", carry = true, messages = 2"#, ""),
            chaos(
                "two",
                r#"mode = "fan-out", carry = true, messages = 2"#,
                "max_messages_size = \"3MiB\""
            ),
            subscribers(&[("tight", &tight), ("chained", &chained)]),
            route("tight", "tight", "tight"),
        ),
    )
    .await;

    let id = accepted(router.post_hook("plain", one_mib_body(), JSON).await);
    let event = router.wait_settled(&id).await;
    assert_dead_mentioning(&event, "tight", &["max_messages_size"]);
    let error = message_on(&event, "tight")["error"].as_str().unwrap();
    assert!(error.contains(&(2u64 << 20).to_string()), "{error}");
    // `one` makes 2 copies (2 MiB), `two` 2 of each: 4 MiB over its calls, past its 3 MiB.
    assert_dead_mentioning(&event, "chain", &["max_messages_size"]);
    let error = message_on(&event, "chain")["error"].as_str().unwrap();
    assert!(error.contains("two"), "{error}");
    assert!(tight.received().is_empty() && chained.received().is_empty());
}
