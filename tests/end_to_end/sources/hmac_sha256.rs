//! The generic `hmac-sha256` scheme: the HMAC-SHA256 of the body in a header of your choice,
//! hex or base64, after an optional prefix. It knows no type and no delivery id (`dedup` takes
//! a header or a JSON pointer instead), and no timestamp. Shown here with two providers'
//! vectors: GitHub's (hex, `sha256=`) and Shopify's (base64).

use crate::common::providers::*;

fn wiring() -> String {
    let github = &vectors("github")[0];
    let shopify = &vectors("shopify")[0];
    format!(
        "[sources.hex]\nverify = {{ scheme = \"hmac-sha256\", secret = {}, header = \"X-Hub-Signature-256\", prefix = \"sha256=\" }}\n\
         [sources.b64]\ndedup = {{ header = \"X-Shopify-Webhook-Id\" }}\n\
         verify = {{ scheme = \"hmac-sha256\", secret = {}, header = \"X-Shopify-Hmac-Sha256\", encoding = \"base64\" }}\n",
        github["secret"], shopify["secret"]
    )
}

fn github_vector() -> Hook {
    let v = &vectors("github")[0];
    post("hex", v["body"].as_str().unwrap())
        .header("content-type", "text/plain")
        .header(
            "x-hub-signature-256",
            v["x_hub_signature_256"].as_str().unwrap(),
        )
}

fn shopify_vector() -> Hook {
    let v = &vectors("shopify")[0];
    let mut hook = post("b64", v["body"].as_str().unwrap()).json();
    for (name, value) in v["headers"].as_object().unwrap() {
        hook = hook.header(name, value.as_str().unwrap());
    }
    hook
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hex_and_base64_vectors_are_stored_without_a_type() {
    let router = Router::start(&wiring()).await;
    let hooks = Hooks::new(&router);
    hooks.accepts(github_vector(), None).await;
    hooks.accepts(github_vector(), None).await; // no delivery id: a new event
    let id = hooks.accepts(shopify_vector(), None).await;
    hooks.duplicate(shopify_vector(), &id).await; // dedup by the configured header
    // Surrounding spaces around the MAC are ignored.
    let v = &vectors("github")[0];
    let spaced = format!(
        "sha256= {} ",
        v["x_hub_signature_256"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256=")
    );
    hooks
        .accepts(github_vector().header("x-hub-signature-256", &spaced), None)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_requests_are_refused_and_nothing_is_stored() {
    let router = Router::start(&wiring()).await;
    let hooks = Hooks::new(&router);
    for (good, header) in [
        (github_vector(), "x-hub-signature-256"),
        (shopify_vector(), "x-shopify-hmac-sha256"),
    ] {
        let body = good.body.clone();
        hooks
            .refuses(good.clone().body(tampered(&body)), "tampered body")
            .await;
        let wrong = hmac_sha256(b"not the secret", &[&body]);
        let wrong = if header == "x-hub-signature-256" {
            format!("sha256={}", hex::encode(wrong))
        } else {
            base64(&wrong)
        };
        hooks
            .refuses(good.clone().header(header, &wrong), "wrong secret")
            .await;
        let missing = hooks
            .refuses(good.clone().without(header), "no signature header")
            .await;
        assert!(missing.contains(header), "{missing}");
    }
    let v = &vectors("github")[0];
    let unprefixed = v["x_hub_signature_256"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256=");
    hooks
        .refuses(
            github_vector().header("x-hub-signature-256", unprefixed),
            "no prefix",
        )
        .await;
}
