//! Verification schemes: is this request really from the sender the source expects, and is it
//! an event at all or one of the provider's handshakes? One file per scheme; each checks
//! exactly what the provider's own SDK checks, comparing secrets in constant time.

mod github;
mod hmac_sha256;
pub mod incoming;
mod standard_webhooks;

use http::HeaderMap;

pub use incoming::{Handshake, Incoming};

use crate::config::Verify;

/// Why a request was refused; becomes an error answer with `status` and `message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub status: u16,
    pub message: String,
}

impl Rejection {
    pub fn unauthorized(message: impl Into<String>) -> Rejection {
        Rejection { status: 401, message: message.into() }
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
    pub fn new(verify: &Verify) -> Result<Verifier, String> {
        Ok(match verify {
            Verify::None => Verifier::None,
            Verify::HmacSha256 { secret, header, encoding, prefix } => {
                Verifier::HmacSha256(hmac_sha256::HmacSha256::new(secret, header, *encoding, prefix))
            }
            Verify::Github { secret, .. } => Verifier::Github(github::Github::new(secret)),
            Verify::StandardWebhooks { secrets } => {
                Verifier::StandardWebhooks(standard_webhooks::StandardWebhooks::new(secrets))
            }
        })
    }

    /// Checks that the request comes from the provider.
    pub async fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
        match self {
            Verifier::None => Ok(()),
            Verifier::HmacSha256(scheme) => scheme.verify(req.headers, req.body),
            Verifier::Github(scheme) => scheme.verify(req.headers, req.body),
            Verifier::StandardWebhooks(scheme) => scheme.verify(req.headers, req.body, req.now),
        }
    }

    /// A request the router answers itself instead of storing it: every non-POST request
    /// (`None` there means 405) and, after verification, a POST that is a handshake.
    pub async fn handshake(&self, _req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
        match self {
            Verifier::None | Verifier::HmacSha256(_) | Verifier::Github(_) | Verifier::StandardWebhooks(_) => None,
        }
    }

    /// The provider's id of this delivery, the same on each redelivery, where the scheme has one.
    pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
        match self {
            Verifier::Github(_) => header(req.headers, "x-github-delivery").map(str::to_owned),
            Verifier::StandardWebhooks(_) => header(req.headers, "webhook-id").map(str::to_owned),
            Verifier::None | Verifier::HmacSha256(_) => None,
        }
    }

    /// The provider's event type, where the scheme knows where the provider puts it.
    pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
        match self {
            Verifier::Github(_) => header(req.headers, "x-github-event").map(str::to_owned),
            Verifier::StandardWebhooks(_) => standard_webhooks::event_type(req.body),
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
