//! The parts of a request a scheme takes as a credential: a secret in the URL or in a header.
//!
//! The request is kept with its event, shown by the admin API and handed to every plugin in the
//! envelope, so a credential there would reach whoever reads events and every plugin author.
//! Each value a scheme names here is replaced by [`REDACTED`] in what is kept; the name stays,
//! so that a plugin still sees that the sender sent one. Signatures are not credentials: they
//! are worth nothing for another body, and plugins may want them.

use super::Verifier;

/// What a credential's value is replaced by in the request kept with an event.
pub const REDACTED: &str = "[redacted]";

/// Headers that carry a credential whatever the scheme: HTTP authentication.
const ALWAYS: [&str; 2] = ["authorization", "proxy-authorization"];

/// Where a scheme reads credentials from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Credentials {
    /// Header names, lower-cased; [`ALWAYS`] included.
    pub headers: Vec<String>,
    /// Query parameter names.
    pub query: Vec<&'static str>,
    /// The path after `/hooks/{source}/` is a secret (MailChimp).
    pub path: bool,
}

impl Credentials {
    fn new(headers: &[&str], query: &[&'static str], path: bool) -> Credentials {
        Credentials {
            headers: ALWAYS
                .iter()
                .chain(headers)
                .map(|name| name.to_ascii_lowercase())
                .collect(),
            query: query.to_vec(),
            path,
        }
    }

    pub fn is_header(&self, name: &str) -> bool {
        self.headers.iter().any(|header| header == name)
    }

    pub fn is_query(&self, name: &str) -> bool {
        self.query.contains(&name)
    }
}

impl Verifier {
    /// What this source's scheme takes as a credential, present in a request or not: a secret
    /// in the URL or a header is one by its nature, whether or not the source checks it.
    pub fn credentials(&self) -> Credentials {
        match self {
            Verifier::Mailchimp(_) => Credentials::new(&[], &["secret"], true),
            Verifier::Eventgrid(scheme) => {
                Credentials::new(&[scheme.secret_header()], &["code"], false)
            }
            Verifier::Openstack(_) => Credentials::new(&["x-openstack-secret"], &["secret"], false),
            _ => Credentials::new(&[], &[], false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authentication_headers_are_credentials_for_every_scheme() {
        let none = Verifier::None.credentials();
        assert!(none.is_header("authorization"));
        assert!(none.is_header("proxy-authorization"));
        assert!(!none.is_header("x-request-id"));
        assert!(!none.is_query("secret"));
        assert!(!none.path);
    }
}
