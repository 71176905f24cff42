//! Standard Webhooks: `webhook-signature: v1,<base64 HMAC-SHA256(key, id.timestamp.body)>`
//! (space-separated, any one may match), key = base64 after `whsec_`, and a timestamp within
//! five minutes of now in either direction, which bounds replays.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::HeaderMap;

use super::{Rejection, header, hmac_sha256_matches};
use crate::standard_webhooks::secret_key;

/// How far `webhook-timestamp` may be from now, in seconds.
pub const TOLERANCE_SECS: i64 = 5 * 60;

pub struct StandardWebhooks {
    keys: Vec<Vec<u8>>,
}

impl StandardWebhooks {
    pub fn new(secrets: &[String]) -> StandardWebhooks {
        StandardWebhooks {
            keys: secrets.iter().map(|secret| secret_key(secret)).collect(),
        }
    }

    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), Rejection> {
        let id = required(headers, "webhook-id")?;
        let timestamp = required(headers, "webhook-timestamp")?;
        let signatures = required(headers, "webhook-signature")?;
        let sent_at: i64 = timestamp.parse().map_err(|_| {
            Rejection::unauthorized("webhook-timestamp is not a Unix time in seconds")
        })?;
        if (now - sent_at).abs() > TOLERANCE_SECS {
            return Err(Rejection::unauthorized(
                "webhook-timestamp is more than 5 minutes from now; check the sender's clock or resend",
            ));
        }
        let message: [&[u8]; 5] = [id.as_bytes(), b".", timestamp.as_bytes(), b".", body];
        let matches = signatures
            .split(' ')
            .filter_map(|entry| entry.strip_prefix("v1,"))
            .filter_map(|encoded| BASE64.decode(encoded).ok())
            .any(|mac| {
                self.keys
                    .iter()
                    .any(|key| hmac_sha256_matches(key, &message, &mac))
            });
        if matches {
            Ok(())
        } else {
            Err(Rejection::unauthorized(
                "no webhook-signature entry matches the body and the source's secret",
            ))
        }
    }
}

/// The event type the payload names in its `type` field.
pub fn event_type(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "type")]
        event_type: Option<String>,
    }
    serde_json::from_slice::<Typed>(body).ok()?.event_type
}

fn required<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Rejection> {
    header(headers, name).ok_or_else(|| Rejection::unauthorized(format!("missing {name} header")))
}
