//! Startup and reload are one path: read routes.toml, build a topology beside the running one,
//! swap it in if it could be built, and record what happened for the logs, metrics and admin API.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::config::Config;
use crate::plugin::PluginEngine;
use crate::telemetry;

use super::Topology;
use super::build::{Basis, BuildError, Built, LoadFailure};
use super::last_good::{GoodVersion, LastGood};
use super::running::Running;
use super::wiring::Wiring;

/// What a reload did, as `POST /api/reload` reports it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ReloadReport {
    pub reloaded: bool,
    pub changes: Vec<String>,
    pub errors: Vec<String>,
}

/// What set a reload off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trigger {
    /// The first load, at start.
    Start,
    /// A change to routes.toml or a plugin file.
    Watch,
    /// `POST /api/reload`.
    Api,
    /// SIGHUP.
    Signal,
}

/// One load or reload, as `GET /api/reloads` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct ReloadRecord {
    pub at: String,
    pub trigger: Trigger,
    #[serde(flatten)]
    pub report: ReloadReport,
}

/// Reloads kept in the history.
const HISTORY: usize = 50;

pub struct Reloader {
    config_path: PathBuf,
    engine: Arc<PluginEngine>,
    wiring: Wiring,
    state: Mutex<ReloadState>,
    history: Mutex<VecDeque<ReloadRecord>>,
}

/// What reloads carry from one to the next; the lock on it serialises them.
struct ReloadState {
    versions: BTreeMap<String, u64>,
    plugin_errors: BTreeMap<String, LoadFailure>,
    config_error: Option<LoadFailure>,
    last_good: LastGood,
}

impl Reloader {
    /// Loads the first topology. A plugin whose file does not load is replaced by its last good
    /// version, or held: the router starts whatever the plugin files hold. `config` and `sha256`
    /// are what [`read_config`] gave for `config_path`.
    pub fn start(
        config_path: PathBuf,
        config: Arc<Config>,
        sha256: String,
        engine: Arc<PluginEngine>,
    ) -> Arc<Reloader> {
        let mut state = ReloadState {
            versions: BTreeMap::new(),
            plugin_errors: BTreeMap::new(),
            config_error: None,
            last_good: LastGood::read(&config.server.data_dir),
        };
        let built = Topology::build(
            &engine,
            config,
            sha256,
            Basis::Start(&state.last_good),
            &BTreeMap::new(),
            &mut state.versions,
        );
        let topology = built
            .topology
            .expect("a start holds the plugins that do not load, so it always builds");
        note_failures(&mut state, &built.errors);
        for plugin in topology.plugins.values() {
            telemetry::plugin_loaded(plugin);
        }
        note_loaded(&mut state, &topology, &built.errors);
        let started = ReloadReport {
            reloaded: true,
            changes: vec![format!("{} loaded", config_path.display())],
            errors: built.errors.iter().map(ToString::to_string).collect(),
        };
        let reloader = Reloader {
            config_path,
            engine,
            wiring: Wiring::new(state.publish(Arc::new(topology))),
            state: Mutex::new(state),
            history: Mutex::default(),
        };
        reloader.remember(Trigger::Start, &started);
        Arc::new(reloader)
    }

    /// The loads and reloads that changed something or met errors, and every one asked for,
    /// the latest first.
    pub fn history(&self) -> Vec<ReloadRecord> {
        let history = self.history.lock().expect("reload history");
        history.iter().rev().cloned().collect()
    }

    fn remember(&self, trigger: Trigger, report: &ReloadReport) {
        let quiet = report.changes.is_empty() && report.errors.is_empty();
        if quiet && trigger == Trigger::Watch {
            return;
        }
        let mut history = self.history.lock().expect("reload history");
        if history.len() == HISTORY {
            history.pop_front();
        }
        history.push_back(ReloadRecord {
            at: crate::clock::rfc3339(crate::clock::now_ms()),
            trigger,
            report: report.clone(),
        });
    }

    /// What the stages read: the running wiring, read only.
    pub fn wiring(&self) -> &Wiring {
        &self.wiring
    }

    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    /// Re-reads routes.toml and every plugin file, and swaps in whatever changed. Blocking
    /// (compiles): call it off the async runtime. Reloads are serialised by the state lock.
    pub fn reload(&self, trigger: Trigger) -> ReloadReport {
        let mut state = self.state.lock().expect("reload state");
        let previous = self.wiring.current();
        let (report, topology) = self.rebuild(&mut state, &previous);
        let swapped = topology.is_some();
        let topology = topology.map_or(previous, Arc::new);
        self.wiring.publish(state.publish(topology), swapped);
        self.remember(trigger, &report);
        report
    }

    /// Builds beside `previous`; the new topology if anything changed.
    fn rebuild(
        &self,
        state: &mut ReloadState,
        previous: &Topology,
    ) -> (ReloadReport, Option<Topology>) {
        let mut report = ReloadReport::default();
        let (config, sha256) = match read_config(&self.config_path) {
            Ok(read) => read,
            Err(errors) => {
                let message = errors.to_string();
                telemetry::config_reload_failed(&self.config_path, &message);
                state.config_error = Some(failure(message.clone(), String::new()));
                report.errors.push(message);
                return (report, None);
            }
        };
        let config_changed = sha256 != previous.config_sha256;
        let config = if config_changed {
            Arc::new(config)
        } else {
            previous.config.clone()
        };
        let mut versions = state.versions.clone();
        let Built { topology, errors } = Topology::build(
            &self.engine,
            config,
            sha256,
            Basis::Running(previous),
            &state.plugin_errors,
            &mut versions,
        );
        report.errors = errors.iter().map(ToString::to_string).collect();
        note_failures(state, &errors);
        let Some(topology) = topology else {
            if config_changed {
                state.config_error = Some(failure(
                    format!(
                        "{}: not applied: {}",
                        self.config_path.display(),
                        report.errors.join("; ")
                    ),
                    String::new(),
                ));
            }
            return (report, None);
        };
        if config_changed {
            state.config_error = None;
            report
                .changes
                .push(format!("{} reloaded", self.config_path.display()));
            telemetry::config_reloaded(&self.config_path);
        }
        for (name, plugin) in &topology.plugins {
            let same = previous
                .plugins
                .get(name)
                .is_some_and(|old| Arc::ptr_eq(&old.compiled, &plugin.compiled));
            if !same {
                telemetry::plugin_loaded(plugin);
                report.changes.push(format!(
                    "plugin {name}: version {} ({})",
                    plugin.version,
                    &plugin.compiled.sha256[..12]
                ));
            }
        }
        note_loaded(state, &topology, &errors);
        state.versions = versions;
        report.reloaded = !report.changes.is_empty();
        let changed = report.reloaded.then_some(topology);
        (report, changed)
    }
}

impl ReloadState {
    fn publish(&self, topology: Arc<Topology>) -> Running {
        Running {
            topology,
            plugin_errors: self.plugin_errors.clone(),
            config_error: self.config_error.clone(),
        }
    }
}

/// Reports each failure once per content of the file: a failure already reported with the same
/// fingerprint is not logged or counted again, whatever triggered the reload that met it.
fn note_failures(state: &mut ReloadState, errors: &[BuildError]) {
    for error in errors {
        let known = state
            .plugin_errors
            .get(&error.plugin)
            .is_some_and(|known| known.fingerprint == error.fingerprint);
        if known {
            continue;
        }
        telemetry::plugin_load_failed(
            &error.plugin,
            &error.message,
            error.fallback.outcome(),
            error.fallback.keeps_a_version(),
        );
        state.plugin_errors.insert(
            error.plugin.clone(),
            failure(error.message.clone(), error.fingerprint.clone()),
        );
    }
}

/// Once `topology` is built from a build that met `errors`: the plugins whose file loaded are no
/// longer in error, and their versions are the last good ones from now on.
fn note_loaded(state: &mut ReloadState, topology: &Topology, errors: &[BuildError]) {
    let failed = |name: &str| errors.iter().any(|error| error.plugin == name);
    let mut loaded = Vec::new();
    for name in topology.config.plugins.keys() {
        let held = !topology.plugins.contains_key(name);
        telemetry::plugin_state(name, failed(name), held);
        if failed(name) {
            continue;
        }
        state.plugin_errors.remove(name);
        let compiled = &topology.plugins[name].compiled;
        loaded.push((
            name.as_str(),
            GoodVersion {
                path: compiled.path.clone(),
                sha256: compiled.sha256.clone(),
            },
        ));
    }
    let removed = |name: &String| !topology.config.plugins.contains_key(name);
    for name in state.plugin_errors.keys().filter(|name| removed(name)) {
        // Taken out of routes.toml while broken: its gauges must not say so forever.
        telemetry::plugin_state(name, false, false);
    }
    state.plugin_errors.retain(|name, _| !removed(name));
    state
        .last_good
        .update(loaded, |name| topology.config.plugins.contains_key(name));
}

/// Reads routes.toml once, so the hash and the parsed config are of the same text.
pub fn read_config(
    path: &std::path::Path,
) -> Result<(Config, String), crate::config::ConfigErrors> {
    let text = Config::read(path)?;
    let config = Config::parse(path, &text, &|name| std::env::var(name).ok())?;
    Ok((config, crate::digest::sha256_hex(text.as_bytes())))
}

fn failure(message: String, fingerprint: String) -> LoadFailure {
    LoadFailure {
        at: crate::clock::rfc3339(crate::clock::now_ms()),
        message,
        fingerprint,
    }
}
