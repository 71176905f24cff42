//! The example plugins written in other languages than Rust, each built from `plugins/` with
//! its own toolchain, do their job in a route: C, Zig, Go, Python, JavaScript and
//! AssemblyScript.

use crate::common::providers::{Hooks, post, start_at, vectors};
use crate::common::signature;
use crate::common::*;

/// `source` (a `[sources.NAME]` table), and a route from the source `NAME` through the
/// example plugin `file` as a filter or a transform (`role`), with the plugin keys
/// `plugin_keys`, to `sink`.
fn wiring(source: &str, file: &str, role: &str, plugin_keys: &str, sink: &Subscriber) -> String {
    let name = source
        .trim_start_matches("[sources.")
        .split(']')
        .next()
        .expect("a [sources.NAME] table");
    format!(
        "{source}\n[plugins.under-test]\nwasm = {wasm:?}\n{plugin_keys}\n\n{subscriber}\n\
         [[routes]]\nsource = \"{name}\"\n{role} = [\"under-test\"]\nsubscribers = [\"sink\"]\n",
        wasm = plugins().named(file),
        subscriber = subscriber_table("sink", sink, ""),
    )
}

/// A router whose GitHub-signed source `github` goes through the example plugin to `sink`.
async fn route_through(file: &str, role: &str, plugin_keys: &str, sink: &Subscriber) -> Router {
    Router::start(&wiring(
        &github_source("github"),
        file,
        role,
        plugin_keys,
        sink,
    ))
    .await
}

/// Sends a signed GitHub `event` and returns the bodies delivered for it once it is
/// settled: none when the route's plugin dropped it.
async fn deliveries(router: &Router, sink: &Subscriber, event: &str, body: &[u8]) -> Vec<Value> {
    let id = accepted(
        router
            .ingest()
            .github_event("github", event, GITHUB_SECRET, body)
            .await,
    );
    settled_bodies(router, sink, &id).await
}

/// The bodies delivered for the event `id` once it is settled: none when a plugin dropped it.
async fn settled_bodies(router: &Router, sink: &Subscriber, id: &str) -> Vec<Value> {
    let settled = router.wait_settled(id).await;
    let mut bodies = Vec::new();
    for message in messages(&settled) {
        match message["status"].as_str() {
            Some("filtered") => {}
            Some("delivered") => {
                let id = message["id"].as_str().expect("message id");
                bodies.push(sink.wait_for_webhook_id(id).await.json());
            }
            _ => panic!("a message neither delivered nor filtered: {settled}"),
        }
    }
    bodies
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_drop_bots_lets_people_through_and_drops_bots() {
    let sink = Subscriber::ok().await;
    let router = route_through(
        "drop_bots.wasm",
        "filters",
        r#"config = { ignore_logins = ["CI-Machine"] }"#,
        &sink,
    )
    .await;
    assert_eq!(router.plugin("under-test").await["kind"], "command-module");

    let push = fixture("github/push.payload.json");
    assert_eq!(
        deliveries(&router, &sink, "push", &push).await,
        vec![fixture_json("github/push.payload.json")],
        "a push by a person passes unchanged"
    );
    let dependabot = json!({
        "action": "opened", "number": 7, "pull_request": { "title": "Bump serde" },
        "sender": { "login": "dependabot[bot]", "type": "Bot" },
    });
    let ci = json!({ "action": "opened", "sender": { "login": "ci-machine", "type": "User" } });
    for (event, body) in [("pull_request", dependabot), ("issues", ci)] {
        let body = body.to_string();
        assert_eq!(
            deliveries(&router, &sink, event, body.as_bytes()).await,
            Vec::<Value>::new(),
            "dropped: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assemblyscript_sample_keeps_the_same_verdict_per_key() {
    // "Codertocat/Hello-World" hashes to bucket 7939 of 10,000: inside 79.4 %, outside 79.39 %.
    let push = fixture("github/push.payload.json");
    for (percent, passes) in [("79.4", true), ("79.39", false)] {
        let sink = Subscriber::ok().await;
        let router = route_through(
            "sample.wasm",
            "filters",
            &format!(
                "config = {{ percent = {percent}, key = \"/body/repository/full_name\" }}\nreuse = true"
            ),
            &sink,
        )
        .await;
        for _ in 0..3 {
            let delivered = deliveries(&router, &sink, "push", &push).await;
            let expected = if passes {
                vec![fixture_json("github/push.payload.json")]
            } else {
                Vec::new()
            };
            assert_eq!(delivered, expected, "at {percent} %");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zig_sendgrid_bounces_turns_a_signed_batch_into_one_message_per_bounce() {
    let vector = vectors("sendgrid")
        .into_iter()
        .find(|v| v["valid"] == true && v["body_file"] == "event-webhook.multi.signed.body")
        .expect("a valid vector of the multi-event batch");
    let now: i64 = vector["timestamp"].as_str().unwrap().parse().unwrap();
    let source = format!(
        "[sources.sendgrid]\nverify = {{ scheme = \"sendgrid\", public_key = {:?} }}\n",
        vector["public_key"].as_str().unwrap()
    );
    let sink = Subscriber::ok().await;
    let router = start_at(
        now,
        &wiring(
            &source,
            "sendgrid_bounces.wasm",
            "transforms",
            "reuse = true",
            &sink,
        ),
    )
    .await;
    let hook = post(
        "sendgrid",
        fixture("sendgrid/event-webhook.multi.signed.body"),
    )
    .json()
    .header(
        "x-twilio-email-event-webhook-timestamp",
        vector["timestamp"].as_str().unwrap(),
    )
    .header(
        "x-twilio-email-event-webhook-signature",
        vector["signature"].as_str().unwrap(),
    );
    let id = Hooks::new(&router).accepts(hook, Some("processed")).await;
    let delivered = settled_bodies(&router, &sink, &id).await;
    assert_eq!(
        delivered,
        vec![json!({
            "email": "invalid@gmail.com",
            "event": "bounce",
            "reason": "552 5.2.2 The email account that you tried to reach is over quota and inactive. Please direct the recipient to https://support.google.com/mail/?p=OverQuotaPerm c17si1130468pgv.34 - gsmtp",
            "status": "5.2.2",
            "timestamp": 1619651147,
            "sg_event_id": "Ym91bmNlLTAtMTk5NDIxMTItcU53QkxnUFFRalc2REp2S1F3U0Fidy0w",
        })]
    );
    let event = router.event(&id).await;
    let message = &messages(&event)[0];
    assert_eq!(message["type"], "sendgrid.bounce", "{event}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_form_to_json_unpacks_a_signed_mandrill_form() {
    let vector = &vectors("mandrill")[0];
    let source = format!(
        "[sources.mandrill]\nverify = {{ scheme = \"mandrill\", key = {:?}, url = {:?} }}\n",
        vector["webhook_key"].as_str().unwrap(),
        vector["url"].as_str().unwrap()
    );
    let sink = Subscriber::ok().await;
    let plugin_keys = "config = { json_fields = [\"mandrill_events\"] }\nreuse = true";
    let router = Router::start(&wiring(
        &source,
        "form_to_json.wasm",
        "transforms",
        plugin_keys,
        &sink,
    ))
    .await;
    assert_eq!(
        router.plugin("under-test").await["kind"],
        "function-component"
    );
    let hooks = Hooks::new(&router);
    // Twice: the second event is served by the warm instance the first one left.
    for _ in 0..2 {
        let hook = post("mandrill", fixture("mandrill/send.form.body"))
            .form()
            .header(
                "x-mandrill-signature",
                vector["x_mandrill_signature"].as_str().unwrap(),
            );
        let id = hooks.accepts(hook, Some("send")).await;
        assert_eq!(
            settled_bodies(&router, &sink, &id).await,
            vec![json!({ "mandrill_events": fixture_json("mandrill/anymail.send.events.json") })]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_redact_masks_personal_data_before_delivery() {
    const SECRET: &str = "whsec_languages";
    let source =
        format!("[sources.stripe]\nverify = {{ scheme = \"stripe\", secret = {SECRET:?} }}\n");
    let sink = Subscriber::ok().await;
    let plugin_keys = "config = { paths = [\"/data/object/billing_details/*\"], emails = true, card_numbers = true }\nreuse = true";
    let router = Router::start(&wiring(
        &source,
        "redact.wasm",
        "transforms",
        plugin_keys,
        &sink,
    ))
    .await;
    let charge = json!({
        "id": "evt_2", "object": "event", "type": "charge.succeeded",
        "data": { "object": {
            "id": "ch_1", "amount": 500,
            "billing_details": { "address": { "city": "Berlin", "country": "DE" },
                                 "email": "jenny@example.com", "name": "Jenny Rosen" },
            "description": "Card 4242 4242 4242 4242, order 4242424242424241",
            "receipt_email": "jenny.rosen@example.com",
        } },
    })
    .to_string();
    let timestamp = signature::now_unix();
    let signed = signature::hmac_sha256_hex(SECRET, format!("{timestamp}.{charge}").as_bytes());
    let hook = post("stripe", charge)
        .json()
        .header("stripe-signature", &format!("t={timestamp},v1={signed}"));
    let id = Hooks::new(&router)
        .accepts(hook, Some("charge.succeeded"))
        .await;
    assert_eq!(
        settled_bodies(&router, &sink, &id).await,
        vec![json!({
            "id": "evt_2", "object": "event", "type": "charge.succeeded",
            "data": { "object": {
                "id": "ch_1", "amount": 500,
                "billing_details": { "address": "[redacted]", "email": "[redacted]", "name": "[redacted]" },
                "description": "Card **** **** **** 4242, order 4242424242424241",
                "receipt_email": "j***@example.com",
            } },
        })]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_github_to_discord_posts_pull_requests_and_drops_stars() {
    let sink = Subscriber::ok().await;
    let plugin_keys = "config = { username = \"GitHub\" }\nreuse = true";
    let router = route_through("github_to_discord.wasm", "transforms", plugin_keys, &sink).await;
    assert_eq!(
        router.plugin("under-test").await["kind"],
        "function-component"
    );
    let opened = fixture("github/pull_request.opened.payload.json");
    let expected = json!({
        "username": "GitHub",
        "content": "**Codertocat** opened pull request #2 in Codertocat/Hello-World",
        "embeds": [{
            "title": "#2 Update the README with new information.",
            "url": "https://github.com/Codertocat/Hello-World/pull/2",
            "description": "This is a pretty simple change that we need to pull into master.",
            "color": 2066493,
            "author": { "name": "Codertocat" },
        }],
        "allowed_mentions": { "parse": [] },
    });
    // Twice, the second time on the warm instance the first call left.
    for _ in 0..2 {
        assert_eq!(
            deliveries(&router, &sink, "pull_request", &opened).await,
            vec![expected.clone()]
        );
    }
    let star = fixture("github/star.created.payload.json");
    assert_eq!(
        deliveries(&router, &sink, "star", &star).await,
        Vec::<Value>::new()
    );
}
