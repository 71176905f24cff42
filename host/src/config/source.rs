//! `[sources.NAME]`: where events come in (`POST /hooks/NAME`), how they are verified, and how
//! redeliveries are recognized (`dedup.rs`).

use serde::Deserialize;

use super::dedup::{DedupConfig, read_dedup};
use super::diagnostic::Sink;
use super::parse_str::{ParseStr, deserialize_from_str};
use super::secrets::{OneOrMany, SharedSecret, WhsecSecret};
use super::table::{Table, Value};
use super::web::HeaderName;

/// `[sources.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub name: String,
    pub verify: Verify,
    /// How a provider's redelivery of an event already stored is recognized; `None` when
    /// `dedup = false`, and every request is a new event.
    pub dedup: Option<DedupConfig>,
}

/// How a request to a source proves it comes from the provider.
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
    /// `scheme = "github"`: `X-Hub-Signature-256`.
    Github { secret: String },
    /// `scheme = "standard-webhooks"`: `webhook-signature` with any of the `whsec_` secrets.
    StandardWebhooks { secrets: Vec<String> },
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
}

const SCHEMES: &[(&str, Scheme)] = &[
    ("none", Scheme::None),
    ("hmac-sha256", Scheme::HmacSha256),
    ("github", Scheme::Github),
    ("standard-webhooks", Scheme::StandardWebhooks),
];

impl ParseStr for Scheme {
    const EXPECTING: &'static str = "a verification scheme name";

    fn parse_str(text: &str) -> Result<Self, String> {
        SCHEMES
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, scheme)| *scheme)
            .ok_or_else(|| {
                let names: Vec<&str> = SCHEMES.iter().map(|(name, _)| *name).collect();
                format!(
                    "unknown scheme {text:?}; expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

deserialize_from_str!(Scheme);

impl Scheme {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Scheme::None => &["scheme"],
            Scheme::HmacSha256 => &["scheme", "secret", "header", "encoding", "prefix"],
            Scheme::Github | Scheme::StandardWebhooks => &["scheme", "secret"],
        }
    }
}

const KEYS: &[&str] = &["verify", "dedup"];

impl SourceConfig {
    pub(super) fn read(name: &str, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<SourceConfig> {
        let table = Table::new(format!("[sources.{name}]"), value, KEYS, sink)?;
        let verify = match table.raw("verify") {
            None => Some(Verify::None),
            Some(verify) => read_verify(&format!("[sources.{name}.verify]"), verify, sink),
        };
        let dedup = match table.raw("dedup") {
            None => Some(Some(DedupConfig::default())),
            Some(dedup) => read_dedup(name, dedup, sink),
        };
        Some(SourceConfig {
            name: name.to_owned(),
            verify: verify?,
            dedup: dedup?,
        })
    }
}

fn read_verify(what: &str, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<Verify> {
    // The allowed keys depend on the scheme, so the scheme is read first.
    let scheme = match value.get_ref().as_table().and_then(|t| t.get("scheme")) {
        Some(scheme) => super::table::deserialize::<Scheme>(scheme)
            .map_err(|(span, message)| sink.error(span, format!("`scheme` in {what}: {message}")))
            .ok(),
        None => None,
    };
    let keys = scheme.map_or(
        &["scheme", "secret", "header", "encoding", "prefix"][..],
        Scheme::keys,
    );
    let table = Table::new(what.to_owned(), value, keys, sink)?;
    if table.raw("scheme").is_none() {
        let names: Vec<&str> = SCHEMES.iter().map(|(name, _)| *name).collect();
        sink.error(
            table.span.clone(),
            format!(
                "missing key `scheme` in {what}; expected one of: {}",
                names.join(", ")
            ),
        );
    }
    Some(match scheme? {
        Scheme::None => Verify::None,
        Scheme::HmacSha256 => {
            let secret = table.required::<SharedSecret>("secret", sink);
            let header = table.required::<HeaderName>("header", sink);
            let encoding = table.get_or("encoding", SignatureEncoding::Hex, sink);
            let prefix = table.get_or("prefix", String::new(), sink);
            Verify::HmacSha256 {
                secret: secret?.0,
                header: header?.0,
                encoding,
                prefix,
            }
        }
        Scheme::Github => Verify::Github {
            secret: table.required::<SharedSecret>("secret", sink)?.0,
        },
        Scheme::StandardWebhooks => Verify::StandardWebhooks {
            secrets: table
                .required::<OneOrMany<WhsecSecret>>("secret", sink)?
                .0
                .into_iter()
                .map(|s| s.0)
                .collect(),
        },
    })
}
