//! Who may use the admin API, which replays events, reloads the wiring and shows every payload.
//!
//! With `admin_token` set, a request must carry it as `Authorization: Bearer`, wherever it
//! comes from. Without one, the API serves this machine only, as Redis's protected mode does:
//!
//! - a client whose address is not loopback is refused (403) with what to do about it: set
//!   `admin_token`, or bind `admin` to 127.0.0.1. A listener that other hosts can reach
//!   without a token is warned about at start;
//! - a request whose `Host` is not a loopback name or address is refused too. A web page open
//!   in the operator's browser can point a host name of its own at 127.0.0.1 (DNS rebinding)
//!   and reach the API through the browser; the browser then sends that name as `Host`.
//!
//! The health checks are not guarded: a load balancer on another host asks them.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::Admin;
use crate::api_error::ApiError;
use crate::telemetry;

/// Why a request was refused, in the answer's words and as a metric label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    /// `admin_token` is set and the request does not carry it.
    Token,
    /// No `admin_token`, and the client is on another host.
    RemoteClient,
    /// No `admin_token`, and the request names a host that is not loopback.
    ForeignHost,
}

impl Refusal {
    fn label(self) -> &'static str {
        match self {
            Refusal::Token => "token",
            Refusal::RemoteClient => "remote_client",
            Refusal::ForeignHost => "foreign_host",
        }
    }

    fn into_error(self) -> ApiError {
        const FIX: &str = "set `admin_token` in [server] and send it as \
                           `Authorization: Bearer <admin_token>`, or bind `admin` to 127.0.0.1";
        match self {
            Refusal::Token => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "the admin API wants `Authorization: Bearer <admin_token>`",
            ),
            Refusal::RemoteClient => ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "without `admin_token` the admin API serves only clients on its own \
                     machine; to reach it from elsewhere, {FIX}"
                ),
            ),
            Refusal::ForeignHost => ApiError::new(
                StatusCode::FORBIDDEN,
                format!(
                    "without `admin_token` the admin API answers only requests addressed to \
                     localhost, 127.0.0.1 or [::1] (the Host header); {FIX}"
                ),
            ),
        }
    }
}

/// The middleware in front of every admin route but the health checks.
pub async fn guard(State(admin): State<Admin>, request: Request, next: Next) -> Response {
    let topology = admin.wiring.current();
    let token = topology.config.server.admin_token.as_deref();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| *peer);
    match check(token, peer, request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => {
            telemetry::admin_refused(refusal.label(), peer);
            refusal.into_error().into_response()
        }
    }
}

/// Whether a request from `peer` (unknown: treated as remote) with `headers` may be served.
fn check(
    token: Option<&str>,
    peer: Option<SocketAddr>,
    headers: &HeaderMap,
) -> Result<(), Refusal> {
    if let Some(token) = token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .unwrap_or_default();
        let matches: bool = presented.as_bytes().ct_eq(token.as_bytes()).into();
        return if matches { Ok(()) } else { Err(Refusal::Token) };
    }
    if !peer.is_some_and(|peer| is_loopback(peer.ip())) {
        return Err(Refusal::RemoteClient);
    }
    // A request without `Host` cannot come from a browser, the only way to rebind.
    match headers.get(header::HOST).map(|host| host.to_str()) {
        None => Ok(()),
        Some(Ok(host)) if is_loopback_host(host) => Ok(()),
        Some(_) => Err(Refusal::ForeignHost),
    }
}

/// Loopback, also as an IPv4 client of a dual-stack (`[::]`) listener sees it (`::ffff:127.x`).
pub fn is_loopback(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

/// `localhost`, a 127.x.x.x address or `[::1]`, with or without a port: names no DNS answer
/// can point elsewhere.
fn is_loopback_host(host: &str) -> bool {
    let (name, port) = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.split_once(']') {
            Some(parts) => parts,
            None => return false,
        },
        None => host
            .find(':')
            .map_or((host, ""), |colon| host.split_at(colon)),
    };
    let is_port = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
    is_port
        && (name.eq_ignore_ascii_case("localhost")
            || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()))
}

#[cfg(test)]
mod tests {

    use axum::Router;
    use axum::body::{Body, to_bytes};
    use axum::http::Request;
    use metrics_exporter_prometheus::PrometheusBuilder;
    use serde_json::Value;
    use tower::ServiceExt;

    use super::*;
    use crate::admin::router;
    use crate::testing::Stages;

    const REMOTE: [u8; 4] = [203, 0, 113, 7];
    const LOOPBACK: [u8; 4] = [127, 0, 0, 1];

    /// The admin router of a wasmhook with no sources, listening on every address, with
    /// `server_extra` in `[server]`. The directory holds its store.
    async fn admin_app(server_extra: &str) -> (tempfile::TempDir, Router) {
        let server = format!("admin = \"0.0.0.0:8081\"\n{server_extra}");
        let stages = Stages::start(&server, "").await;
        let app = router(crate::admin::Admin {
            store: stages.store.clone(),
            pipeline: stages.pipeline.clone(),
            wiring: stages.wiring.clone(),
            reloader: stages.reloader.clone(),
            delivery: stages.delivery.clone(),
            metrics: PrometheusBuilder::new().build_recorder().handle(),
            health: stages.ingest().health(),
        });
        (stages.dir, app)
    }

    /// `POST path` from `peer` with `headers`: the status and the JSON answer.
    async fn post(
        app: &Router,
        path: &str,
        peer: [u8; 4],
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = Request::post(path);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .extension(ConnectInfo(SocketAddr::from((peer, 50_000))))
            .body(Body::empty())
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn without_a_token_another_host_is_refused_with_the_fix() {
        let (_dir, app) = admin_app("").await;
        let (status, answer) =
            post(&app, "/api/reload", REMOTE, &[("host", "10.0.0.5:8081")]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(
            error.contains("admin_token") && error.contains("127.0.0.1"),
            "{error}"
        );

        let (status, answer) =
            post(&app, "/api/reload", LOOPBACK, &[("host", "localhost:8081")]).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["reloaded"], false, "nothing changed: {answer}");
    }

    #[tokio::test]
    async fn the_health_checks_stay_open_to_other_hosts() {
        let (_dir, app) = admin_app("").await;
        let request = Request::get("/healthz")
            .extension(ConnectInfo(SocketAddr::from((REMOTE, 50_000))))
            .body(Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn with_a_token_any_host_that_presents_it_is_served() {
        let (_dir, app) = admin_app("admin_token = \"s3cret\"").await;
        let bearer = [("host", "evil.example"), ("authorization", "Bearer s3cret")];
        let (status, answer) = post(&app, "/api/reload", REMOTE, &bearer).await;
        assert_eq!(status, StatusCode::OK, "{answer}");

        let (status, answer) = post(&app, "/api/reload", LOOPBACK, &[("host", "localhost")]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
        assert!(!answer.to_string().contains("s3cret"), "{answer}");
    }

    #[test]
    fn loopback_hosts_with_or_without_a_port() {
        for host in [
            "localhost",
            "LOCALHOST:8081",
            "127.0.0.1",
            "127.0.0.1:8081",
            "127.1.2.3:1",
            "[::1]",
            "[::1]:8081",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "evil.example",
            "localhost.evil.example",
            "127.0.0.1.nip.io:8081",
            "10.0.0.5:8081",
            "0.0.0.0:8081",
            "[::]:8081",
            "[::1",
            "localhost:80x",
            "localhost:",
            "::1",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn an_ipv4_client_of_a_dual_stack_listener_is_loopback() {
        assert!(is_loopback("::ffff:127.0.0.1".parse().unwrap()));
        assert!(!is_loopback("::ffff:203.0.113.7".parse().unwrap()));
    }
}
