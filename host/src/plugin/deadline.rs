//! The wall-clock bound of a plugin call.
//!
//! Guest code is stopped by epoch interruption: it traps at its deadline wherever it is. A
//! guest waiting in a WASI call (a sleep, a `poll` on a clock) runs no guest code for the
//! epoch to interrupt, so every call is also an async call under a tokio timeout: at the
//! deadline its future is dropped, which unwinds the instance's fiber, drops the instance and
//! frees the plugin's slot, however long the guest asked to wait.

use std::time::Duration;

use wasmtime_wasi::runtime::{in_tokio, poll_noop, with_ambient_tokio_runtime};

/// Runs `call` to completion on this thread, or until `timeout` has passed (`None`).
///
/// The caller's thread drives the call, so guest code never runs on an async worker; the
/// runtime's timer and the WASI host's own waits wake it. Must not be called from an async
/// context (a tokio worker): use the blocking pool.
pub fn run<F: Future>(timeout: Duration, call: F) -> Option<F::Output> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut call = std::pin::pin!(call);
    // Most calls never wait: they end in their first poll and need neither a timer nor the
    // runtime's attention. A call that waits is polled again below with a real waker.
    if let Some(output) = with_ambient_tokio_runtime(|| poll_noop(call.as_mut())) {
        return Some(output);
    }
    in_tokio(async move { tokio::time::timeout_at(deadline, call).await.ok() })
}
