//! HTTP/1.1 written by hand on plain sockets, for the senders no HTTP library plays: one that
//! stalls in its body, and one that hangs up without reading its answer.

use std::io;
use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::tally::NO_ANSWER;

/// A connection that outlived the phase: the router neither answered nor closed it.
pub const HELD: &str = "held to the end";

pub async fn connect(base: &str) -> io::Result<TcpStream> {
    TcpStream::connect(base.trim_start_matches("http://")).await
}

/// The head of a `POST` of `length` bytes of JSON to `path`, ending with the blank line.
pub fn post_head(path: &str, length: usize) -> String {
    format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         content-length: {length}\r\nconnection: close\r\n\r\n"
    )
}

/// Sends `bytes` on a new connection to `base` and hangs up at once, answer unread.
pub async fn send_and_hang_up(base: &str, bytes: &[u8]) -> io::Result<()> {
    let mut stream = connect(base).await?;
    stream.write_all(bytes).await
}

/// Sends `bytes` on a new connection to `base`, then waits until the router answers or
/// closes the connection, or `until`: the status it answered, [`NO_ANSWER`] or [`HELD`].
pub async fn send_and_hold(base: &str, bytes: &[u8], until: Instant) -> io::Result<String> {
    let exchange = async {
        let mut stream = connect(base).await?;
        stream.write_all(bytes).await?;
        let mut answer = Vec::new();
        let mut chunk = [0u8; 1024];
        // A reset counts as closing: either way the router let the connection go.
        while let Ok(n @ 1..) = stream.read(&mut chunk).await {
            answer.extend_from_slice(&chunk[..n]);
        }
        io::Result::Ok(status_of(&answer).map_or(NO_ANSWER.into(), |s| s.to_owned()))
    };
    tokio::time::timeout_at(until.into(), exchange)
        .await
        .unwrap_or_else(|_| Ok(HELD.into()))
}

/// The status code of a raw answer (`HTTP/1.1 408 Request Timeout ...` gives `408`).
fn status_of(answer: &[u8]) -> Option<&str> {
    let status = std::str::from_utf8(answer.get(9..12)?).ok()?;
    (answer.starts_with(b"HTTP/1.1 ") && status.bytes().all(|b| b.is_ascii_digit()))
        .then_some(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_status_of_an_answer() {
        assert_eq!(
            status_of(b"HTTP/1.1 408 Request Timeout\r\n\r\n"),
            Some("408")
        );
        assert_eq!(status_of(b"HTTP/1.1 4"), None);
        assert_eq!(status_of(b""), None);
    }
}
