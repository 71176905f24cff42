//! Verification schemes: is this request really from the sender the source expects?
//! One file per scheme; each checks exactly what the provider's own SDK checks, comparing
//! secrets in constant time.

mod github;
mod hmac_sha256;
mod standard_webhooks;

use http::HeaderMap;

use crate::config::Verify;

/// Why a request was refused; becomes a 401 (or 400) with `message` as the error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub message: String,
}

impl Rejection {
    pub fn unauthorized(message: impl Into<String>) -> Rejection {
        Rejection {
            status: 401,
            message: message.into(),
        }
    }
}

/// A source's verification scheme, with its secrets decoded once per load.
pub enum Verifier {
    None,
    HmacSha256(hmac_sha256::HmacSha256),
    Github(github::Github),
    StandardWebhooks(standard_webhooks::StandardWebhooks),
}

impl Verifier {
    pub fn new(verify: &Verify) -> Verifier {
        match verify {
            Verify::None => Verifier::None,
            Verify::HmacSha256 {
                secret,
                header,
                encoding,
                prefix,
            } => Verifier::HmacSha256(hmac_sha256::HmacSha256::new(
                secret, header, *encoding, prefix,
            )),
            Verify::Github { secret } => Verifier::Github(github::Github::new(secret)),
            Verify::StandardWebhooks { secrets } => {
                Verifier::StandardWebhooks(standard_webhooks::StandardWebhooks::new(secrets))
            }
        }
    }

    /// Checks the request; `now` is Unix seconds, for schemes that bound a timestamp.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8], now: i64) -> Result<(), Rejection> {
        match self {
            Verifier::None => Ok(()),
            Verifier::HmacSha256(scheme) => scheme.verify(headers, body),
            Verifier::Github(scheme) => scheme.verify(headers, body),
            Verifier::StandardWebhooks(scheme) => scheme.verify(headers, body, now),
        }
    }

    /// The provider's id of this delivery, the same on each redelivery, where the scheme has one.
    pub fn delivery_id<'a>(&self, headers: &'a HeaderMap) -> Option<&'a str> {
        match self {
            Verifier::Github(_) => header(headers, "x-github-delivery"),
            Verifier::StandardWebhooks(_) => header(headers, "webhook-id"),
            Verifier::None | Verifier::HmacSha256(_) => None,
        }
    }

    /// The provider's event type, where the scheme knows where the provider puts it.
    pub fn event_type(&self, headers: &HeaderMap, body: &[u8]) -> Option<String> {
        match self {
            Verifier::Github(_) => header(headers, "x-github-event").map(str::to_owned),
            Verifier::StandardWebhooks(_) => standard_webhooks::event_type(body),
            Verifier::None | Verifier::HmacSha256(_) => None,
        }
    }
}

/// A header's value as text, if present and visible ASCII.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Constant-time HMAC-SHA256 check of `body` against an expected MAC.
pub(crate) fn hmac_sha256_matches(key: &[u8], message: &[&[u8]], expected: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    for part in message {
        mac.update(part);
    }
    mac.verify_slice(expected).is_ok()
}
