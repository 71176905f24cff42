//! The headers that frame a delivery and prove where it comes from are the router's: a
//! transform cannot set `host`, `content-length`, `transfer-encoding`, hop-by-hop headers or
//! `webhook-*`, and a header that is not valid HTTP is left out without costing the others.

use crate::common::signature::verify_standard_webhook;
use crate::common::*;

/// What a transform tries to put on the wire, besides one header of its own (`x-kept`).
const FORGED: &[(&str, &str)] = &[
    ("host", "evil.example"),
    ("content-length", "5"),
    ("transfer-encoding", "chunked"),
    ("connection", "close"),
    ("upgrade", "h2c"),
    ("webhook-id", "msg_forged"),
    ("webhook-timestamp", "1"),
    ("webhook-signature", "v1,Zm9yZ2VkIHNpZ25hdHVyZQ=="),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transform_cannot_set_the_routers_own_headers() {
    let (signed, unsigned) = (Subscriber::ok().await, Subscriber::ok().await);
    let mut headers: Vec<String> = FORGED
        .iter()
        .map(|(name, value)| format!("{name:?} = {value:?}"))
        .collect();
    headers.push(r#""x-kept" = "yes""#.into());
    headers.push(r#""bad name" = "x""#.into());
    headers.push(r#""x-bad-value" = "line\nbreak""#.into());
    let router = Router::start(&format!(
        "[sources.plain]\n\n[plugins.forge]\nwasm = {:?}\nconfig = {{ mode = \"headers\", headers = {{ {} }} }}\n\n{}\n{}\n[[routes]]\nsource = \"plain\"\ntransforms = [\"forge\"]\nsubscribers = [\"signed\", \"unsigned\"]\n",
        plugins().chaos,
        headers.join(", "),
        subscriber_table("signed", &signed, &format!("secret = {SUBSCRIBER_SECRET:?}")),
        subscriber_table("unsigned", &unsigned, ""),
    ))
    .await;

    for n in 0..2 {
        let id = accepted(
            router
                .post_hook("plain", json!({ "n": n }).to_string(), JSON)
                .await,
        );
        let event = router.wait_settled(&id).await;
        for message in messages(&event) {
            assert_eq!(message["status"], "delivered", "{event}");
            let subscriber = match message["subscriber"].as_str() {
                Some("signed") => &signed,
                _ => &unsigned,
            };
            let id = message["id"].as_str().unwrap();
            let request = subscriber.wait_for_webhook_id(id).await;
            assert_eq!(request.json(), json!({ "n": n }));
            let authority = subscriber.url().split('/').nth(2).unwrap().to_owned();
            assert_eq!(request.header("host"), Some(authority.as_str()));
            assert_eq!(
                request.header("content-length"),
                Some(request.body.len().to_string().as_str())
            );
            for name in ["transfer-encoding", "upgrade"] {
                assert_eq!(request.header(name), None, "{name} reached the subscriber");
            }
            assert_ne!(request.header("connection"), Some("close"));
            assert_ne!(request.header("webhook-timestamp"), Some("1"));
            assert_eq!(
                request.header("x-kept"),
                Some("yes"),
                "a valid header was lost"
            );
            assert_eq!(request.header("x-bad-value"), None);
            if subscriber.url() == signed.url() {
                verify_standard_webhook(SUBSCRIBER_SECRET, &request.headers, &request.body)
                    .unwrap_or_else(|e| panic!("the signature does not verify: {e}"));
            } else {
                assert_eq!(
                    request.header("webhook-signature"),
                    None,
                    "a forged signature reached an unsigned subscriber"
                );
            }
        }
    }

    // Logged once for this version of the plugin, naming what was dropped, never the values.
    let logged: Vec<String> = router
        .logs()
        .into_iter()
        .filter(|l| l.contains("dropped headers") && l.contains("forge"))
        .collect();
    assert_eq!(logged.len(), 1, "{logged:#?}");
    for name in ["host", "webhook-signature", "bad name", "x-bad-value"] {
        assert!(
            logged[0].contains(name),
            "{name} is not named: {}",
            logged[0]
        );
    }
    assert!(
        !logged[0].contains("evil.example"),
        "a value was logged: {}",
        logged[0]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_carries_at_most_64_headers_of_8_kib_in_all() {
    let sink = Subscriber::ok().await;
    // `[plugins.NAME]` setting `headers` on its message, and a route through it to `sink`.
    let setting = |name: &str, headers: Vec<(String, String)>| {
        let table: Vec<String> = headers
            .iter()
            .map(|(name, value)| format!("{name:?} = {value:?}"))
            .collect();
        format!(
            "[plugins.{name}]\nwasm = {:?}\nconfig = {{ mode = \"headers\", headers = {{ {} }} }}\n\n\
             [[routes]]\nname = \"{name}\"\nsource = \"plain\"\ntransforms = [\"{name}\"]\nsubscribers = [\"sink\"]\n\n",
            plugins().chaos,
            table.join(", ")
        )
    };
    let numbered = |count: usize| -> Vec<(String, String)> {
        (0..count)
            .map(|n| (format!("x-h{n}"), "v".into()))
            .collect()
    };
    // 63 headers of 6 or 7 bytes, then one that brings them to exactly 8 KiB.
    let mut at_the_limits = numbered(63);
    let used: usize = at_the_limits.iter().map(|(n, v)| n.len() + v.len()).sum();
    let last = "v".repeat(8192 - used - "x-last".len());
    at_the_limits.push(("x-last".into(), last.clone()));
    let router = Router::start(&format!(
        "[sources.plain]\n{}\n{}{}{}",
        subscriber_table("sink", &sink, ""),
        setting("at-the-limits", at_the_limits),
        setting("sixty-five", numbered(65)),
        setting("too-long", vec![("x-big".into(), "v".repeat(8192))]),
    ))
    .await;

    let id = accepted(router.post_hook("plain", r#"{"n":1}"#, JSON).await);
    let event = router.wait_settled(&id).await;
    let delivered = message_on(&event, "at-the-limits");
    assert_eq!(delivered["status"], "delivered", "{event}");
    let request = sink
        .wait_for_webhook_id(delivered["id"].as_str().unwrap())
        .await;
    for n in 0..63 {
        assert_eq!(request.header(&format!("x-h{n}")), Some("v"));
    }
    assert_eq!(request.header("x-last"), Some(last.as_str()));
    for (route, words) in [
        ("sixty-five", ["65 headers", "64"]),
        ("too-long", ["8197 bytes of headers", "8192"]),
    ] {
        let message = message_on(&event, route);
        assert_eq!(message["status"], "dead", "route {route}: {message}");
        let error = message["error"].as_str().unwrap();
        for word in words {
            assert!(
                error.contains(word),
                "route {route}: {error:?} lacks {word:?}"
            );
        }
    }
    assert_eq!(
        sink.received().len(),
        1,
        "a message over the limits was sent"
    );
}
