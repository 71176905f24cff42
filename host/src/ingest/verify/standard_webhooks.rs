//! Standard Webhooks: `webhook-signature` holds space-separated `v1,<base64 HMAC-SHA256>`
//! (key = base64 after `whsec_`) and `v1a,<base64 ed25519>` (public key = base64 after
//! `whpk_`) signatures over `id.timestamp.body`; any one matching any configured key passes.
//! The timestamp must be within five minutes of now in either direction, which bounds replays.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};

use super::incoming::{Handshake, Incoming};
use super::{Rejection, header, hmac_sha256_matches};
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
        let signatures = required(req, "webhook-signature")?;
        let sent_at: i64 = timestamp.parse().map_err(|_| {
            Rejection::unauthorized("webhook-timestamp is not a Unix time in seconds")
        })?;
        if (req.now - sent_at).abs() > TOLERANCE_SECS {
            return Err(Rejection::unauthorized(
                "webhook-timestamp is more than 5 minutes from now; check the sender's clock or resend",
            ));
        }
        let message: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", req.body];
        let matches = signatures
            .split(' ')
            .any(|entry| match entry.split_once(',') {
                Some(("v1", encoded)) => BASE64.decode(encoded).is_ok_and(|mac| {
                    self.hmac_keys
                        .iter()
                        .any(|key| hmac_sha256_matches(key, &message, &mac))
                }),
                Some(("v1a", encoded)) => BASE64
                    .decode(encoded)
                    .ok()
                    .and_then(|raw| Signature::from_slice(&raw).ok())
                    .is_some_and(|signature| {
                        let content = message.concat();
                        self.public_keys
                            .iter()
                            .any(|key| key.verify(&content, &signature).is_ok())
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
