//! The circuit breaker of each subscriber.
//!
//! Closed, every due message is attempted. After `failures` failed attempts in a row, or a
//! `failure_ratio` of at least `min_attempts` within `window`, the circuit opens: the
//! subscriber's messages wait in the store, their retries unspent, and the dispatcher neither
//! reads them nor keeps a timer for each. At `probe_at` one message is attempted as a probe
//! (half-open); if it fails, the next probe waits twice as long, up to `max_probe`; if the
//! subscriber answers, the circuit closes and the backlog drains.
//!
//! Failures are what says the subscriber as a whole is unwell: no answer, a timeout, `5xx`,
//! `408` and `429`. Any other answer, a `400` for one malformed message included, shows it up
//! and counts as a success here; that message keeps its own schedule.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use crate::config::CircuitConfig;
use crate::store::OpenCircuit;

/// Buckets of the failure-ratio window: the ratio is counted over the last `window`, to within
/// a tenth of it, in constant memory whatever the rate.
const BUCKETS: usize = 10;

/// What the dispatcher may start for a subscriber now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Everything due.
    Closed,
    /// One message, as the probe of an open circuit.
    Probe,
    /// Nothing: the circuit is open, or its probe is in flight.
    Shut,
}

/// What an attempt says of its subscriber's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Up,
    /// Failing, with why: `HTTP 503`, the transport's error.
    Down(String),
}

impl Health {
    /// The verdict on an attempt answered `status` (`None`: no answer), with `error` as the
    /// attempt recorded it.
    pub fn of(status: Option<u16>, error: Option<&str>) -> Health {
        match status {
            Some(408 | 429 | 500..) | None => Health::Down(error.unwrap_or("no answer").to_owned()),
            Some(_) => Health::Up,
        }
    }
}

/// A change of a circuit, to be stored, logged and counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Opened(OpenCircuit),
    /// A probe failed; the circuit stays open until the next one.
    ProbeFailed(OpenCircuit),
    /// A probe, or an attempt started before the circuit opened, succeeded.
    Closed(OpenCircuit),
}

/// What the recording of an attempt found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recorded {
    /// The attempt was the open circuit's probe: if it failed, its message waits unspent.
    pub was_probe: bool,
    pub change: Option<Change>,
}

/// Every subscriber's circuit.
#[derive(Default)]
pub struct Circuits {
    by_subscriber: Mutex<HashMap<String, Circuit>>,
}

#[derive(Default)]
struct Circuit {
    failures_in_a_row: u32,
    /// (bucket number, attempts, failures) for the ratio over the window.
    buckets: [(i64, u32, u32); BUCKETS],
    open: Option<Open>,
}

struct Open {
    stored: OpenCircuit,
    /// The message attempted as the probe, while it is in flight.
    probing: Option<String>,
}

impl Circuits {
    /// The circuits a previous run left open.
    pub fn restore(open: impl IntoIterator<Item = (String, OpenCircuit)>) -> Circuits {
        let by_subscriber = open
            .into_iter()
            .map(|(name, stored)| {
                let open = Open {
                    stored,
                    probing: None,
                };
                let circuit = Circuit {
                    open: Some(open),
                    ..Circuit::default()
                };
                (name, circuit)
            })
            .collect();
        Circuits {
            by_subscriber: Mutex::new(by_subscriber),
        }
    }

    /// What may start for `subscriber` at `now`. A subscriber without a circuit breaker is
    /// always closed.
    pub fn gate(&self, subscriber: &str, config: Option<&CircuitConfig>, now: i64) -> Gate {
        if config.is_none() {
            return Gate::Closed;
        }
        let circuits = self.by_subscriber.lock().expect("circuits");
        match circuits.get(subscriber).and_then(|c| c.open.as_ref()) {
            None => Gate::Closed,
            Some(open) if open.probing.is_none() && now >= open.stored.probe_at => Gate::Probe,
            Some(_) => Gate::Shut,
        }
    }

    /// The message just started as `subscriber`'s probe.
    pub fn probing(&self, subscriber: &str, message_id: &str) {
        let mut circuits = self.by_subscriber.lock().expect("circuits");
        if let Some(open) = circuits.get_mut(subscriber).and_then(|c| c.open.as_mut()) {
            open.probing = Some(message_id.to_owned());
        }
    }

    /// Counts an attempt's verdict; opens or closes the circuit as it tips the balance.
    pub fn record(
        &self,
        subscriber: &str,
        config: Option<&CircuitConfig>,
        message_id: &str,
        health: Health,
        now: i64,
    ) -> Recorded {
        let mut circuits = self.by_subscriber.lock().expect("circuits");
        if !circuits.contains_key(subscriber) {
            if config.is_none() {
                return Recorded::default();
            }
            circuits.insert(subscriber.to_owned(), Circuit::default());
        }
        let circuit = circuits.get_mut(subscriber).expect("inserted above");
        let was_probe = circuit
            .open
            .as_ref()
            .is_some_and(|open| open.probing.as_deref() == Some(message_id));
        let Some(config) = config else {
            // The breaker was turned off by a reload: an open circuit closes at once.
            let change = circuit.open.take().map(|open| Change::Closed(open.stored));
            return Recorded { was_probe, change };
        };
        let change = match health {
            Health::Up => {
                circuit.count(config, now, false);
                circuit.failures_in_a_row = 0;
                circuit.open.take().map(|open| Change::Closed(open.stored))
            }
            Health::Down(why) => {
                circuit.count(config, now, true);
                circuit.failures_in_a_row += 1;
                match &mut circuit.open {
                    Some(open) if was_probe => {
                        Some(Change::ProbeFailed(open.failed_probe(config, now)))
                    }
                    // An attempt started before the circuit opened.
                    Some(_) => None,
                    None => circuit.trips(config, now).then(|| {
                        let opened = circuit.open_now(config, now, why);
                        Change::Opened(opened)
                    }),
                }
            }
        };
        Recorded { was_probe, change }
    }

    /// The earliest time after `now` a probe falls due, for the dispatcher to wake then.
    pub fn next_probe_after(&self, now: i64) -> Option<i64> {
        let circuits = self.by_subscriber.lock().expect("circuits");
        circuits
            .values()
            .filter_map(|c| c.open.as_ref())
            .filter(|open| open.probing.is_none())
            .map(|open| open.stored.probe_at)
            .filter(|at| *at > now)
            .min()
    }

    pub fn is_open(&self, subscriber: &str) -> bool {
        let circuits = self.by_subscriber.lock().expect("circuits");
        circuits.get(subscriber).is_some_and(|c| c.open.is_some())
    }

    /// The subscriber's open circuit, if it is open, and whether its probe is in flight.
    pub fn open(&self, subscriber: &str) -> Option<(OpenCircuit, bool)> {
        let circuits = self.by_subscriber.lock().expect("circuits");
        let open = circuits.get(subscriber)?.open.as_ref()?;
        Some((open.stored.clone(), open.probing.is_some()))
    }
}

impl Circuit {
    /// Adds an attempt to the window's bucket of `now`.
    fn count(&mut self, config: &CircuitConfig, now: i64, failed: bool) {
        let number = bucket_number(config, now);
        let bucket = &mut self.buckets[number.rem_euclid(BUCKETS as i64) as usize];
        if bucket.0 != number {
            *bucket = (number, 0, 0);
        }
        bucket.1 += 1;
        bucket.2 += u32::from(failed);
    }

    /// Whether the failures so far open the circuit.
    fn trips(&self, config: &CircuitConfig, now: i64) -> bool {
        if self.failures_in_a_row >= config.failures {
            return true;
        }
        let oldest = bucket_number(config, now) - BUCKETS as i64;
        let (attempts, failures) = self
            .buckets
            .iter()
            .filter(|(number, ..)| *number > oldest)
            .fold((0, 0), |(a, f), (_, attempts, failures)| {
                (a + attempts, f + failures)
            });
        attempts >= config.min_attempts.max(1)
            && f64::from(failures) >= config.failure_ratio * f64::from(attempts)
    }

    fn open_now(&mut self, config: &CircuitConfig, now: i64, why: String) -> OpenCircuit {
        let interval = millis(config.probe);
        let reason = if self.failures_in_a_row >= config.failures {
            format!(
                "{} failed attempts in a row, the last: {why}",
                self.failures_in_a_row
            )
        } else {
            format!(
                "more than {:.0}% of the attempts within {} failed, the last: {why}",
                config.failure_ratio * 100.0,
                humantime::format_duration(config.window)
            )
        };
        let stored = OpenCircuit {
            opened_at: now,
            probe_at: now + interval,
            probe_interval_ms: interval,
            probes: 0,
            reason,
        };
        self.failures_in_a_row = 0;
        self.buckets = Default::default();
        self.open = Some(Open {
            stored: stored.clone(),
            probing: None,
        });
        stored
    }
}

impl Open {
    /// The probe failed: the next one waits twice as long, up to `max_probe`.
    fn failed_probe(&mut self, config: &CircuitConfig, now: i64) -> OpenCircuit {
        let interval = self
            .stored
            .probe_interval_ms
            .saturating_mul(2)
            .clamp(millis(config.probe), millis(config.max_probe));
        self.probing = None;
        self.stored.probes += 1;
        self.stored.probe_interval_ms = interval;
        self.stored.probe_at = now + interval;
        self.stored.clone()
    }
}

fn bucket_number(config: &CircuitConfig, now: i64) -> i64 {
    now.div_euclid((millis(config.window) / BUCKETS as i64).max(1))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUB: &str = "ci";

    fn config() -> CircuitConfig {
        CircuitConfig {
            failures: 3,
            failure_ratio: 0.5,
            window: Duration::from_secs(10),
            min_attempts: 10,
            probe: Duration::from_secs(1),
            max_probe: Duration::from_secs(4),
        }
    }

    fn down() -> Health {
        Health::Down("HTTP 503".to_owned())
    }

    #[test]
    fn failures_in_a_row_open_it_and_probes_back_off_until_one_succeeds() {
        let (circuits, config) = (Circuits::default(), config());
        let gate = |now| circuits.gate(SUB, Some(&config), now);
        for n in 0..2 {
            let recorded = circuits.record(SUB, Some(&config), "m", down(), n);
            assert_eq!(recorded, Recorded::default());
        }
        let Recorded { change, .. } = circuits.record(SUB, Some(&config), "m", down(), 2);
        let Some(Change::Opened(open)) = change else {
            panic!("not opened: {change:?}")
        };
        assert_eq!((open.opened_at, open.probe_at), (2, 1002));
        assert!(
            open.reason
                .contains("3 failed attempts in a row, the last: HTTP 503")
        );
        assert_eq!(gate(1001), Gate::Shut);
        // Probes at 1 s, then 2 s, then 4 s and no longer apart.
        let mut now = 1002;
        for wait in [2000, 4000, 4000] {
            assert_eq!(gate(now), Gate::Probe);
            circuits.probing(SUB, "probe");
            assert_eq!(gate(now), Gate::Shut, "one probe at a time");
            let recorded = circuits.record(SUB, Some(&config), "probe", down(), now);
            assert!(recorded.was_probe);
            let Some(Change::ProbeFailed(open)) = recorded.change else {
                panic!("{recorded:?}")
            };
            assert_eq!(open.probe_at, now + wait);
            assert_eq!(circuits.next_probe_after(now), Some(now + wait));
            now += wait;
        }
        circuits.probing(SUB, "probe");
        let recorded = circuits.record(SUB, Some(&config), "probe", Health::Up, now);
        assert!(recorded.was_probe);
        assert!(matches!(recorded.change, Some(Change::Closed(c)) if c.probes == 3));
        assert_eq!(gate(now), Gate::Closed);
    }

    #[test]
    fn a_share_of_failures_within_the_window_opens_it() {
        let (circuits, config) = (Circuits::default(), config());
        // Alternating: never 3 in a row, but half of 10 attempts within 10 s.
        let mut changes = Vec::new();
        for n in 0..10 {
            let health = if n % 2 == 1 { down() } else { Health::Up };
            changes.extend(
                circuits
                    .record(SUB, Some(&config), "m", health, n * 100)
                    .change,
            );
        }
        assert!(matches!(&changes[..], [Change::Opened(o)] if o.reason.contains("50%")));
    }

    #[test]
    fn failures_older_than_the_window_are_forgotten() {
        let (circuits, config) = (Circuits::default(), config());
        for n in 0..9 {
            let health = if n % 2 == 1 { down() } else { Health::Up };
            circuits.record(SUB, Some(&config), "m", health, n * 100);
        }
        // 20 s later, one failure among successes opens nothing.
        let later = 20_000;
        let recorded = circuits.record(SUB, Some(&config), "m", down(), later);
        assert_eq!(recorded.change, None);
    }

    #[test]
    fn answers_other_than_overload_or_server_errors_count_as_up() {
        for status in [200, 204, 301, 400, 404, 410, 422] {
            assert_eq!(Health::of(Some(status), None), Health::Up, "{status}");
        }
        for status in [408, 429, 500, 502, 503] {
            let error = format!("HTTP {status}");
            let health = Health::of(Some(status), Some(&error));
            assert_eq!(health, Health::Down(error), "{status}");
        }
        let refused = Health::of(None, Some("connection refused"));
        assert_eq!(refused, Health::Down("connection refused".to_owned()));
    }

    #[test]
    fn a_restored_circuit_is_open_until_its_probe_and_closes_if_the_breaker_is_turned_off() {
        let stored = OpenCircuit {
            opened_at: 0,
            probe_at: 5000,
            probe_interval_ms: 5000,
            probes: 2,
            reason: "HTTP 503".to_owned(),
        };
        let circuits = Circuits::restore([(SUB.to_owned(), stored.clone())]);
        let config = config();
        assert_eq!(circuits.gate(SUB, Some(&config), 4999), Gate::Shut);
        assert_eq!(circuits.gate(SUB, Some(&config), 5000), Gate::Probe);
        assert_eq!(circuits.gate(SUB, None, 0), Gate::Closed);
        let recorded = circuits.record(SUB, None, "m", down(), 1);
        assert_eq!(recorded.change, Some(Change::Closed(stored)));
        assert_eq!(circuits.open(SUB), None);
    }
}
