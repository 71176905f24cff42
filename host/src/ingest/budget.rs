//! The memory that request bodies being read may take together (`max_body_memory`).
//!
//! `max_body` bounds one body; without a bound on all of them, many senders sending large
//! bodies at once would hold that memory many times over. Each body is counted as it
//! arrives and given back when its request is answered. A request is refused with 503 and
//! `Retry-After`, at once, when the length it announces does not fit in what is left, or as
//! soon as a chunk of it does not fit: the sender retries later, when others are done.
//!
//! What is counted is what arrived, not what was announced: a sender that announces a large
//! body and sends it a byte at a time holds a byte, so a few such connections cannot lock
//! everyone else out. `body_read_timeout` and the listener's connection limit bound them.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::http::HeaderMap;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::telemetry;
use crate::verify::header;

/// Bytes of bodies being read, over all requests.
#[derive(Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
}

impl BodyBudget {
    pub fn new(max_body_memory: u64) -> BodyBudget {
        let bytes = usize::try_from(max_body_memory)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        BodyBudget {
            bytes: Arc::new(Semaphore::new(bytes)),
        }
    }

    /// `body`, counted against the budget as it is read, and what it holds of the budget; or
    /// `None` when the length the request announces does not fit now. A length over
    /// `max_body` is not checked here: that request is refused (413) before it is read.
    pub fn meter(&self, headers: &HeaderMap, max_body: u64, body: Body) -> Option<(Body, Reading)> {
        let announced =
            header(headers, "content-length").and_then(|value| value.parse::<u64>().ok());
        if let Some(length) = announced.filter(|length| *length <= max_body)
            && length > self.bytes.available_permits() as u64
        {
            return None;
        }
        let meter = Arc::new(Meter {
            budget: Arc::clone(&self.bytes),
            held: Mutex::new(None),
            spent: AtomicBool::new(false),
        });
        let body = Body::new(MeteredBody {
            inner: body,
            meter: Arc::clone(&meter),
        });
        Some((body, Reading(meter)))
    }
}

/// What one request's body holds of the budget, until this and the body are both dropped.
pub struct Reading(Arc<Meter>);

impl Reading {
    /// Whether reading the body stopped because the budget had no room for the next chunk.
    pub fn ran_out(&self) -> bool {
        self.0.spent.load(Ordering::Relaxed)
    }
}

struct Meter {
    budget: Arc<Semaphore>,
    held: Mutex<Option<OwnedSemaphorePermit>>,
    spent: AtomicBool,
}

impl Meter {
    /// Takes `len` more bytes from the budget; false when they do not fit.
    fn take(&self, len: usize) -> bool {
        let taken = u32::try_from(len)
            .ok()
            .and_then(|len| Arc::clone(&self.budget).try_acquire_many_owned(len).ok());
        let Some(taken) = taken else {
            self.spent.store(true, Ordering::Relaxed);
            return false;
        };
        telemetry::body_bytes_taken(len);
        let mut held = self.held.lock().expect("body budget");
        match held.as_mut() {
            Some(held) => held.merge(taken),
            None => *held = Some(taken),
        }
        true
    }
}

impl Drop for Meter {
    fn drop(&mut self) {
        if let Some(held) = self.held.get_mut().ok().and_then(Option::take) {
            telemetry::body_bytes_released(held.num_permits());
        }
    }
}

/// A request body that takes each chunk from the budget as it arrives.
struct MeteredBody {
    inner: Body,
    meter: Arc<Meter>,
}

#[derive(Debug, thiserror::Error)]
#[error("no room for more request bodies now")]
struct NoRoom;

impl http_body::Body for MeteredBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let frame = ready!(Pin::new(&mut this.inner).poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
            && !this.meter.take(data.len())
        {
            return Poll::Ready(Some(Err(axum::Error::new(NoRoom))));
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn announcing(length: usize) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("content-length", length.into());
        headers
    }

    async fn read(body: Body) -> Result<Bytes, axum::Error> {
        axum::body::to_bytes(body, usize::MAX).await
    }

    #[tokio::test]
    async fn bodies_hold_what_arrived_until_their_request_is_done() {
        let budget = BodyBudget::new(4096);
        let (body, first) = budget
            .meter(&announcing(3000), 4096, Body::from(vec![b'x'; 3000]))
            .unwrap();
        assert_eq!(read(body).await.unwrap().len(), 3000);

        assert!(
            budget
                .meter(&announcing(2000), 4096, Body::empty())
                .is_none(),
            "2000 announced, 1096 left"
        );
        let (body, second) = budget
            .meter(&HeaderMap::new(), 4096, Body::from(vec![b'x'; 2000]))
            .unwrap();
        assert!(
            read(body).await.is_err(),
            "a body of unknown length that does not fit"
        );
        assert!(second.ran_out());

        drop(first);
        let (body, third) = budget
            .meter(&announcing(2000), 4096, Body::from(vec![b'x'; 2000]))
            .unwrap();
        assert_eq!(read(body).await.unwrap().len(), 2000);
        assert!(!third.ran_out());
    }

    #[test]
    fn an_announced_length_counts_for_nothing_until_it_arrives() {
        let budget = BodyBudget::new(4096);
        let held: Vec<_> = (0..10)
            .map(|_| {
                budget
                    .meter(&announcing(4096), 4096, Body::empty())
                    .unwrap()
            })
            .collect();
        assert_eq!(
            held.len(),
            10,
            "ten large bodies announced, none arrived yet"
        );
        assert!(
            budget
                .meter(&announcing(5000), 4096, Body::empty())
                .is_some(),
            "over max_body: refused with 413 without being read"
        );
    }
}
