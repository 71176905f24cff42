//! Standard Webhooks: `webhook-signature` holds `v1,<base64 HMAC-SHA256>` (with a `whsec_`
//! secret) or `v1a,<base64 ed25519>` (with a `whpk_` public key) entries over
//! `"{webhook-id}.{webhook-timestamp}.{body}"`, the timestamp within 5 minutes either way. The
//! type is the body's `type`; a retry keeps `webhook-id`.

use ed25519_dalek::{Signer, SigningKey};

use crate::common::providers::*;
use crate::common::signature::standard_webhook_sign as sign;

fn wiring(secret: &str, public_key: &str) -> String {
    format!(
        "[sources.sw]\nverify = {{ scheme = \"standard-webhooks\", secret = [{secret:?}, {public_key:?}] }}\n"
    )
}

/// A sender's ed25519 key, and its `whpk_` public key for the source.
fn ed25519() -> (SigningKey, String) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = format!("whpk_{}", base64(key.verifying_key().as_bytes()));
    (key, public)
}

fn message(id: &str, timestamp: i64, signature: &str, body: &[u8]) -> Hook {
    post("sw", body.to_vec())
        .json()
        .header("webhook-id", id)
        .header("webhook-timestamp", &timestamp.to_string())
        .header("webhook-signature", signature)
}

fn vector_message(v: &Value) -> Hook {
    message(
        v["webhook_id"].as_str().unwrap(),
        v["webhook_timestamp"].as_i64().unwrap(),
        v["webhook_signature"].as_str().unwrap(),
        v["body"].as_str().unwrap().as_bytes(),
    )
}

/// Each vector on a router at its own time, with a typed message signed `v1` and `v1a` beside it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_vector_and_both_signature_kinds_are_stored_with_their_type() {
    let (key, public) = ed25519();
    for v in vectors("standard-webhooks") {
        let now = v["webhook_timestamp"].as_i64().unwrap();
        let secret = v["secret"].as_str().unwrap();
        let router = start_at(now, &wiring(secret, &public)).await;
        let hooks = Hooks::new(&router);

        let id = hooks.accepts(vector_message(&v), None).await;
        hooks.duplicate(vector_message(&v), &id).await;

        let body = br#"{"type":"invoice.paid","data":{"id":"in_1","amount":1200}}"#;
        hooks
            .accepts(
                message(
                    "msg_typed_v1",
                    now,
                    &sign(secret, "msg_typed_v1", now, body),
                    body,
                ),
                Some("invoice.paid"),
            )
            .await;
        let content = format!("msg_typed_v1a.{now}.{}", std::str::from_utf8(body).unwrap());
        let v1a = format!("v1a,{}", base64(&key.sign(content.as_bytes()).to_bytes()));
        hooks
            .accepts(
                message("msg_typed_v1a", now, &v1a, body),
                Some("invoice.paid"),
            )
            .await;
        // Several entries: any one that verifies is enough.
        let several = format!(
            "v1,{} {}",
            base64(&[0; 32]),
            sign(secret, "msg_several", now, body)
        );
        hooks
            .accepts(
                message("msg_several", now, &several, body),
                Some("invoice.paid"),
            )
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_forged_messages_are_refused_and_nothing_is_stored() {
    let v = &vectors("standard-webhooks")[0];
    let (key, public) = ed25519();
    let now = v["webhook_timestamp"].as_i64().unwrap();
    let secret = v["secret"].as_str().unwrap();
    let router = start_at(now, &wiring(secret, &public)).await;
    let hooks = Hooks::new(&router);
    let body = v["body"].as_str().unwrap().as_bytes();
    let id = v["webhook_id"].as_str().unwrap();
    let good = vector_message(v);

    hooks
        .refuses(good.clone().body(tampered(body)), "tampered body")
        .await;
    hooks
        .refuses(
            message(
                id,
                now,
                &sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id, now, body),
                body,
            ),
            "wrong secret",
        )
        .await;
    for sent in [now - 301, now + 301] {
        let stale = hooks
            .refuses(
                message(id, sent, &sign(secret, id, sent, body), body),
                &format!("timestamp now {:+}", sent - now),
            )
            .await;
        assert!(stale.contains("5 minutes"), "{stale}");
    }
    hooks
        .refuses(
            good.clone().header("webhook-id", "msg_other"),
            "another webhook-id",
        )
        .await;
    for header in ["webhook-signature", "webhook-id", "webhook-timestamp"] {
        let missing = hooks
            .refuses(good.clone().without(header), &format!("no {header}"))
            .await;
        assert!(missing.contains(header), "{missing}");
    }
    // An ed25519 signature by another key.
    let other = SigningKey::from_bytes(&[8; 32]);
    let content = format!("{id}.{now}.{}", std::str::from_utf8(body).unwrap());
    let forged = format!("v1a,{}", base64(&other.sign(content.as_bytes()).to_bytes()));
    hooks
        .refuses(message(id, now, &forged, body), "v1a by another key")
        .await;
    // The HMAC of the right content presented as v1a, and the signature by the right key as v1.
    let right = base64(&key.sign(content.as_bytes()).to_bytes());
    hooks
        .refuses(
            message(id, now, &format!("v1,{right}"), body),
            "ed25519 as v1",
        )
        .await;

    for sent in [now - 300, now + 300] {
        let id = format!("msg_edge_{sent}");
        hooks
            .accepts(
                message(&id, sent, &sign(secret, &id, sent, body), body),
                None,
            )
            .await;
    }
}
