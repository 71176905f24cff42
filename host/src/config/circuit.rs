//! `circuit` of `[subscribers.NAME]`: when a subscriber counts as down, and how it is probed.
//!
//! A subscriber that keeps failing is most likely down as a whole, not refusing one message:
//! trying each of its messages on its own schedule spends every message's retries against an
//! endpoint known to be down, and floods it when it comes back. Its circuit opens instead, and
//! one probe at a time finds out when it is back.

use std::time::Duration;

use toml::de::DeValue;

use super::diagnostic::Sink;
use super::table::{Table, Value, describe};
use super::units::{Count, Period};

/// When a subscriber's circuit opens, and how it is probed while open.
#[derive(Debug, Clone, PartialEq)]
pub struct CircuitConfig {
    /// Failed attempts in a row that open the circuit.
    pub failures: u32,
    /// The share of failed attempts within `window` that opens the circuit, once at least
    /// `min_attempts` were made in it.
    pub failure_ratio: f64,
    pub window: Duration,
    pub min_attempts: u32,
    /// How long after opening the first probe is made; each failed probe doubles it.
    pub probe: Duration,
    /// The longest wait between two probes.
    pub max_probe: Duration,
}

/// `failure_ratio` is read only when it is in (0, 1], never NaN: equality is total.
impl Eq for CircuitConfig {}

impl Default for CircuitConfig {
    /// Open after 5 failures in a row, or half of at least 20 attempts in a minute failed;
    /// probe after 5 s, then 10 s, 20 s... up to every 5 minutes.
    fn default() -> Self {
        CircuitConfig {
            failures: 5,
            failure_ratio: 0.5,
            window: Duration::from_secs(60),
            min_attempts: 20,
            probe: Duration::from_secs(5),
            max_probe: Duration::from_secs(300),
        }
    }
}

const KEYS: &[&str] = &[
    "failures",
    "failure_ratio",
    "window",
    "min_attempts",
    "probe",
    "max_probe",
];

/// Reads the `circuit` value of a subscriber: `true`, `false` or a table. `None` when it is
/// bad (reported); `Some(None)` when the subscriber has no circuit breaker.
pub(super) fn read_circuit(
    subscriber: &str,
    value: &Value<'_>,
    sink: &mut Sink<'_>,
) -> Option<Option<CircuitConfig>> {
    match value.get_ref() {
        DeValue::Boolean(false) => Some(None),
        DeValue::Boolean(true) => Some(Some(CircuitConfig::default())),
        DeValue::Table(_) => {
            read_table(&format!("[subscribers.{subscriber}.circuit]"), value, sink).map(Some)
        }
        _ => {
            sink.error(
                value.span(),
                format!(
                    "`circuit` in [subscribers.{subscriber}] must be `true`, `false` or a table \
                     such as {{ failures = 5, probe = \"5s\" }}, not {}",
                    describe(value)
                ),
            );
            None
        }
    }
}

fn read_table(what: &str, value: &Value<'_>, sink: &mut Sink<'_>) -> Option<CircuitConfig> {
    let table = Table::new(what.to_owned(), value, KEYS, sink)?;
    let defaults = CircuitConfig::default();
    let before = sink.count();
    let count = |key: &str, default: u32, sink: &mut Sink<'_>| {
        table
            .get::<Count>(key, sink)
            .map_or(default, |c| u32::try_from(c.0).unwrap_or(u32::MAX))
    };
    let period = |key: &str, default: Duration, sink: &mut Sink<'_>| {
        table.get::<Period>(key, sink).map_or(default, |p| p.0)
    };
    let config = CircuitConfig {
        failures: count("failures", defaults.failures, sink),
        failure_ratio: read_ratio(&table, what, sink).unwrap_or(defaults.failure_ratio),
        window: period("window", defaults.window, sink),
        min_attempts: count("min_attempts", defaults.min_attempts, sink),
        probe: period("probe", defaults.probe, sink),
        max_probe: period("max_probe", defaults.max_probe, sink),
    };
    if config.max_probe < config.probe
        && let Some(value) = table.raw("max_probe").or_else(|| table.raw("probe"))
    {
        sink.error(
            value.span(),
            format!("`max_probe` in {what} must be at least `probe`"),
        );
    }
    (sink.count() == before).then_some(config)
}

/// `failure_ratio`: a number more than 0 and at most 1.
fn read_ratio(table: &Table<'_, '_>, what: &str, sink: &mut Sink<'_>) -> Option<f64> {
    let value = table.raw("failure_ratio")?;
    match table.get::<f64>("failure_ratio", sink)? {
        ratio if ratio > 0.0 && ratio <= 1.0 => Some(ratio),
        _ => {
            sink.error(
                value.span(),
                format!("`failure_ratio` in {what} must be more than 0 and at most 1, such as 0.5"),
            );
            None
        }
    }
}
