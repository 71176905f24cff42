//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>` of the body (with `legacy_sha1`,
//! `X-Hub-Signature: sha1=...` when the first is absent). The type is `X-GitHub-Event`; a
//! redelivery keeps `X-GitHub-Delivery`. GitHub signs no timestamp, so there is none to go stale.

use crate::common::providers::*;
use crate::common::signature::github as sign;

/// The secret of octokit's vectors, used here for the payload examples too.
const SECRET: &str = "mysecret";

/// A GitHub delivery of `event` to `source`, signed with `secret`.
fn delivery(source: &str, event: &str, delivery: &str, secret: &str, body: &[u8]) -> Hook {
    post(source, body.to_vec())
        .json()
        .header("x-github-event", event)
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", &sign(secret, body))
}

/// `vN` (sha256 only) and `legacyN` (`legacy_sha1 = true`) for each vector, and `github`.
fn wiring(vectors: &[Value]) -> String {
    let mut wiring =
        format!("[sources.github]\nverify = {{ scheme = \"github\", secret = {SECRET:?} }}\n");
    for (i, v) in vectors.iter().enumerate() {
        let secret = &v["secret"];
        wiring += &format!(
            "[sources.v{i}]\nverify = {{ scheme = \"github\", secret = {secret} }}\n\
             [sources.legacy{i}]\nverify = {{ scheme = \"github\", secret = {secret}, legacy_sha1 = true }}\n"
        );
    }
    wiring
}

fn body_of(v: &Value) -> Vec<u8> {
    match v["body"].as_str() {
        Some(body) => body.as_bytes().to_vec(),
        None => fixture(&format!("github/{}", v["body_file"].as_str().unwrap())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vector_and_payload_is_stored_with_its_event_as_type() {
    let vectors = vectors("github");
    let router = Router::start(&wiring(&vectors)).await;
    let hooks = Hooks::new(&router);

    for (i, v) in vectors.iter().enumerate() {
        let body = body_of(v);
        let signed = post(&format!("v{i}"), body.clone())
            .header("content-type", "application/octet-stream")
            .header("x-github-event", "ping")
            .header("x-github-delivery", &format!("vector-{i}"))
            .header(
                "x-hub-signature-256",
                v["x_hub_signature_256"].as_str().unwrap(),
            );
        let id = hooks.accepts(signed.clone(), Some("ping")).await;
        hooks.duplicate(signed.clone(), &id).await;
        // A legacy source takes X-Hub-Signature-256 first, like any other.
        hooks
            .accepts(signed.clone().to(&format!("legacy{i}")), Some("ping"))
            .await;

        let Some(sha1) = v["x_hub_signature"].as_str() else {
            continue;
        };
        let legacy = signed
            .without("x-hub-signature-256")
            .header("x-hub-signature", sha1)
            .header("x-github-delivery", &format!("legacy-{i}"));
        hooks
            .accepts(legacy.clone().to(&format!("legacy{i}")), Some("ping"))
            .await;
        hooks
            .refuses(
                legacy.to(&format!("v{i}")),
                "sha1 only, without legacy_sha1",
            )
            .await;
    }

    let payloads = fixture_files("github", ".payload.json");
    assert_eq!(payloads.len(), 23, "{payloads:?}");
    for file in &payloads {
        let event = file.split('.').next().unwrap();
        let body = fixture(&format!("github/{file}"));
        let id = hooks
            .accepts(delivery("github", event, file, SECRET, &body), Some(event))
            .await;
        // GitHub's "Redeliver" button sends the same X-GitHub-Delivery again.
        hooks
            .duplicate(delivery("github", event, file, SECRET, &body), &id)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_github_deliveries_are_refused_and_nothing_is_stored() {
    let router = Router::start(&wiring(&vectors("github"))).await;
    let hooks = Hooks::new(&router);
    let body = fixture("github/push.payload.json");
    let good = delivery("github", "push", "forged", SECRET, &body);

    hooks
        .refuses(good.clone().body(tampered(&body)), "tampered body")
        .await;
    hooks
        .refuses(
            delivery("github", "push", "forged", "not mysecret", &body),
            "wrong secret",
        )
        .await;
    let missing = hooks
        .refuses(good.clone().without("x-hub-signature-256"), "no signature")
        .await;
    assert!(missing.contains("X-Hub-Signature-256"), "{missing}");
    hooks
        .refuses(
            good.clone().header(
                "x-hub-signature-256",
                &sign(SECRET, &body).replace("sha256=", "sha1="),
            ),
            "wrong prefix",
        )
        .await;
    hooks
        .refuses(
            good.clone().header("x-hub-signature-256", "sha256=not-hex"),
            "not hex",
        )
        .await;
    // A legacy source still checks the sha1 signature it falls back to.
    let v = &vectors("github")[0];
    let sha1_only = post("legacy0", body_of(v))
        .header("x-github-event", "ping")
        .header("x-hub-signature", &format!("sha1={}", "0".repeat(40)));
    hooks.refuses(sha1_only, "wrong legacy sha1").await;
    hooks
        .refuses(
            post("legacy0", body_of(v)).header("x-github-event", "ping"),
            "no signature at all on a legacy source",
        )
        .await;
    // The real one still passes: the refusals above were for what they changed.
    hooks.accepts(good, Some("push")).await;
}
