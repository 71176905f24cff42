//! routes.toml: the wiring of sources, plugins, subscribers and routes (SPEC section 3).
//!
//! # Reading
//!
//! 1. The text is parsed into TOML values that keep their byte spans (`toml::de::DeTable`). A
//!    syntax error stops here: nothing after it can be trusted, so it is reported alone.
//! 2. `${NAME}` in every string value is replaced from the environment (`interpolate.rs`), so
//!    values are validated as they will be used.
//! 3. `[server]` and each `[sources.X]`, `[plugins.X]`, `[subscribers.X]` and `[[routes]]` entry
//!    is read on its own, key by key: each value is deserialized with serde into a newtype that
//!    validates it, and a failure is recorded at the value's position while reading goes on.
//! 4. Routes are checked against the names that exist, then `[[tests]]` (`route_test.rs`)
//!    against the sources, subscribers and routes.
//!
//! # Invariants of a [`Config`]
//!
//! Everything in it was valid: names are `[a-z0-9][a-z0-9_-]*`, every route names an existing
//! source, plugins and at least one subscriber, route names are unique, paths are absolute,
//! limits, retentions, dedup windows and verification tolerances are positive, dedup headers are
//! valid header names and dedup pointers valid JSON pointers, each `verify` has the keys its
//! scheme requires, in the form the provider writes them (keys that decode, ARNs, URLs), and
//! lists that must not be empty are not. Files named in it (`wasm`, certificates) need not exist
//! yet: whether a plugin compiles is the plugin host's to say, at the
//! [`PluginConfig::wasm_location`] given here.
//!
//! # Errors
//!
//! [`ConfigErrors`] holds every problem found in one pass, in file order, each as
//! `file:line:col: message` (1-based, the column counted in characters). Messages name the key
//! and the table, and never quote a secret.

#![forbid(unsafe_code)]

mod circuit;
mod dedup;
mod diagnostic;
mod glob;
mod interpolate;
mod json;
mod names;
mod parse_str;
mod plugin;
mod providers;
mod rate;
mod route;
mod route_test;
mod secrets;
mod server;
mod source;
mod subscriber;
mod table;
mod timestamp;
mod units;
mod verify;
mod web;

#[cfg(test)]
mod route_test_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod ui_tests;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

pub use circuit::CircuitConfig;
pub use dedup::{DedupConfig, DedupKey};
pub use diagnostic::{ConfigErrors, Diagnostic, Location};
pub use glob::WatchGlob;
pub use plugin::{DEFAULT_MAX_MESSAGES, DEFAULT_MAX_MESSAGES_SIZE, OnError, PluginConfig};
pub use rate::Rate;
pub use route::RouteConfig;
pub use route_test::{Expectation, ExpectedMessage, RouteTest, TestBody};
pub use server::ServerConfig;
pub use source::{AckBody, Acknowledgement, SourceConfig};
pub use subscriber::{Ordering, SubscriberConfig};
pub use units::parse_size;
pub use verify::{DEFAULT_TOLERANCE, MAX_CLOCK_AHEAD, SignatureEncoding, Verify};

use diagnostic::Sink;
use route::{Known, RouteDraft};
use table::{Table, Value};

/// A valid routes.toml.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Absolute path of the routes.toml this came from; other paths are resolved against its folder.
    pub path: PathBuf,
    pub server: ServerConfig,
    pub sources: BTreeMap<String, SourceConfig>,
    pub plugins: BTreeMap<String, PluginConfig>,
    pub subscribers: BTreeMap<String, SubscriberConfig>,
    pub routes: Vec<RouteConfig>,
    /// `[[tests]]`, run by `wasmhook test`; ignored by `serve`.
    pub tests: Vec<RouteTest>,
}

const SECTIONS: &[&str] = &[
    "server",
    "sources",
    "plugins",
    "subscribers",
    "routes",
    "tests",
];

impl Config {
    /// Reads, interpolates from the process environment, and validates.
    ///
    /// # Errors
    ///
    /// Every problem found, the file not being readable included.
    pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
        let text = Config::read(path)?;
        Config::parse(path, &text, &|name| std::env::var(name).ok())
    }

    /// The text of the routes.toml at `path`, for every command that reads one.
    ///
    /// # Errors
    ///
    /// The file cannot be read, or it is empty: an editor that rewrites a file in place
    /// truncates it first, and a reload that reads it then must not take "nothing configured"
    /// for the new wiring.
    pub fn read(path: &Path) -> Result<String, ConfigErrors> {
        let problem = |message: String| ConfigErrors(vec![Diagnostic::whole_file(path, message)]);
        let text = std::fs::read_to_string(path)
            .map_err(|error| problem(format!("cannot read it: {error}")))?;
        if text.trim().is_empty() {
            return Err(problem(
                "the file is empty (or still being written): nothing to serve".into(),
            ));
        }
        Ok(text)
    }

    /// Same from text; `env` looks up `${NAME}`. `path` is used for messages and relative paths.
    ///
    /// # Errors
    ///
    /// Every problem found: a TOML syntax error alone, otherwise all of them.
    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigErrors> {
        match Config::parse_partial(path, text, env) {
            (Some(config), errors) if errors.0.is_empty() => Ok(config),
            (_, errors) => Err(errors),
        }
    }

    /// Like [`Config::parse`], but also returns what could be read despite the errors (bad
    /// items left out), so that `wasmhook check` can go on to compile the plugins that were
    /// well described and report every problem in one run. `None` after a syntax error.
    pub fn parse_partial(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> (Option<Config>, ConfigErrors) {
        let mut sink = Sink::new(path, text);
        let (root, syntax_errors) = DeTable::parse_recoverable(text);
        if let Some(first) = syntax_errors
            .iter()
            .min_by_key(|e| e.span().map_or(0, |s| s.start))
        {
            let message = first.message().trim().replace('\n', "; ");
            sink.error(
                first.span().unwrap_or(0..0),
                format!("invalid TOML: {message}"),
            );
            return (None, sink.finish().expect_err("an error was just recorded"));
        }
        let span = root.span();
        let mut root = root.into_inner();
        interpolate::interpolate_table(&mut root, env, &mut sink);
        let root = Spanned::new(span, DeValue::Table(root));

        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        let base = path.parent().map_or_else(PathBuf::new, Path::to_path_buf);
        let file_name = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let config = read_document(path.clone(), &base, &file_name, &root, &mut sink);
        (
            config,
            sink.finish().err().unwrap_or(ConfigErrors(Vec::new())),
        )
    }
}

/// Reads every section, reporting into `sink`. The result is only complete when nothing was
/// reported: a bad item is left out of it. `None` only if `root` is not a table.
fn read_document(
    path: PathBuf,
    base: &Path,
    file_name: &str,
    root: &Value<'_>,
    sink: &mut Sink<'_>,
) -> Option<Config> {
    let top = Table::new(file_name.to_owned(), root, SECTIONS, sink)?;
    let server = match top.raw("server") {
        Some(server) => ServerConfig::read(server, base, sink),
        None => ServerConfig::defaults(base),
    };
    let sources = read_section(&top, "sources", sink, SourceConfig::read);
    let plugins = read_section(&top, "plugins", sink, |name, value, sink| {
        PluginConfig::read(name, value, base, sink)
    });
    let subscribers = read_section(&top, "subscribers", sink, SubscriberConfig::read);
    let drafts = read_routes(&top, sink);
    let known = Known {
        sources: sources.names(),
        plugins: plugins.names(),
        subscribers: subscribers.names(),
    };
    route::check(&drafts, &known, sink);
    let routes: Vec<RouteConfig> = drafts.into_iter().map(|draft| draft.route).collect();
    let tests = top.raw("tests").map_or_else(Vec::new, |tests| {
        route_test::read_all(
            tests,
            base,
            &known.sources,
            &known.subscribers,
            &routes,
            sink,
        )
    });
    Some(Config {
        path,
        server,
        sources: sources.items,
        plugins: plugins.items,
        subscribers: subscribers.items,
        routes,
        tests,
    })
}

/// The items of one section, and every name defined there, good or bad: a route naming a bad
/// item is not also told the item does not exist.
struct Section<T> {
    items: BTreeMap<String, T>,
    all_names: Vec<String>,
}

impl<T> Section<T> {
    fn names(&self) -> Vec<&str> {
        self.all_names.iter().map(String::as_str).collect()
    }
}

/// Reads `[section.NAME]` tables with `read`.
fn read_section<T>(
    top: &Table<'_, '_>,
    section: &str,
    sink: &mut Sink<'_>,
    mut read: impl FnMut(&str, &Value<'_>, &mut Sink<'_>) -> Option<T>,
) -> Section<T> {
    let mut found = Section {
        items: BTreeMap::new(),
        all_names: Vec::new(),
    };
    let Some(value) = top.raw(section) else {
        return found;
    };
    let DeValue::Table(entries) = value.get_ref() else {
        sink.error(
            value.span(),
            format!(
                "`{section}` must be a table of [{section}.NAME] tables, not {}",
                table::describe(value)
            ),
        );
        return found;
    };
    let kind = section.trim_end_matches('s');
    for (key, value) in entries {
        let name: &str = key.get_ref();
        if let Err(message) = <names::Name as parse_str::ParseStr>::parse_str(name) {
            sink.error(key.span(), format!("invalid {kind} name: {message}"));
        }
        found.all_names.push(name.to_owned());
        if let Some(item) = read(name, value, sink) {
            found.items.insert(name.to_owned(), item);
        }
    }
    found
}

/// Reads the `[[routes]]` array.
fn read_routes(top: &Table<'_, '_>, sink: &mut Sink<'_>) -> Vec<RouteDraft> {
    let Some(value) = top.raw("routes") else {
        return Vec::new();
    };
    let DeValue::Array(entries) = value.get_ref() else {
        sink.error(
            value.span(),
            format!(
                "`routes` must be an array of tables, written [[routes]], not {}",
                table::describe(value)
            ),
        );
        return Vec::new();
    };
    entries
        .iter()
        .enumerate()
        .filter_map(|(index, entry)| RouteDraft::read(index, entry, sink))
        .collect()
}
