//! How long to wait before trying a failed store write again.

use std::time::Duration;

/// The first pause after a failure: long enough that a full disk or an overloaded writer is not
/// asked again in a tight loop.
const FIRST: Duration = Duration::from_millis(100);
/// The longest pause: also the most a write waits after the store recovers.
const LONGEST: Duration = Duration::from_secs(5);

/// Pauses that double from [`FIRST`] to [`LONGEST`] while writes keep failing.
#[derive(Debug, Clone, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// The pause before the next try, after one more failure.
    pub fn next_pause(&mut self) -> Duration {
        let pause = FIRST
            .saturating_mul(1 << self.failures.min(16))
            .min(LONGEST);
        self.failures = self.failures.saturating_add(1);
        pause
    }

    /// Waits [`Backoff::next_pause`].
    pub async fn pause(&mut self) {
        tokio::time::sleep(self.next_pause()).await;
    }

    /// A write succeeded: the next failure starts again from the first pause.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_longest_pause_and_starts_over_after_a_success() {
        let mut backoff = Backoff::default();
        let pauses: Vec<u64> = (0..10)
            .map(|_| backoff.next_pause().as_millis() as u64)
            .collect();
        assert_eq!(
            pauses,
            [100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000, 5000]
        );
        backoff.reset();
        assert_eq!(backoff.next_pause(), FIRST);
    }
}
