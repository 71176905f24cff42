//! The request as ingest handles it: its parts, its body read within the limit, the metadata
//! kept with the event, and handshake answers.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use super::verify::{Handshake, Incoming, header};
use crate::api_error::ApiError;
use crate::store::RequestMeta;

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

    /// What is kept with the event so plugins see the request on every (re)run.
    pub fn meta(&self) -> RequestMeta {
        let headers = self
            .headers
            .iter()
            .filter_map(|(name, value)| {
                Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
            })
            .collect();
        RequestMeta {
            method: self.method.to_string(),
            path: self.path(),
            query: self.query_map.clone(),
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
