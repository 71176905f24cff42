//! How fast each subscriber is sent to: its `rate` limit, and the ramp after its circuit closes.
//!
//! The rate is a token bucket holding a tenth of a second's worth of attempts (at least one),
//! so that attempts are spread out rather than sent in bursts of a second's worth. After a
//! circuit closes, the subscriber's rate and concurrency start at a tenth of their limits and
//! climb to them over `ramp`: a backlog waiting for a service that just recovered is drained,
//! not thrown at it.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::config::SubscriberConfig;

/// What a ramp starts at, as a share of the limits.
const RAMP_START: f64 = 0.1;

/// The bucket holds this many milliseconds' worth of attempts.
const BURST_MS: f64 = 100.0;

#[derive(Default)]
pub struct Paces {
    by_subscriber: Mutex<HashMap<String, Pace>>,
}

#[derive(Default)]
struct Pace {
    tokens: f64,
    refilled_at: i64,
    /// Attempts per millisecond at the last refill; 0 without a rate.
    per_ms: f64,
    /// When the ramp began, while it lasts.
    ramp_from: Option<i64>,
}

impl Paces {
    /// How many more attempts may start for the subscriber at `now`, with `in_flight` running.
    pub fn allowance(&self, config: &SubscriberConfig, in_flight: usize, now: i64) -> usize {
        let mut paces = self.by_subscriber.lock().expect("paces");
        if !paces.contains_key(&config.name) {
            if config.rate.is_none() {
                return usize::MAX;
            }
            paces.insert(config.name.clone(), Pace::default());
        }
        let pace = paces.get_mut(&config.name).expect("inserted above");
        let share = pace.ramp_share(config, now);
        let mut allowance = usize::MAX;
        if let Some(rate) = config.rate {
            pace.refill(rate.per_ms() * share, now);
            allowance = pace.tokens.floor() as usize;
        }
        if share < 1.0 {
            let ramped = (config.concurrency as f64 * share).ceil().max(1.0) as usize;
            allowance = allowance.min(ramped.saturating_sub(in_flight));
        }
        allowance
    }

    /// `count` attempts started for the subscriber.
    pub fn started(&self, subscriber: &str, count: usize) {
        let mut paces = self.by_subscriber.lock().expect("paces");
        if let Some(pace) = paces.get_mut(subscriber)
            && pace.per_ms > 0.0
        {
            pace.tokens -= count as f64;
        }
    }

    /// The subscriber's circuit closed: its limits start low and climb back.
    pub fn ramp(&self, subscriber: &str, now: i64) {
        let mut paces = self.by_subscriber.lock().expect("paces");
        let pace = paces.entry(subscriber.to_owned()).or_default();
        pace.ramp_from = Some(now);
    }

    /// The earliest time after `now` a subscriber that ran out of attempts in the dispatcher's
    /// pass begun at `pass` gets one again, for the dispatcher to wake then. A subscriber the
    /// pass did not dispatch (its circuit open, disabled, gone from the wiring) is not waited
    /// for: its bucket was last refilled long ago, and would wake the dispatcher at once, again
    /// and again.
    pub fn next_allowed_after(&self, pass: i64, now: i64) -> Option<i64> {
        let paces = self.by_subscriber.lock().expect("paces");
        paces
            .values()
            .filter(|pace| pace.per_ms > 0.0 && pace.tokens < 1.0 && pace.refilled_at >= pass)
            .map(|pace| pace.refilled_at + ((1.0 - pace.tokens) / pace.per_ms).ceil() as i64)
            .map(|at| at.max(now + 1))
            .min()
    }
}

impl Pace {
    /// The share of its limits the subscriber gets at `now`: 1 but during a ramp.
    fn ramp_share(&mut self, config: &SubscriberConfig, now: i64) -> f64 {
        let Some(from) = self.ramp_from else {
            return 1.0;
        };
        let ramp = config.ramp.as_millis() as f64;
        let done = if ramp > 0.0 {
            (now - from) as f64 / ramp
        } else {
            1.0
        };
        if done >= 1.0 {
            self.ramp_from = None;
            return 1.0;
        }
        RAMP_START + (1.0 - RAMP_START) * done.max(0.0)
    }

    fn refill(&mut self, per_ms: f64, now: i64) {
        let capacity = (per_ms * BURST_MS).max(1.0);
        if self.per_ms == 0.0 {
            // The first attempt of a subscriber with a rate: one may start at once.
            self.tokens = 1.0;
        } else {
            let elapsed = (now - self.refilled_at).max(0) as f64;
            self.tokens = (self.tokens + elapsed * per_ms).min(capacity);
        }
        self.per_ms = per_ms;
        self.refilled_at = now;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Rate;

    fn subscriber(rate: Option<Rate>, concurrency: usize) -> SubscriberConfig {
        SubscriberConfig {
            name: "ci".to_owned(),
            url: "http://127.0.0.1:9/".parse().unwrap(),
            secrets: Vec::new(),
            headers: Vec::new(),
            timeout: Duration::from_secs(1),
            retry: Vec::new(),
            ordering: crate::config::Ordering::Concurrent,
            concurrency,
            circuit: None,
            rate,
            ramp: Duration::from_secs(10),
        }
    }

    /// Attempts started each 100 ms for `ms` from `start`, each as many as allowed.
    fn started_per_tick(paces: &Paces, config: &SubscriberConfig, start: i64, ms: i64) -> usize {
        (start..start + ms)
            .step_by(100)
            .map(|now| {
                let allowed = paces.allowance(config, 0, now).min(1000);
                paces.started(&config.name, allowed);
                allowed
            })
            .sum()
    }

    #[test]
    fn a_rate_caps_the_attempts_of_every_second() {
        let paces = Paces::default();
        let config = subscriber(
            Some(Rate {
                count: 50,
                per: Duration::from_secs(1),
            }),
            16,
        );
        let in_ten_seconds = started_per_tick(&paces, &config, 0, 10_000);
        assert!((495..=505).contains(&in_ten_seconds), "{in_ten_seconds}");
        assert_eq!(
            paces.allowance(&config, 0, 10_000),
            5,
            "a tenth of a second's worth"
        );
        paces.started("ci", 5);
        assert_eq!(paces.allowance(&config, 0, 10_000), 0);
        assert_eq!(paces.next_allowed_after(10_000, 10_000), Some(10_020));
        // A later pass that did not dispatch the subscriber does not wait for it.
        assert_eq!(paces.next_allowed_after(20_000, 20_000), None);
    }

    #[test]
    fn without_a_rate_nothing_is_counted() {
        let paces = Paces::default();
        let config = subscriber(None, 16);
        assert_eq!(paces.allowance(&config, 3, 0), usize::MAX);
        paces.started("ci", 100);
        assert_eq!(paces.allowance(&config, 3, 1), usize::MAX);
        assert_eq!(paces.next_allowed_after(1, 1), None);
    }

    #[test]
    fn after_a_circuit_closes_rate_and_concurrency_climb_from_a_tenth() {
        let paces = Paces::default();
        let config = subscriber(
            Some(Rate {
                count: 100,
                per: Duration::from_secs(1),
            }),
            20,
        );
        paces.ramp("ci", 0);
        // A tenth of the concurrency at first, less what is in flight.
        assert_eq!(paces.allowance(&config, 1, 0), 1);
        let first_second = started_per_tick(&paces, &config, 0, 1000);
        let halfway = started_per_tick(&paces, &config, 5000, 1000);
        let after = started_per_tick(&paces, &config, 10_000, 1000);
        assert!((10..=25).contains(&first_second), "{first_second}");
        assert!((50..=65).contains(&halfway), "{halfway}");
        assert!((95..=105).contains(&after), "{after}");
        assert_eq!(
            paces.allowance(&subscriber(None, 20), 5, 10_000),
            usize::MAX
        );
    }
}
