//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "{t}.{body}">`, the endpoint
//! secret used as it is (`whsec_` included), `t` at most 300 s old. The type is the event's `type`;
//! a redelivery keeps the event's `id` (`evt_...`).

use crate::common::providers::*;

/// `Stripe-Signature` for `body` sent at `t`, as Stripe's libraries compute it.
fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    let t = t.to_string();
    let v1 = hmac_sha256(secret.as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex::encode(v1))
}

fn event(body: Vec<u8>, signature: &str) -> Hook {
    post("stripe", body)
        .json()
        .header("stripe-signature", signature)
}

fn source(secret: &Value) -> String {
    format!("[sources.stripe]\nverify = {{ scheme = \"stripe\", secret = {secret} }}\n")
}

fn body_of(v: &Value) -> Vec<u8> {
    match v["body_file"].as_str() {
        Some(file) => fixture(&format!("stripe/{file}")),
        None => v["body"].as_str().unwrap().as_bytes().to_vec(),
    }
}

fn type_of(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<Value>(body).unwrap()["type"]
        .as_str()
        .map(str::to_owned)
}

/// The stripe-dotnet vector, the fixture's other events (dj-stripe), and the pay-rails `data`
/// objects wrapped in the event Stripe sends them in, on a router at the vector's
/// `valid_with_now`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dotnet_vector_and_every_event_are_stored_with_their_type() {
    let v = &vectors("stripe")[0];
    let now = v["valid_with_now"].as_i64().unwrap();
    let secret = v["secret"].as_str().unwrap();
    let router = start_at(now, &source(&v["secret"])).await;
    let hooks = Hooks::new(&router);

    let body = body_of(v);
    let signed = event(body.clone(), v["stripe_signature"].as_str().unwrap());
    let id = hooks
        .accepts(signed.clone(), Some("customer.created"))
        .await;
    // Stripe retries with the same event (same `id`), signed again at the retry's time.
    hooks
        .duplicate(
            signed.header("stripe-signature", &sign(secret, now, &body)),
            &id,
        )
        .await;

    for file in fixture_files("stripe", ".json") {
        let bytes = fixture(&format!("stripe/{file}"));
        let body = if let Some(name) = file
            .strip_prefix("pay-rails.")
            .and_then(|f| f.strip_suffix(".data.json"))
        {
            // `{"object": {...}}`, the `data` of an event of type `name`.
            let data = String::from_utf8(bytes).unwrap();
            format!(r#"{{"id":"evt_{name}","object":"event","type":"{name}","data":{data}}}"#)
                .into_bytes()
        } else if file.starts_with("dj-stripe.") {
            bytes
        } else {
            continue; // vectors.json, and the vector's own body above
        };
        let expected = type_of(&body);
        assert!(expected.is_some(), "{file}");
        hooks
            .accepts(
                event(body.clone(), &sign(secret, now - 10, &body)),
                expected.as_deref(),
            )
            .await;
    }
}

/// The stripe-node/stripe-go vector (`whsec_` secret, an event without `type`) at its time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whsec_vector_is_stored_at_its_time() {
    let v = &vectors("stripe")[1];
    let router = start_at(v["timestamp"].as_i64().unwrap(), &source(&v["secret"])).await;
    let hooks = Hooks::new(&router);
    let body = body_of(v);
    assert_eq!(type_of(&body), None);
    let signed = event(body, v["stripe_signature"].as_str().unwrap());
    let id = hooks.accepts(signed.clone(), None).await;
    hooks.duplicate(signed, &id).await;
}

/// On a router at the vector's `invalid_with_now`, the vector itself is too old; so is an
/// event signed more than 300 s ago; one signed more than 300 s ahead is refused too; and
/// forgeries fail at any time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_forged_stripe_events_are_refused_and_nothing_is_stored() {
    let v = &vectors("stripe")[0];
    let now = v["invalid_with_now"].as_i64().unwrap();
    let secret = v["secret"].as_str().unwrap();
    let router = start_at(now, &source(&v["secret"])).await;
    let hooks = Hooks::new(&router);
    let body = body_of(v);

    let stale = hooks
        .refuses(
            event(body.clone(), v["stripe_signature"].as_str().unwrap()),
            "the vector at invalid_with_now",
        )
        .await;
    assert!(stale.contains("5 minutes old"), "{stale}");
    hooks
        .refuses(
            event(body.clone(), &sign(secret, now - 301, &body)),
            "t = now - 301",
        )
        .await;
    let ahead = hooks
        .refuses(
            event(body.clone(), &sign(secret, now + 301, &body)),
            "t = now + 301",
        )
        .await;
    assert!(ahead.contains("ahead of wasmhook's clock"), "{ahead}");
    let fresh = sign(secret, now, &body);
    hooks
        .refuses(event(tampered(&body), &fresh), "tampered body")
        .await;
    hooks
        .refuses(
            event(body.clone(), &sign("whsec_not_the_secret", now, &body)),
            "wrong secret",
        )
        .await;
    hooks
        .refuses(
            event(body.clone(), &fresh).without("stripe-signature"),
            "no Stripe-Signature",
        )
        .await;
    // Another timestamp than the one signed.
    let moved = fresh.replacen(&format!("t={now}"), &format!("t={}", now - 1), 1);
    hooks
        .refuses(event(body.clone(), &moved), "t= not the signed one")
        .await;
    // A `v0` entry alone (Stripe's legacy test-mode scheme) proves nothing.
    let v0 = v["stripe_signature"]
        .as_str()
        .unwrap()
        .split(',')
        .filter(|part| !part.starts_with("v1="))
        .collect::<Vec<_>>()
        .join(",");
    hooks.refuses(event(body.clone(), &v0), "v0 only").await;

    // 300 s old and 300 s ahead are still within the bounds (the second is a redelivery of
    // the same `id` by then).
    let id = hooks
        .accepts(
            event(body.clone(), &sign(secret, now - 300, &body)),
            Some("customer.created"),
        )
        .await;
    hooks
        .duplicate(event(body.clone(), &sign(secret, now + 300, &body)), &id)
        .await;
}
