//! Building a topology from a config, reusing what the previous one already compiled.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::config::{Config, PluginConfig};
use crate::delivery::Subscriber;
use crate::ingest::Verifier;
use crate::ingest::verify::Certificates;
use crate::plugin::{CompiledPlugin, LoadError, Plugin, PluginEngine};

use super::{Route, Topology};

/// A plugin that could not be loaded while building.
#[derive(Debug, thiserror::Error)]
#[error("plugin {plugin}: {error}")]
pub struct BuildError {
    pub plugin: String,
    pub error: LoadError,
    /// Whether the last good version of this plugin keeps serving in its place.
    pub kept_previous: bool,
}

/// The outcome of a build: the new topology if it could be made, and every plugin that failed.
pub struct Built {
    pub topology: Option<Topology>,
    pub errors: Vec<BuildError>,
}

impl Topology {
    /// Builds a topology for `config`. Plugin files are read and hashed; unchanged bytes reuse
    /// the previous compilation, changed ones are compiled (CPU-heavy: call off the runtime).
    /// A plugin that fails to load falls back to the previous topology's version of the same
    /// name; without one, the build fails.
    pub fn build(
        engine: &PluginEngine,
        config: Arc<Config>,
        config_sha256: String,
        previous: Option<&Topology>,
        versions: &mut BTreeMap<String, u64>,
    ) -> Built {
        let mut errors = Vec::new();
        let mut plugins = BTreeMap::new();
        for (name, settings) in &config.plugins {
            let last_good = previous.and_then(|p| p.plugins.get(name));
            match load_plugin(engine, settings, last_good) {
                Ok(compiled) => {
                    let version = versions.entry(name.clone()).or_insert(0);
                    let changed = last_good.is_none_or(|p| p.compiled.sha256 != compiled.sha256);
                    if changed {
                        *version += 1;
                    }
                    let plugin = match last_good {
                        Some(p) if !changed && p.settings == *settings => p.clone(),
                        _ => Arc::new(Plugin::new(compiled, settings.clone(), *version)),
                    };
                    plugins.insert(name.clone(), plugin);
                }
                Err(error) => {
                    let kept = last_good.filter(|p| p.compiled.path == settings.wasm);
                    if let Some(last_good) = kept {
                        plugins.insert(name.clone(), last_good.clone());
                    }
                    errors.push(BuildError {
                        plugin: name.clone(),
                        error,
                        kept_previous: kept.is_some(),
                    });
                }
            }
        }
        if errors.iter().any(|e| !e.kept_previous) {
            return Built {
                topology: None,
                errors,
            };
        }
        Built {
            topology: Some(assemble(config, config_sha256, plugins)),
            errors,
        }
    }
}

/// Reads the plugin file; returns the previous compilation when the bytes are the same.
fn load_plugin(
    engine: &PluginEngine,
    settings: &PluginConfig,
    last_good: Option<&Arc<Plugin>>,
) -> Result<Arc<CompiledPlugin>, LoadError> {
    let path = &settings.wasm;
    let bytes = std::fs::read(path).map_err(|error| LoadError::Read {
        path: path.clone(),
        error,
    })?;
    let sha256 = crate::plugin::sha256_hex(&bytes);
    if let Some(previous) = last_good.map(|p| &p.compiled)
        && previous.sha256 == sha256
        && previous.path == *path
    {
        return Ok(previous.clone());
    }
    Ok(Arc::new(CompiledPlugin::from_bytes(engine, path, &bytes)?))
}

fn assemble(
    config: Arc<Config>,
    config_sha256: String,
    plugins: BTreeMap<String, Arc<Plugin>>,
) -> Topology {
    let resolve = |names: &[String]| -> Vec<Arc<Plugin>> {
        // Config validation guarantees every name exists.
        names.iter().map(|name| plugins[name].clone()).collect()
    };
    let routes: Vec<Arc<Route>> = config
        .routes
        .iter()
        .map(|route| {
            Arc::new(Route {
                name: route.name.clone(),
                source: route.source.clone(),
                filters: resolve(&route.filters),
                transforms: resolve(&route.transforms),
                subscribers: route.subscribers.clone(),
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
    let (certificates, http) = source_context(&config);
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
