//! Subscribers: HTTP servers on 127.0.0.1 that answer `200` and note when each event's
//! message arrived, found by the `bench-seq-<n>` marker the load generator puts in every body.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

/// The marker in front of an event's sequence number in its body.
pub const MARKER: &str = "bench-seq-";

/// Each message's sequence number and when it arrived.
type Arrivals = Arc<Mutex<Vec<(u64, Instant)>>>;

pub struct Sink {
    pub url: String,
    arrivals: Arrivals,
}

impl Sink {
    pub async fn start() -> anyhow::Result<Sink> {
        Sink::start_on(0).await
    }

    /// A sink on `port`: one coming up where connections were refused until now.
    pub async fn start_on(port: u16) -> anyhow::Result<Sink> {
        let arrivals: Arrivals = Arc::default();
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&arrivals));
        let listener =
            tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
        let url = format!("http://{}/deliveries", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Sink { url, arrivals })
    }

    pub fn count(&self) -> usize {
        self.arrivals.lock().unwrap().len()
    }

    /// Waits until `expected` messages arrived or `timeout` passed; returns the count.
    pub async fn wait_for(&self, expected: usize, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let count = self.count();
            if count >= expected || Instant::now() >= deadline {
                return count;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Each arrival as (sequence number, when), emptying the sink for the next run.
    pub fn take(&self) -> Vec<(u64, Instant)> {
        std::mem::take(&mut *self.arrivals.lock().unwrap())
    }

    /// When the last message arrived.
    pub fn last_arrival(&self) -> Option<Instant> {
        self.arrivals
            .lock()
            .unwrap()
            .iter()
            .map(|(_, at)| *at)
            .max()
    }
}

async fn receive(State(arrivals): State<Arrivals>, body: Bytes) -> StatusCode {
    let at = Instant::now();
    match sequence_number(&body) {
        Some(seq) => {
            arrivals.lock().unwrap().push((seq, at));
            StatusCode::OK
        }
        None => StatusCode::BAD_REQUEST,
    }
}

/// The number after the first `bench-seq-` in `body`.
pub fn sequence_number(body: &[u8]) -> Option<u64> {
    let marker = MARKER.as_bytes();
    let start = body.windows(marker.len()).position(|w| w == marker)? + marker.len();
    let digits = body[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&body[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_sequence_number() {
        assert_eq!(
            sequence_number(br#"{"text":"x bench-seq-42: fix"}"#),
            Some(42)
        );
        assert_eq!(sequence_number(b"bench-seq-"), None);
        assert_eq!(sequence_number(b"nothing"), None);
    }
}
