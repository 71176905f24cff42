//! Durations, byte sizes and counts as an operator writes them: `"250ms"`, `"1MiB"`, `16`.

use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::parse_str::{ParseStr, deserialize_from_str};

/// A duration written like `"250ms"`, `"5s"`, `"2h"` or `"1h30m"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct HumanDuration(pub Duration);

impl ParseStr for HumanDuration {
    const EXPECTING: &'static str = r#"a duration such as "250ms", "5s", "2h" or "1h30m""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        humantime::parse_duration(text.trim())
            .map(HumanDuration)
            .map_err(|_| format!("{text:?} is not a duration; expected {}", Self::EXPECTING))
    }
}

/// A time limit: a duration of more than zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Timeout(pub Duration);

impl ParseStr for Timeout {
    const EXPECTING: &'static str = HumanDuration::EXPECTING;

    fn parse_str(text: &str) -> Result<Self, String> {
        match HumanDuration::parse_str(text)? {
            HumanDuration(d) if d.is_zero() => Err("a timeout must be more than 0".to_owned()),
            HumanDuration(d) => Ok(Timeout(d)),
        }
    }
}

/// How long something is kept or remembered: a duration of more than zero, often in days
/// (`"7d"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Period(pub Duration);

impl ParseStr for Period {
    const EXPECTING: &'static str = HumanDuration::EXPECTING;

    fn parse_str(text: &str) -> Result<Self, String> {
        match HumanDuration::parse_str(text)? {
            HumanDuration(d) if d.is_zero() => Err("the duration must be more than 0".to_owned()),
            HumanDuration(d) => Ok(Period(d)),
        }
    }
}

/// How far a signed timestamp may be from the clock: a duration of more than zero (a request
/// is never signed at the very instant it is checked).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Tolerance(pub Duration);

impl ParseStr for Tolerance {
    const EXPECTING: &'static str = HumanDuration::EXPECTING;

    fn parse_str(text: &str) -> Result<Self, String> {
        match HumanDuration::parse_str(text)? {
            HumanDuration(d) if d.is_zero() => Err(
                "a tolerance must be more than 0: with \"0s\" every request would be too old"
                    .to_owned(),
            ),
            HumanDuration(d) => Ok(Tolerance(d)),
        }
    }
}

/// A number of bytes, more than zero: `2048`, `"2048"`, `"512KiB"`, `"1MiB"`, `"10MB"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct ByteSize(pub u64);

const UNITS: &[(&str, u64)] = &[
    ("", 1),
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
];

impl ParseStr for ByteSize {
    const EXPECTING: &'static str =
        r#"a size such as "512KiB", "1MiB", "10MB" or a number of bytes"#;

    fn parse_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a size; expected {}", Self::EXPECTING);
        let trimmed = text.trim();
        let digits = trimmed.len()
            - trimmed
                .trim_start_matches(|c: char| c.is_ascii_digit())
                .len();
        let (number, unit) = trimmed.split_at(digits);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let unit = unit.trim_start().to_ascii_lowercase();
        let (_, scale) = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .ok_or_else(bad)?;
        let bytes = number
            .checked_mul(*scale)
            .ok_or_else(|| format!("{text:?} is too large"))?;
        ByteSize::new(bytes)
    }
}

/// A size written as in routes.toml (`"16MiB"`), for a command-line flag that mirrors a key.
pub fn parse_size(text: &str) -> Result<u64, String> {
    ByteSize::parse_str(text).map(|size| size.0)
}

impl ByteSize {
    fn new(bytes: u64) -> Result<Self, String> {
        if bytes == 0 {
            Err("a size must be more than 0 bytes".to_owned())
        } else {
            Ok(ByteSize(bytes))
        }
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(ByteSize::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<ByteSize, E> {
                ByteSize::parse_str(text).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, bytes: u64) -> Result<ByteSize, E> {
                ByteSize::new(bytes).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<ByteSize, E> {
                let bytes =
                    u64::try_from(bytes).map_err(|_| E::custom("a size cannot be negative"))?;
                self.visit_u64(bytes)
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// A whole number of at least 1: how many things may run at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Count(pub usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CountVisitor;
        impl Visitor<'_> for CountVisitor {
            type Value = Count;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a whole number of at least 1")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Count, E> {
                match usize::try_from(n) {
                    Ok(n) if n >= 1 => Ok(Count(n)),
                    Ok(_) => Err(E::custom("must be at least 1")),
                    Err(_) => Err(E::custom(format!("{n} is too large"))),
                }
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Count, E> {
                self.visit_u64(u64::try_from(n).map_err(|_| E::custom("must be at least 1"))?)
            }
        }
        deserializer.deserialize_any(CountVisitor)
    }
}

deserialize_from_str!(HumanDuration, Timeout, Period, Tolerance);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        let d = |s| HumanDuration::parse_str(s).map(|d| d.0);
        assert_eq!(d("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(d("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(d("2h"), Ok(Duration::from_hours(2)));
        assert_eq!(d("1h30m"), Ok(Duration::from_mins(90)));
        assert!(d("fast").unwrap_err().contains(r#""5s""#));
        assert!(d("5").is_err());
        assert!(
            Timeout::parse_str("0s")
                .unwrap_err()
                .contains("more than 0")
        );
    }

    #[test]
    fn periods_count_in_days_and_are_positive() {
        let p = |s| Period::parse_str(s).map(|p| p.0);
        assert_eq!(p("7d"), Ok(Duration::from_hours(7 * 24)));
        assert_eq!(p("30d"), Ok(Duration::from_hours(30 * 24)));
        assert_eq!(p("24h"), Ok(Duration::from_hours(24)));
        assert!(p("0d").unwrap_err().contains("more than 0"));
        assert!(p("a week").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn tolerances_are_positive() {
        let t = |s| Tolerance::parse_str(s).map(|t| t.0);
        assert_eq!(t("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(t("5m"), Ok(Duration::from_secs(300)));
        assert!(t("0s").unwrap_err().contains("more than 0"));
        assert!(t("300").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn parses_sizes() {
        let s = |s| ByteSize::parse_str(s).map(|s| s.0);
        assert_eq!(s("2048"), Ok(2048));
        assert_eq!(s("512KiB"), Ok(512 * 1024));
        assert_eq!(s("1MiB"), Ok(1 << 20));
        assert_eq!(s("10MB"), Ok(10_000_000));
        assert_eq!(s("64 MiB"), Ok(64 << 20));
        assert_eq!(s("1gib"), Ok(1 << 30));
        assert!(s("1.5MiB").is_err());
        assert!(s("MiB").is_err());
        assert!(s("10XB").is_err());
        assert!(s("0").unwrap_err().contains("more than 0"));
        assert!(s("99999999999999GiB").unwrap_err().contains("too large"));
    }
}
