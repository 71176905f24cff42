//! The memory that request bodies being read may take together (`max_body_memory`).
//!
//! `max_body` bounds one body; without a bound on all of them, a few thousand senders that each
//! announce a large body and send it slowly would hold that memory many times over. Each POST
//! sets aside what its body may take before the body is read, and gives it back when the
//! request is answered. A request that does not fit is refused at once with 503 and
//! `Retry-After`: the sender retries later, when others are done, and nothing is read.

use std::sync::Arc;

use axum::http::HeaderMap;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::verify::header;

/// Permits are KiB, so that any configured size fits the semaphore's `u32` acquisitions.
const UNIT: u64 = 1024;

#[derive(Clone)]
pub struct BodyBudget {
    kib: Arc<Semaphore>,
}

/// Room set aside for one body; given back when dropped.
pub struct Reservation {
    _permit: Option<OwnedSemaphorePermit>,
}

impl BodyBudget {
    pub fn new(max_body_memory: u64) -> BodyBudget {
        let kib = usize::try_from(max_body_memory / UNIT)
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        BodyBudget {
            kib: Arc::new(Semaphore::new(kib)),
        }
    }

    /// Sets aside what the body of a request with `headers` may take, or `None` when that
    /// does not fit now.
    pub fn reserve(&self, headers: &HeaderMap, max_body: u64) -> Option<Reservation> {
        let kib =
            u32::try_from(size_to_reserve(headers, max_body).div_ceil(UNIT)).unwrap_or(u32::MAX);
        if kib == 0 {
            return Some(Reservation { _permit: None });
        }
        let permit = Arc::clone(&self.kib).try_acquire_many_owned(kib).ok()?;
        Some(Reservation {
            _permit: Some(permit),
        })
    }
}

/// The announced `Content-Length`; `max_body` for a body of unknown length (chunked), which
/// may grow that far; nothing for one announced over `max_body`, which is refused (413)
/// before it is read.
fn size_to_reserve(headers: &HeaderMap, max_body: u64) -> u64 {
    match header(headers, "content-length").and_then(|value| value.parse::<u64>().ok()) {
        Some(length) if length > max_body => 0,
        Some(length) => length,
        None => max_body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_length(length: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("content-length", length.parse().unwrap());
        headers
    }

    #[test]
    fn bodies_take_their_announced_length_until_the_budget_is_spent() {
        let budget = BodyBudget::new(4 * 1024);
        let first = budget.reserve(&with_length("3000"), 4096);
        let second = budget.reserve(&with_length("1024"), 4096);
        assert!(first.is_some() && second.is_some());
        assert!(budget.reserve(&with_length("1"), 4096).is_none(), "spent");
        drop(first);
        assert!(budget.reserve(&with_length("2048"), 4096).is_some());
    }

    #[test]
    fn a_body_of_unknown_length_takes_max_body_and_an_empty_one_nothing() {
        let budget = BodyBudget::new(4 * 1024);
        let chunked = budget.reserve(&HeaderMap::new(), 4096);
        assert!(chunked.is_some());
        let empty = budget.reserve(&with_length("0"), 4096);
        assert!(empty.is_some());
        assert!(budget.reserve(&with_length("1"), 4096).is_none());
        assert!(
            budget.reserve(&with_length("5000"), 4096).is_some(),
            "too large, refused with 413 without being read"
        );
    }
}
