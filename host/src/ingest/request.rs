//! The request as ingest handles it: its parts, its body read within the limit, the metadata
//! kept with the event, and handshake answers.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::api_error::ApiError;
use crate::store::RequestMeta;
use crate::verify::{Credentials, Handshake, Incoming, REDACTED, header};

/// Everything about a request but its body.
pub struct Received {
    pub source: String,
    /// The path after `/hooks/{source}/`, if any.
    pub rest: String,
    pub query: Option<String>,
    pub method: Method,
    pub headers: HeaderMap,
    query_map: BTreeMap<String, String>,
    url: String,
}

impl Received {
    pub fn new(
        source: String,
        rest: String,
        query: Option<String>,
        method: Method,
        headers: HeaderMap,
    ) -> Received {
        let mut received = Received {
            source,
            rest,
            query,
            method,
            headers,
            query_map: BTreeMap::new(),
            url: String::new(),
        };
        received.query_map = received.parse_query();
        received.url = received.build_url();
        received
    }

    /// What the source's scheme sees; `clock` replaces the system clock when set.
    pub fn incoming<'a>(&'a self, body: &'a [u8], clock: Option<SystemTime>) -> Incoming<'a> {
        let now = clock.unwrap_or_else(SystemTime::now);
        Incoming {
            method: &self.method,
            headers: &self.headers,
            query: &self.query_map,
            rest: &self.rest,
            url: &self.url,
            body,
            now: now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
        }
    }

    fn parse_query(&self) -> BTreeMap<String, String> {
        self.query
            .as_deref()
            .map(|query| {
                url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect()
            })
            .unwrap_or_default()
    }

    fn path(&self) -> String {
        if self.rest.is_empty() {
            format!("/hooks/{}", self.source)
        } else {
            format!("/hooks/{}/{}", self.source, self.rest)
        }
    }

    /// The URL as the sender addressed it, behind a proxy too: `Forwarded` (RFC 7239, first
    /// hop), else `X-Forwarded-Proto`/`X-Forwarded-Host`, else `Host`.
    fn build_url(&self) -> String {
        let forwarded = |key: &str| forwarded_value(&self.headers, key);
        let scheme = forwarded("proto")
            .or_else(|| header(&self.headers, "x-forwarded-proto").map(str::to_owned))
            .unwrap_or_else(|| "http".to_owned());
        let host = forwarded("host")
            .or_else(|| header(&self.headers, "x-forwarded-host").map(str::to_owned))
            .or_else(|| header(&self.headers, "host").map(str::to_owned))
            .unwrap_or_else(|| "localhost".to_owned());
        match &self.query {
            Some(query) => format!("{scheme}://{host}{}?{query}", self.path()),
            None => format!("{scheme}://{host}{}", self.path()),
        }
    }

    /// What is kept with the event so plugins see the request on every (re)run, each of the
    /// scheme's `credentials` replaced by [`REDACTED`].
    pub fn meta(&self, credentials: &Credentials) -> RequestMeta {
        let headers = self
            .headers
            .iter()
            .filter_map(|(name, value)| {
                let value = if credentials.is_header(name.as_str()) {
                    REDACTED
                } else {
                    value.to_str().ok()?
                };
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let query = self
            .query_map
            .iter()
            .map(|(name, value)| {
                let value = if credentials.is_query(name) {
                    REDACTED
                } else {
                    value
                };
                (name.clone(), value.to_owned())
            })
            .collect();
        let path = if credentials.path && !self.rest.is_empty() {
            format!("/hooks/{}/{REDACTED}", self.source)
        } else {
            self.path()
        };
        RequestMeta {
            method: self.method.to_string(),
            path,
            query,
            headers,
        }
    }
}

/// A parameter of the first hop of a `Forwarded` header (`for=..;proto=https;host=..`).
fn forwarded_value(headers: &HeaderMap, key: &str) -> Option<String> {
    let first_hop = header(headers, "forwarded")?.split(',').next()?;
    first_hop.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.eq_ignore_ascii_case(key)
            .then(|| value.trim_matches('"').to_owned())
    })
}

/// Reads the body up to `limit` bytes; a larger body is refused before it is read in full.
pub async fn read_body(body: Body, headers: &HeaderMap, limit: u64) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than this source's limit of {limit} bytes"),
        )
    };
    let declared = header(headers, "content-length").and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, usize::try_from(limit).unwrap_or(usize::MAX))
        .await
        .map_err(|error| {
            if std::error::Error::source(&error)
                .is_some_and(|source| source.is::<http_body_util::LengthLimitError>())
            {
                too_large()
            } else {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the body: {error}"),
                )
            }
        })
}

pub fn handshake_response(handshake: Handshake) -> Response {
    let status = StatusCode::from_u16(handshake.status).unwrap_or(StatusCode::OK);
    let mut response = (status, handshake.body).into_response();
    for (name, value) in handshake.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(rest: &str, query: &str, headers: &[(&'static str, &'static str)]) -> Received {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.insert(*name, HeaderValue::from_static(value));
        }
        Received::new(
            "list".into(),
            rest.into(),
            Some(query.into()),
            Method::POST,
            map,
        )
    }

    #[test]
    fn credentials_are_redacted_and_the_rest_kept() {
        let credentials = Credentials {
            headers: vec!["authorization".into(), "x-secret".into()],
            query: vec!["secret"],
            path: true,
        };
        let request = received(
            "s3cr3t",
            "secret=s3cr3t&page=2",
            &[
                ("authorization", "Bearer t0ken"),
                ("x-secret", "s3cr3t"),
                ("x-request-id", "r-1"),
            ],
        );
        let meta = request.meta(&credentials);
        assert_eq!(meta.path, "/hooks/list/[redacted]");
        assert_eq!(meta.query["secret"], REDACTED);
        assert_eq!(meta.query["page"], "2");
        assert_eq!(meta.headers["authorization"], REDACTED);
        assert_eq!(meta.headers["x-secret"], REDACTED);
        assert_eq!(meta.headers["x-request-id"], "r-1");

        let nothing = request.meta(&Credentials::default());
        assert_eq!(nothing.path, "/hooks/list/s3cr3t");
        assert_eq!(nothing.headers["authorization"], "Bearer t0ken");
        // Without a rest, the path is the source's.
        assert_eq!(received("", "", &[]).meta(&credentials).path, "/hooks/list");
    }
}
