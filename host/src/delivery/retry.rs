//! When to try again after a failed attempt.

use std::time::Duration;

use rand::Rng;

/// Scheduled delays are spread by ±20% so that messages failing together do not retry together.
const JITTER: f64 = 0.2;

/// The delay before the next attempt after `attempts` failed ones, or `None` when the
/// subscriber's `retry` list is used up. A `Retry-After` from the subscriber is honoured up
/// to twice the scheduled delay.
pub fn next_delay(
    retry: &[Duration],
    attempts: u32,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let scheduled = *retry.get(usize::try_from(attempts).ok()?.checked_sub(1)?)?;
    let jittered = scheduled.mul_f64(rand::rng().random_range(1.0 - JITTER..=1.0 + JITTER));
    Some(match retry_after {
        Some(asked) => asked.clamp(jittered, scheduled * 2),
        None => jittered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHEDULE: [Duration; 2] = [Duration::from_secs(10), Duration::from_secs(60)];

    #[test]
    fn follows_the_schedule_within_the_jitter() {
        for _ in 0..100 {
            let first = next_delay(&SCHEDULE, 1, None).unwrap();
            assert!((8.0..=12.0).contains(&first.as_secs_f64()), "{first:?}");
            let second = next_delay(&SCHEDULE, 2, None).unwrap();
            assert!((48.0..=72.0).contains(&second.as_secs_f64()), "{second:?}");
        }
    }

    #[test]
    fn gives_up_when_the_schedule_is_used_up() {
        assert_eq!(next_delay(&SCHEDULE, 3, None), None);
        assert_eq!(next_delay(&[], 1, None), None);
    }

    #[test]
    fn honours_retry_after_up_to_twice_the_delay() {
        let long = next_delay(&SCHEDULE, 1, Some(Duration::from_secs(3600))).unwrap();
        assert_eq!(long, Duration::from_secs(20));
        let moderate = next_delay(&SCHEDULE, 1, Some(Duration::from_secs(15))).unwrap();
        assert_eq!(moderate, Duration::from_secs(15));
    }
}
