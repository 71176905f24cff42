//! What a verification scheme sees of a request, and what it may answer by itself.

use std::collections::BTreeMap;

use http::{HeaderMap, Method};

/// The parts of a request a scheme looks at.
pub struct Incoming<'a> {
    pub method: &'a Method,
    pub headers: &'a HeaderMap,
    /// Query parameters, decoded.
    pub query: &'a BTreeMap<String, String>,
    /// The path after `/hooks/{source}`, without its leading slash (`""` when none): some
    /// providers put a secret there (MailChimp).
    pub rest: &'a str,
    /// The URL the provider sent to, as it knows it: `X-Forwarded-Proto`/`Host` (or
    /// `Forwarded`) + path + query. Mandrill signs it.
    pub url: &'a str,
    pub body: &'a [u8],
    /// Unix seconds now, from the router's clock (fixed by `[server] clock` in tests).
    pub now: i64,
}

/// An answer the router gives itself instead of storing an event: a provider's handshake
/// (Slack `url_verification`, Event Grid validation, WebSub and MailChimp `GET`, Mandrill
/// `HEAD`, CloudEvents `OPTIONS`, SNS subscription confirmation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Handshake {
    /// `200` with a JSON body.
    pub fn json(value: &serde_json::Value) -> Handshake {
        Handshake {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: serde_json::to_vec(value).expect("JSON serialises"),
        }
    }

    /// `200` with a plain-text body (e.g. a WebSub `hub.challenge`, echoed byte for byte).
    pub fn text(body: impl Into<Vec<u8>>) -> Handshake {
        Handshake {
            status: 200,
            headers: vec![("content-type".into(), "text/plain".into())],
            body: body.into(),
        }
    }

    /// An empty answer with `status`.
    pub fn empty(status: u16) -> Handshake {
        Handshake {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}
