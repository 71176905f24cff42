//! Every way a plugin can be carried works in a route: a command component (`wasi:cli/run`),
//! and a function plugin keeping warm instances (`reuse = true`).

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
