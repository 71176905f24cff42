//! SendGrid: `X-Twilio-Email-Event-Webhook-Signature`, ECDSA P-256 over the timestamp header
//! and the body, by the configured verification key; the timestamp within 300 s. The type is
//! the first event's `event`; a retry of the batch keeps its first `sg_event_id`. anymail's
//! unsigned batches are signed here with a key of this test's own.

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

use crate::common::providers::*;

const SIGNATURE: &str = "x-twilio-email-event-webhook-signature";
const TIMESTAMP: &str = "x-twilio-email-event-webhook-timestamp";

fn sendgrid_source(name: &str, public_key: &str, extra: &str) -> String {
    format!(
        "[sources.{name}]\nverify = {{ scheme = \"sendgrid\", public_key = {public_key:?}{extra} }}\n"
    )
}

fn sendgrid_post(source: &str, body: Vec<u8>, timestamp: &str, signature: &str) -> Hook {
    post(source, body)
        .json()
        .header(TIMESTAMP, timestamp)
        .header(SIGNATURE, signature)
}

fn sendgrid_vector(v: &Value, source: &str) -> Hook {
    let body = fixture(&format!("sendgrid/{}", v["body_file"].as_str().unwrap()));
    sendgrid_post(
        source,
        body,
        v["timestamp"].as_str().unwrap(),
        v["signature"].as_str().unwrap(),
    )
}

/// A P-256 key of this test's own, and its public key as SendGrid shows one.
fn sendgrid_key() -> (EcdsaKeyPair, String) {
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
    let key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    // SubjectPublicKeyInfo for id-ecPublicKey / prime256v1, then the uncompressed point.
    let mut spki = vec![
        0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08,
        0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
    ];
    spki.extend_from_slice(key.public_key().as_ref());
    (key, base64(&spki))
}

fn sendgrid_sign(key: &EcdsaKeyPair, timestamp: &str, body: &[u8]) -> String {
    let message = [timestamp.as_bytes(), body].concat();
    base64(key.sign(&SystemRandom::new(), &message).unwrap().as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_and_event_batches_are_judged_as_the_fixture_says() {
    let vectors = vectors("sendgrid");
    let (key, public_key) = sendgrid_key();
    for v in vectors.iter().filter(|v| v["valid"] == true) {
        let now: i64 = v["timestamp"].as_str().unwrap().parse().unwrap();
        // The vector's key, and the keys of the negative vectors for the same body.
        let mut wiring = sendgrid_source("sendgrid", v["public_key"].as_str().unwrap(), "");
        wiring += &sendgrid_source("mine", &public_key, "");
        for (j, other) in vectors.iter().enumerate() {
            wiring += &sendgrid_source(
                &format!("key{j}"),
                other["public_key"].as_str().unwrap(),
                "",
            );
        }
        let router = start_at(now, &wiring).await;
        let hooks = Hooks::new(&router);

        let signed = sendgrid_vector(v, "sendgrid");
        let events: Value = serde_json::from_slice(&signed.body).unwrap();
        let id = hooks
            .accepts(signed.clone(), events[0]["event"].as_str())
            .await;
        hooks.duplicate(signed, &id).await;
        for (j, other) in vectors.iter().enumerate() {
            if other["valid"] == false && other["body_file"] == v["body_file"] {
                hooks
                    .refuses(
                        sendgrid_vector(other, &format!("key{j}")),
                        &format!("vector {j}: {}", other["source"]),
                    )
                    .await;
            }
        }

        // anymail's event batches, signed with this test's key.
        for file in fixture_files("sendgrid", ".batch.json") {
            let body = fixture(&format!("sendgrid/{file}"));
            let expected: Value = serde_json::from_slice(&body).unwrap();
            let timestamp = now.to_string();
            let signature = sendgrid_sign(&key, &timestamp, &body);
            hooks
                .accepts(
                    sendgrid_post("mine", body, &timestamp, &signature),
                    expected[0]["event"].as_str(),
                )
                .await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_and_forged_batches_are_refused_and_nothing_is_stored() {
    let v = &vectors("sendgrid")[0];
    let sent: i64 = v["timestamp"].as_str().unwrap().parse().unwrap();
    let (key, public_key) = sendgrid_key();
    let (other_key, _) = sendgrid_key();
    let wiring = sendgrid_source("sendgrid", v["public_key"].as_str().unwrap(), "")
        + &sendgrid_source(
            "lenient",
            v["public_key"].as_str().unwrap(),
            ", tolerance = \"301s\"",
        )
        + &sendgrid_source("mine", &public_key, "");
    // 301 s after the vector was signed.
    let now = sent + 301;
    let router = start_at(now, &wiring).await;
    let hooks = Hooks::new(&router);

    let stale = hooks
        .refuses(sendgrid_vector(v, "sendgrid"), "the vector, 301 s later")
        .await;
    assert!(stale.contains("300"), "{stale}");
    let body = fixture("sendgrid/anymail.delivered.batch.json");
    let at = |t: i64| t.to_string();
    hooks
        .refuses(
            sendgrid_post(
                "mine",
                body.clone(),
                &at(now + 301),
                &sendgrid_sign(&key, &at(now + 301), &body),
            ),
            "301 s in the future",
        )
        .await;
    hooks
        .refuses(
            sendgrid_post(
                "mine",
                tampered(&body),
                &at(now),
                &sendgrid_sign(&key, &at(now), &body),
            ),
            "tampered body",
        )
        .await;
    hooks
        .refuses(
            sendgrid_post(
                "mine",
                body.clone(),
                &at(now),
                &sendgrid_sign(&other_key, &at(now), &body),
            ),
            "signed by another key",
        )
        .await;
    hooks
        .refuses(
            sendgrid_post(
                "mine",
                body.clone(),
                &at(now - 1),
                &sendgrid_sign(&key, &at(now), &body),
            ),
            "a timestamp other than the signed one",
        )
        .await;
    let good = sendgrid_post(
        "mine",
        body.clone(),
        &at(now),
        &sendgrid_sign(&key, &at(now), &body),
    );
    for header in [SIGNATURE, TIMESTAMP] {
        let missing = hooks
            .refuses(good.clone().without(header), &format!("no {header}"))
            .await;
        assert!(missing.to_lowercase().contains(header), "{missing}");
    }
    hooks.accepts(good, Some("delivered")).await;
    // With a wider tolerance, the vector passes: it was refused for its age only.
    hooks
        .accepts(sendgrid_vector(v, "lenient"), Some("dropped"))
        .await;
}
