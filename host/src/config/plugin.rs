//! `[plugins.NAME]`: a WebAssembly filter or transform and the limits it runs under.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::diagnostic::{Location, Sink};
use super::json::to_json;
use super::table::{Table, Value};
use super::units::{ByteSize, Timeout};
use super::web::NonEmpty;

/// `[plugins.NAME]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginConfig {
    pub name: String,
    /// The `.wasm` file, absolute; it need not exist yet (`check` and the loader report that).
    pub wasm: PathBuf,
    /// Where the `wasm` value is written, so that a compile error can be shown at it.
    pub wasm_location: Location,
    /// The `config` table as JSON, handed to the plugin with every event; `{}` when absent.
    pub config: serde_json::Value,
    /// Wall-clock limit for one call, enforced by the host.
    pub timeout: Duration,
    /// Linear memory limit of one instance, in bytes.
    pub memory: u64,
    /// Largest output accepted from one call, in bytes.
    pub max_output: u64,
    /// Keep warm instances between events (function plugins only).
    pub reuse: bool,
    pub on_error: OnError,
}

/// What becomes of an event when the plugin fails on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Keep it as dead, listed and replayable.
    #[default]
    DeadLetter,
    /// Forget it.
    Drop,
    /// Carry on as if the plugin were not there: the filter passes, the transform is the identity.
    Pass,
}

const KEYS: &[&str] = &[
    "wasm",
    "config",
    "timeout",
    "memory",
    "max_output",
    "reuse",
    "on_error",
];

impl PluginConfig {
    pub(super) fn read(
        name: &str,
        value: &Value<'_>,
        base: &Path,
        sink: &mut Sink<'_>,
    ) -> Option<PluginConfig> {
        let table = Table::new(format!("[plugins.{name}]"), value, KEYS, sink)?;
        let wasm = table.required::<NonEmpty>("wasm", sink);
        let wasm_location = sink.location(
            table
                .raw("wasm")
                .map_or(table.span.start, |v| v.span().start),
        );
        let config = match table.raw("config") {
            None => Some(serde_json::Value::Object(serde_json::Map::new())),
            Some(config) if config.get_ref().is_table() => {
                to_json(config, &format!("`config` in {}", table.name), sink)
            }
            Some(config) => {
                sink.error(
                    config.span(),
                    format!(
                        "`config` in {} must be a table such as {{ key = \"value\" }}, not {}",
                        table.name,
                        super::table::describe(config)
                    ),
                );
                None
            }
        };
        let timeout = table
            .get::<Timeout>("timeout", sink)
            .map_or(Duration::from_millis(100), |t| t.0);
        let memory = table
            .get::<ByteSize>("memory", sink)
            .map_or(64 << 20, |s| s.0);
        let max_output = table
            .get::<ByteSize>("max_output", sink)
            .map_or(1 << 20, |s| s.0);
        let reuse = table.get_or("reuse", false, sink);
        let on_error = table.get_or("on_error", OnError::DeadLetter, sink);
        Some(PluginConfig {
            name: name.to_owned(),
            wasm: base.join(wasm?.0),
            wasm_location,
            config: config?,
            timeout,
            memory,
            max_output,
            reuse,
            on_error,
        })
    }
}
