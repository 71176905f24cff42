//! HTTP/1.1 written by hand on a plain socket, for the senders no HTTP library plays: one that
//! stalls in its headers or its body, sends a `Host` of its choosing, or hangs up without
//! reading the answer.

use std::io::ErrorKind;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One connection to a listener.
pub struct RawClient {
    stream: TcpStream,
}

/// How a connection ended for [`RawClient::read_until_closed`].
#[derive(Debug)]
pub enum Closed {
    /// The server closed the connection after sending these bytes (maybe none).
    By(String),
    /// The connection was still open when the time was up.
    StillOpen,
}

impl RawClient {
    /// Connects to `base`, a URL such as `http://127.0.0.1:8080`.
    pub async fn connect(base: &str) -> RawClient {
        let addr = base.trim_start_matches("http://").trim_end_matches('/');
        let stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("connecting to {addr}: {e}"));
        RawClient { stream }
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream
            .write_all(bytes.as_ref())
            .await
            .expect("writing to the router");
    }

    /// Reads until the server closes the connection (a reset counts as closing), for at most
    /// `timeout`.
    pub async fn read_until_closed(&mut self, timeout: Duration) -> Closed {
        let mut answer = Vec::new();
        let read = tokio::time::timeout(timeout, async {
            let mut chunk = [0u8; 4096];
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) => return,
                    Ok(n) => answer.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
                    Err(e) => panic!("reading from the router: {e}"),
                }
            }
        })
        .await;
        match read {
            Ok(()) => Closed::By(String::from_utf8_lossy(&answer).into_owned()),
            Err(_) => Closed::StillOpen,
        }
    }

    /// Sends a whole request and reads the answer up to the server closing the connection
    /// (the request asks for that with `connection: close`).
    pub async fn exchange(&mut self, request: impl AsRef<[u8]>) -> String {
        self.send(request).await;
        match self.read_until_closed(super::WAIT).await {
            Closed::By(answer) => answer,
            Closed::StillOpen => panic!("no complete answer within {:?}", super::WAIT),
        }
    }
}

/// The head of `METHOD PATH` with a `content-length` of `length` and `headers`, ending with the
/// blank line: the body (if any) follows.
pub fn head(method: &str, path: &str, length: usize, headers: &[(&str, &str)]) -> String {
    let mut head = format!("{method} {path} HTTP/1.1\r\ncontent-length: {length}\r\n");
    if !headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("host"))
    {
        head += "host: 127.0.0.1\r\n";
    }
    for (name, value) in headers {
        head += &format!("{name}: {value}\r\n");
    }
    head + "\r\n"
}

/// A complete `POST /hooks/{source}` of a JSON `body`, the last on its connection.
pub fn post_json(source: &str, body: &str) -> String {
    let head = head(
        "POST",
        &format!("/hooks/{source}"),
        body.len(),
        &[
            ("content-type", "application/json"),
            ("connection", "close"),
        ],
    );
    head + body
}

/// The status code of a raw answer (`HTTP/1.1 408 Request Timeout ...` gives 408).
#[track_caller]
pub fn status_of(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"))
}
