//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>` with the app's client
//! secret. The type is `X-Shopify-Topic`; a retry keeps `X-Shopify-Webhook-Id`. Shopify signs
//! no timestamp.

use crate::common::providers::*;

const WIRING: &str =
    "[sources.shop]\nverify = { scheme = \"shopify\", secret = \"test_secret_key\" }\n";

/// The vector's request: its body and every header it lists.
fn vector_request() -> (Hook, Vec<u8>) {
    let v = &vectors("shopify")[0];
    assert_eq!(v["secret"], "test_secret_key");
    let body = v["body"].as_str().unwrap().as_bytes().to_vec();
    let mut hook = post("shop", body.clone()).json();
    for (name, value) in v["headers"].as_object().unwrap() {
        hook = hook.header(name, value.as_str().unwrap());
    }
    (hook, body)
}

fn sign(secret: &str, body: &[u8]) -> String {
    base64(&hmac_sha256(secret.as_bytes(), &[body]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vector_and_an_order_are_stored_with_their_topic() {
    let router = Router::start(WIRING).await;
    let hooks = Hooks::new(&router);

    let (vector, _) = vector_request();
    let id = hooks.accepts(vector.clone(), Some("products/create")).await;
    // A retry carries the same X-Shopify-Webhook-Id.
    hooks.duplicate(vector, &id).await;

    let order = fixture("shopify/shopify_python_api.order.json");
    let created = post("shop", order.clone())
        .json()
        .header("x-shopify-topic", "orders/create")
        .header("x-shopify-shop-domain", "shop1.myshopify.io")
        .header(
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        )
        .header("x-shopify-hmac-sha256", &sign("test_secret_key", &order));
    hooks.accepts(created, Some("orders/create")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_shopify_webhooks_are_refused_and_nothing_is_stored() {
    let router = Router::start(WIRING).await;
    let hooks = Hooks::new(&router);
    let (vector, body) = vector_request();

    hooks
        .refuses(vector.clone().body(tampered(&body)), "tampered body")
        .await;
    hooks
        .refuses(
            vector
                .clone()
                .header("x-shopify-hmac-sha256", &sign("wrong_secret", &body)),
            "wrong secret",
        )
        .await;
    let missing = hooks
        .refuses(
            vector.clone().without("x-shopify-hmac-sha256"),
            "no signature",
        )
        .await;
    assert!(missing.contains("X-Shopify-Hmac-Sha256"), "{missing}");
    hooks
        .refuses(
            vector.clone().header(
                "x-shopify-hmac-sha256",
                &hex::encode(hmac_sha256(b"test_secret_key", &[&body])),
            ),
            "hex instead of base64",
        )
        .await;
    hooks.accepts(vector, Some("products/create")).await;
}
