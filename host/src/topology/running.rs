//! What is running, as the admin API and `/readyz` show it: the topology, and the load failures
//! met by the reloads since it was built. Published as one value, so that a reader never sees a
//! plugin's new version beside its old error, or the reverse.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::Topology;
use super::build::LoadFailure;

pub struct Running {
    pub topology: Arc<Topology>,
    /// The plugins whose file did not load at the last reload, and why.
    pub plugin_errors: BTreeMap<String, LoadFailure>,
    /// Why the last change of routes.toml was not applied, if it was not.
    pub config_error: Option<LoadFailure>,
}

/// How a configured plugin stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PluginState {
    /// Its file loaded; that version serves.
    Loaded,
    /// Its file does not load; the last version that did serves.
    LastGood,
    /// No version of it loads; the routes using it hold their events.
    Held,
}

/// A plugin whose file does not load, and how it stands. Why it does not load (paths, compiler
/// messages) is the admin API's to show: `/readyz` is also served on the ingest port.
#[derive(Debug, Clone, Serialize)]
pub struct PluginTrouble {
    pub name: String,
    pub state: PluginState,
}

impl Running {
    pub fn plugin_state(&self, name: &str) -> PluginState {
        match self.topology.plugins.get(name) {
            None => PluginState::Held,
            Some(_) if self.plugin_errors.contains_key(name) => PluginState::LastGood,
            Some(_) => PluginState::Loaded,
        }
    }

    /// The configured plugins whose file does not load: what `/readyz` reports as degraded.
    pub fn plugin_troubles(&self) -> Vec<PluginTrouble> {
        self.topology
            .config
            .plugins
            .keys()
            .filter(|name| self.plugin_errors.contains_key(*name))
            .map(|name| PluginTrouble {
                name: name.clone(),
                state: self.plugin_state(name),
            })
            .collect()
    }
}
