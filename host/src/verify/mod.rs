//! Verification schemes: is this request really from the sender the source expects, and is it
//! an event at all or one of the provider's handshakes? One file per scheme; each checks
//! exactly what the provider's own SDK checks, comparing secrets in constant time.
//!
//! Every byte of a request is the sender's to choose, and verification runs before anything
//! is known about the sender, so each scheme bounds what one request can make it do: a
//! signature header longer than [`MAX_SIGNATURE_HEADER`] or with more than [`MAX_SIGNATURES`]
//! signatures is refused before it is parsed; the MAC over the body is computed once per
//! configured secret and compared with every signature, never once per signature; timestamps
//! are checked before any signature; and the certificate schemes fetch a certificate only from
//! the provider's hosts, a bounded number of times a minute ([`Certificates`]). What a scheme
//! takes as a credential is not kept with the event ([`Credentials`]), and what it signed
//! with a timestamp is remembered while that timestamp is accepted ([`Verifier::replay_key`]).

mod acknowledgement;
mod certificates;
mod credentials;
mod eventgrid;
mod github;
mod hmac_sha256;
pub mod incoming;
mod mailchimp;
mod mailgun;
mod mandrill;
mod openstack;
mod paypal;
mod replay;
mod sendgrid;
mod shopify;
mod slack;
mod sns;
mod sources;
mod standard_webhooks;
mod stripe;
mod websub;

#[cfg(test)]
pub(crate) mod test_support;

use http::HeaderMap;

pub use certificates::Certificates;
pub use credentials::{Credentials, REDACTED};
pub use incoming::{Handshake, Incoming};

use crate::config::{MAX_CLOCK_AHEAD, Verify};

/// Why a request was refused; becomes an error answer with `status` and `message`.
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

/// Defines [`Verifier`] over the schemes, which share one interface: `verify`, `handshake`,
/// `event_type` and `delivery_id`, each taking the [`Incoming`] request. The `async` ones
/// fetch certificates or call the provider back.
macro_rules! schemes {
    (
        sync { $($variant:ident($scheme:ty)),* $(,)? }
        async { $($async_variant:ident($async_scheme:ty)),* $(,)? }
    ) => {
        /// A source's verification scheme, with its secrets decoded once per load.
        pub enum Verifier {
            None,
            $($variant($scheme),)*
            $($async_variant($async_scheme),)*
        }

        impl Verifier {
            /// Checks that the request comes from the provider.
            pub async fn verify(&self, req: &Incoming<'_>) -> Result<(), Rejection> {
                match self {
                    Verifier::None => Ok(()),
                    $(Verifier::$variant(scheme) => scheme.verify(req),)*
                    $(Verifier::$async_variant(scheme) => scheme.verify(req).await,)*
                }
            }

            /// A request the router answers itself instead of storing it: every non-POST
            /// request (`None` there means 405) and, after verification, a POST that is a
            /// handshake.
            pub async fn handshake(&self, req: &Incoming<'_>) -> Option<Result<Handshake, Rejection>> {
                match self {
                    Verifier::None => None,
                    $(Verifier::$variant(scheme) => scheme.handshake(req),)*
                    $(Verifier::$async_variant(scheme) => scheme.handshake(req).await,)*
                }
            }

            /// The provider's id of this delivery, the same on each redelivery, if it has one.
            pub fn delivery_id(&self, req: &Incoming<'_>) -> Option<String> {
                match self {
                    Verifier::None => None,
                    $(Verifier::$variant(scheme) => scheme.delivery_id(req),)*
                    $(Verifier::$async_variant(scheme) => scheme.delivery_id(req),)*
                }
            }

            /// The provider's event type, where the scheme knows where the provider puts it.
            pub fn event_type(&self, req: &Incoming<'_>) -> Option<String> {
                match self {
                    Verifier::None => None,
                    $(Verifier::$variant(scheme) => scheme.event_type(req),)*
                    $(Verifier::$async_variant(scheme) => scheme.event_type(req),)*
                }
            }
        }
    };
}

schemes! {
    sync {
        HmacSha256(hmac_sha256::HmacSha256),
        Github(github::Github),
        StandardWebhooks(standard_webhooks::StandardWebhooks),
        Stripe(stripe::Stripe),
        Shopify(shopify::Shopify),
        Slack(slack::Slack),
        Mailgun(mailgun::Mailgun),
        Mandrill(mandrill::Mandrill),
        Mailchimp(mailchimp::Mailchimp),
        Websub(websub::Websub),
        Eventgrid(eventgrid::Eventgrid),
    }
    async {
        Paypal(sources::Paypal),
        Sns(sources::Sns),
        Sendgrid(sources::Sendgrid),
        Openstack(sources::Openstack),
    }
}

impl Verifier {
    /// `certificates` serves the certificate-based schemes; `http` makes their outgoing calls.
    pub fn new(
        verify: &Verify,
        certificates: &Certificates,
        http: &reqwest::Client,
    ) -> Result<Verifier, String> {
        Ok(match verify {
            Verify::None => Verifier::None,
            Verify::HmacSha256 {
                secret,
                header,
                encoding,
                prefix,
            } => Verifier::HmacSha256(hmac_sha256::HmacSha256::new(
                secret, header, *encoding, prefix,
            )),
            Verify::Github {
                secret,
                legacy_sha1,
            } => Verifier::Github(github::Github::new(secret, *legacy_sha1)),
            Verify::StandardWebhooks { secrets } => {
                Verifier::StandardWebhooks(standard_webhooks::StandardWebhooks::new(secrets))
            }
            Verify::Stripe { secrets, tolerance } => {
                Verifier::Stripe(stripe::Stripe::new(secrets, *tolerance))
            }
            Verify::Shopify { secret } => Verifier::Shopify(shopify::Shopify::new(secret)),
            Verify::Slack { secret, tolerance } => {
                Verifier::Slack(slack::Slack::new(secret, *tolerance))
            }
            Verify::Mailgun {
                signing_key,
                tolerance,
            } => Verifier::Mailgun(mailgun::Mailgun::new(signing_key, *tolerance)),
            Verify::Mandrill { key, url } => {
                Verifier::Mandrill(mandrill::Mandrill::new(key, url.clone()))
            }
            Verify::Mailchimp { secret } => Verifier::Mailchimp(mailchimp::Mailchimp::new(secret)),
            Verify::Websub { secret, topics } => {
                Verifier::Websub(websub::Websub::new(secret.clone(), topics.clone()))
            }
            Verify::Eventgrid {
                secret,
                header,
                allowed_origins,
            } => Verifier::Eventgrid(eventgrid::Eventgrid::new(
                secret.clone(),
                header.clone(),
                allowed_origins.clone(),
            )),
            Verify::Openstack { secret } => {
                Verifier::Openstack(sources::Openstack::new(secret.clone(), http.clone()))
            }
            Verify::Paypal {
                webhook_id,
                tolerance,
            } => Verifier::Paypal(sources::Paypal::new(
                webhook_id,
                *tolerance,
                certificates.clone(),
            )),
            Verify::Sns { topics, tolerance } => Verifier::Sns(sources::Sns::new(
                topics,
                *tolerance,
                certificates.clone(),
                http.clone(),
            )),
            Verify::Sendgrid {
                public_key,
                tolerance,
            } => Verifier::Sendgrid(sources::Sendgrid::new(public_key, *tolerance)?),
        })
    }
}

/// The longest signature header read. A provider sends one signature per secret, a few during
/// a rotation: a few hundred bytes. Anything longer is refused before it is parsed.
pub const MAX_SIGNATURE_HEADER: usize = 4096;

/// The most signatures one header may carry (Stripe `v1=` entries, Standard Webhooks entries).
/// Each is compared with every secret's tag, and each ed25519 one is checked with every public
/// key, so this bounds the checks one request costs.
pub const MAX_SIGNATURES: usize = 8;

/// A header's value as text, if present and visible ASCII.
pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The signature header `name` (shown as `display`): a 401 when it is missing or longer than
/// [`MAX_SIGNATURE_HEADER`].
pub(crate) fn signature_header<'a>(
    headers: &'a HeaderMap,
    name: &str,
    display: &str,
) -> Result<&'a str, Rejection> {
    let value = header(headers, name)
        .ok_or_else(|| Rejection::unauthorized(format!("missing {display} header")))?;
    within_limit(display, value)
}

/// `value`, unless it is longer than [`MAX_SIGNATURE_HEADER`] (a 401 naming `display`).
pub(crate) fn within_limit<'a>(display: &str, value: &'a str) -> Result<&'a str, Rejection> {
    if value.len() > MAX_SIGNATURE_HEADER {
        return Err(Rejection::unauthorized(format!(
            "{display} is longer than {MAX_SIGNATURE_HEADER} bytes; no provider sends that many signatures"
        )));
    }
    Ok(value)
}

/// A 401 unless `count` signatures are at most [`MAX_SIGNATURES`].
pub(crate) fn few_signatures(display: &str, count: usize) -> Result<(), Rejection> {
    if count > MAX_SIGNATURES {
        return Err(Rejection::unauthorized(format!(
            "{display} carries {count} signatures; at most {MAX_SIGNATURES} are read"
        )));
    }
    Ok(())
}

/// Constant-time HMAC-SHA256 check of `body` against an expected MAC.
pub(crate) fn hmac_sha256_matches(key: &[u8], message: &[&[u8]], expected: &[u8]) -> bool {
    use hmac::Mac;
    hmac_sha256(key, message).verify_slice(expected).is_ok()
}

/// The HMAC-SHA256 of `message` under each of `keys`: computed once per key and request, then
/// compared with each signature the request carries ([`matches_any`]).
pub(crate) fn hmac_sha256_tags(keys: &[Vec<u8>], message: &[&[u8]]) -> Vec<[u8; 32]> {
    use hmac::Mac;
    keys.iter()
        .map(|key| hmac_sha256(key, message).finalize().into_bytes().into())
        .collect()
}

/// The HMAC-SHA256 of the parts of `message`, concatenated, under `key`.
fn hmac_sha256(key: &[u8], message: &[&[u8]]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes keys of any size");
    for part in message {
        mac.update(part);
    }
    mac
}

/// Whether `signature` is one of `tags`, each compared in constant time.
pub(crate) fn matches_any(tags: &[[u8; 32]], signature: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    tags.iter()
        .fold(subtle::Choice::from(0), |found, tag| {
            found | tag.as_slice().ct_eq(signature)
        })
        .into()
}

/// A signed Unix timestamp is no older than `tolerance_secs` and at most [`MAX_CLOCK_AHEAD`]
/// ahead of `now`; else a 401 naming `display`.
pub(crate) fn check_recent(
    display: &str,
    sent_at: i64,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), Rejection> {
    if now.saturating_sub(sent_at) > tolerance_secs {
        return Err(Rejection::unauthorized(format!(
            "{display} is more than {} old; a captured request is not accepted later",
            in_words(tolerance_secs)
        )));
    }
    let ahead = MAX_CLOCK_AHEAD.as_secs();
    if sent_at.saturating_sub(now) > i64::try_from(ahead).unwrap_or(i64::MAX) {
        return Err(Rejection::unauthorized(format!(
            "{display} is more than {ahead} seconds ahead of wasmhook's clock; check the clocks"
        )));
    }
    Ok(())
}

/// [`check_recent`] for a signed RFC 3339 time (PayPal, SNS); a 401 naming `display` when it
/// is not one.
pub(crate) fn check_recent_rfc3339(
    display: &str,
    sent_at: &str,
    now: i64,
    tolerance_secs: i64,
) -> Result<(), Rejection> {
    let sent_at = humantime::parse_rfc3339(sent_at.trim())
        .ok()
        .and_then(|at| at.duration_since(std::time::UNIX_EPOCH).ok())
        .and_then(|since| i64::try_from(since.as_secs()).ok())
        .ok_or_else(|| Rejection::unauthorized(format!("{display} is not an RFC 3339 time")))?;
    check_recent(display, sent_at, now, tolerance_secs)
}

/// `secs` as a person would say it: "300 seconds", "2 hours", "4 days".
fn in_words(secs: i64) -> String {
    let (count, unit) = [(86_400, "day"), (3_600, "hour"), (60, "minute")]
        .into_iter()
        .find(|(size, _)| secs >= *size && secs % size == 0)
        .map_or((secs, "second"), |(size, unit)| (secs / size, unit));
    let plural = if count == 1 { "" } else { "s" };
    format!("{count} {unit}{plural}")
}
