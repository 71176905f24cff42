//! Plugins: user-supplied WebAssembly filters and transforms, run in a sandbox.
//!
//! # Transports
//! A plugin is one of three kinds, told apart by what the `.wasm` exports (SPEC section 5):
//! a WASI **command module** (`wasm32-wasip1`, `_start`), a **command component**
//! (`wasi:cli/run`), or a **function component** (the `wasmhook:plugin` world's `handle`).
//! A core module that implements that world's canonical ABI by hand (`handle`,
//! `cabi_realloc`, `cabi_post_handle`, `memory`; no `_start`) is encoded into a function
//! component when it loads (`encode.rs`). Commands read the envelope on stdin and write the
//! result to stdout; functions take and return bytes. Either way the contract is JSON in,
//! JSON out.
//!
//! # Invariants
//! - Compiling, linking and type-checking happen once per plugin version, off the request
//!   path ([`CompiledPlugin::load`]); what remains per event is instantiation from a pre-linked
//!   `InstancePre` in the pooling allocator (a few microseconds) and the guest's own work.
//! - Every call is bounded: a wall-clock deadline (epoch interruption stops guest code; a guest
//!   waiting in WASI, as in a sleep, is stopped by dropping the call's future, `deadline.rs`),
//!   a memory cap through the store's limiter, an output cap on stdout or the returned bytes,
//!   stderr kept to 4 KiB. Hitting any of them fails the call, never the host.
//! - The router's shutdown cuts every call in flight the same ways ([`PluginEngine::stop_calls`])
//!   and fails later ones at once, with [`PluginError::ShuttingDown`]: no call is left polling
//!   the timers of a runtime that is stopping.
//! - By default every call gets a fresh instance, so nothing leaks between events. A function
//!   plugin with `reuse = true` keeps warm instances; one that fails in any way is discarded.
//! - A plugin call blocks its caller's thread: callers run it on the blocking pool behind the
//!   engine's semaphore, so the async runtime never stalls on guest code. Inside, the call is
//!   an async wasmtime call (WASI linked async, each call on a fiber stack from the pool)
//!   driven on that thread until it ends or its deadline passes.

mod cache;
mod call;
mod compiled;
mod deadline;
mod encode;
mod engine;
mod error;
mod function_cache;
mod sandbox;

pub use cache::user_cache_dir;
pub use call::Output;
pub use compiled::{CompiledPlugin, PluginKind};
pub use engine::PluginEngine;
pub use error::{LoadError, PluginError, PluginFailure};

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use crate::config::PluginConfig;

/// How much of its stderr, or of the error message it returns, a failing plugin may leave in
/// logs and records: both are the plugin's to size.
pub const STDERR_LIMIT: usize = 4096;

/// A plugin as a route uses it: compiled code plus the settings from routes.toml.
pub struct Plugin {
    pub name: String,
    pub compiled: std::sync::Arc<CompiledPlugin>,
    pub settings: PluginConfig,
    /// Counts successful loads of this plugin name, from 1.
    pub version: u64,
    pub loaded_at: SystemTime,
    /// The `config` table, serialised once; spliced into every envelope.
    pub config_json: Box<serde_json::value::RawValue>,
    warm: Mutex<Vec<call::WarmInstance>>,
    /// Set once this version's output had headers the router does not send; they are logged
    /// the first time only, so a plugin doing it on every event cannot flood the log.
    dropped_headers_logged: AtomicBool,
}

impl Plugin {
    pub fn new(
        compiled: std::sync::Arc<CompiledPlugin>,
        settings: PluginConfig,
        version: u64,
    ) -> Plugin {
        let config_json =
            serde_json::value::to_raw_value(&settings.config).expect("a JSON value serialises");
        Plugin {
            name: settings.name.clone(),
            compiled,
            settings,
            version,
            loaded_at: SystemTime::now(),
            config_json,
            warm: Mutex::new(Vec::new()),
            dropped_headers_logged: AtomicBool::new(false),
        }
    }

    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// True the first time it is asked for this plugin version: whether to log headers its
    /// output had that the router does not send.
    pub fn first_dropped_headers(&self) -> bool {
        !self.dropped_headers_logged.swap(true, Ordering::Relaxed)
    }

    /// Whether this plugin keeps warm instances between calls.
    pub fn reuses_instances(&self) -> bool {
        self.settings.reuse && self.compiled.kind == PluginKind::FunctionComponent
    }
}
