//! What can go wrong loading a plugin or running one.

use std::path::PathBuf;
use std::time::Duration;

/// A plugin file that cannot become a running plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The I/O error is part of the message, not a `source`, so that a report printing the
    /// whole chain does not say it twice.
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a valid WebAssembly plugin: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "{path} exports neither `_start` (WASI command), `wasi:cli/run` (command component) \
         nor `handle` (wasmhook:plugin function component)"
    )]
    NoEntryPoint { path: PathBuf },
}

/// Why a plugin call failed. Every variant is handled by the plugin's `on_error`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PluginError {
    #[error("ran past its {}ms deadline", .0.as_millis())]
    Timeout(Duration),
    #[error("tried to use more than its memory limit of {0} bytes")]
    MemoryLimit(u64),
    #[error("wrote more than its output limit of {0} bytes")]
    OutputTooLarge(u64),
    /// A transform made more messages of one event on a route, over all its calls, than its
    /// `max_messages`.
    #[error(
        "made more than {limit} messages of one event; raise `max_messages` in [plugins.{plugin}] to allow more"
    )]
    TooManyMessages { limit: usize, plugin: String },
    /// The messages a transform made of one event on a route, over all its calls and with
    /// what each carries, add up to more bytes than its `max_messages_size`.
    #[error(
        "made messages of one event adding up to more than {limit} bytes (bodies, headers and all they carry); raise `max_messages_size` in [plugins.{plugin}] to allow more"
    )]
    MessagesTooLarge { limit: u64, plugin: String },
    #[error("set {count} headers on one message, more than the {limit} a message may carry")]
    TooManyHeaders { count: usize, limit: usize },
    #[error(
        "set {bytes} bytes of headers (names and values) on one message, more than the {limit} a message may carry"
    )]
    HeadersTooLarge { bytes: usize, limit: usize },
    #[error("trapped: {0}")]
    Trap(String),
    #[error("exited with status {0}")]
    Exit(i32),
    #[error("returned an error: {0}")]
    Returned(String),
    #[error("returned {0}")]
    BadOutput(String),
    #[error("could not be instantiated: {0}")]
    Instantiate(String),
    /// The router is stopping: not the plugin's failure, and not one for its `on_error`. The
    /// event is left `received` and runs again at the next start.
    #[error("was cut by the router's shutdown")]
    ShuttingDown,
}

impl PluginError {
    /// A short, stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            PluginError::Timeout(_) => "timeout",
            PluginError::MemoryLimit(_) => "memory",
            PluginError::OutputTooLarge(_) => "output",
            PluginError::TooManyMessages { .. } => "messages",
            PluginError::MessagesTooLarge { .. } => "messages-size",
            PluginError::TooManyHeaders { .. } | PluginError::HeadersTooLarge { .. } => "headers",
            PluginError::Trap(_) => "trap",
            PluginError::Exit(_) => "exit",
            PluginError::Returned(_) => "error",
            PluginError::BadOutput(_) => "bad-output",
            PluginError::Instantiate(_) => "instantiate",
            PluginError::ShuttingDown => "shutdown",
        }
    }
}

/// A failed call with what the plugin printed to stderr.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin {plugin} {error}{}", stderr_suffix(.stderr))]
pub struct PluginFailure {
    pub plugin: String,
    pub error: PluginError,
    pub stderr: String,
}

fn stderr_suffix(stderr: &str) -> String {
    let stderr = stderr.trim();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; stderr: {stderr}")
    }
}
