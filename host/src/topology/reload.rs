//! Startup and reload are one path: read routes.toml, build a topology beside the running one,
//! swap it in if it could be built, and record what happened for the logs, metrics and admin API.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::config::Config;
use crate::plugin::PluginEngine;
use crate::telemetry;

use super::Topology;
use super::build::Built;

/// What a reload did, as `POST /api/reload` reports it.
#[derive(Debug, Clone, Serialize, Default)]
pub struct ReloadReport {
    pub reloaded: bool,
    pub changes: Vec<String>,
    pub errors: Vec<String>,
}

/// The last failed load of a plugin, for the admin API.
#[derive(Debug, Clone, Serialize)]
pub struct LoadFailure {
    pub at: String,
    pub message: String,
}

pub struct Reloader {
    config_path: PathBuf,
    engine: Arc<PluginEngine>,
    current: ArcSwap<Topology>,
    state: Mutex<ReloadState>,
}

#[derive(Default)]
struct ReloadState {
    versions: BTreeMap<String, u64>,
    plugin_errors: BTreeMap<String, LoadFailure>,
    config_error: Option<LoadFailure>,
}

/// The plugins that kept the first topology from loading.
#[derive(Debug, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct StartError(pub Vec<super::BuildError>);

impl Reloader {
    /// Loads the first topology. Unlike a reload, there is no last good version to fall back on.
    /// `config` and `sha256` are what [`read_config`] gave for `config_path`.
    pub fn start(
        config_path: PathBuf,
        config: Arc<Config>,
        sha256: String,
        engine: Arc<PluginEngine>,
    ) -> Result<Arc<Reloader>, StartError> {
        let mut versions = BTreeMap::new();
        let built = Topology::build(&engine, config, sha256, None, &mut versions);
        let Some(topology) = built.topology else {
            return Err(StartError(built.errors));
        };
        for plugin in topology.plugins.values() {
            telemetry::plugin_loaded(plugin);
        }
        Ok(Arc::new(Reloader {
            config_path,
            engine,
            current: ArcSwap::from_pointee(topology),
            state: Mutex::new(ReloadState {
                versions,
                ..ReloadState::default()
            }),
        }))
    }

    /// The running topology; an event holds on to it for its whole trip through the pipeline.
    pub fn current(&self) -> Arc<Topology> {
        self.current.load_full()
    }

    pub fn config_path(&self) -> &std::path::Path {
        &self.config_path
    }

    pub fn plugin_error(&self, name: &str) -> Option<LoadFailure> {
        self.state
            .lock()
            .expect("reload state")
            .plugin_errors
            .get(name)
            .cloned()
    }

    pub fn config_error(&self) -> Option<LoadFailure> {
        self.state
            .lock()
            .expect("reload state")
            .config_error
            .clone()
    }

    /// Re-reads routes.toml and every plugin file, and swaps in whatever changed. Blocking
    /// (compiles): call it off the async runtime. Reloads are serialised by the state lock.
    pub fn reload(&self) -> ReloadReport {
        let mut state = self.state.lock().expect("reload state");
        let previous = self.current.load_full();
        let mut report = ReloadReport::default();
        let (config, sha256) = match read_config(&self.config_path) {
            Ok(read) => read,
            Err(errors) => {
                let message = errors.to_string();
                telemetry::config_reload_failed(&self.config_path, &message);
                state.config_error = Some(failure(message.clone()));
                report.errors.push(message);
                return report;
            }
        };
        let config_changed = sha256 != previous.config_sha256;
        let config = if config_changed {
            Arc::new(config)
        } else {
            previous.config.clone()
        };
        let mut versions = state.versions.clone();
        let Built { topology, errors } =
            Topology::build(&self.engine, config, sha256, Some(&previous), &mut versions);
        for error in &errors {
            let message = error.to_string();
            telemetry::plugin_reload_failed(&error.plugin, &message, error.kept_previous);
            state
                .plugin_errors
                .insert(error.plugin.clone(), failure(message.clone()));
            report.errors.push(message);
        }
        let Some(topology) = topology else {
            if config_changed {
                state.config_error = Some(failure(format!(
                    "{}: not applied: {}",
                    self.config_path.display(),
                    report.errors.join("; ")
                )));
            }
            return report;
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
                state.plugin_errors.remove(name);
                telemetry::plugin_loaded(plugin);
                report.changes.push(format!(
                    "plugin {name}: version {} ({})",
                    plugin.version,
                    &plugin.compiled.sha256[..12]
                ));
            }
        }
        state
            .plugin_errors
            .retain(|name, _| topology.plugins.contains_key(name));
        state.versions = versions;
        report.reloaded = !report.changes.is_empty();
        if report.reloaded {
            self.current.store(Arc::new(topology));
        }
        report
    }
}

/// Reads routes.toml once, so the hash and the parsed config are of the same text.
pub fn read_config(
    path: &std::path::Path,
) -> Result<(Config, String), crate::config::ConfigErrors> {
    let unreadable = |message: String| {
        crate::config::ConfigErrors(vec![crate::config::Diagnostic {
            location: None,
            message: format!("{}: {message}", path.display()),
        }])
    };
    let text = std::fs::read_to_string(path)
        .map_err(|error| unreadable(format!("cannot read: {error}")))?;
    // An editor that rewrites the file in place truncates it first: a reload that reads it
    // then must not take "nothing configured" for the new wiring.
    if text.trim().is_empty() {
        return Err(unreadable(
            "the file is empty (or still being written): nothing to serve".into(),
        ));
    }
    let config = Config::parse(path, &text, &|name| std::env::var(name).ok())?;
    Ok((config, crate::plugin::sha256_hex(text.as_bytes())))
}

fn failure(message: String) -> LoadFailure {
    LoadFailure {
        at: crate::store::rfc3339(crate::clock::now_ms()),
        message,
    }
}
