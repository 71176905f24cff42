//! Signatures, computed here independently of the router: GitHub's `X-Hub-Signature-256`,
//! plain HMAC-SHA256 hex, and Standard Webhooks signing and verification.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Standard Webhooks: a timestamp further than this from now is rejected.
const TOLERANCE_SECS: i64 = 5 * 60;

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

pub fn hmac_sha256_hex(secret: &str, body: &[u8]) -> String {
    hex::encode(hmac_sha256(secret.as_bytes(), &[body]))
}

/// `X-Hub-Signature-256`: `sha256=<hex>`.
pub fn github(secret: &str, body: &[u8]) -> String {
    format!("sha256={}", hmac_sha256_hex(secret, body))
}

fn whsec_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    BASE64.decode(encoded).expect("whsec_ secret is not base64")
}

/// `webhook-signature` for one message: `v1,<base64>`.
pub fn standard_webhook_sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let signed = hmac_sha256(
        &whsec_key(secret),
        &[
            id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body,
        ],
    );
    format!("v1,{}", BASE64.encode(signed))
}

pub fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Verifies a Standard Webhooks delivery against the current clock.
pub fn verify_standard_webhook(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(), String> {
    verify_standard_webhook_at(secret, headers, body, now_unix())
}

/// Verifies a Standard Webhooks delivery as of `now` (Unix seconds).
pub fn verify_standard_webhook_at(
    secret: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: i64,
) -> Result<(), String> {
    let header = |name: &str| {
        headers
            .get(name)
            .ok_or(format!("no {name} header"))?
            .to_str()
            .map_err(|_| format!("{name} is not text"))
    };
    let id = header("webhook-id")?;
    let timestamp: i64 = header("webhook-timestamp")?
        .parse()
        .map_err(|_| "webhook-timestamp is not an integer".to_owned())?;
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(format!(
            "webhook-timestamp {timestamp} is more than 5 minutes from {now}"
        ));
    }
    let expected = standard_webhook_sign(secret, id, timestamp, body);
    let signatures = header("webhook-signature")?;
    if signatures.split(' ').any(|s| s == expected) {
        Ok(())
    } else {
        Err(format!("no v1 signature in {signatures:?} matches"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::fixtures::fixture_json;

    fn headers(id: &str, timestamp: i64, signature: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("webhook-id", id.parse().unwrap());
        headers.insert("webhook-timestamp", timestamp.to_string().parse().unwrap());
        headers.insert("webhook-signature", signature.parse().unwrap());
        headers
    }

    #[test]
    fn verifier_agrees_with_every_standard_webhooks_vector() {
        let vectors = fixture_json("standard-webhooks/vectors.json");
        let vectors = vectors["vectors"].as_array().unwrap();
        assert!(!vectors.is_empty());
        for v in vectors {
            let (secret, id, body) = (
                v["secret"].as_str().unwrap(),
                v["webhook_id"].as_str().unwrap(),
                v["body"].as_str().unwrap(),
            );
            let (ts, signature) = (
                v["webhook_timestamp"].as_i64().unwrap(),
                v["webhook_signature"].as_str().unwrap(),
            );
            assert_eq!(
                standard_webhook_sign(secret, id, ts, body.as_bytes()),
                signature,
                "{}",
                v["source"]
            );
            let good = headers(id, ts, &format!("v1,bm90IGl0 {signature}"));
            assert_eq!(
                verify_standard_webhook_at(secret, &good, body.as_bytes(), ts + 10),
                Ok(())
            );
            assert!(
                verify_standard_webhook_at(secret, &good, b"{}", ts).is_err(),
                "tampered body accepted"
            );
            assert!(
                verify_standard_webhook_at(secret, &good, body.as_bytes(), ts + 301).is_err(),
                "stale timestamp accepted"
            );
            assert!(
                verify_standard_webhook_at(
                    secret,
                    &headers(id, ts + 1, signature),
                    body.as_bytes(),
                    ts
                )
                .is_err()
            );
        }
    }
}
