//! Building a topology from a config, reusing what the previous one already compiled.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::Subscriber;
use crate::config::{Config, PluginConfig};
use crate::plugin::{CompiledPlugin, Plugin, PluginEngine};
use crate::verify::Certificates;
use crate::verify::Verifier;

use super::last_good::LastGood;
use super::{Route, Topology};

/// What a build starts from, which decides what stands in for a plugin that does not load.
pub enum Basis<'a> {
    /// A reload: the running topology, whose version of a plugin keeps serving (or whose hold
    /// on it stays) while its file does not load.
    Running(&'a Topology),
    /// The start of `serve`: the last good versions recorded in the data dir serve in place of
    /// files that do not load; a plugin without one is held (see [`Fallback::Held`]).
    Start(&'a LastGood),
    /// `wasmhook test`: a plugin that does not load fails the build.
    Strict,
}

impl<'a> Basis<'a> {
    fn running(&self) -> Option<&'a Topology> {
        match self {
            Basis::Running(previous) => Some(previous),
            _ => None,
        }
    }
}

/// What stands in for a plugin whose file did not load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fallback {
    /// The version that served before this build keeps serving.
    Previous,
    /// The last version that loaded, as the data dir records it, from the compile cache.
    LastGood,
    /// No version: the routes using the plugin hold their events until one loads.
    Held,
    /// Nothing: the topology cannot be built.
    Nothing,
}

impl Fallback {
    /// What the log says of a reload that met a plugin file in this case.
    pub fn outcome(self) -> &'static str {
        match self {
            Fallback::Previous => "plugin reload failed; the last good version keeps serving",
            Fallback::LastGood => {
                "plugin reload failed; the last good version, from the compile cache, serves instead"
            }
            Fallback::Held => {
                "plugin reload failed; no version of it loads, so the routes using it hold their events until one does"
            }
            Fallback::Nothing => "plugin reload failed; the new routes.toml is not applied",
        }
    }

    /// Whether a version of the plugin still serves.
    pub fn keeps_a_version(self) -> bool {
        matches!(self, Fallback::Previous | Fallback::LastGood)
    }
}

/// A plugin that could not be loaded while building.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BuildError {
    pub plugin: String,
    /// `plugin NAME: why`.
    pub message: String,
    /// What the broken file held (its sha256, or why it could not be read): the same failure
    /// met again, by a reload that something else triggered, is not news.
    pub fingerprint: String,
    pub fallback: Fallback,
}

/// A plugin file that did not load, as last reported; shown by the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadFailure {
    pub at: String,
    pub message: String,
    /// [`BuildError::fingerprint`]: a file with these contents is not compiled again.
    #[serde(skip)]
    pub fingerprint: String,
}

/// The outcome of a build: the new topology if it could be made, and every plugin that failed.
pub struct Built {
    pub topology: Option<Topology>,
    pub errors: Vec<BuildError>,
}

impl Topology {
    /// Builds a topology for `config`. Plugin files are read and hashed; unchanged bytes reuse
    /// the previous compilation, bytes that already failed (`failures`) are not compiled again,
    /// changed ones are compiled (CPU-heavy: call off the runtime). What stands in for a plugin
    /// that fails to load depends on the `basis`.
    pub fn build(
        engine: &PluginEngine,
        config: Arc<Config>,
        config_sha256: String,
        basis: Basis<'_>,
        failures: &BTreeMap<String, LoadFailure>,
        versions: &mut BTreeMap<String, u64>,
    ) -> Built {
        let mut errors = Vec::new();
        let mut plugins = BTreeMap::new();
        let mut next_version = |name: &str| {
            let version = versions.entry(name.to_owned()).or_insert(0);
            *version += 1;
            *version
        };
        for (name, settings) in &config.plugins {
            let running = match basis {
                Basis::Running(previous) => previous.plugins.get(name),
                _ => None,
            };
            match load_plugin(engine, settings, running, failures.get(name)) {
                Ok(compiled) => {
                    let plugin = match running {
                        Some(p)
                            if Arc::ptr_eq(&p.compiled, &compiled) && p.settings == *settings =>
                        {
                            p.clone()
                        }
                        Some(p) if Arc::ptr_eq(&p.compiled, &compiled) => {
                            Arc::new(Plugin::new(compiled, settings.clone(), p.version))
                        }
                        _ => Arc::new(Plugin::new(compiled, settings.clone(), next_version(name))),
                    };
                    plugins.insert(name.clone(), plugin);
                }
                Err((fingerprint, message)) => {
                    let (fallback, stand_in) =
                        fall_back(engine, settings, &basis, &mut next_version);
                    if let Some(plugin) = stand_in {
                        plugins.insert(name.clone(), plugin);
                    }
                    errors.push(BuildError {
                        plugin: name.clone(),
                        message,
                        fingerprint,
                        fallback,
                    });
                }
            }
        }
        if errors.iter().any(|e| e.fallback == Fallback::Nothing) {
            return Built {
                topology: None,
                errors,
            };
        }
        Built {
            topology: Some(assemble(config, config_sha256, plugins, basis.running())),
            errors,
        }
    }
}

/// Reads the plugin file; returns the running compilation when the bytes are the same, and
/// the known failure, uncompiled, when they are the bytes that already failed. A failure is
/// its fingerprint and message.
fn load_plugin(
    engine: &PluginEngine,
    settings: &PluginConfig,
    running: Option<&Arc<Plugin>>,
    known_failure: Option<&LoadFailure>,
) -> Result<Arc<CompiledPlugin>, (String, String)> {
    let path = &settings.wasm;
    let failed = |error: crate::plugin::LoadError| format!("plugin {}: {error}", settings.name);
    let bytes = std::fs::read(path).map_err(|error| {
        let message = failed(crate::plugin::LoadError::Read {
            path: path.clone(),
            error,
        });
        (message.clone(), message)
    })?;
    let sha256 = crate::digest::sha256_hex(&bytes);
    if let Some(running) = running.map(|p| &p.compiled)
        && running.sha256 == sha256
        && running.path == *path
    {
        return Ok(running.clone());
    }
    if let Some(known) = known_failure.filter(|known| known.fingerprint == sha256) {
        return Err((sha256, known.message.clone()));
    }
    CompiledPlugin::from_bytes(engine, path, &bytes)
        .map(Arc::new)
        .map_err(|error| (sha256, failed(error)))
}

/// What stands in for a plugin whose file does not load, and the version that serves in its
/// place, if any.
fn fall_back(
    engine: &PluginEngine,
    settings: &PluginConfig,
    basis: &Basis<'_>,
    next_version: &mut impl FnMut(&str) -> u64,
) -> (Fallback, Option<Arc<Plugin>>) {
    let name = &settings.name;
    match basis {
        Basis::Running(previous) => {
            let same_file = previous
                .config
                .plugins
                .get(name)
                .is_some_and(|p| p.wasm == settings.wasm);
            match previous.plugins.get(name) {
                _ if !same_file => (Fallback::Nothing, None),
                Some(plugin) => (Fallback::Previous, Some(plugin.clone())),
                None => (Fallback::Held, None),
            }
        }
        Basis::Start(last_good) => {
            let cached = last_good
                .get(name, &settings.wasm)
                .and_then(|good| CompiledPlugin::from_cache(engine, &settings.wasm, &good.sha256));
            match cached {
                Some(Ok(compiled)) => {
                    let plugin =
                        Plugin::new(Arc::new(compiled), settings.clone(), next_version(name));
                    (Fallback::LastGood, Some(Arc::new(plugin)))
                }
                Some(Err(error)) => {
                    tracing::warn!(plugin = %name, %error, "the last good version of the plugin is in the compile cache but does not link");
                    (Fallback::Held, None)
                }
                None => (Fallback::Held, None),
            }
        }
        Basis::Strict => (Fallback::Nothing, None),
    }
}

/// The topology of `config` with `plugins`; the certificates fetched and the client of a
/// `previous` topology carry over.
fn assemble(
    config: Arc<Config>,
    config_sha256: String,
    plugins: BTreeMap<String, Arc<Plugin>>,
    previous: Option<&Topology>,
) -> Topology {
    let routes: Vec<Arc<Route>> = config
        .routes
        .iter()
        .map(|route| {
            // Config validation guarantees every name is configured; a plugin without a
            // version (held) holds the route.
            let mut held_by = Vec::new();
            let mut resolve = |names: &[String]| -> Vec<Arc<Plugin>> {
                names
                    .iter()
                    .filter_map(|name| {
                        let plugin = plugins.get(name).cloned();
                        if plugin.is_none() {
                            held_by.push(name.clone());
                        }
                        plugin
                    })
                    .collect()
            };
            let (filters, transforms) = (resolve(&route.filters), resolve(&route.transforms));
            Arc::new(Route {
                name: route.name.clone(),
                source: route.source.clone(),
                filters,
                transforms,
                subscribers: route.subscribers.clone(),
                held_by,
            })
        })
        .collect();
    let mut routes_by_source: HashMap<String, Vec<Arc<Route>>> = HashMap::new();
    for route in &routes {
        routes_by_source
            .entry(route.source.clone())
            .or_default()
            .push(route.clone());
    }
    let (certificates, http) = match previous {
        Some(previous) => (
            previous
                .certificates
                .repinned(config.server.certificates.clone()),
            previous.http.clone(),
        ),
        None => source_context(&config),
    };
    let sources = config
        .sources
        .iter()
        .filter_map(|(name, source)| match Verifier::new(&source.verify, &certificates, &http) {
            Ok(verifier) => Some((name.clone(), Arc::new(verifier))),
            // Config validation checks keys; one it let through that the scheme still cannot
            // use leaves the source out (its requests get 404), loudly.
            Err(error) => {
                tracing::error!(source = %name, %error, "source left out: its verification cannot be set up");
                None
            }
        })
        .collect();
    let subscribers = config
        .subscribers
        .iter()
        .map(|(name, subscriber)| (name.clone(), Arc::new(Subscriber::new(subscriber.clone()))))
        .collect();
    Topology {
        config,
        config_sha256,
        plugins,
        routes,
        sources,
        subscribers,
        routes_by_source,
        certificates,
        http,
    }
}

/// What the certificate-based schemes share: certificates (pinned in `[server.certificates]`,
/// else fetched and cached) and a client for calls to providers, which never follows redirects.
fn source_context(config: &Config) -> (Certificates, reqwest::Client) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("an HTTP client with default settings builds");
    (
        Certificates::new(config.server.certificates.clone(), http.clone()),
        http,
    )
}
