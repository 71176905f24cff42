//! Secrets for verifying incoming webhooks and signing outgoing ones.
//!
//! Messages about a secret never quote it: `wasmhook check` output ends up in CI logs.
//! Several secrets may be given where a key is rotated: the old and the new one both verify
//! (or sign) until the old one is removed.

use std::marker::PhantomData;

use base64::Engine as _;
// Standard base64 with padding, exactly as the signer and the verifier decode keys: a key they
// would read differently must not pass `check`.
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, Deserialize, Deserializer, IntoDeserializer, SeqAccess, Visitor};

use super::parse_str::{ParseStr, deserialize_from_str};

/// A shared secret for a provider's scheme (GitHub, plain HMAC): any non-empty string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SharedSecret(pub String);

impl ParseStr for SharedSecret {
    const EXPECTING: &'static str = "a secret string";

    fn parse_str(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            Err("the secret is empty".to_owned())
        } else {
            Ok(SharedSecret(text.to_owned()))
        }
    }
}

/// A Standard Webhooks HMAC key: `whsec_` and base64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct WhsecSecret(pub String);

impl ParseStr for WhsecSecret {
    const EXPECTING: &'static str = r#"a Standard Webhooks secret "whsec_...""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        match text.strip_prefix("whsec_") {
            Some(key) => check_base64("whsec_", key).map(|()| WhsecSecret(text.to_owned())),
            None => Err(
                r#"the secret must start with "whsec_" (a Standard Webhooks secret)"#.to_owned(),
            ),
        }
    }
}

/// A key a subscriber's messages are signed with: `whsec_` (HMAC-SHA256) or `whsk_` (ed25519).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct SigningSecret(pub String);

impl ParseStr for SigningSecret {
    const EXPECTING: &'static str = r#"a signing secret "whsec_..." or "whsk_...""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        let checked = if let Some(key) = text.strip_prefix("whsec_") {
            check_base64("whsec_", key)
        } else if let Some(key) = text.strip_prefix("whsk_") {
            check_base64("whsk_", key)
        } else {
            Err(r#"the secret must start with "whsec_" (HMAC-SHA256) or "whsk_" (ed25519), as Standard Webhooks keys do"#.to_owned())
        };
        checked.map(|()| SigningSecret(text.to_owned()))
    }
}

fn check_base64(prefix: &str, key: &str) -> Result<(), String> {
    if key.is_empty() {
        return Err(format!("the secret has nothing after {prefix:?}"));
    }
    BASE64
        .decode(key)
        .map(drop)
        .map_err(|_| format!("the secret after {prefix:?} is not valid base64"))
}

deserialize_from_str!(SharedSecret, WhsecSecret, SigningSecret);

/// One value, or a non-empty array of them: `secret = "whsec_..."` or `secret = ["whsec_...", ...]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OneOrManyVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for OneOrManyVisitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string or an array of strings")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                T::deserialize(text.into_deserializer()).map(|one| OneOrMany(vec![one]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut all = Vec::new();
                while let Some(one) = seq.next_element()? {
                    all.push(one);
                }
                if all.is_empty() {
                    return Err(de::Error::custom(
                        "the array is empty; give at least one secret, or leave the key out",
                    ));
                }
                Ok(OneOrMany(all))
            }
        }
        deserializer.deserialize_any(OneOrManyVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_secrets_need_a_known_prefix_and_base64() {
        assert!(SigningSecret::parse_str("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        // Padding is required, as the signer decodes it.
        assert!(SigningSecret::parse_str("whsec_dGVzdA==").is_ok());
        assert!(SigningSecret::parse_str("whsec_dGVzdA").is_err());
        assert!(SigningSecret::parse_str("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(
            SigningSecret::parse_str("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap_err()
                .contains("whsec_")
        );
        assert!(
            SigningSecret::parse_str("whsec_not base64!")
                .unwrap_err()
                .contains("base64")
        );
        assert!(
            SigningSecret::parse_str("whsec_")
                .unwrap_err()
                .contains("nothing after")
        );
    }

    #[test]
    fn verify_secrets_are_whsec_only() {
        assert!(WhsecSecret::parse_str("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        assert!(WhsecSecret::parse_str("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
    }

    #[test]
    fn messages_do_not_quote_the_secret() {
        let message = SigningSecret::parse_str("hunter2hunter2").unwrap_err();
        assert!(!message.contains("hunter2"));
    }
}
