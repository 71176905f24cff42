//! The events the load generator sends: GitHub pushes to `main`, signed as GitHub signs
//! them, padded to a chosen size, each carrying its sequence number in its commit message.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::load::Request;
use crate::sink::MARKER;

/// The GitHub secret of the benchmark's sources.
pub const SECRET: &str = "bench-secret";

/// A push event of about `size` bytes (at least the ~600 bytes of the event itself).
pub fn push(seq: u64, size: usize) -> Bytes {
    let mut event = serde_json::json!({
        "ref": "refs/heads/main",
        "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        "after": "9f2c1e4b7a8d6e5f4a3b2c1d0e9f8a7b6c5d4e3f",
        "repository": { "full_name": "acme/api", "html_url": "https://github.com/acme/api" },
        "pusher": { "name": "alice", "email": "alice@example.com" },
        "sender": { "login": "alice", "type": "User" },
        "commits": [{
            "id": "9f2c1e4b7a8d6e5f4a3b2c1d0e9f8a7b6c5d4e3f",
            "message": format!("{MARKER}{seq} Fix the login redirect"),
            "url": "https://github.com/acme/api/commit/9f2c1e4b7a8d6e5f4a3b2c1d0e9f8a7b6c5d4e3f",
            "timestamp": "2026-11-28T17:30:00Z",
            "author": { "name": "Alice", "email": "alice@example.com" },
        }],
    });
    let length = serde_json::to_vec(&event).map_or(0, |v| v.len());
    let padding = size.saturating_sub(length + r#","padding":"""#.len());
    event["padding"] = "x".repeat(padding).into();
    Bytes::from(serde_json::to_vec(&event).expect("JSON serialises"))
}

/// A push with GitHub's headers and signature.
pub fn signed_push(seq: u64, size: usize) -> Request {
    let body = push(seq, size);
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(&body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let headers = vec![
        ("x-hub-signature-256", signature),
        ("x-github-event", "push".to_owned()),
        ("x-github-delivery", format!("bench-{}", next_delivery_id())),
    ];
    (body, headers)
}

/// A GitHub source as routes.toml declares it.
pub fn github_source(name: &str) -> String {
    format!("[sources.{name}]\nverify = {{ scheme = \"github\", secret = \"{SECRET}\" }}\n")
}

/// GitHub's delivery ids are unique, and the router drops a redelivery: every request of a
/// benchmark, warm-up included, gets its own.
fn next_delivery_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pushes_have_the_size_asked_for_and_their_number() {
        for size in [2048, 65536] {
            let body = push(7, size);
            assert_eq!(body.len(), size);
            assert_eq!(crate::sink::sequence_number(&body), Some(7));
        }
        assert!(push(1, 0).len() > 500);
    }
}
