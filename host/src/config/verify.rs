//! `verify` of `[sources.NAME]`: how a request proves it comes from the provider.
//!
//! The `scheme` key names the provider and decides which other keys are allowed, so it is read
//! first. What each scheme checks is `verify`'s to do; here each scheme's
//! settings are checked as far as they can be without a request: secrets are not empty, keys
//! decode, tolerances are positive, ARNs and URLs are well formed.

use std::time::Duration;

use serde::Deserialize;

use super::diagnostic::Sink;
use super::names::closest;
use super::parse_str::{ParseStr, deserialize_from_str};
use super::providers::{PaypalWebhookId, SendgridPublicKey, SnsTopicArn};
use super::secrets::{
    HeaderSecret, OneOrMany, SharedSecret, StandardWebhooksKey, UrlSecret, WebsubSecret,
};
use super::table::{Table, Value};
use super::units::Tolerance;
use super::web::{ExactUrl, HeaderName, HostName};

/// How a request to a source proves it comes from the provider.
///
/// Timestamps are checked against the router's clock (`[server] clock` fixes it), and every
/// secret is compared in constant time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verify {
    /// No `verify` key, or `scheme = "none"`: any POST is accepted.
    None,
    /// `scheme = "hmac-sha256"`: an HMAC of the body in `header` (lower-cased), encoded in hex
    /// or base64, after `prefix` (such as `"sha256="`).
    HmacSha256 {
        secret: String,
        header: String,
        encoding: SignatureEncoding,
        prefix: String,
    },
    /// `scheme = "github"`: `X-Hub-Signature-256`; with `legacy_sha1`, also `X-Hub-Signature`
    /// (HMAC-SHA1) when `X-Hub-Signature-256` is absent.
    Github { secret: String, legacy_sha1: bool },
    /// `scheme = "standard-webhooks"`: `webhook-signature` with any of the keys, each
    /// `"whsec_..."` (`v1`, HMAC-SHA256) or `"whpk_..."` (`v1a`, the base64 of a 32-byte ed25519
    /// public key).
    StandardWebhooks { secrets: Vec<String> },
    /// `scheme = "stripe"`: `Stripe-Signature` with any of the endpoint secrets, each used as
    /// its UTF-8 bytes, `whsec_` prefix included; `t=` at most `tolerance` old.
    Stripe {
        secrets: Vec<String>,
        tolerance: Duration,
    },
    /// `scheme = "shopify"`: `X-Shopify-Hmac-Sha256` with the app's client secret.
    Shopify { secret: String },
    /// `scheme = "slack"`: `X-Slack-Signature` (`v0`) with the signing secret;
    /// `X-Slack-Request-Timestamp` within `tolerance`.
    Slack { secret: String, tolerance: Duration },
    /// `scheme = "paypal"`: `PAYPAL-TRANSMISSION-SIG` with the certificate at
    /// `PAYPAL-CERT-URL`, over a string that includes `webhook_id`, the id PayPal shows for the
    /// webhook (letters and digits); `PAYPAL-TRANSMISSION-TIME` at most `tolerance` old.
    Paypal {
        webhook_id: String,
        tolerance: Duration,
    },
    /// `scheme = "sendgrid"`: the ECDSA signature of the Event Webhook with `public_key`, the
    /// base64 of a DER SubjectPublicKeyInfo (P-256) as SendGrid shows it; the timestamp within
    /// `tolerance`.
    Sendgrid {
        public_key: String,
        tolerance: Duration,
    },
    /// `scheme = "mailchimp"`: `secret` in the URL, as the path after `/hooks/NAME/` or as
    /// `?secret=`; only letters, digits, `-`, `.`, `_` and `~`, so that it needs no escaping.
    Mailchimp { secret: String },
    /// `scheme = "mandrill"`: `X-Mandrill-Signature` with the webhook `key`, over `url` (exactly
    /// as configured at Mandrill, as written) or, when `None`, the URL the request arrived at.
    Mandrill { key: String, url: Option<String> },
    /// `scheme = "mailgun"`: the `signature` object of the body with the webhook signing key;
    /// its timestamp within `tolerance`.
    Mailgun {
        signing_key: String,
        tolerance: Duration,
    },
    /// `scheme = "websub"`: `X-Hub-Signature` with the `hub.secret` when there is one (none
    /// required without); a `GET` intent verification answered only for one of `topics` (never
    /// empty; the URLs exactly as written).
    Websub {
        secret: Option<String>,
        topics: Vec<String>,
    },
    /// `scheme = "sns"`: the SNS signature with the certificate at `SigningCertURL`; the
    /// `TopicArn` must match one of `topics` (never empty; `arn:aws:sns:REGION:ACCOUNT:NAME`,
    /// where a segment may be `*`); `Timestamp` at most `tolerance` old.
    Sns {
        topics: Vec<String>,
        tolerance: Duration,
    },
    /// `scheme = "eventgrid"`: when `secret` is set, it must be in `header` (lower-cased) or
    /// `?code=`; CloudEvents `OPTIONS` answered for a `WebHook-Request-Origin` in
    /// `allowed_origins` (host names, lower-cased, never empty).
    Eventgrid {
        secret: Option<String>,
        header: String,
        allowed_origins: Vec<String>,
    },
    /// `scheme = "openstack"`: Aodh and Zaqar sign nothing; when `secret` is set, the request
    /// must carry it as `?secret=` or in the header `x-openstack-secret` (wasmhook's own
    /// convention); only letters, digits, `-`, `.`, `_` and `~`.
    Openstack { secret: Option<String> },
}

/// How long a signed timestamp may be off where a scheme has `tolerance`: five minutes, as the
/// providers' own libraries allow.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// How old `PAYPAL-TRANSMISSION-TIME` may be: PayPal retries a delivery up to 25 times over
/// three days, and whether a retry is signed at a new time is not documented, so a day more.
pub const DEFAULT_PAYPAL_TOLERANCE: Duration = Duration::from_hours(4 * 24);

/// How old an SNS `Timestamp` may be: SNS sends the same signed message on every retry, and an
/// HTTP/S delivery policy retries for at most an hour; twice that leaves room for throttling.
pub const DEFAULT_SNS_TOLERANCE: Duration = Duration::from_hours(2);

/// How far ahead of the router's clock a signed timestamp may be, for schemes whose
/// `tolerance` only says how old it may be: clocks differ a little, and a long tolerance is no
/// reason to accept a time far in the future.
pub const MAX_CLOCK_AHEAD: Duration = Duration::from_secs(300);

/// Where Event Grid's shared secret is read by default.
const DEFAULT_EVENTGRID_HEADER: &str = "aeg-sas-key";

/// The origin Azure Event Grid names in a CloudEvents `OPTIONS` request.
const DEFAULT_EVENTGRID_ORIGIN: &str = "eventgrid.azure.net";

impl Verify {
    /// The `scheme` value this was read from, for logs and metrics.
    #[must_use]
    pub fn scheme(&self) -> &'static str {
        let scheme = match self {
            Verify::None => Scheme::None,
            Verify::HmacSha256 { .. } => Scheme::HmacSha256,
            Verify::Github { .. } => Scheme::Github,
            Verify::StandardWebhooks { .. } => Scheme::StandardWebhooks,
            Verify::Stripe { .. } => Scheme::Stripe,
            Verify::Shopify { .. } => Scheme::Shopify,
            Verify::Slack { .. } => Scheme::Slack,
            Verify::Paypal { .. } => Scheme::Paypal,
            Verify::Sendgrid { .. } => Scheme::Sendgrid,
            Verify::Mailchimp { .. } => Scheme::Mailchimp,
            Verify::Mandrill { .. } => Scheme::Mandrill,
            Verify::Mailgun { .. } => Scheme::Mailgun,
            Verify::Websub { .. } => Scheme::Websub,
            Verify::Sns { .. } => Scheme::Sns,
            Verify::Eventgrid { .. } => Scheme::Eventgrid,
            Verify::Openstack { .. } => Scheme::Openstack,
        };
        scheme.name()
    }

    /// How long a verified request's replay key is remembered: as long as its signed timestamp
    /// is accepted, from the earliest to the latest moment the clock can read then. `None` for
    /// schemes that sign no timestamp.
    #[must_use]
    pub fn replay_window(&self) -> Option<Duration> {
        match self {
            // Accepted from `tolerance` before to `tolerance` after the timestamp.
            Verify::Slack { tolerance, .. }
            | Verify::Mailgun { tolerance, .. }
            | Verify::Sendgrid { tolerance, .. } => Some(*tolerance * 2),
            Verify::StandardWebhooks { .. } => Some(DEFAULT_TOLERANCE * 2),
            // Accepted until `tolerance` after the timestamp, and from a little before it.
            Verify::Stripe { tolerance, .. }
            | Verify::Paypal { tolerance, .. }
            | Verify::Sns { tolerance, .. } => Some(*tolerance + MAX_CLOCK_AHEAD),
            _ => None,
        }
    }
}

/// How an HMAC signature is written in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureEncoding {
    #[default]
    Hex,
    Base64,
}

/// The `scheme` of a `verify` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scheme {
    None,
    HmacSha256,
    Github,
    StandardWebhooks,
    Stripe,
    Shopify,
    Slack,
    Paypal,
    Sendgrid,
    Mailchimp,
    Mandrill,
    Mailgun,
    Websub,
    Sns,
    Eventgrid,
    Openstack,
}

/// Each scheme, its name, and the keys its table allows.
const SCHEMES: &[(&str, Scheme, &[&str])] = &[
    ("none", Scheme::None, &["scheme"]),
    (
        "hmac-sha256",
        Scheme::HmacSha256,
        &["scheme", "secret", "header", "encoding", "prefix"],
    ),
    (
        "github",
        Scheme::Github,
        &["scheme", "secret", "legacy_sha1"],
    ),
    (
        "standard-webhooks",
        Scheme::StandardWebhooks,
        &["scheme", "secret"],
    ),
    ("stripe", Scheme::Stripe, &["scheme", "secret", "tolerance"]),
    ("shopify", Scheme::Shopify, &["scheme", "secret"]),
    ("slack", Scheme::Slack, &["scheme", "secret", "tolerance"]),
    (
        "paypal",
        Scheme::Paypal,
        &["scheme", "webhook_id", "tolerance"],
    ),
    (
        "sendgrid",
        Scheme::Sendgrid,
        &["scheme", "public_key", "tolerance"],
    ),
    ("mailchimp", Scheme::Mailchimp, &["scheme", "secret"]),
    ("mandrill", Scheme::Mandrill, &["scheme", "key", "url"]),
    (
        "mailgun",
        Scheme::Mailgun,
        &["scheme", "signing_key", "tolerance"],
    ),
    ("websub", Scheme::Websub, &["scheme", "secret", "topics"]),
    ("sns", Scheme::Sns, &["scheme", "topics", "tolerance"]),
    (
        "eventgrid",
        Scheme::Eventgrid,
        &["scheme", "secret", "header", "allowed_origins"],
    ),
    ("openstack", Scheme::Openstack, &["scheme", "secret"]),
];

fn scheme_names() -> impl Iterator<Item = &'static str> {
    SCHEMES.iter().map(|(name, _, _)| *name)
}

impl Scheme {
    fn entry(self) -> &'static (&'static str, Scheme, &'static [&'static str]) {
        SCHEMES
            .iter()
            .find(|(_, scheme, _)| *scheme == self)
            .expect("every scheme is in SCHEMES")
    }

    fn name(self) -> &'static str {
        self.entry().0
    }

    fn keys(self) -> &'static [&'static str] {
        self.entry().2
    }
}

impl ParseStr for Scheme {
    const EXPECTING: &'static str = "a verification scheme name";

    fn parse_str(text: &str) -> Result<Self, String> {
        if let Some((_, scheme, _)) = SCHEMES.iter().find(|(name, _, _)| *name == text) {
            return Ok(*scheme);
        }
        let normalized = text.to_ascii_lowercase().replace(['_', ' '], "-");
        let hint = closest(&normalized, scheme_names())
            .map(|name| format!(" (did you mean {name:?}?)"))
            .unwrap_or_default();
        let names: Vec<&str> = scheme_names().collect();
        Err(format!(
            "unknown scheme {text:?}{hint}; expected one of: {}",
            names.join(", ")
        ))
    }
}

deserialize_from_str!(Scheme);

/// Reads a `verify` table; `what` names it in messages (`[sources.NAME.verify]`).
pub(super) fn read_verify(what: &str, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<Verify> {
    // The allowed keys depend on the scheme, so the scheme is read first.
    let scheme = match value.get_ref().as_table().and_then(|t| t.get("scheme")) {
        Some(scheme) => super::table::deserialize::<Scheme>(scheme)
            .map_err(|(span, message)| sink.error(span, format!("`scheme` in {what}: {message}")))
            .ok(),
        None => None,
    };
    // Without a known scheme no key is reported as unknown: the scheme is the mistake, and
    // which keys are allowed depends on it.
    let present: Vec<&str> = value
        .get_ref()
        .as_table()
        .map(|t| t.keys().map(|k| k.get_ref().as_ref()).collect())
        .unwrap_or_default();
    let keys = match scheme {
        Some(scheme) => scheme.keys(),
        None => &present,
    };
    let table = Table::new(what.to_owned(), value, keys, sink)?;
    if table.raw("scheme").is_none() {
        let names: Vec<&str> = scheme_names().collect();
        sink.error(
            table.span.clone(),
            format!(
                "missing key `scheme` in {what}; expected one of: {}",
                names.join(", ")
            ),
        );
    }
    read_scheme(scheme?, &table, sink)
}

/// The settings of `scheme`, each key checked and reported on its own; `None` if any is bad.
fn read_scheme(scheme: Scheme, table: &Table<'_, '_>, sink: &mut Sink<'_>) -> Option<Verify> {
    let secret = |sink: &mut Sink<'_>| table.required::<SharedSecret>("secret", sink).map(|s| s.0);
    let tolerance_or = |default: Duration, sink: &mut Sink<'_>| {
        table
            .optional("tolerance", Tolerance(default), sink)
            .map(|t| t.0)
    };
    let tolerance = |sink: &mut Sink<'_>| tolerance_or(DEFAULT_TOLERANCE, sink);
    Some(match scheme {
        Scheme::None => Verify::None,
        Scheme::HmacSha256 => {
            let secret = secret(sink);
            let header = table.required::<HeaderName>("header", sink);
            let encoding = table.get_or("encoding", SignatureEncoding::Hex, sink);
            let prefix = table.get_or("prefix", String::new(), sink);
            Verify::HmacSha256 {
                secret: secret?,
                header: header?.0,
                encoding,
                prefix,
            }
        }
        Scheme::Github => {
            let secret = secret(sink);
            let legacy_sha1 = table.optional("legacy_sha1", false, sink);
            Verify::Github {
                secret: secret?,
                legacy_sha1: legacy_sha1?,
            }
        }
        Scheme::StandardWebhooks => Verify::StandardWebhooks {
            secrets: table
                .required::<OneOrMany<StandardWebhooksKey>>("secret", sink)?
                .0
                .into_iter()
                .map(|s| s.0)
                .collect(),
        },
        Scheme::Stripe => {
            let secrets = table.required::<OneOrMany<SharedSecret>>("secret", sink);
            let tolerance = tolerance(sink);
            Verify::Stripe {
                secrets: secrets?.0.into_iter().map(|s| s.0).collect(),
                tolerance: tolerance?,
            }
        }
        Scheme::Shopify => Verify::Shopify {
            secret: secret(sink)?,
        },
        Scheme::Slack => {
            let secret = secret(sink);
            let tolerance = tolerance(sink);
            Verify::Slack {
                secret: secret?,
                tolerance: tolerance?,
            }
        }
        Scheme::Paypal => {
            let webhook_id = table.required::<PaypalWebhookId>("webhook_id", sink);
            let tolerance = tolerance_or(DEFAULT_PAYPAL_TOLERANCE, sink);
            Verify::Paypal {
                webhook_id: webhook_id?.0,
                tolerance: tolerance?,
            }
        }
        Scheme::Sendgrid => {
            let public_key = table.required::<SendgridPublicKey>("public_key", sink);
            let tolerance = tolerance(sink);
            Verify::Sendgrid {
                public_key: public_key?.0,
                tolerance: tolerance?,
            }
        }
        Scheme::Mailchimp => Verify::Mailchimp {
            secret: table.required::<UrlSecret>("secret", sink)?.0,
        },
        Scheme::Mandrill => {
            let key = table.required::<SharedSecret>("key", sink);
            let url = table.optional::<Option<ExactUrl>>("url", None, sink);
            Verify::Mandrill {
                key: key?.0,
                url: url?.map(|u| u.0),
            }
        }
        Scheme::Mailgun => {
            let signing_key = table.required::<SharedSecret>("signing_key", sink);
            let tolerance = tolerance(sink);
            Verify::Mailgun {
                signing_key: signing_key?.0,
                tolerance: tolerance?,
            }
        }
        Scheme::Websub => {
            let secret = table.optional::<Option<WebsubSecret>>("secret", None, sink);
            let topics = table.required_list::<ExactUrl>(
                "topics",
                "list the URL of each topic this source subscribed to",
                sink,
            );
            Verify::Websub {
                secret: secret?.map(|s| s.0),
                topics: topics?.into_iter().map(|t| t.0).collect(),
            }
        }
        Scheme::Sns => {
            let topics = table.required_list::<SnsTopicArn>(
                "topics",
                "list the ARN of each topic whose messages this source accepts",
                sink,
            );
            let tolerance = tolerance_or(DEFAULT_SNS_TOLERANCE, sink);
            Verify::Sns {
                topics: topics?.into_iter().map(|t| t.0).collect(),
                tolerance: tolerance?,
            }
        }
        Scheme::Eventgrid => {
            let secret = table.optional::<Option<HeaderSecret>>("secret", None, sink);
            let header = table.optional(
                "header",
                HeaderName(DEFAULT_EVENTGRID_HEADER.to_owned()),
                sink,
            );
            let allowed_origins = match table.raw("allowed_origins") {
                None => Some(vec![DEFAULT_EVENTGRID_ORIGIN.to_owned()]),
                Some(_) => table
                    .get_list::<HostName>(
                        "allowed_origins",
                        "leave the key out to allow Event Grid's own origin, \
                         \"eventgrid.azure.net\"",
                        sink,
                    )
                    .map(|hosts| hosts.into_iter().map(|h| h.0).collect()),
            };
            Verify::Eventgrid {
                secret: secret?.map(|s| s.0),
                header: header?.0,
                allowed_origins: allowed_origins?,
            }
        }
        Scheme::Openstack => Verify::Openstack {
            secret: table
                .optional::<Option<UrlSecret>>("secret", None, sink)?
                .map(|s| s.0),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scheme_has_one_entry_and_its_own_name() {
        let names: Vec<&str> = scheme_names().collect();
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        for (name, scheme, keys) in SCHEMES {
            assert_eq!(Scheme::parse_str(name), Ok(*scheme));
            assert_eq!(scheme.name(), *name);
            assert_eq!(keys.first(), Some(&"scheme"), "{name}");
        }
    }

    #[test]
    fn suggests_a_close_scheme() {
        let message = Scheme::parse_str("Stripe").unwrap_err();
        assert!(message.starts_with(r#"unknown scheme "Stripe" (did you mean "stripe"?); "#));
        let message = Scheme::parse_str("standard_webhooks").unwrap_err();
        assert!(message.contains(r#"did you mean "standard-webhooks"?"#));
        let message = Scheme::parse_str("twilio").unwrap_err();
        assert!(message.starts_with(r#"unknown scheme "twilio"; expected one of: none, "#));
    }
}
