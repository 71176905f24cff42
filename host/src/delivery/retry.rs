//! When to try again after a failed attempt.

use std::time::Duration;

use rand::Rng;

/// Scheduled delays are spread by ±20% so that messages failing together do not retry together.
const JITTER: f64 = 0.2;

/// A subscriber that said "too many requests" or did not answer in time gets at least this
/// long before it is asked again: retrying sooner only adds to its load.
pub const BACK_OFF: Duration = Duration::from_secs(60);

/// What the failed attempt tells about when to try again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hint {
    /// The subscriber's `Retry-After`.
    pub retry_after: Option<Duration>,
    /// It answered 429 or timed out.
    pub overloaded: bool,
}

/// The delay before the next attempt after `attempts` failed ones, or `None` when the
/// subscriber's `retry` list is used up. A `Retry-After` is honoured up to twice the scheduled
/// delay; an overloaded subscriber waits at least [`BACK_OFF`].
pub fn next_delay(retry: &[Duration], attempts: u32, hint: Hint) -> Option<Duration> {
    let scheduled = *retry.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    let jittered = scheduled.mul_f64(rand::rng().random_range(1.0 - JITTER..=1.0 + JITTER));
    let delay = match hint.retry_after {
        Some(asked) => asked.clamp(jittered, scheduled * 2),
        None => jittered,
    };
    Some(if hint.overloaded {
        delay.max(BACK_OFF)
    } else {
        delay
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: [Duration; 2] = [Duration::from_secs(10), Duration::from_secs(60)];

    #[test]
    fn follows_the_schedule_within_the_jitter() {
        for _ in 0..100 {
            let first = next_delay(&SCHEDULE, 1, Hint::default()).unwrap();
            assert!((8.0..=12.0).contains(&first.as_secs_f64()), "{first:?}");
            let second = next_delay(&SCHEDULE, 2, Hint::default()).unwrap();
            assert!((48.0..=72.0).contains(&second.as_secs_f64()), "{second:?}");
        }
    }

    #[test]
    fn gives_up_when_the_schedule_is_used_up() {
        assert_eq!(next_delay(&SCHEDULE, 3, Hint::default()), None);
        assert_eq!(next_delay(&[], 1, Hint::default()), None);
    }

    #[test]
    fn honours_retry_after_up_to_twice_the_delay() {
        let asked = |secs| Hint {
            retry_after: Some(Duration::from_secs(secs)),
            overloaded: false,
        };
        assert_eq!(
            next_delay(&SCHEDULE, 1, asked(3600)).unwrap(),
            Duration::from_secs(20)
        );
        assert_eq!(
            next_delay(&SCHEDULE, 1, asked(15)).unwrap(),
            Duration::from_secs(15)
        );
    }

    #[test]
    fn an_overloaded_subscriber_waits_at_least_a_minute() {
        let hint = Hint {
            retry_after: None,
            overloaded: true,
        };
        assert_eq!(
            next_delay(&[Duration::from_millis(100)], 1, hint).unwrap(),
            BACK_OFF
        );
        assert!(next_delay(&[Duration::from_secs(600)], 1, hint).unwrap() > BACK_OFF);
    }
}
