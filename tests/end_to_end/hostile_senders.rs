//! A sender who means harm: credentials sent with a request, which must not be shown or handed
//! to plugins.

use crate::common::providers::*;

/// What a credential's value is replaced by where the request is kept.
const REDACTED: &str = "[redacted]";
const SECRET: &str = "s3cr3t-Key_1";

/// Event Grid, OpenStack and MailChimp take a secret in the URL or a header, and any sender may
/// add `Authorization`: the event shown by the admin API (the request plugins get) has each of
/// them replaced by a marker, and keeps the other headers and parameters.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_sent_with_a_request_are_neither_shown_nor_given_to_plugins() {
    let wiring = format!(
        "[sources.grid]\nverify = {{ scheme = \"eventgrid\", secret = {SECRET:?} }}\n\
         [sources.alarms]\nverify = {{ scheme = \"openstack\", secret = {SECRET:?} }}\n\
         [sources.list]\nverify = {{ scheme = \"mailchimp\", secret = {SECRET:?} }}\n\
         [sources.plain]\n"
    );
    let router = Router::start(&wiring).await;
    let hooks = Hooks::new(&router);
    let event = async |hook: Hook, event_type: Option<&str>| {
        let id = hooks.accepts(hook, event_type).await;
        let event = router.event(&id).await;
        let shown = event.to_string();
        assert!(!shown.contains(SECRET), "the secret is shown: {shown}");
        assert!(
            !shown.contains("dXNlcjpwYXNz"),
            "Authorization is shown: {shown}"
        );
        event["request"].clone()
    };
    let grid_event = br#"{"id":"e1","eventType":"Custom.Thing","data":{}}"#;

    let request = event(
        post(
            &format!("grid?code={SECRET}&region=west"),
            grid_event.to_vec(),
        )
        .json()
        .header("aeg-sas-key", SECRET)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .header("aeg-event-type", "Notification"),
        Some("Custom.Thing"),
    )
    .await;
    assert_eq!(
        request["query"],
        json!({ "code": REDACTED, "region": "west" })
    );
    assert_eq!(request["headers"]["aeg-sas-key"], REDACTED);
    assert_eq!(request["headers"]["authorization"], REDACTED);
    assert_eq!(request["headers"]["aeg-event-type"], "Notification");

    let request = event(
        post(&format!("alarms?secret={SECRET}&stack=web"), b"{}".to_vec())
            .json()
            .header("x-openstack-secret", SECRET),
        None,
    )
    .await;
    assert_eq!(
        request["query"],
        json!({ "secret": REDACTED, "stack": "web" })
    );
    assert_eq!(request["headers"]["x-openstack-secret"], REDACTED);

    let subscribe = || Some("subscribe");
    let request = event(
        post(&format!("list/{SECRET}"), "type=subscribe").form(),
        subscribe(),
    )
    .await;
    assert_eq!(request["path"], format!("/hooks/list/{REDACTED}"));
    let request = event(
        post(&format!("list?secret={SECRET}"), "type=subscribe").form(),
        subscribe(),
    )
    .await;
    assert_eq!(request["path"], "/hooks/list");
    assert_eq!(request["query"], json!({ "secret": REDACTED }));

    let request = event(
        post("plain", b"{}".to_vec())
            .json()
            .header("authorization", "Basic dXNlcjpwYXNz")
            .header("x-request-id", "r-1"),
        None,
    )
    .await;
    assert_eq!(request["headers"]["authorization"], REDACTED);
    assert_eq!(request["headers"]["x-request-id"], "r-1");
    assert_eq!(request["headers"]["content-type"], "application/json");
}
