//! A subscriber as the wiring holds it for delivery: its settings and its signing keys,
//! decoded once per version of routes.toml.

use crate::config::SubscriberConfig;
use crate::standard_webhooks;

pub struct Subscriber {
    pub config: SubscriberConfig,
    /// Keys of the `whsec_` secrets; every one signs, so a receiver may rotate at leisure.
    hmac_keys: Vec<Vec<u8>>,
    /// ed25519 keys of the `whsk_` secrets, each adding a `v1a` signature.
    ed25519_keys: Vec<ed25519_dalek::SigningKey>,
}

impl Subscriber {
    pub fn new(config: SubscriberConfig) -> Subscriber {
        let hmac_keys = config
            .secrets
            .iter()
            .filter(|secret| secret.starts_with("whsec_"))
            .map(|secret| standard_webhooks::secret_key(secret))
            .collect();
        let ed25519_keys = config
            .secrets
            .iter()
            .filter_map(|secret| standard_webhooks::signing_key(secret))
            .collect();
        Subscriber {
            config,
            hmac_keys,
            ed25519_keys,
        }
    }

    /// The `webhook-signature` value for one attempt, or `None` without secrets.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
        let hmac = self
            .hmac_keys
            .iter()
            .map(|key| standard_webhooks::sign_v1(key, id, timestamp, body));
        let ed25519 = self
            .ed25519_keys
            .iter()
            .map(|key| standard_webhooks::sign_v1a(key, id, timestamp, body));
        let signatures: Vec<String> = hmac.chain(ed25519).collect();
        (!signatures.is_empty()).then(|| signatures.join(" "))
    }
}
