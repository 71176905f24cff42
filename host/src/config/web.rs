//! Addresses, URLs and HTTP headers, checked so that a typo fails `check`, not a delivery.

use std::net::SocketAddr;

use super::parse_str::{ParseStr, deserialize_from_str};

/// An IP address and port to listen on (`"127.0.0.1:8080"`, `"[::]:0"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ListenAddr(pub SocketAddr);

impl ParseStr for ListenAddr {
    const EXPECTING: &'static str = r#"an IP address and port such as "127.0.0.1:8080""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        text.parse().map(ListenAddr).map_err(|_| {
            format!(
                "{text:?} is not an IP address and port; expected {}",
                Self::EXPECTING
            )
        })
    }
}

/// Where a subscriber is: an `http` or `https` URL with a host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HttpUrl(pub url::Url);

impl ParseStr for HttpUrl {
    const EXPECTING: &'static str = r#"an http or https URL such as "https://example.com/hook""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        let url = url::Url::parse(text).map_err(|e| format!("{text:?} is not a valid URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "{text:?} is not an http or https URL (scheme {:?})",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("{text:?} has no host"));
        }
        Ok(HttpUrl(url))
    }
}

/// The shared store: a `postgres://` or `sqlite://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct StoreUrl(pub String);

impl ParseStr for StoreUrl {
    const EXPECTING: &'static str = r#"a store URL starting with "postgres://" or "sqlite://""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        if text.starts_with("postgres://") || text.starts_with("sqlite://") {
            Ok(StoreUrl(text.to_owned()))
        } else {
            // The URL may carry a password: do not quote it.
            Err(r#"the store must start with "postgres://" or "sqlite://""#.to_owned())
        }
    }
}

/// An HTTP header name (an RFC 9110 token), kept lower-cased as HTTP/2 sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HeaderName(pub String);

impl ParseStr for HeaderName {
    const EXPECTING: &'static str = r#"an HTTP header name such as "x-signature""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        let is_token_char = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        if !text.is_empty() && text.chars().all(is_token_char) {
            Ok(HeaderName(text.to_ascii_lowercase()))
        } else {
            Err(format!("{text:?} is not a valid HTTP header name"))
        }
    }
}

/// An HTTP header value: visible ASCII, with spaces and tabs inside but not around it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HeaderValue(pub String);

impl ParseStr for HeaderValue {
    const EXPECTING: &'static str = "an HTTP header value";

    fn parse_str(text: &str) -> Result<Self, String> {
        let allowed = |c: char| c.is_ascii_graphic() || c == ' ' || c == '\t';
        if !text.chars().all(allowed) {
            // Values may hold tokens: do not quote them.
            Err(
                "an HTTP header value may only hold visible ASCII characters, spaces and tabs"
                    .to_owned(),
            )
        } else if text.trim_matches([' ', '\t']).len() != text.len() {
            Err("an HTTP header value cannot start or end with a space or tab".to_owned())
        } else {
            Ok(HeaderValue(text.to_owned()))
        }
    }
}

/// Any string except the empty one, for keys where "" can only be a mistake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct NonEmpty(pub String);

impl ParseStr for NonEmpty {
    const EXPECTING: &'static str = "a non-empty string";

    fn parse_str(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            Err("must not be empty".to_owned())
        } else {
            Ok(NonEmpty(text.to_owned()))
        }
    }
}

deserialize_from_str!(
    ListenAddr,
    HttpUrl,
    StoreUrl,
    HeaderName,
    HeaderValue,
    NonEmpty
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http() {
        assert!(HttpUrl::parse_str("http://127.0.0.1:9000/hook").is_ok());
        assert!(HttpUrl::parse_str("https://example.com").is_ok());
        assert!(
            HttpUrl::parse_str("ftp://example.com")
                .unwrap_err()
                .contains("http or https")
        );
        assert!(
            HttpUrl::parse_str("example.com/hook")
                .unwrap_err()
                .contains("not a valid URL")
        );
    }

    #[test]
    fn listen_addresses_allow_port_zero() {
        assert_eq!(ListenAddr::parse_str("127.0.0.1:0").unwrap().0.port(), 0);
        assert!(ListenAddr::parse_str("[::1]:8080").is_ok());
        assert!(ListenAddr::parse_str("localhost:8080").is_err());
    }

    #[test]
    fn header_names_are_lower_cased_tokens() {
        assert_eq!(HeaderName::parse_str("X-Team").unwrap().0, "x-team");
        assert!(HeaderName::parse_str("x team").is_err());
        assert!(HeaderName::parse_str("").is_err());
        assert!(HeaderValue::parse_str("Bearer abc").is_ok());
        assert!(HeaderValue::parse_str("a\nb").is_err());
        assert!(HeaderValue::parse_str(" a").is_err());
        assert!(HeaderValue::parse_str("é").is_err());
    }

    #[test]
    fn stores_are_postgres_or_sqlite() {
        assert!(StoreUrl::parse_str("postgres://u:p@h/db").is_ok());
        assert!(StoreUrl::parse_str("sqlite:///var/lib/wasmhook.db").is_ok());
        assert!(
            !StoreUrl::parse_str("mysql://u:pw@h")
                .unwrap_err()
                .contains("pw")
        );
    }
}
