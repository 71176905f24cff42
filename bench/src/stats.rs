//! Latency percentiles and rates.

use std::time::Duration;

/// Sorted samples.
pub struct Percentiles(Vec<Duration>);

impl Percentiles {
    pub fn new(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort_unstable();
        Percentiles(samples)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The sample at rank ⌈p·n⌉ (nearest rank); zero when there are none.
    pub fn at(&self, p: f64) -> Duration {
        if self.0.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((self.0.len() as f64 * p).ceil() as usize).clamp(1, self.0.len());
        self.0[rank - 1]
    }
}

/// `12.3 ms`, `456 µs`.
pub fn human(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros >= 1000.0 {
        format!("{:.2} ms", micros / 1000.0)
    } else {
        format!("{micros:.0} µs")
    }
}

/// `count` per second over `elapsed`.
pub fn rate(count: usize, elapsed: Duration) -> f64 {
    if elapsed.is_zero() {
        0.0
    } else {
        count as f64 / elapsed.as_secs_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let p = Percentiles::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(p.at(0.5), Duration::from_millis(50));
        assert_eq!(p.at(0.99), Duration::from_millis(99));
        assert_eq!(p.at(0.999), Duration::from_millis(100));
        assert_eq!(Percentiles::new(Vec::new()).at(0.5), Duration::ZERO);
    }
}
