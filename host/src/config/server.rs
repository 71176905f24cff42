//! `[server]`: listeners, the store and the limits that protect the host.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::diagnostic::Sink;
use super::parse_str::ParseStr;
use super::table::{Table, Value, describe, deserialize};
use super::timestamp::Timestamp;
use super::units::{ByteSize, Count, Period, Timeout};
use super::web::{HttpsUrl, ListenAddr, NonEmpty, PostgresUrl};

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
    /// The shared store (`postgres://...`) that replaces the embedded one, so that several
    /// nodes share the work.
    pub store: Option<String>,
    /// Largest request body accepted, in bytes: bounds the memory one ingest can take.
    pub max_body: u64,
    /// The bytes of request bodies held while they are read, over all ingest requests:
    /// bounds the memory many senders can take together. A body that does not fit is answered
    /// 503 at once. At least `max_body`, so every allowed body can fit.
    pub max_body_memory: u64,
    /// How long a client may take to send a request's headers, and how long an idle
    /// keep-alive connection is kept: frees the connection of a sender that stalls.
    pub header_read_timeout: Duration,
    /// How long an ingest request's body may take to arrive in full: frees the connection
    /// and the body memory of a sender that trickles.
    pub body_read_timeout: Duration,
    /// Connections served at once on each listener; a new one beyond takes the place of the
    /// one open the longest. Bounds the sockets and the per-connection memory senders can take.
    pub max_connections: usize,
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
    /// A fixed "now" for the verification schemes: the time signed timestamps and certificate
    /// validity are checked against, instead of the system clock. For tests and for checking
    /// recorded traffic again; never in production, where it would let old requests be
    /// replayed. `None`: the system clock.
    pub clock: Option<SystemTime>,
    /// Certificates used instead of downloading them (`PAYPAL-CERT-URL`, SNS `SigningCertURL`),
    /// for sites without internet access and for tests: `https` URL, in the form `url::Url`
    /// writes it, to an absolute path of a PEM file (which need not exist when this is read).
    /// The URL must still be one the scheme accepts; only the download is replaced.
    pub certificates: BTreeMap<String, PathBuf>,
}

const KEYS: &[&str] = &[
    "listen",
    "admin",
    "admin_token",
    "data_dir",
    "store",
    "max_body",
    "max_body_memory",
    "header_read_timeout",
    "body_read_timeout",
    "max_connections",
    "plugin_concurrency",
    "delivery_concurrency",
    "retention",
    "dead_retention",
    "shutdown_timeout",
    "clock",
    "certificates",
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
            max_body_memory: DEFAULT_BODY_MEMORY,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            max_connections: 1024,
            plugin_concurrency: default_plugin_concurrency(),
            delivery_concurrency: 256,
            retention: Duration::from_hours(7 * 24),
            dead_retention: Duration::from_hours(30 * 24),
            shutdown_timeout: Duration::from_secs(30),
            clock: None,
            certificates: BTreeMap::new(),
        }
    }

    pub(super) fn read(value: &Value<'_>, base: &Path, sink: &mut Sink<'_>) -> ServerConfig {
        let defaults = ServerConfig::defaults(base);
        let Some(table) = Table::new("[server]".to_owned(), value, KEYS, sink) else {
            return defaults;
        };
        let max_body = table
            .get::<ByteSize>("max_body", sink)
            .map_or(defaults.max_body, |s| s.0);
        ServerConfig {
            listen: table
                .get::<ListenAddr>("listen", sink)
                .map_or(defaults.listen, |a| a.0),
            admin: table.get::<ListenAddr>("admin", sink).map(|a| a.0),
            admin_token: table.get::<NonEmpty>("admin_token", sink).map(|t| t.0),
            data_dir: table
                .get::<NonEmpty>("data_dir", sink)
                .map_or(defaults.data_dir, |dir| base.join(dir.0)),
            store: table.get::<PostgresUrl>("store", sink).map(|s| s.0),
            max_body,
            max_body_memory: read_body_memory(&table, max_body, sink),
            header_read_timeout: table
                .get::<Timeout>("header_read_timeout", sink)
                .map_or(defaults.header_read_timeout, |t| t.0),
            body_read_timeout: table
                .get::<Timeout>("body_read_timeout", sink)
                .map_or(defaults.body_read_timeout, |t| t.0),
            max_connections: table
                .get::<Count>("max_connections", sink)
                .map_or(defaults.max_connections, |c| c.0),
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
            clock: table.get::<Timestamp>("clock", sink).map(|t| t.0),
            certificates: read_certificates(&table, base, sink),
        }
    }
}

/// What may be set aside for bodies being read when `max_body_memory` is not given: room for
/// 64 bodies of the default `max_body` at once, or thousands of typical webhooks of a few KiB.
const DEFAULT_BODY_MEMORY: u64 = 64 << 20;

/// `max_body_memory`: at least `max_body`, since a body that could never fit would be refused
/// with 503 for ever, and a sender told to retry would retry in vain. Absent, it grows with a
/// large `max_body`.
fn read_body_memory(table: &Table<'_, '_>, max_body: u64, sink: &mut Sink<'_>) -> u64 {
    let Some(value) = table.raw("max_body_memory") else {
        return DEFAULT_BODY_MEMORY.max(max_body);
    };
    let Some(ByteSize(memory)) = table.get::<ByteSize>("max_body_memory", sink) else {
        return DEFAULT_BODY_MEMORY.max(max_body);
    };
    if memory < max_body {
        sink.error(
            value.span(),
            format!(
                "`max_body_memory` in [server] ({memory} bytes) must be at least `max_body` \
                 ({max_body} bytes): a body of the largest allowed size could never be read"
            ),
        );
    }
    memory
}

/// `[server.certificates]`: `"https://..." = "path/to/cert.pem"`, each URL and path checked at
/// its own position.
fn read_certificates(
    table: &Table<'_, '_>,
    base: &Path,
    sink: &mut Sink<'_>,
) -> BTreeMap<String, PathBuf> {
    let mut certificates = BTreeMap::new();
    let Some(value) = table.raw("certificates") else {
        return certificates;
    };
    let what = "`certificates` in [server]";
    let Some(entries) = value.get_ref().as_table() else {
        sink.error(
            value.span(),
            format!(
                "{what} must be a table of certificate URLs and PEM files, such as \
                 {{ \"https://api.paypal.com/v1/notifications/certs/CERT-1\" = \"paypal.pem\" }}, \
                 not {}",
                describe(value)
            ),
        );
        return certificates;
    };
    for (key, value) in entries {
        let url = HttpsUrl::parse_str(key.get_ref())
            .map_err(|message| sink.error(key.span(), format!("{what}: {message}")));
        let path = deserialize::<NonEmpty>(value).map_err(|(span, message)| {
            sink.error(span, format!("{what}, {:?}: {message}", key.get_ref()))
        });
        let (Ok(url), Ok(path)) = (url, path) else {
            continue;
        };
        if certificates
            .insert(url.0.clone(), base.join(path.0))
            .is_some()
        {
            sink.error(key.span(), format!("{what}: {:?} is given twice", url.0));
        }
    }
    certificates
}

/// Two per core, so that cores stay busy while some instances are being set up or torn down.
fn default_plugin_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZero::get) * 2
}
