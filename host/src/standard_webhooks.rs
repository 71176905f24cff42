//! The Standard Webhooks signature, shared by the ingest scheme that checks it and the
//! delivery that produces it: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};

/// The key bytes of a `whsec_` secret: the base64 after the prefix (the prefix is optional).
pub fn secret_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    BASE64
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec())
}

/// An ed25519 signing key from a `whsk_` secret: base64 of the 32-byte seed (a 64-byte
/// seed-and-public-key form is accepted too). `None` when it is not such a key.
pub fn signing_key(secret: &str) -> Option<ed25519_dalek::SigningKey> {
    let bytes = BASE64.decode(secret.strip_prefix("whsk_")?).ok()?;
    let seed: [u8; 32] = bytes.get(..32)?.try_into().ok()?;
    Some(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// The `v1a,...` (ed25519) signature of one message.
pub fn sign_v1a(key: &ed25519_dalek::SigningKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    use ed25519_dalek::Signer;
    let mut content = Vec::with_capacity(id.len() + body.len() + 24);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    format!("v1a,{}", BASE64.encode(key.sign(&content).to_bytes()))
}

/// The `v1,...` signature of one message.
pub fn sign_v1(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1a_signatures_verify_with_the_public_key() {
        use ed25519_dalek::Verifier;
        let secret = format!("whsk_{}", BASE64.encode([7u8; 32]));
        let key = signing_key(&secret).unwrap();
        let signature = sign_v1a(&key, "msg_1", 1_700_000_000, b"{}");
        let raw = BASE64
            .decode(signature.strip_prefix("v1a,").unwrap())
            .unwrap();
        let signature = ed25519_dalek::Signature::from_slice(&raw).unwrap();
        assert!(
            key.verifying_key()
                .verify(b"msg_1.1700000000.{}", &signature)
                .is_ok()
        );
        assert!(
            key.verifying_key()
                .verify(b"msg_1.1700000000.{ }", &signature)
                .is_err()
        );
    }

    /// Every vector of the Standard Webhooks fixtures, signed the way delivery signs.
    #[test]
    fn signs_every_fixture_vector() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../shared/fixtures/standard-webhooks/vectors.json"
        );
        let fixture: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).expect("shared fixtures beside the repo"))
                .unwrap();
        let vectors = fixture["vectors"].as_array().unwrap();
        assert!(!vectors.is_empty());
        for vector in vectors {
            let key = secret_key(vector["secret"].as_str().unwrap());
            let signature = sign_v1(
                &key,
                vector["webhook_id"].as_str().unwrap(),
                vector["webhook_timestamp"].as_i64().unwrap(),
                vector["body"].as_str().unwrap().as_bytes(),
            );
            assert_eq!(
                signature,
                vector["webhook_signature"].as_str().unwrap(),
                "{}",
                vector["source"]
            );
        }
    }
}
