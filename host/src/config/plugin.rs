//! `[plugins.NAME]`: a WebAssembly filter or transform and the limits it runs under.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::de::DeValue;

use super::diagnostic::{Location, Sink};
use super::glob::WatchGlob;
use super::json::to_json;
use super::table::{Table, Value, deserialize};
use super::units::{ByteSize, Count, Timeout};
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
    /// Most messages a transform may leave for one event on a route, over all its calls:
    /// bounds the fan-out of one event, also through a chain of transforms.
    pub max_messages: usize,
    /// Most bytes the messages a transform leaves for one event on a route may add up to,
    /// over all its calls, each counted with what it carries: bounds the copies of a large
    /// body that a fan-out makes.
    pub max_messages_size: u64,
    /// Keep warm instances between events (function plugins only).
    pub reuse: bool,
    pub on_error: OnError,
    /// The shell command that rebuilds `wasm` under `serve --watch`, run with `sh -c` in
    /// routes.toml's folder. Ignored otherwise.
    pub build: Option<String>,
    /// Files (relative to routes.toml's folder) whose change runs `build`; not empty when
    /// `build` is set.
    pub watch: Vec<WatchGlob>,
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

/// Messages one event may become on a route: enough for any split of a real payload (the
/// commits of a push, the items of an order), few enough that a runaway transform costs
/// seconds of delivery, not hours, ahead of other events to the same subscribers.
pub const DEFAULT_MAX_MESSAGES: usize = 1000;

/// Bytes the messages one event becomes on a route may add up to: sixteen copies of a body
/// at the default `max_body`, or the default `max_messages` messages of 16 KiB each; 1,000
/// copies of a 1 MiB body would be a gigabyte of memory and of store.
pub const DEFAULT_MAX_MESSAGES_SIZE: u64 = 16 << 20;

const KEYS: &[&str] = &[
    "wasm",
    "config",
    "timeout",
    "memory",
    "max_output",
    "max_messages",
    "max_messages_size",
    "reuse",
    "on_error",
    "build",
    "watch",
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
        let max_messages = table
            .get::<Count>("max_messages", sink)
            .map_or(DEFAULT_MAX_MESSAGES, |c| c.0);
        let max_messages_size = table
            .get::<ByteSize>("max_messages_size", sink)
            .map_or(DEFAULT_MAX_MESSAGES_SIZE, |s| s.0);
        let reuse = table.get_or("reuse", false, sink);
        let on_error = table.get_or("on_error", OnError::DeadLetter, sink);
        let build = table.get::<NonEmpty>("build", sink).map(|b| b.0);
        let watch = read_watch(&table, sink);
        match (table.raw("build"), table.raw("watch")) {
            (Some(build), None) => sink.error(
                build.span(),
                format!(
                    "`build` in {} needs `watch`, the files whose change runs it, such as watch = [\"src/**\", \"Cargo.toml\"]",
                    table.name
                ),
            ),
            (None, Some(watch)) => sink.error(
                watch.span(),
                format!(
                    "`watch` in {} has nothing to run: add `build`, the command that rebuilds the plugin",
                    table.name
                ),
            ),
            (Some(_), Some(list)) if watch.as_ref().is_some_and(Vec::is_empty) => sink.error(
                list.span(),
                format!(
                    "`watch` in {} is empty; list the files whose change runs `build`, such as \"src/**\"",
                    table.name
                ),
            ),
            _ => {}
        }
        Some(PluginConfig {
            name: name.to_owned(),
            wasm: base.join(wasm?.0),
            wasm_location,
            config: config?,
            timeout,
            memory,
            max_output,
            max_messages,
            max_messages_size,
            reuse,
            on_error,
            build,
            watch: watch.unwrap_or_default(),
        })
    }
}

/// `watch`, each pattern checked on its own so that every bad one is reported.
fn read_watch(table: &Table<'_, '_>, sink: &mut Sink<'_>) -> Option<Vec<WatchGlob>> {
    let Some(DeValue::Array(items)) = table.raw("watch").map(|v| v.get_ref()) else {
        return table.get("watch", sink);
    };
    let mut globs = Vec::new();
    let mut good = true;
    for item in items {
        match deserialize::<WatchGlob>(item) {
            Ok(glob) => globs.push(glob),
            Err((span, message)) => {
                sink.error(span, format!("`watch` in {}: {message}", table.name));
                good = false;
            }
        }
    }
    good.then_some(globs)
}
