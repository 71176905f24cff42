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

/// An `http` or `https` URL kept exactly as written, for values a provider compares byte for
/// byte: the URL Mandrill signs, a WebSub topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct ExactUrl(pub String);

impl ParseStr for ExactUrl {
    const EXPECTING: &'static str = HttpUrl::EXPECTING;

    fn parse_str(text: &str) -> Result<Self, String> {
        HttpUrl::parse_str(text).map(|_| ExactUrl(text.to_owned()))
    }
}

/// An `https` URL with a host, in the form `url::Url` writes it (`"https://Example.com"` is
/// `"https://example.com/"`), so that it can be looked up by a parsed URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HttpsUrl(pub String);

impl ParseStr for HttpsUrl {
    const EXPECTING: &'static str = r#"an https URL such as "https://example.com/cert.pem""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        let url = HttpUrl::parse_str(text)?.0;
        if url.scheme() == "https" {
            Ok(HttpsUrl(url.into()))
        } else {
            Err(format!("{text:?} is not an https URL"))
        }
    }
}

/// A DNS host name such as `"eventgrid.azure.net"`, kept lower-cased.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HostName(pub String);

impl ParseStr for HostName {
    const EXPECTING: &'static str = r#"a host name such as "eventgrid.azure.net""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        if text.contains("://") || text.contains('/') {
            return Err(format!(
                "{text:?} is not a host name; give the host alone, without scheme or path, \
                 as in \"eventgrid.azure.net\""
            ));
        }
        let label_ok = |label: &str| {
            (1..=63).contains(&label.len())
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        };
        if text.len() <= 253 && text.split('.').all(label_ok) {
            Ok(HostName(text.to_ascii_lowercase()))
        } else {
            Err(format!("{text:?} is not a valid host name"))
        }
    }
}

/// The shared store: a PostgreSQL connection URL, checked as the driver will read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PostgresUrl(pub String);

impl ParseStr for PostgresUrl {
    const EXPECTING: &'static str = r#"a PostgreSQL URL, "postgres://user:password@host/database""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        // The URL may carry a password: errors never quote it.
        if !(text.starts_with("postgres://") || text.starts_with("postgresql://")) {
            return Err(r#"the store must be a URL starting with "postgres://""#.to_owned());
        }
        match text.parse::<tokio_postgres::Config>() {
            Ok(_) => Ok(PostgresUrl(text.to_owned())),
            Err(error) => Err(format!("the store URL cannot be read: {error}")),
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
    ExactUrl,
    HttpsUrl,
    HostName,
    PostgresUrl,
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
    fn exact_urls_keep_their_text_and_https_urls_are_normalized() {
        let exact = "https://Example.com:443/hooks/mandrill?x=1";
        assert_eq!(ExactUrl::parse_str(exact).unwrap().0, exact);
        assert!(ExactUrl::parse_str("mailto:a@example.com").is_err());
        assert_eq!(
            HttpsUrl::parse_str("https://Example.com:443").unwrap().0,
            "https://example.com/"
        );
        assert!(
            HttpsUrl::parse_str("http://example.com/cert.pem")
                .unwrap_err()
                .contains("not an https URL")
        );
    }

    #[test]
    fn host_names_are_dns_names() {
        assert_eq!(
            HostName::parse_str("EventGrid.Azure.net").unwrap().0,
            "eventgrid.azure.net"
        );
        assert!(HostName::parse_str("localhost").is_ok());
        assert!(
            HostName::parse_str("https://eventgrid.azure.net")
                .unwrap_err()
                .contains("without scheme")
        );
        for bad in ["", "a..b", "-a.b", "a_b.c", "a b", "*"] {
            assert!(HostName::parse_str(bad).is_err(), "{bad}");
        }
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
    fn a_store_is_a_postgres_url_and_its_errors_do_not_quote_it() {
        assert!(PostgresUrl::parse_str("postgres://u:p@h/db").is_ok());
        assert!(PostgresUrl::parse_str("postgresql://u@h:5433/db?connect_timeout=3").is_ok());
        let wrong_scheme = PostgresUrl::parse_str("mysql://u:s3cret@h").unwrap_err();
        assert!(!wrong_scheme.contains("s3cret"), "{wrong_scheme}");
        let unreadable = PostgresUrl::parse_str("postgres://u:s3cret@h/db?sslmode=bogus");
        assert!(!unreadable.unwrap_err().contains("s3cret"));
    }
}
