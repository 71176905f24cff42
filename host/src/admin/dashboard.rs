//! The dashboard: one page, one script and one style sheet, embedded in the binary and
//! served by the admin listener, so it needs no server or build step of its own. The page
//! asks the admin API for everything it shows, with the token it asks the operator for.
//!
//! Every answer carries a policy that lets the page run its own script only: an event body
//! that holds markup and slips past the page's escaping still cannot run or load anything.

use std::sync::OnceLock;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                      img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                      form-action 'none'; frame-ancestors 'none'";

/// A file of the dashboard, with the tag a browser revalidates its copy by.
struct Asset {
    content_type: &'static str,
    body: &'static str,
    tag: OnceLock<String>,
}

static PAGE: Asset = Asset::new(
    "text/html; charset=utf-8",
    include_str!("../../dashboard/index.html"),
);
static SCRIPT: Asset = Asset::new(
    "text/javascript; charset=utf-8",
    include_str!("../../dashboard/app.js"),
);
static STYLE: Asset = Asset::new(
    "text/css; charset=utf-8",
    include_str!("../../dashboard/style.css"),
);

pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(async |headers: HeaderMap| PAGE.serve(&headers)))
        .route(
            "/assets/app.js",
            get(async |headers: HeaderMap| SCRIPT.serve(&headers)),
        )
        .route(
            "/assets/style.css",
            get(async |headers: HeaderMap| STYLE.serve(&headers)),
        )
}

impl Asset {
    const fn new(content_type: &'static str, body: &'static str) -> Asset {
        Asset {
            content_type,
            body,
            tag: OnceLock::new(),
        }
    }

    fn tag(&self) -> &str {
        self.tag.get_or_init(|| {
            let sha256 = crate::digest::sha256_hex(self.body.as_bytes());
            format!("\"{}\"", &sha256[..16])
        })
    }

    /// The file, or `304` when the browser's copy is this one: a new binary brings a new
    /// dashboard at the next load, without a stale copy in between.
    fn serve(&self, request: &HeaderMap) -> Response {
        let tag = self.tag();
        let fresh = request
            .get(header::IF_NONE_MATCH)
            .is_some_and(|seen| seen.as_bytes() == tag.as_bytes());
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            ([(header::CONTENT_TYPE, self.content_type)], self.body).into_response()
        };
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(POLICY),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        if let Ok(tag) = HeaderValue::from_str(tag) {
            headers.insert(header::ETAG, tag);
        }
        response
    }
}
