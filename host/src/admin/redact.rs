//! What the admin API and the dashboard show of credentials: enough to tell which one is
//! configured, never enough to use it. A screen is shared, recorded and photographed.

use std::collections::BTreeMap;

pub use crate::verify::REDACTED;
/// What stands where part of a URL was.
const HIDDEN: &str = "…";

/// A signing secret as `whsec_…Xy9Q`: its prefix and last four characters.
pub fn secret_hint(secret: &str) -> String {
    let prefix = secret.find('_').map_or("", |end| &secret[..=end]);
    let chars: Vec<char> = secret.chars().collect();
    if chars.len() < 12 {
        return format!("{prefix}{HIDDEN}");
    }
    let last: String = chars[chars.len() - 4..].iter().collect();
    format!("{prefix}{HIDDEN}{last}")
}

/// A subscriber URL without what may authenticate it: user and password, query values, and
/// path segments that look like tokens (`/services/T0001/B0002/XXXX` as Slack's incoming
/// webhooks have it, `/webhooks/1234/abcd` as Discord's).
pub fn url_shown(url: &url::Url) -> String {
    let mut shown = format!("{}://", url.scheme());
    shown.push_str(url.host_str().unwrap_or(""));
    if let Some(port) = url.port() {
        shown.push_str(&format!(":{port}"));
    }
    for segment in url.path_segments().into_iter().flatten() {
        shown.push('/');
        shown.push_str(if looks_like_token(segment) {
            HIDDEN
        } else {
            segment
        });
    }
    let names: Vec<String> = url
        .query_pairs()
        .map(|(name, _)| format!("{name}={HIDDEN}"))
        .collect();
    if !names.is_empty() {
        shown.push('?');
        shown.push_str(&names.join("&"));
    }
    shown
}

/// Long, or mixing digits into a word: ids and keys, not the words of an API's paths
/// (`v1`, `hooks`, `incoming-webhooks`).
fn looks_like_token(segment: &str) -> bool {
    let digits = segment.chars().filter(char::is_ascii_digit).count();
    segment.len() >= 24 || (segment.len() >= 8 && digits >= 2)
}

/// Headers with the values of those that carry credentials replaced, whatever the source's
/// scheme already removed when the event was stored: a header a sender added on its own
/// (`authorization`, `cookie`, an API key) is shown by name only.
pub fn headers_shown(headers: &mut serde_json::Value) {
    let Some(headers) = headers.as_object_mut() else {
        return;
    };
    for (name, value) in headers.iter_mut() {
        if is_credential(name) {
            *value = serde_json::Value::String(REDACTED.to_owned());
        }
    }
}

fn is_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie" | "set-cookie"
    ) || [
        "signature",
        "token",
        "secret",
        "api-key",
        "apikey",
        "password",
    ]
    .iter()
    .any(|word| name.contains(word))
}

/// Header names only, for headers configured with a value that may be a credential.
pub fn header_names(headers: &[(String, String)]) -> Vec<&str> {
    let names: BTreeMap<&str, ()> = headers
        .iter()
        .map(|(name, _)| (name.as_str(), ()))
        .collect();
    names.into_keys().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_shows_its_prefix_and_last_four_characters_only() {
        assert_eq!(
            secret_hint("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
            "whsec_…LaSw"
        );
        assert_eq!(secret_hint("whsec_short"), "whsec_…");
        assert_eq!(secret_hint("plain-secret-value"), "…alue");
    }

    #[test]
    fn a_url_keeps_its_host_and_words_and_hides_tokens_and_query_values() {
        let shown = |url: &str| url_shown(&url::Url::parse(url).unwrap());
        assert_eq!(
            shown("https://hooks.slack.com/services/T0001AB2C/B0002XY3Z/aBcDeFgHiJkLmNoPqRsTuVwX"),
            "https://hooks.slack.com/services/…/…/…"
        );
        assert_eq!(
            shown("http://user:pw@127.0.0.1:9000/hooks/ci?token=s3cr3t&team=a"),
            "http://127.0.0.1:9000/hooks/ci?token=…&team=…"
        );
        assert_eq!(
            shown(
                "https://discord.com/api/webhooks/123456789012345678/Xq-7vB2kLmN9pQrS_tUvWxYz0aBcDeFgHiJkLmNoP"
            ),
            "https://discord.com/api/webhooks/…/…"
        );
        assert_eq!(
            shown("https://ci.example.com/v1/incoming-webhooks"),
            "https://ci.example.com/v1/incoming-webhooks"
        );
    }

    #[test]
    fn credential_headers_show_by_name_only() {
        let mut headers = serde_json::json!({
            "authorization": "Bearer abc",
            "X-Hub-Signature-256": "sha256=00",
            "x-api-key": "k",
            "content-type": "application/json",
        });
        headers_shown(&mut headers);
        assert_eq!(
            headers,
            serde_json::json!({
                "authorization": REDACTED,
                "X-Hub-Signature-256": REDACTED,
                "x-api-key": REDACTED,
                "content-type": "application/json",
            })
        );
    }
}
