//! What the schemes' tests share: the fixture files under `shared/fixtures/<provider>/`, and
//! [`TestRequest`], an owned request to lend out as an [`Incoming`].

use std::collections::BTreeMap;
use std::path::PathBuf;

use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::Incoming;

/// A fixture file's path: `shared/fixtures/<provider>/<name>`.
pub fn fixture_path(provider: &str, name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/fixtures/"
    ))
    .join(provider)
    .join(name)
}

/// A fixture file's bytes.
pub fn fixture(provider: &str, name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(provider, name)).expect("fixture is readable")
}

/// A fixture file, parsed as JSON.
pub fn fixture_json(provider: &str, name: &str) -> serde_json::Value {
    serde_json::from_slice(&fixture(provider, name)).expect("fixture is JSON")
}

/// The `vectors` array of a provider's `vectors.json`.
pub fn vectors(provider: &str) -> Vec<serde_json::Value> {
    fixture_json(provider, "vectors.json")["vectors"]
        .as_array()
        .expect("vectors.json has a vectors array")
        .clone()
}

/// Headers from name-value pairs; a later value of a name replaces an earlier one.
pub fn header_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            HeaderValue::from_str(value).expect("a header value"),
        );
    }
    headers
}

/// Headers from a JSON object of strings, such as a vector's `headers`.
pub fn json_headers(object: &serde_json::Value) -> HeaderMap {
    header_map(
        object
            .as_object()
            .expect("headers are a JSON object")
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str().expect("a string value"))),
    )
}

/// An owned request; [`TestRequest::incoming`] lends it to a scheme.
#[derive(Clone)]
pub struct TestRequest {
    pub method: Method,
    pub headers: HeaderMap,
    pub query: BTreeMap<String, String>,
    pub rest: String,
    pub url: String,
    pub body: Vec<u8>,
    pub now: i64,
}

impl TestRequest {
    /// The clock most tests run at: 2023-11-14T22:13:20Z.
    pub const NOW: i64 = 1_700_000_000;

    /// A `POST` of `body` to `url` at [`TestRequest::NOW`], without headers, query or rest.
    pub fn post(url: &str, body: impl AsRef<[u8]>) -> TestRequest {
        TestRequest {
            method: Method::POST,
            headers: HeaderMap::new(),
            query: BTreeMap::new(),
            rest: String::new(),
            url: url.to_owned(),
            body: body.as_ref().to_vec(),
            now: TestRequest::NOW,
        }
    }

    pub fn method(mut self, method: Method) -> TestRequest {
        self.method = method;
        self
    }

    /// Sets header `name`, replacing any value it had.
    pub fn header(mut self, name: &str, value: &str) -> TestRequest {
        self.headers.insert(
            HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            HeaderValue::from_str(value).expect("a header value"),
        );
        self
    }

    /// Replaces all the headers.
    pub fn headers(mut self, headers: HeaderMap) -> TestRequest {
        self.headers = headers;
        self
    }

    /// Sets query parameter `name` (decoded).
    pub fn query(mut self, name: &str, value: &str) -> TestRequest {
        self.query.insert(name.to_owned(), value.to_owned());
        self
    }

    pub fn rest(mut self, rest: &str) -> TestRequest {
        self.rest = rest.to_owned();
        self
    }

    pub fn url(mut self, url: &str) -> TestRequest {
        self.url = url.to_owned();
        self
    }

    pub fn body(mut self, body: impl AsRef<[u8]>) -> TestRequest {
        self.body = body.as_ref().to_vec();
        self
    }

    pub fn now(mut self, now: i64) -> TestRequest {
        self.now = now;
        self
    }

    /// The request as a scheme sees it.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            method: &self.method,
            headers: &self.headers,
            query: &self.query,
            rest: &self.rest,
            url: &self.url,
            body: &self.body,
            now: self.now,
        }
    }
}
