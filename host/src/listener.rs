//! Serving a router on a socket that anyone may connect to.
//!
//! `axum::serve` holds a connection for as long as its client likes: one that sends nothing,
//! or its headers a byte at a time, keeps a socket, a task and its buffers for ever, and a few
//! thousand of them fill the memory. Each listener here
//!
//! - serves at most `max_connections` at once: a new connection beyond them takes the place
//!   of the one open the longest, which is closed (see [`Open::make_room`]);
//! - closes a connection that has not sent a whole request head within `header_read_timeout`
//!   of connecting or of its last answer, so idle keep-alive connections free their slot too;
//! - refuses a request head larger than [`MAX_HEAD`] (431), and reads at most
//!   [`MAX_BUFFER`] from the socket ahead of the request's handler, which bound what a
//!   connection holds beside the bodies counted by ingest;
//! - on shutdown stops accepting, lets each connection finish the request it is serving, and
//!   drops those still open at the deadline.
//!
//! Bodies are left to the routes that read them (see `max_body_memory` and
//! `body_read_timeout` in ingest). Requests carry the client's address as
//! `ConnectInfo<SocketAddr>`. The protocol is HTTP/1.1, which providers send webhooks with
//! (a proxy in front that terminates TLS speaks it to wasmhook too).

use std::collections::VecDeque;
use std::net::SocketAddr;
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
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinSet};
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::ServerConfig;
use crate::telemetry;

/// The largest request line and headers taken in; hyper has no limit of its own but its
/// buffer's. Webhook heads are a few KiB.
const MAX_HEAD: usize = 64 * 1024;

/// The most a connection reads from its socket before the handler takes it (hyper's default
/// is ~400 KiB): 1024 connections then hold 64 MiB at most.
const MAX_BUFFER: usize = 64 * 1024;

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
        let (closing, closed) = watch::channel(false);
        let mut open = Open::new(self.limits.max_connections);
        let deadline = loop {
            tokio::select! {
                deadline = stop.wait_for(Option::is_some) => {
                    break deadline.ok().and_then(|d| *d).unwrap_or_else(Instant::now);
                }
                Some(_) = open.tasks.join_next(), if !open.tasks.is_empty() => {}
                (stream, peer) = self.accept() => {
                    let connection = Connection {
                        listener: self.name,
                        peer,
                        limits: self.limits,
                    };
                    if open.make_room() {
                        telemetry::connection_evicted(self.name);
                    }
                    open.spawn(connection.serve(stream, router.clone(), closed.clone()));
                }
            }
        };
        drop(self.socket);
        let _ = closing.send(true);
        let drained = tokio::time::timeout_at(deadline, async {
            while open.tasks.join_next().await.is_some() {}
        });
        if drained.await.is_err() {
            tracing::info!(
                listener = self.name,
                connections = open.tasks.len(),
                "connections still open at the shutdown deadline are dropped"
            );
        }
    }

    async fn accept(&self) -> (TcpStream, SocketAddr) {
        loop {
            match self.socket.accept().await {
                Ok(accepted) => return accepted,
                Err(error) if is_the_clients(&error) => {}
                Err(error) => {
                    telemetry::accept_failed(self.name, &error);
                    tokio::time::sleep(ACCEPT_RETRY).await;
                }
            }
        }
    }
}

/// The connections a listener serves, at most `max` at once.
struct Open {
    /// Every connection's task, joined as they end.
    tasks: JoinSet<()>,
    /// The connections not closed to make room, in the order they were accepted; some may
    /// have ended since.
    by_age: VecDeque<AbortHandle>,
    max: usize,
}

impl Open {
    fn new(max: usize) -> Open {
        Open {
            tasks: JoinSet::new(),
            by_age: VecDeque::with_capacity(max),
            max: max.max(1),
        }
    }

    /// When `max` connections are open, closes the one open the longest; says if it did.
    ///
    /// A connection is held by a sender that does not finish its request, or by an idle
    /// keep-alive client; a sender with a request to make is better served than either.
    /// Waiting for a slot instead would leave every new sender waiting for the timeouts of a
    /// flood of stalled connections; closing the oldest lets a sender in at once, unless the
    /// flood makes connections faster than a request takes to answer.
    fn make_room(&mut self) -> bool {
        if self.by_age.len() < self.max {
            return false;
        }
        self.by_age.retain(|task| !task.is_finished());
        if self.by_age.len() < self.max {
            return false;
        }
        if let Some(oldest) = self.by_age.pop_front() {
            oldest.abort();
        }
        true
    }

    fn spawn(&mut self, connection: impl Future<Output = ()> + Send + 'static) {
        self.by_age.push_back(self.tasks.spawn(connection));
    }
}

/// A failure of one incoming connection (it was reset before it was accepted), not of the
/// listener.
fn is_the_clients(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionReset};
    matches!(error.kind(), ConnectionAborted | ConnectionReset)
}

/// One accepted connection.
struct Connection {
    listener: &'static str,
    peer: SocketAddr,
    limits: Limits,
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
            .max_header_size(MAX_HEAD)
            .max_buf_size(MAX_BUFFER);
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
