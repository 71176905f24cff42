//! What flowed through this node lately, as the dashboard draws it: events accepted and
//! filtered out per route, attempts delivered and failed per subscriber, second by second
//! over the last five minutes; each plugin's recent calls; each subscriber's last failure.
//!
//! Fed by the functions of the `telemetry` module, so the dashboard, the logs and `/metrics`
//! count the same things. Keys are names from the configuration only, as metric labels are:
//! what a request carries never makes a new entry. Counting is a few atomic operations on
//! the hot path, no lock held across it but a read lock of the map of names.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::time::{Duration, Instant};

use serde::Serialize;

/// Seconds a window keeps.
pub const WINDOW_SECONDS: u64 = 300;
/// The window is shown as this many bars.
const BARS: u64 = 60;
/// "Per second" is the rate over this many of the last seconds.
const RATE_SECONDS: u64 = 10;
/// Calls whose durations a plugin's percentiles are taken over.
const DURATIONS_KEPT: usize = 1024;
/// How much of a subscriber's last error is kept.
const ERROR_KEPT: usize = 512;

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    /// Events a source accepted.
    Accepted,
    /// Events a route's filters (or a plugin failing with `on_error = "drop"`) dropped.
    Filtered,
    /// Attempts a subscriber answered with success.
    Delivered,
    /// Attempts that failed.
    Failed,
}

/// How many flows there are: a name has a window for each.
const FLOWS: usize = 4;

/// The process's record; made on first use.
pub fn activity() -> &'static Activity {
    static ACTIVITY: OnceLock<Activity> = OnceLock::new();
    ACTIVITY.get_or_init(Activity::default)
}

#[derive(Default)]
pub struct Activity {
    /// By name, a window per flow: looked up by `&str`, so counting allocates nothing.
    windows: RwLock<HashMap<String, Arc<[Window; FLOWS]>>>,
    /// By plugin name, each behind a lock of its own: calls of different plugins, on
    /// different threads, never wait for each other.
    plugins: RwLock<HashMap<String, Arc<Mutex<PluginCalls>>>>,
    failures: Mutex<HashMap<String, LastFailure>>,
    builds: Mutex<HashMap<String, Build>>,
}

/// A plugin version this node loaded, by its sha256: what names the versions a message was
/// shaped by, which the store keeps as sha256 only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Build {
    pub name: String,
    pub version: u64,
}

impl Activity {
    pub fn count(&self, flow: Flow, name: &str) {
        of_name(&self.windows, name)[flow as usize].add(Window::now());
    }

    /// The rate of `flow` for `name` (zero if nothing was counted).
    pub fn rate(&self, flow: Flow, name: &str) -> Rate {
        let windows = self.windows.read().expect("windows");
        match windows.get(name) {
            Some(windows) => windows[flow as usize].rate(Window::now()),
            None => Rate::default(),
        }
    }

    /// One call of a plugin's version: how long it took and the kind of its error, if any.
    pub fn plugin_called(&self, name: &str, sha256: &str, elapsed: Duration, error: Option<&str>) {
        let calls = of_name(&self.plugins, name);
        let mut calls = calls.lock().expect("plugin calls");
        if calls.sha256 != sha256 {
            // A new version starts its own figures: what an operator compares is the
            // version now serving against the one before it.
            *calls = PluginCalls {
                sha256: sha256.to_owned(),
                ..PluginCalls::default()
            };
        }
        calls.record(elapsed, error);
    }

    /// The calls of the plugin's version `sha256` on this node since it loaded.
    pub fn plugin_stats(&self, name: &str, sha256: &str) -> PluginStats {
        let plugins = self.plugins.read().expect("plugin calls");
        let calls = plugins
            .get(name)
            .map(|calls| calls.lock().expect("plugin calls"));
        match calls {
            Some(calls) if calls.sha256 == sha256 => calls.stats(),
            _ => PluginCalls::default().stats(),
        }
    }

    pub fn plugin_built(&self, sha256: &str, name: &str, version: u64) {
        let build = Build {
            name: name.to_owned(),
            version,
        };
        let mut builds = self.builds.lock().expect("builds");
        builds.insert(sha256.to_owned(), build);
    }

    /// The plugin version with this sha256, if this node loaded it.
    pub fn build(&self, sha256: &str) -> Option<Build> {
        self.builds.lock().expect("builds").get(sha256).cloned()
    }

    pub fn delivery_failed(&self, subscriber: &str, status: Option<u16>, error: Option<&str>) {
        let failure = LastFailure {
            at: crate::clock::now_ms(),
            status,
            error: error.map(|error| error.chars().take(ERROR_KEPT).collect()),
        };
        let mut failures = self.failures.lock().expect("failures");
        failures.insert(subscriber.to_owned(), failure);
    }

    pub fn last_failure(&self, subscriber: &str) -> Option<LastFailure> {
        self.failures
            .lock()
            .expect("failures")
            .get(subscriber)
            .cloned()
    }
}

/// The entry of `name`, made on its first use. Looked up by `&str` under the read lock, so
/// the hot path allocates nothing and takes the write lock once per name.
fn of_name<T: Default>(map: &RwLock<HashMap<String, Arc<T>>>, name: &str) -> Arc<T> {
    if let Some(entry) = map.read().expect("activity").get(name) {
        return entry.clone();
    }
    let mut map = map.write().expect("activity");
    map.entry(name.to_owned()).or_default().clone()
}

/// A subscriber's last failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastFailure {
    /// Unix milliseconds.
    pub at: i64,
    pub status: Option<u16>,
    pub error: Option<String>,
}

/// A count over the window, as the dashboard shows it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rate {
    /// Over the last [`RATE_SECONDS`].
    pub per_second: f64,
    pub last_5m: u64,
    /// The window in [`BARS`] bars, oldest first.
    pub series: Vec<u64>,
}

/// Counts per second over the last [`WINDOW_SECONDS`]: a ring of slots, each holding the
/// second it counts (high 32 bits) and its count (low 32), so a slot left from a lap before
/// reads as empty and no sweeper is needed.
struct Window {
    slots: Box<[AtomicU64]>,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            slots: (0..WINDOW_SECONDS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl Window {
    /// Seconds since the process began counting, from 1: a slot holding second 0 is unused.
    fn now() -> u64 {
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs() + 1
    }

    fn add(&self, second: u64) {
        let slot = &self.slots[(second % WINDOW_SECONDS) as usize];
        let mut seen = slot.load(Ordering::Relaxed);
        loop {
            let next = if seen >> 32 == second {
                seen + 1
            } else {
                (second << 32) | 1
            };
            match slot.compare_exchange_weak(seen, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => seen = actual,
            }
        }
    }

    /// The count of `second`, if it is still in the window.
    fn at(&self, second: u64) -> u64 {
        let slot = self.slots[(second % WINDOW_SECONDS) as usize].load(Ordering::Relaxed);
        if slot >> 32 == second {
            slot & 0xffff_ffff
        } else {
            0
        }
    }

    fn rate(&self, now: u64) -> Rate {
        // The current second is still counting: the window ends with the one before it.
        let last = now.saturating_sub(1);
        let seconds: Vec<u64> = (0..WINDOW_SECONDS)
            .rev()
            .map(|back| last.checked_sub(back).map_or(0, |second| self.at(second)))
            .collect();
        let recent: u64 = seconds[seconds.len() - RATE_SECONDS as usize..]
            .iter()
            .sum();
        Rate {
            per_second: recent as f64 / RATE_SECONDS as f64,
            last_5m: seconds.iter().sum(),
            series: seconds
                .chunks((WINDOW_SECONDS / BARS) as usize)
                .map(|bar| bar.iter().sum())
                .collect(),
        }
    }
}

/// One plugin version's calls on this node.
#[derive(Default)]
struct PluginCalls {
    sha256: String,
    calls: u64,
    errors: HashMap<&'static str, u64>,
    /// The last [`DURATIONS_KEPT`] durations, in microseconds, as a ring.
    durations: Vec<u32>,
    next: usize,
}

impl PluginCalls {
    fn record(&mut self, elapsed: Duration, error: Option<&str>) {
        self.calls += 1;
        if let Some(kind) = error {
            *self.errors.entry(error_kind(kind)).or_default() += 1;
        }
        let micros = u32::try_from(elapsed.as_micros()).unwrap_or(u32::MAX);
        if self.durations.len() < DURATIONS_KEPT {
            self.durations.push(micros);
        } else {
            self.durations[self.next] = micros;
        }
        self.next = (self.next + 1) % DURATIONS_KEPT;
    }

    fn stats(&self) -> PluginStats {
        let mut sorted = self.durations.clone();
        sorted.sort_unstable();
        let percentile = |p: f64| {
            let rank = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len());
            f64::from(sorted[rank - 1]) / 1000.0
        };
        let (p50_ms, p99_ms) = if sorted.is_empty() {
            (None, None)
        } else {
            (Some(percentile(0.50)), Some(percentile(0.99)))
        };
        PluginStats {
            calls: self.calls,
            p50_ms,
            p99_ms,
            errors: ERROR_KINDS
                .iter()
                .map(|kind| (*kind, self.errors.get(kind).copied().unwrap_or(0)))
                .collect(),
        }
    }
}

/// Every kind of plugin error the dashboard tells apart; the plugin runtime's finer kinds
/// fold into these.
const ERROR_KINDS: [&str; 5] = ["trap", "timeout", "memory", "bad-output", "other"];

/// The dashboard's kind of a plugin error of kind `kind`, as the plugin runtime names it.
fn error_kind(kind: &str) -> &'static str {
    match kind {
        "trap" | "exit" => "trap",
        "timeout" => "timeout",
        "memory" => "memory",
        "bad-output" | "output" | "messages" | "messages-size" | "headers" => "bad-output",
        _ => "other",
    }
}

/// A plugin version's calls as `GET /api/plugins` shows them: p50 and p99 over its last
/// [`DURATIONS_KEPT`] calls, errors by kind since it loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PluginStats {
    pub calls: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub errors: std::collections::BTreeMap<&'static str, u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_shows_the_last_seconds_and_forgets_those_a_lap_ago() {
        let window = Window::default();
        for second in [10, 10, 10, 11] {
            window.add(second);
        }
        let rate = window.rate(12);
        assert_eq!(rate.last_5m, 4);
        assert_eq!(rate.per_second, 0.4);
        assert_eq!(rate.series.len(), BARS as usize);
        assert_eq!(rate.series.iter().sum::<u64>(), 4);
        assert_eq!(
            rate.series.last(),
            Some(&4),
            "seconds 7 to 11 are the last bar"
        );

        // A lap later the same slots count again from nothing.
        window.add(10 + WINDOW_SECONDS);
        let rate = window.rate(12 + WINDOW_SECONDS);
        assert_eq!((rate.last_5m, rate.per_second), (1, 0.1));
        assert_eq!(window.rate(12 + 2 * WINDOW_SECONDS).last_5m, 0);
    }

    #[test]
    fn a_plugin_version_has_its_own_percentiles_and_errors() {
        let activity = Activity::default();
        for millis in 1..=100 {
            let error = (millis % 50 == 0).then_some("timeout");
            let elapsed = Duration::from_millis(millis);
            activity.plugin_called("redact", "v1", elapsed, error);
        }
        activity.plugin_called("redact", "v1", Duration::ZERO, Some("exit"));
        let stats = activity.plugin_stats("redact", "v1");
        assert_eq!(stats.calls, 101);
        assert_eq!((stats.p50_ms, stats.p99_ms), (Some(50.0), Some(99.0)));
        assert_eq!((stats.errors["timeout"], stats.errors["trap"]), (2, 1));
        assert_eq!(stats.errors["memory"], 0);

        activity.plugin_called("redact", "v2", Duration::from_millis(3), None);
        let stats = activity.plugin_stats("redact", "v2");
        assert_eq!((stats.calls, stats.p99_ms), (1, Some(3.0)));
        assert_eq!(activity.plugin_stats("redact", "v1").calls, 0);
    }
}
