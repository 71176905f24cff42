//! Durations, byte sizes and counts as an operator writes them: `"250ms"`, `"1MiB"`, `16`.
//!
//! Each has a ceiling far above any sensible setting ([`LONGEST`], [`LARGEST`], [`MOST`]), so
//! that what a file says, however hostile, can never overflow where wasmhook computes with it:
//! a deadline on a clock, milliseconds in the store, epoch ticks, ±20% jitter, semaphore
//! permits. A value above its ceiling is an error at its line and column like any other.

use std::time::Duration;

use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::parse_str::{ParseStr, deserialize_from_str};

/// The longest duration any key takes: a century. Twice it, in nanoseconds, still fits a
/// `u64`, and added to any clock reading it stays far from overflowing.
pub(super) const LONGEST: Duration = Duration::from_secs(36_500 * 24 * 3600);

/// The largest size any key takes: what a WebAssembly memory can address, and more than any
/// request body or plugin output should ever be held in memory.
pub(super) const LARGEST: u64 = 4 << 30;

/// The most things any key lets run at once: far below what a semaphore holds (2^61 permits)
/// or what adding to it could overflow.
pub(super) const MOST: usize = 65_536;

/// A duration written like `"250ms"`, `"5s"`, `"2h"` or `"1h30m"`, at most [`LONGEST`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct HumanDuration(pub Duration);

impl ParseStr for HumanDuration {
    const EXPECTING: &'static str = r#"a duration such as "250ms", "5s", "2h" or "1h30m""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        let too_long = || format!(r#"{text:?} is too long: at most "36500d" (100 years)"#);
        match humantime::parse_duration(text.trim()) {
            Ok(duration) if duration > LONGEST => Err(too_long()),
            Ok(duration) => Ok(HumanDuration(duration)),
            Err(humantime::DurationError::NumberOverflow) => Err(too_long()),
            Err(_) => Err(format!(
                "{text:?} is not a duration; expected {}",
                Self::EXPECTING
            )),
        }
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

/// A number of bytes, more than zero and at most [`LARGEST`]: `2048`, `"2048"`, `"512KiB"`,
/// `"1MiB"`, `"10MB"`.
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
        let too_large = || ByteSize::too_large(format!("{text:?}"));
        let bytes = number.checked_mul(*scale).ok_or_else(too_large)?;
        ByteSize::new(bytes, format!("{text:?}"))
    }
}

/// A size written as in routes.toml (`"16MiB"`), for a command-line flag that mirrors a key.
pub fn parse_size(text: &str) -> Result<u64, String> {
    ByteSize::parse_str(text).map(|size| size.0)
}

impl ByteSize {
    /// `written` is the value as the file has it, for the message.
    fn new(bytes: u64, written: String) -> Result<Self, String> {
        match bytes {
            0 => Err("a size must be more than 0 bytes".to_owned()),
            _ if bytes > LARGEST => Err(ByteSize::too_large(written)),
            _ => Ok(ByteSize(bytes)),
        }
    }

    fn too_large(written: String) -> String {
        format!(r#"{written} is too large: at most "4GiB""#)
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
                ByteSize::new(bytes, format!("{bytes} bytes")).map_err(E::custom)
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

/// A whole number of at least 1 and at most [`MOST`]: how many things may run at once.
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
                    Ok(0) => Err(E::custom("must be at least 1")),
                    Ok(n) if n <= MOST => Ok(Count(n)),
                    _ => Err(E::custom(format!("{n} is too large: at most {MOST}"))),
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
        assert_eq!(s("4GiB"), Ok(LARGEST));
        assert!(s("4294967297").unwrap_err().contains("too large"));
    }

    /// Numbers at every edge a hostile file may write, in every unit: a value is refused, or
    /// it is within its ceiling. Never a panic.
    #[test]
    fn no_number_in_any_unit_gets_past_a_ceiling() {
        let numbers = [
            0,
            1,
            u64::from(u32::MAX),
            1 << 53,
            1 << 61,
            (1 << 61) + 1,
            i64::MAX as u64,
            u64::MAX,
        ];
        let duration_units = ["ns", "us", "ms", "s", "m", "h", "d", "w", "M", "y"];
        let size_units = ["", "b", "kb", "MB", "GB", "KiB", "MiB", "GiB"];
        for n in numbers {
            for unit in duration_units {
                for text in [format!("{n}{unit}"), format!("{n}{unit} {n}{unit}")] {
                    if let Ok(d) = HumanDuration::parse_str(&text) {
                        assert!(d.0 <= LONGEST, "{text} gave {:?}", d.0);
                    }
                }
            }
            for unit in size_units {
                if let Ok(size) = ByteSize::parse_str(&format!("{n}{unit}")) {
                    assert!(size.0 <= LARGEST, "{n}{unit} gave {}", size.0);
                }
            }
            let number = serde::de::value::U64Deserializer::<serde::de::value::Error>::new(n);
            if let Ok(count) = Count::deserialize(number) {
                assert!((1..=MOST).contains(&count.0), "{n} gave {}", count.0);
            }
        }
    }

    /// What wasmhook computes from the largest values it accepts: none of it may overflow.
    #[test]
    fn the_ceilings_leave_room_for_what_is_computed_with_them() {
        // Retries: ±20% jitter, a `Retry-After` up to twice the delay, in Unix milliseconds.
        let longest_retry = LONGEST.mul_f64(1.2).checked_mul(2).unwrap();
        crate::clock::now_ms()
            .checked_add(i64::try_from(longest_retry.as_millis()).unwrap())
            .unwrap();
        // Deadlines on the clocks: shutdown, plugin calls, deliveries, tolerances.
        std::time::Instant::now()
            .checked_add(longest_retry)
            .unwrap();
        std::time::SystemTime::now().checked_sub(LONGEST).unwrap();
        // Epoch ticks of a plugin timeout, one per millisecond, added to the current epoch.
        let ticks = u64::try_from(LONGEST.as_micros() / 1000).unwrap();
        ticks.checked_mul(2).unwrap();
        // Permits: a subscriber's own, within all deliveries', with the lane's ready messages.
        assert!(MOST.checked_mul(4).unwrap() < tokio::sync::Semaphore::MAX_PERMITS);
        u32::try_from(MOST).unwrap();
        usize::try_from(LARGEST).unwrap();
    }
}
