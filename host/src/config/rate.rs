//! `rate` of `[subscribers.NAME]`: how many attempts a subscriber gets, at most, per second,
//! minute or hour.

use std::time::Duration;

use super::parse_str::{ParseStr, deserialize_from_str};
use super::units::MOST;

/// `"50/s"`, `"600/m"`, `"1000/h"`: at most `count` attempts every `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

impl Rate {
    /// Attempts per millisecond.
    pub fn per_ms(self) -> f64 {
        f64::from(self.count) / self.per.as_secs_f64() / 1000.0
    }
}

const PERIODS: &[(&str, u64)] = &[("s", 1), ("sec", 1), ("m", 60), ("min", 60), ("h", 3600)];

impl ParseStr for Rate {
    const EXPECTING: &'static str = r#"a rate such as "50/s", "600/m" or "1000/h""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a rate; expected {}", Self::EXPECTING);
        let (count, period) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let (_, seconds) = PERIODS
            .iter()
            .find(|(name, _)| *name == period.trim())
            .ok_or_else(bad)?;
        if count == 0 || count as usize > MOST {
            return Err(format!(
                "{text:?}: the count must be more than 0 and at most {MOST}"
            ));
        }
        Ok(Rate {
            count,
            per: Duration::from_secs(*seconds),
        })
    }
}

deserialize_from_str!(Rate);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_count_per_second_minute_or_hour() {
        let rate = |text| Rate::parse_str(text);
        assert_eq!(rate("50/s").unwrap().per_ms(), 0.05);
        assert_eq!(rate("600/m").unwrap().per_ms(), 0.01);
        assert_eq!(rate(" 36 / h ").unwrap().per, Duration::from_secs(3600));
        assert!(rate("50").unwrap_err().contains("is not a rate"));
        assert!(rate("50/day").unwrap_err().contains("is not a rate"));
        assert!(rate("0/s").unwrap_err().contains("more than 0"));
    }
}
