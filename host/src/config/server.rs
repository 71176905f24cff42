//! `[server]`: listeners, the store and the limits that protect the host.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diagnostic::Sink;
use super::table::{Table, Value};
use super::units::{ByteSize, Count, Period, Timeout};
use super::web::{ListenAddr, NonEmpty, StoreUrl};

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// The ingest listener; port 0 lets the system choose (tests).
    pub listen: SocketAddr,
    /// The admin API listener; `None` runs none.
    pub admin: Option<SocketAddr>,
    /// When set, the admin API requires `Authorization: Bearer <admin_token>`.
    pub admin_token: Option<String>,
    /// Where the embedded store lives, absolute.
    pub data_dir: PathBuf,
    /// A shared store URL (`postgres://...`, `sqlite://...`) replacing the one in `data_dir`.
    pub store: Option<String>,
    /// Largest request body accepted, in bytes: bounds the memory one ingest can take.
    pub max_body: u64,
    /// Plugin instances running at once: bounds CPU and the memory of live instances.
    pub plugin_concurrency: usize,
    /// HTTP deliveries in flight at once, over all subscribers: bounds sockets and memory.
    pub delivery_concurrency: usize,
    /// How long an event whose messages are all settled (delivered or filtered) is kept, with
    /// its messages and attempts: bounds the size of the store.
    pub retention: Duration,
    /// The same for an event with dead messages, kept longer so that they can be replayed.
    pub dead_retention: Duration,
    /// On SIGTERM, how long in-flight plugin runs and deliveries may take before the process
    /// exits anyway; what is left resumes at the next start.
    pub shutdown_timeout: Duration,
}

const KEYS: &[&str] = &[
    "listen",
    "admin",
    "admin_token",
    "data_dir",
    "store",
    "max_body",
    "plugin_concurrency",
    "delivery_concurrency",
    "retention",
    "dead_retention",
    "shutdown_timeout",
];

impl ServerConfig {
    /// The defaults, for a file without `[server]`; `data_dir` is resolved against `base`.
    #[must_use]
    pub fn defaults(base: &Path) -> ServerConfig {
        ServerConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 8080)),
            admin: None,
            admin_token: None,
            data_dir: base.join(".wasmhook"),
            store: None,
            max_body: 1 << 20,
            plugin_concurrency: default_plugin_concurrency(),
            delivery_concurrency: 256,
            retention: Duration::from_hours(7 * 24),
            dead_retention: Duration::from_hours(30 * 24),
            shutdown_timeout: Duration::from_secs(30),
        }
    }

    pub(super) fn read(value: &Value<'_>, base: &Path, sink: &mut Sink<'_>) -> ServerConfig {
        let defaults = ServerConfig::defaults(base);
        let Some(table) = Table::new("[server]".to_owned(), value, KEYS, sink) else {
            return defaults;
        };
        ServerConfig {
            listen: table
                .get::<ListenAddr>("listen", sink)
                .map_or(defaults.listen, |a| a.0),
            admin: table.get::<ListenAddr>("admin", sink).map(|a| a.0),
            admin_token: table.get::<NonEmpty>("admin_token", sink).map(|t| t.0),
            data_dir: table
                .get::<NonEmpty>("data_dir", sink)
                .map_or(defaults.data_dir, |dir| base.join(dir.0)),
            store: table.get::<StoreUrl>("store", sink).map(|s| s.0),
            max_body: table
                .get::<ByteSize>("max_body", sink)
                .map_or(defaults.max_body, |s| s.0),
            plugin_concurrency: table
                .get::<Count>("plugin_concurrency", sink)
                .map_or(defaults.plugin_concurrency, |c| c.0),
            delivery_concurrency: table
                .get::<Count>("delivery_concurrency", sink)
                .map_or(defaults.delivery_concurrency, |c| c.0),
            retention: table
                .get::<Period>("retention", sink)
                .map_or(defaults.retention, |p| p.0),
            dead_retention: table
                .get::<Period>("dead_retention", sink)
                .map_or(defaults.dead_retention, |p| p.0),
            shutdown_timeout: table
                .get::<Timeout>("shutdown_timeout", sink)
                .map_or(defaults.shutdown_timeout, |t| t.0),
        }
    }
}

/// Two per core, so that cores stay busy while some instances are being set up or torn down.
fn default_plugin_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get) * 2
}
