//! The running wiring: routes with their plugins resolved, sources with their verifiers,
//! subscribers with their signing keys.
//!
//! A [`Topology`] is immutable. Startup and every reload build a new one beside the running
//! one ([`Topology::build`]), reusing compiled plugins whose bytes did not change, and swap it
//! in atomically ([`reload::Reloader`]); requests and events in flight keep the snapshot they
//! started with. A build that fails leaves the running topology untouched.
//!
//! A plugin whose file does not load never stops the router. A reload keeps the version that
//! was serving (a plugin new to that reload has none: the reload is not applied); a start
//! (after a crash or a reboot) serves the last good version, which [`last_good`] remembers and
//! the compile cache still holds. A plugin with neither at a start is *held*:
//! it has no version, and the routes using it keep their events (as `held` messages) until a
//! file of it loads, when the pipeline runs them. The other routes are not affected.

mod build;
pub mod last_good;
pub mod rebuild;
pub mod reload;
mod running;
mod subscriber;
pub mod watch;
pub mod wiring;

pub use build::{Basis, BuildError, Fallback, LoadFailure};
pub use running::{PluginState, PluginTrouble, Running};
pub use subscriber::Subscriber;
pub use wiring::Wiring;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::Config;
use crate::plugin::Plugin;
use crate::verify::{Certificates, Verifier};

pub struct Topology {
    pub config: Arc<Config>,
    /// sha256 of the routes.toml text this was built from.
    pub config_sha256: String,
    pub plugins: BTreeMap<String, Arc<Plugin>>,
    pub routes: Vec<Arc<Route>>,
    pub sources: HashMap<String, Arc<Verifier>>,
    pub subscribers: HashMap<String, Arc<Subscriber>>,
    routes_by_source: HashMap<String, Vec<Arc<Route>>>,
    /// Kept from one topology to the next, so that a reload keeps the certificates fetched.
    certificates: Certificates,
    /// The client of calls to providers (certificates, SNS subscription confirmations).
    http: reqwest::Client,
}

/// A route with its plugins resolved to the versions of this topology.
pub struct Route {
    pub name: String,
    pub source: String,
    pub filters: Vec<Arc<Plugin>>,
    pub transforms: Vec<Arc<Plugin>>,
    pub subscribers: Vec<String>,
    /// The plugins of this route that have no version: while there are any, the route holds
    /// its events instead of running (its `filters` and `transforms` lack them).
    pub held_by: Vec<String>,
}

impl Topology {
    /// The routes events of `source` go through, in routes.toml order.
    pub fn routes_for(&self, source: &str) -> &[Arc<Route>] {
        self.routes_by_source
            .get(source)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}
