//! Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>`
//! (key = base64 after `whsec_`) and `v1a,<base64 ed25519>` (public key = base64 after
//! `whpk_`) signatures over `id.timestamp.body`; any one matching any configured key passes.
//! The timestamp must be within five minutes of now in either direction, which bounds replays.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

use super::incoming::{Handshake, Incoming};
use super::{Rejection, few_signatures, header, hmac_sha256_tags, matches_any, signature_header};
use crate::standard_webhooks::secret_key;

/// How far `webhook-timestamp` may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 5 * 60;

pub struct StandardWebhooks {
    hmac_keys: Vec<Vec<u8>>,
    public_keys: Vec<VerifyingKey>,
}

impl StandardWebhooks {
    pub fn new(secrets: &[String]) -> StandardWebhooks {
        let public_keys = secrets
            .iter()
            .filter_map(|secret| secret.strip_prefix("whpk_"))
            .filter_map(|encoded| BASE64.decode(encoded).ok())
            .filter_map(|bytes| VerifyingKey::try_from(bytes.as_slice()).ok())
            .collect();
        let hmac_keys = secrets
            .iter()
            .filter(|s| !s.starts_with("whpk_"))
            .map(|s| secret_key(s))
            .collect();
        StandardWebhooks {
            hmac_keys,
            public_keys,
        }
    }

    pub fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        let id = required(req, "webhook-id")?;
        let timestamp = required(req, "webhook-timestamp")?;
        let signatures = signature_header(req.headers, "webhook-signature", "webhook-signature")?;
        let entries: Vec<&str> = signatures.split(' ').filter(|e| !e.is_empty()).collect();
        few_signatures("webhook-signature", entries.len())?;
        let sent_at: i64 = timestamp.parse().map_err(|_| {
            Rejection::unauthorized("webhook-timestamp is not a Unix time in seconds")
        })?;
        if (req.now - sent_at).abs() > TOLERANCE_SECS {
            return Err(Rejection::unauthorized(
                "webhook-timestamp is more than 5 minutes from now; check the sender's clock or resend",
            ));
        }
        let message: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", req.body];
        let tags = hmac_sha256_tags(&self.hmac_keys, &message);
        // Built once, and only for a request with `v1a` entries to check.
        let mut content = None;
        let matches = entries.iter().any(|entry| match entry.split_once(',') {
            Some(("v1", encoded)) => BASE64
                .decode(encoded)
                .is_ok_and(|mac| matches_any(&tags, &mac)),
            Some(("v1a", encoded)) => BASE64
                .decode(encoded)
                .ok()
                .and_then(|raw| Signature::from_slice(&raw).ok())
                .is_some_and(|signature| {
                    let content: &[u8] = content.get_or_insert_with(|| message.concat());
                    self.public_keys
                        .iter()
                        .any(|key| key.verify(content, &signature).is_ok())
                }),
            _ => false,
        });
        if matches {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "no webhook-signature entry matches the body and the source's keys",
            ))
        }
    }

    /// `webhook-id`, which is signed: a copy of a verified request carries it again.
    pub fn replay_key(&self, req: &Incoming<'_>) -> Option<String> {
        header(req.headers, "webhook-id").map(str::to_owned)
    }

    /// The event type the payload names in its `type` field.
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct Typed {
            #[serde(rename = "type")]
            event_type: Option<String>,
        }
        serde_json::from_slice::<Typed>(req.body).ok()?.event_type
    }

    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        header(req.headers, "webhook-id").map(str::to_owned)
    }

    pub fn handshake(&self, _req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        None
    }
}

fn required<'a>(req: &Incoming<'a>, name: &str) -> Result<&'a str, Rejection> {
    header(req.headers, name)
        .ok_or_else(|| Rejection::unauthorized(format!("missing {name} header")))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::TestRequest;
    use super::super::{MAX_SIGNATURE_HEADER, MAX_SIGNATURES};
    use super::*;
    use crate::standard_webhooks::{sign_v1, sign_v1a, signing_key};

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const NOW: i64 = TestRequest::NOW;

    fn check(scheme: &StandardWebhooks, signature: &str) -> Result<(), Rejection> {
        let request = TestRequest::post("", b"{}")
            .header("webhook-id", "msg_1")
            .header("webhook-timestamp", &NOW.to_string())
            .header("webhook-signature", signature)
            .now(NOW);
        scheme.verify(&request.incoming())
    }

    fn decoys(count: usize) -> Vec<String> {
        vec![format!("v1,{}", BASE64.encode([7; 32])); count]
    }

    #[test]
    fn any_entry_may_match_any_key_up_to_the_limit() {
        let ed25519 = signing_key(&format!("whsk_{}", BASE64.encode([9; 32]))).unwrap();
        let public = format!("whpk_{}", BASE64.encode(ed25519.verifying_key().as_bytes()));
        let scheme = StandardWebhooks::new(&[SECRET.to_owned(), public]);
        let v1 = sign_v1(&secret_key(SECRET), "msg_1", NOW, b"{}");
        let v1a = sign_v1a(&ed25519, "msg_1", NOW, b"{}");
        for right in [v1, v1a] {
            let mut entries = decoys(MAX_SIGNATURES - 1);
            entries.push(right.clone());
            assert_eq!(check(&scheme, &entries.join(" ")), Ok(()), "{right}");
            entries.insert(0, right);
            let err = check(&scheme, &entries.join(" ")).unwrap_err();
            assert_eq!(
                err.message,
                "webhook-signature carries 9 signatures; at most 8 are read"
            );
        }
        let long = "v1,x ".repeat(MAX_SIGNATURE_HEADER / 4);
        let err = check(&scheme, &long).unwrap_err();
        assert!(
            err.message.contains("longer than 4096 bytes"),
            "{}",
            err.message
        );
    }

    #[test]
    fn the_replay_key_is_the_signed_id() {
        let request = TestRequest::post("", b"{}").header("webhook-id", "msg_1");
        let scheme = StandardWebhooks::new(&[SECRET.to_owned()]);
        assert_eq!(
            scheme.replay_key(&request.incoming()).as_deref(),
            Some("msg_1")
        );
    }
}
