//! `dedup` of `[sources.NAME]`: recognizing a provider's redelivery of an event already stored.
//!
//! Providers retry a webhook they believe failed, and the retry carries the delivery id of the
//! first try. Within `window` of that first try, a request with the same id is answered as a
//! duplicate and produces no new messages, so that a subscriber sees each event once.

use std::time::Duration;

use toml::de::DeValue;

use super::diagnostic::Sink;
use super::parse_str::{ParseStr, deserialize_from_str};
use super::table::{Table, Value, describe};
use super::units::Period;
use super::web::HeaderName;

/// How a source recognizes redeliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DedupConfig {
    pub key: DedupKey,
    /// How long after the first delivery a request with the same key is a duplicate; more than 0.
    pub window: Duration,
}

/// Where a request's delivery id is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DedupKey {
    /// The provider's delivery id as the scheme knows it (GitHub `X-GitHub-Delivery`,
    /// Standard Webhooks `webhook-id`); no key for schemes without one.
    Scheme,
    /// A request header (name lower-cased, validated as a header name).
    Header(String),
    /// A JSON pointer into the body (RFC 6901, must be "" or start with "/").
    Json(String),
}

impl Default for DedupConfig {
    /// What a source without a `dedup` key gets: the scheme's delivery id, for a day, which
    /// covers the retry schedules of the providers that have one.
    fn default() -> Self {
        DedupConfig {
            key: DedupKey::Scheme,
            window: Duration::from_hours(24),
        }
    }
}

const KEYS: &[&str] = &["header", "json", "window"];

/// A JSON pointer (RFC 6901): `""` for the whole document, otherwise `/`-separated tokens in
/// which `~0` stands for `~` and `~1` for `/`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct JsonPointer(String);

impl ParseStr for JsonPointer {
    const EXPECTING: &'static str = r#"a JSON pointer such as "/id""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        if !text.is_empty() && !text.starts_with('/') {
            return Err(format!(
                r#"{text:?} is not a JSON pointer; it must start with "/", as in "/id""#
            ));
        }
        let mut tildes = text.match_indices('~');
        if tildes.any(|(i, _)| !matches!(text.as_bytes().get(i + 1), Some(b'0' | b'1'))) {
            return Err(format!(
                "{text:?} is not a valid JSON pointer: `~` must be followed by `0` (for `~`) \
                 or `1` (for `/`)"
            ));
        }
        Ok(JsonPointer(text.to_owned()))
    }
}

deserialize_from_str!(JsonPointer);

/// Reads the `dedup` value of a source: `true`, `false` or a table. `None` when it is bad
/// (reported); `Some(None)` when redelivery detection is turned off.
pub(super) fn read_dedup(
    source: &str,
    value: &Value<'_>,
    sink: &mut Sink<'_>,
) -> Option<Option<DedupConfig>> {
    match value.get_ref() {
        DeValue::Boolean(false) => Some(None),
        DeValue::Boolean(true) => Some(Some(DedupConfig::default())),
        DeValue::Table(_) => {
            read_table(&format!("[sources.{source}.dedup]"), value, sink).map(Some)
        }
        _ => {
            sink.error(
                value.span(),
                format!(
                    "`dedup` in [sources.{source}] must be `true`, `false` or a table such as \
                     {{ header = \"x-delivery-id\" }}, not {}",
                    describe(value)
                ),
            );
            None
        }
    }
}

/// `{ header = "...", window = "..." }` or `{ json = "...", window = "..." }`; with neither
/// `header` nor `json`, the scheme's delivery id.
fn read_table(what: &str, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<DedupConfig> {
    let table = Table::new(what.to_owned(), value, KEYS, sink)?;
    // Outer `None`: absent; inner `None`: bad, and reported.
    let header = table
        .raw("header")
        .map(|_| table.get::<HeaderName>("header", sink));
    let json = table
        .raw("json")
        .map(|_| table.get::<JsonPointer>("json", sink));
    let key = match (header, json) {
        (None, None) => Some(DedupKey::Scheme),
        (Some(header), None) => header.map(|h| DedupKey::Header(h.0)),
        (None, Some(json)) => json.map(|j| DedupKey::Json(j.0)),
        (Some(_), Some(_)) => {
            let second = [table.raw("header"), table.raw("json")]
                .into_iter()
                .flatten()
                .map(Value::span)
                .max_by_key(|span| span.start)
                .unwrap_or_else(|| table.span.clone());
            sink.error(
                second,
                format!(
                    "{what} has both `header` and `json`; give one of them, or neither to use \
                     the delivery id of the verify scheme"
                ),
            );
            None
        }
    };
    let window = match table.raw("window") {
        None => Some(DedupConfig::default().window),
        Some(_) => table.get::<Period>("window", sink).map(|p| p.0),
    };
    Some(DedupConfig {
        key: key?,
        window: window?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_pointers_follow_rfc_6901() {
        for ok in ["", "/", "/id", "/data/0/id", "/a~0b", "/a~1b/~01"] {
            assert!(JsonPointer::parse_str(ok).is_ok(), "{ok}");
        }
        assert!(
            JsonPointer::parse_str("id")
                .unwrap_err()
                .contains(r#"must start with "/""#)
        );
        for bad in ["/a~2b", "/a~", "/~/x"] {
            assert!(
                JsonPointer::parse_str(bad).unwrap_err().contains("`~`"),
                "{bad}"
            );
        }
    }
}
