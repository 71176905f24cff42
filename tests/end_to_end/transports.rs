//! Every way a plugin can be carried works in a route: a command component (`wasi:cli/run`),
//! and a function plugin keeping warm instances (`reuse = true`); a fresh instance keeps
//! nothing of the one before it.

use crate::common::*;

/// `plain` → `transform` (the plugin at `wasm`, with `extra` keys) → subscriber `sink`.
fn through(wasm: &std::path::Path, extra: &str, sink: &Subscriber) -> String {
    format!(
        "{}\n[plugins.transform]\nwasm = {wasm:?}\n{extra}\n",
        plain_route(&[("sink", sink, "")]).replace(
            "subscribers = [\"sink\"]",
            "transforms = [\"transform\"]\nsubscribers = [\"sink\"]"
        )
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_component_transforms_events() {
    let sink = Subscriber::ok().await;
    let router = Router::start(&through(&plugins().sns_unwrap, "", &sink)).await;
    assert_eq!(
        router.plugin("transform").await["kind"],
        "command-component"
    );
    let notification = json!({
        "Type": "Notification",
        "MessageId": "6c7b3d8e-0000-4000-8000-000000000001",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:orders",
        "Message": "{\"order\":42}",
        "Timestamp": "2026-11-28T17:30:00.000Z",
    });
    let id = accepted(
        router
            .post_hook(
                "plain",
                notification.to_string(),
                &[("content-type", "text/plain")],
            )
            .await,
    );
    let bodies = delivered_bodies(&router, &sink, &id).await;
    assert_eq!(bodies, vec![json!({ "order": 42 })]);
    let request = &sink.received()[0];
    assert_eq!(
        request.header("x-sns-message-id"),
        Some("6c7b3d8e-0000-4000-8000-000000000001")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_function_plugin_serves_event_after_event() {
    let sink = Subscriber::ok().await;
    let router = Router::start(&through(
        &plugins().chaos,
        "config = { mode = \"pass\" }\nreuse = true",
        &sink,
    ))
    .await;
    let plugin = router.plugin("transform").await;
    assert_eq!(
        (plugin["kind"].as_str(), plugin["reuse"].as_bool()),
        (Some("function-component"), Some(true))
    );
    for n in 0..12 {
        let id = accepted(
            router
                .post_hook("plain", json!({ "n": n }).to_string(), &[])
                .await,
        );
        assert_eq!(
            delivered_bodies(&router, &sink, &id).await,
            vec![json!({ "n": n })]
        );
    }
}

/// What the `count` mode of chaos counted, event after event, through one router.
async fn counts(reuse: bool) -> Vec<u64> {
    let sink = Subscriber::ok().await;
    let keys = format!("config = {{ mode = \"count\" }}\nreuse = {reuse}");
    let router = Router::start(&through(&plugins().chaos, &keys, &sink)).await;
    let mut counts = Vec::new();
    for n in 0..6 {
        let id = accepted(
            router
                .post_hook("plain", json!({ "n": n }).to_string(), &[])
                .await,
        );
        let bodies = delivered_bodies(&router, &sink, &id).await;
        counts.push(bodies[0]["calls"].as_u64().expect("a count"));
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_instance_starts_from_the_plugins_own_memory_and_a_reused_one_keeps_it() {
    // Fresh instances reuse pooled memory slots: whatever the last instance wrote there must
    // be gone, so every event is the plugin's first call.
    assert_eq!(counts(false).await, vec![1; 6]);
    let reused = counts(true).await;
    assert!(
        reused.windows(2).any(|pair| pair[1] > pair[0]),
        "a warm instance keeps its statics: {reused:?}"
    );
}
