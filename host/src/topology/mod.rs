//! The running wiring: routes with their plugins resolved, sources with their verifiers,
//! subscribers with their signing keys.
//!
//! A [`Topology`] is immutable. Startup and every reload build a new one beside the running
//! one ([`Topology::build`]), reusing compiled plugins whose bytes did not change, and swap it
//! in atomically ([`reload::Reloader`]); requests and events in flight keep the snapshot they
//! started with. A build that fails leaves the running topology untouched.

mod build;
pub mod rebuild;
pub mod reload;
pub mod watch;

pub use build::BuildError;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::Config;
use crate::delivery::Subscriber;
use crate::ingest::Verifier;
use crate::plugin::Plugin;

pub struct Topology {
    pub config: Arc<Config>,
    /// sha256 of the routes.toml text this was built from.
    pub config_sha256: String,
    pub plugins: BTreeMap<String, Arc<Plugin>>,
    pub routes: Vec<Arc<Route>>,
    pub sources: HashMap<String, Arc<Verifier>>,
    pub subscribers: HashMap<String, Arc<Subscriber>>,
    routes_by_source: HashMap<String, Vec<Arc<Route>>>,
}

/// A route with its plugins resolved to the versions of this topology.
pub struct Route {
    pub name: String,
    pub source: String,
    pub filters: Vec<Arc<Plugin>>,
    pub transforms: Vec<Arc<Plugin>>,
    pub subscribers: Vec<String>,
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
