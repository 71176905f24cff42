//! A subscriber as delivery uses it: its settings and its signing keys, decoded once.

use crate::config::SubscriberConfig;
use crate::standard_webhooks;

pub struct Subscriber {
    pub config: SubscriberConfig,
    /// Keys of the `whsec_` secrets; every one signs, so a receiver may rotate at leisure.
    hmac_keys: Vec<Vec<u8>>,
}

impl Subscriber {
    pub fn new(config: SubscriberConfig) -> Subscriber {
        let hmac_keys = config
            .secrets
            .iter()
            .filter(|secret| secret.starts_with("whsec_"))
            .map(|secret| standard_webhooks::secret_key(secret))
            .collect();
        Subscriber { config, hmac_keys }
    }

    /// The `webhook-signature` value for one attempt, or `None` without secrets.
    pub fn signature(&self, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
        if self.hmac_keys.is_empty() {
            return None;
        }
        let signatures: Vec<String> = self
            .hmac_keys
            .iter()
            .map(|key| standard_webhooks::sign_v1(key, id, timestamp, body))
            .collect();
        Some(signatures.join(" "))
    }
}
