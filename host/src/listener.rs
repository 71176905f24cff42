//! Serving a router on a socket that anyone may connect to.
//!
//! `axum::serve` holds a connection for as long as its client likes: one that sends nothing,
//! or its headers a byte at a time, keeps a socket, a task and its buffers for ever, and a few
//! thousand of them fill the memory. Each listener here
//!
//! - serves at most `max_connections` at once. The next connections are not accepted: they
//!   wait in the system's backlog, costing the process nothing, until a slot is free;
//! - closes a connection that has not sent a whole request head within `header_read_timeout`
//!   of connecting or of its last answer, so idle keep-alive connections free their slot too;
//! - refuses a request head larger than [`MAX_HEAD`] (431), which bounds a connection's
//!   buffer;
//! - on shutdown stops accepting, lets each connection finish the request it is serving, and
//!   drops those still open at the deadline.
//!
//! Bodies are left to the routes that read them (see `max_body_memory` and
//! `body_read_timeout` in ingest). Requests carry the client's address as
//! `ConnectInfo<SocketAddr>`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::ServerConfig;
use crate::telemetry;

/// The largest request line and headers taken in (hyper's buffer; its default is ~400 KiB).
/// Webhook heads are a few KiB; this bounds what a connection can hold before its body.
const MAX_HEAD: usize = 64 * 1024;

/// How long to wait before accepting again after a failure other than a client's (such as
/// running out of file descriptors), so as not to spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(250);

/// What a listener allows each connection.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn of(server: &ServerConfig) -> Limits {
        Limits {
            header_read_timeout: server.header_read_timeout,
            max_connections: server.max_connections,
        }
    }
}

/// A bound socket, not yet serving.
pub struct Listener {
    /// `ingest` or `admin`: in logs and as a metric label.
    name: &'static str,
    socket: TcpListener,
    limits: Limits,
}

/// When a listener is to stop: `Some(deadline)` for the connections still open.
pub type Stop = watch::Receiver<Option<Instant>>;

impl Listener {
    pub async fn bind(
        name: &'static str,
        addr: SocketAddr,
        limits: Limits,
    ) -> anyhow::Result<Self> {
        let socket = TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr} ({name})"))?;
        let addr = socket.local_addr()?;
        tracing::info!(listener = name, addr = %addr, "listening");
        Ok(Listener {
            name,
            socket,
            limits,
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Serves `router` until `stop` gives a deadline, then closes the connections: idle ones
    /// at once, the others once their request is answered or at the deadline.
    pub async fn serve(self, router: Router, mut stop: Stop) {
        let slots = Arc::new(Semaphore::new(self.limits.max_connections));
        let (closing, closed) = watch::channel(false);
        let mut connections = JoinSet::new();
        let deadline = loop {
            tokio::select! {
                deadline = stop.wait_for(Option::is_some) => {
                    break deadline.ok().and_then(|d| *d).unwrap_or_else(Instant::now);
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                (stream, peer, slot) = self.accept(&slots) => {
                    let connection = Connection {
                        listener: self.name,
                        peer,
                        limits: self.limits,
                        _slot: slot,
                    };
                    connections.spawn(connection.serve(stream, router.clone(), closed.clone()));
                }
            }
        };
        drop(self.socket);
        let _ = closing.send(true);
        let drained = tokio::time::timeout_at(deadline, async {
            while connections.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            tracing::info!(
                listener = self.name,
                connections = connections.len(),
                "connections still open at the shutdown deadline are dropped"
            );
        }
    }

    /// The next connection, once a slot is free for it.
    async fn accept(
        &self,
        slots: &Arc<Semaphore>,
    ) -> (TcpStream, SocketAddr, OwnedSemaphorePermit) {
        let slot = Arc::clone(slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        loop {
            match self.socket.accept().await {
                Ok((stream, peer)) => return (stream, peer, slot),
                Err(error) if is_the_clients(&error) => {}
                Err(error) => {
                    telemetry::accept_failed(self.name, &error);
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    }
}

/// A failure of one incoming connection (it was reset before it was accepted), not of the
/// listener.
fn is_the_clients(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset};
    matches!(error.kind(), ConnectionAborted | ConnectionReset)
}

/// One accepted connection, holding its slot until it closes.
struct Connection {
    listener: &'static str,
    peer: SocketAddr,
    limits: Limits,
    _slot: OwnedSemaphorePermit,
}

impl Connection {
    async fn serve(self, stream: TcpStream, router: Router, mut closing: watch::Receiver<bool>) {
        let peer = self.peer;
        let service = router.map_request(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            request
        });
        let mut http = http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout)
            .max_buf_size(MAX_HEAD);
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        tokio::pin!(connection);
        let _open = telemetry::connection_opened(self.listener);
        let result = tokio::select! {
            result = connection.as_mut() => result,
            () = async { drop(closing.wait_for(|closing| *closing).await) } => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        };
        if let Err(error) = result {
            telemetry::connection_failed(self.listener, &self.peer, &error);
        }
    }
}
