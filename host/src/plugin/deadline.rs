//! The wall-clock bound of a plugin call, and the router's shutdown cutting it short.
//!
//! Guest code is stopped by epoch interruption: it traps at its deadline wherever it is. A
//! guest waiting in a WASI call (a sleep, a `poll` on a clock) runs no guest code for the
//! epoch to interrupt, so every call is also an async call under a tokio timeout: at the
//! deadline its future is dropped, which unwinds the instance's fiber, drops the instance and
//! frees the plugin's slot, however long the guest asked to wait.
//!
//! The engine's shutdown signal ends a call the same two ways, sooner: the epoch callback
//! traps a computing guest with [`ShuttingDown`], and a waiting guest's future is dropped.
//! Either way the call is over before the runtime stops its timers, which a guest still
//! waiting on one would otherwise poll after they are gone, and panic its thread.

use std::time::Duration;

use tokio_util::sync::CancellationToken;
use wasmtime::{Store, UpdateDeadline};
use wasmtime_wasi::runtime::{in_tokio, poll_noop, with_ambient_tokio_runtime};

use super::engine::PluginEngine;

/// How often, in epoch ticks, a computing guest checks for the shutdown: a callback every
/// 10 ms of guest code costs nothing measurable, and a shutdown waits at most that long.
const SHUTDOWN_CHECK_TICKS: u64 = 10;

/// What ended a call before it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// The plugin's `timeout` passed.
    Deadline,
    /// The router is shutting down.
    ShuttingDown,
}

/// The error a guest traps with when the shutdown interrupts its code.
#[derive(Debug, thiserror::Error)]
#[error("cut by the router's shutdown")]
pub struct ShuttingDown;

/// Runs `call` to completion on this thread, or until `timeout` has passed or `stopping` is
/// cancelled; a call is not started once it is.
///
/// The caller's thread drives the call, so guest code never runs on an async worker; the
/// runtime's timer and the WASI host's own waits wake it. Must not be called from an async
/// context (a tokio worker): use the blocking pool.
pub fn run<F: Future>(timeout: Duration, engine: &PluginEngine, call: F) -> Result<F::Output, Cut> {
    let stopping = &engine.stopping;
    if stopping.is_cancelled() {
        return Err(Cut::ShuttingDown);
    }
    let _ticking = engine.ticker.ticking();
    let deadline = tokio::time::Instant::now() + timeout;
    let mut call = std::pin::pin!(call);
    // Most calls never wait: they end in their first poll and need neither a timer nor the
    // runtime's attention. A call that waits is polled again below with a real waker.
    if let Some(output) = with_ambient_tokio_runtime(|| poll_noop(call.as_mut())) {
        return Ok(output);
    }
    in_tokio(async move {
        tokio::select! {
            // First: once the shutdown is signalled the call is not polled again, so no
            // WASI wait in it touches a timer of a runtime that is stopping.
            biased;
            () = stopping.cancelled() => Err(Cut::ShuttingDown),
            output = tokio::time::timeout_at(deadline, call) => output.map_err(|_| Cut::Deadline),
        }
    })
}

/// Sets `store` to trap its guest at `timeout` from now (`Trap::Interrupt`), or with
/// [`ShuttingDown`] within [`SHUTDOWN_CHECK_TICKS`] of `stopping` being cancelled.
pub fn arm<T>(store: &mut Store<T>, timeout: Duration, stopping: &CancellationToken) {
    let mut left = PluginEngine::deadline_ticks(timeout);
    let mut next = move || {
        let ticks = left.min(SHUTDOWN_CHECK_TICKS);
        left -= ticks;
        ticks
    };
    store.set_epoch_deadline(next());
    let stopping = stopping.clone();
    store.epoch_deadline_callback(move |_| {
        if stopping.is_cancelled() {
            return Err(ShuttingDown.into());
        }
        Ok(match next() {
            0 => UpdateDeadline::Interrupt,
            ticks => UpdateDeadline::Continue(ticks),
        })
    });
}
