//! Verification schemes: is this request really from the sender the source expects, and is it
//! an event at all or one of the provider's handshakes? One file per scheme; each checks
//! exactly what the provider's own SDK checks, comparing secrets in constant time.

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

use crate::config::Verify;

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
            Verify::Paypal { webhook_id } => {
                Verifier::Paypal(sources::Paypal::new(webhook_id, certificates.clone()))
            }
            Verify::Sns { topics } => Verifier::Sns(sources::Sns::new(
                topics,
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
