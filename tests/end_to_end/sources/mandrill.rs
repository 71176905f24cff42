//! Mandrill (Mailchimp Transactional): `X-Mandrill-Signature: <base64 HMAC-SHA1>` with the
//! webhook key, of the webhook URL followed by each POST field's name and value, sorted by name.
//! The type is the first event's `event` (`type` for sync events); Mandrill sends no delivery
//! id. A `HEAD` (and a POST of an empty batch) checks the URL. Mandrill signs no timestamp.

use crate::common::providers::*;

/// `mandrill` signs over the URL configured (the vector's); `direct` over the URL received.
fn wiring(v: &Value) -> String {
    format!(
        "[sources.mandrill]\nverify = {{ scheme = \"mandrill\", key = {key}, url = {url} }}\n\
         [sources.direct]\nverify = {{ scheme = \"mandrill\", key = {key} }}\n",
        key = v["webhook_key"],
        url = v["url"],
    )
}

fn sign(key: &str, url: &str, body: &[u8]) -> String {
    let mut fields: Vec<(String, String)> =
        url::form_urlencoded::parse(body).into_owned().collect();
    fields.sort();
    let mut message = url.as_bytes().to_vec();
    for (name, value) in fields {
        message.extend_from_slice(name.as_bytes());
        message.extend_from_slice(value.as_bytes());
    }
    base64(&hmac_sha1(key.as_bytes(), &[&message]))
}

fn batch(events: &[u8]) -> Vec<u8> {
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("mandrill_events", std::str::from_utf8(events).unwrap())
        .finish()
        .into_bytes()
}

fn webhook(source: &str, body: Vec<u8>, signature: &str) -> Hook {
    post(source, body)
        .form()
        .header("x-mandrill-signature", signature)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vector_and_every_event_batch_are_stored_with_their_type() {
    let v = &vectors("mandrill")[0];
    let (key, url) = (
        v["webhook_key"].as_str().unwrap(),
        v["url"].as_str().unwrap(),
    );
    let router = Router::start(&wiring(v)).await;
    let hooks = Hooks::new(&router);

    let body = fixture(&format!("mandrill/{}", v["body_file"].as_str().unwrap()));
    let vector = webhook(
        "mandrill",
        body,
        v["x_mandrill_signature"].as_str().unwrap(),
    );
    hooks.accepts(vector.clone(), Some("send")).await;
    // No delivery id: a second post is a second event.
    hooks.accepts(vector, Some("send")).await;

    for file in fixture_files("mandrill", ".events.json") {
        let expected = file
            .trim_start_matches("anymail.")
            .trim_end_matches(".events.json");
        let body = batch(&fixture(&format!("mandrill/{file}")));
        let signature = sign(key, url, &body);
        hooks
            .accepts(webhook("mandrill", body, &signature), Some(expected))
            .await;
    }

    // Without `url`, the URL is the one the request arrived at.
    let received = format!("http://{}/hooks/direct", hooks.host());
    let body = batch(&fixture("mandrill/anymail.hard_bounce.events.json"));
    let signature = sign(key, &received, &body);
    hooks
        .accepts(webhook("direct", body, &signature), Some("hard_bounce"))
        .await;
    let sync =
        batch(br#"[{"type":"blacklist","action":"add","reject":{"email":"bounce@example.com"}}]"#);
    let signature = sign(key, url, &sync);
    hooks
        .accepts(webhook("mandrill", sync, &signature), Some("blacklist"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_checks_are_answered_and_not_stored() {
    let v = &vectors("mandrill")[0];
    let router = Router::start(&wiring(v)).await;
    let hooks = Hooks::new(&router);
    for source in ["mandrill", "direct"] {
        hooks.answers(request("HEAD", source), 200, b"").await;
    }
    // The test POST Mandrill sends when a webhook is added: an empty batch, signed with the
    // generic key `test-webhook` since the webhook's own key is not issued yet.
    let empty = batch(b"[]");
    let url = v["url"].as_str().unwrap();
    hooks
        .answers(
            webhook(
                "mandrill",
                empty.clone(),
                &sign("test-webhook", url, &empty),
            ),
            200,
            b"",
        )
        .await;
    // That generic key signs nothing else.
    let events = batch(&fixture("mandrill/anymail.send.events.json"));
    hooks
        .refuses(
            webhook(
                "mandrill",
                events.clone(),
                &sign("test-webhook", url, &events),
            ),
            "events signed with the URL-check key",
        )
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_mandrill_webhooks_are_refused_and_nothing_is_stored() {
    let v = &vectors("mandrill")[0];
    let (key, url) = (
        v["webhook_key"].as_str().unwrap(),
        v["url"].as_str().unwrap(),
    );
    let router = Router::start(&wiring(v)).await;
    let hooks = Hooks::new(&router);
    let body = fixture("mandrill/send.form.body");
    let vector = webhook(
        "mandrill",
        body.clone(),
        v["x_mandrill_signature"].as_str().unwrap(),
    );

    hooks
        .refuses(vector.clone().body(tampered(&body)), "tampered body")
        .await;
    hooks
        .refuses(
            webhook(
                "mandrill",
                body.clone(),
                &sign("OTHER_WEBHOOK_KEY", url, &body),
            ),
            "wrong key",
        )
        .await;
    let missing = hooks
        .refuses(
            vector.clone().without("x-mandrill-signature"),
            "no signature",
        )
        .await;
    assert!(missing.contains("X-Mandrill-Signature"), "{missing}");
    // Signed for another URL: the vector's, at the source that checks the received one.
    let other_url = hooks
        .refuses(vector.clone().to("direct"), "signed for another URL")
        .await;
    assert!(other_url.contains("/hooks/direct"), "{other_url}");
    hooks
        .refuses(
            webhook(
                "mandrill",
                body.clone(),
                &sign(key, &format!("{url}/"), &body),
            ),
            "signed for the URL with a trailing slash",
        )
        .await;
    hooks.accepts(vector, Some("send")).await;
}

/// Behind a proxy, without `url`: the URL Mandrill signed is the public one, which the proxy
/// tells in `X-Forwarded-Proto` and `X-Forwarded-Host`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_the_forwarded_url_is_the_signed_one() {
    let v = &vectors("mandrill")[0];
    let key = v["webhook_key"].as_str().unwrap();
    let router = Router::start(&wiring(v)).await;
    let hooks = Hooks::new(&router);
    let body = batch(&fixture("mandrill/anymail.click.events.json"));
    let signature = sign(key, "https://hooks.example.com/hooks/direct", &body);
    let forwarded = webhook("direct", body.clone(), &signature)
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "hooks.example.com");
    hooks.accepts(forwarded.clone(), Some("click")).await;
    hooks
        .refuses(
            forwarded.without("x-forwarded-proto"),
            "signed for https, received as http",
        )
        .await;
}

/// The standard `Forwarded` header (RFC 7239) says the same as the `X-Forwarded-*` ones;
/// docs/configuration.md (`url` of `scheme = "mandrill"`) lists it, but the URL is rebuilt
/// from `X-Forwarded-Proto`, `X-Forwarded-Host` and `Host` only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_proxy_the_forwarded_header_gives_the_signed_url() {
    let v = &vectors("mandrill")[0];
    let key = v["webhook_key"].as_str().unwrap();
    let router = Router::start(&wiring(v)).await;
    let hooks = Hooks::new(&router);
    let body = batch(&fixture("mandrill/anymail.click.events.json"));
    let signature = sign(key, "https://hooks.example.com/hooks/direct", &body);
    let forwarded = webhook("direct", body, &signature).header(
        "forwarded",
        "for=192.0.2.60;proto=https;host=hooks.example.com",
    );
    hooks.accepts(forwarded, Some("click")).await;
}
