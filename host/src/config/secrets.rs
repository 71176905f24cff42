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

/// A key a Standard Webhooks source verifies with: `whsec_` and base64 (a shared HMAC-SHA256
/// key, signatures `v1`), or `whpk_` and the base64 of a 32-byte ed25519 public key (signatures
/// `v1a`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct StandardWebhooksKey(pub String);

impl ParseStr for StandardWebhooksKey {
    const EXPECTING: &'static str = r#"a Standard Webhooks key "whsec_..." or "whpk_...""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        let checked = if let Some(key) = text.strip_prefix("whsec_") {
            check_base64("whsec_", key).map(drop)
        } else if let Some(key) = text.strip_prefix("whpk_") {
            match check_base64("whpk_", key)?.len() {
                32 => Ok(()),
                n => Err(format!(
                    r#"the key after "whpk_" is {n} bytes long; an ed25519 public key is 32"#
                )),
            }
        } else if text.starts_with("whsk_") {
            Err(r#"a "whsk_" key is a private signing key: give its public key, "whpk_...", which is all a receiver needs"#.to_owned())
        } else {
            Err(r#"the secret must start with "whsec_" (HMAC-SHA256) or "whpk_" (ed25519 public key), as Standard Webhooks keys do"#.to_owned())
        };
        checked.map(|()| StandardWebhooksKey(text.to_owned()))
    }
}

/// A secret a provider sends in a URL, in the path or the query (MailChimp, OpenStack): only
/// characters that need no escaping there, so that it means the same wherever it is written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct UrlSecret(pub String);

impl ParseStr for UrlSecret {
    const EXPECTING: &'static str = "a secret of letters, digits, `-`, `.`, `_` and `~`";

    fn parse_str(text: &str) -> Result<Self, String> {
        let unreserved = |c: char| c.is_ascii_alphanumeric() || "-._~".contains(c);
        if text.is_empty() {
            Err("the secret is empty".to_owned())
        } else if text.chars().all(unreserved) {
            Ok(UrlSecret(text.to_owned()))
        } else {
            Err("the secret is sent in a URL, so it may only hold letters, digits, `-`, `.`, `_` and `~`".to_owned())
        }
    }
}

/// A secret a provider sends in a header or the query (Event Grid): visible ASCII, no spaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HeaderSecret(pub String);

impl ParseStr for HeaderSecret {
    const EXPECTING: &'static str = "a secret of visible ASCII characters";

    fn parse_str(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            Err("the secret is empty".to_owned())
        } else if text.chars().all(|c| c.is_ascii_graphic()) {
            Ok(HeaderSecret(text.to_owned()))
        } else {
            Err("the secret is sent in a header, so it may only hold visible ASCII characters, without spaces".to_owned())
        }
    }
}

/// A WebSub `hub.secret`: less than 200 bytes, as the WebSub recommendation requires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct WebsubSecret(pub String);

impl ParseStr for WebsubSecret {
    const EXPECTING: &'static str = "a secret string of less than 200 bytes";

    fn parse_str(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            Err("the secret is empty".to_owned())
        } else if text.len() >= 200 {
            Err(format!(
                "the secret is {} bytes long; WebSub requires a hub.secret of less than 200",
                text.len()
            ))
        } else {
            Ok(WebsubSecret(text.to_owned()))
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
            check_base64("whsec_", key).map(drop)
        } else if let Some(key) = text.strip_prefix("whsk_") {
            check_base64("whsk_", key).map(drop)
        } else {
            Err(r#"the secret must start with "whsec_" (HMAC-SHA256) or "whsk_" (ed25519), as Standard Webhooks keys do"#.to_owned())
        };
        checked.map(|()| SigningSecret(text.to_owned()))
    }
}

/// The bytes of the base64 after `prefix`.
fn check_base64(prefix: &str, key: &str) -> Result<Vec<u8>, String> {
    if key.is_empty() {
        return Err(format!("the secret has nothing after {prefix:?}"));
    }
    BASE64
        .decode(key)
        .map_err(|_| format!("the secret after {prefix:?} is not valid base64"))
}

deserialize_from_str!(
    SharedSecret,
    StandardWebhooksKey,
    SigningSecret,
    UrlSecret,
    HeaderSecret,
    WebsubSecret
);

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
    fn verify_keys_are_whsec_or_whpk() {
        let key = StandardWebhooksKey::parse_str;
        assert!(key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_ok());
        // 32 bytes: an ed25519 public key.
        assert!(key("whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").is_ok());
        assert!(
            key("whpk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap_err()
                .contains("24 bytes long")
        );
        assert!(
            key("whsk_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
                .unwrap_err()
                .contains("private signing key")
        );
        assert!(key("whpk_").unwrap_err().contains("nothing after"));
    }

    #[test]
    fn url_secrets_need_no_escaping() {
        assert!(UrlSecret::parse_str("a-Z_0.9~").is_ok());
        for bad in ["", "a/b", "a b", "a?b", "a%20", "é"] {
            assert!(UrlSecret::parse_str(bad).is_err(), "{bad}");
        }
        assert!(HeaderSecret::parse_str("abc/+==").is_ok());
        assert!(HeaderSecret::parse_str("a b").is_err());
        assert!(WebsubSecret::parse_str(&"x".repeat(199)).is_ok());
        assert!(
            WebsubSecret::parse_str(&"x".repeat(200))
                .unwrap_err()
                .contains("less than 200")
        );
    }

    #[test]
    fn messages_do_not_quote_the_secret() {
        let message = SigningSecret::parse_str("hunter2hunter2").unwrap_err();
        assert!(!message.contains("hunter2"));
        for message in [
            StandardWebhooksKey::parse_str("hunter2hunter2").unwrap_err(),
            UrlSecret::parse_str("hunter2/hunter2").unwrap_err(),
            HeaderSecret::parse_str("hunter2 hunter2").unwrap_err(),
        ] {
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
