//! Points in time, written as RFC 3339 (`"2022-01-01T00:00:00Z"`), for `[server] clock`.
//!
//! Parsed here rather than with a date crate: the format is small, and the host needs no
//! calendar anywhere else.

use std::time::{Duration, SystemTime};

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::parse_str::ParseStr;

/// A point in time with a UTC offset, as a string (`"2022-01-01T00:00:00Z"`,
/// `"2022-01-01T01:00:00+01:00"`, fractions of a second allowed) or a bare TOML offset
/// date-time (`clock = 2022-01-01T00:00:00Z`), not before 1970.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Timestamp(pub SystemTime);

impl ParseStr for Timestamp {
    const EXPECTING: &'static str = r#"an RFC 3339 time such as "2022-01-01T00:00:00Z""#;

    fn parse_str(text: &str) -> Result<Self, String> {
        let bad = |why: &str| format!("{text:?} is not an RFC 3339 time: {why}");
        let parts = Parts::split(text).ok_or_else(|| {
            format!(
                "{text:?} is not an RFC 3339 time; expected {}",
                Self::EXPECTING
            )
        })?;
        if !(1..=12).contains(&parts.month) || parts.day == 0 {
            return Err(bad("there is no such date"));
        }
        if parts.day > days_in_month(parts.year, parts.month) {
            return Err(bad("there is no such date"));
        }
        if parts.hour > 23 || parts.minute > 59 || parts.second > 59 {
            return Err(bad("there is no such time of day"));
        }
        let Some(offset) = parts.offset_seconds else {
            return Err(bad(
                r#"it has no UTC offset; end it with "Z" or an offset such as "+02:00""#,
            ));
        };
        let seconds = days_since_epoch(parts.year, parts.month, parts.day) * 86_400
            + i64::from(parts.hour) * 3600
            + i64::from(parts.minute) * 60
            + i64::from(parts.second)
            - offset;
        let seconds =
            u64::try_from(seconds).map_err(|_| bad("it is before 1970-01-01T00:00:00Z"))?;
        Ok(Timestamp(
            SystemTime::UNIX_EPOCH + Duration::new(seconds, parts.nanos),
        ))
    }
}

/// The fields of `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, before their ranges are checked.
struct Parts {
    year: i64,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
    nanos: u32,
    /// `None` when the text has no offset (a local time, which is ambiguous).
    offset_seconds: Option<i64>,
}

impl Parts {
    fn split(text: &str) -> Option<Parts> {
        let b = text.as_bytes();
        let digits = |range: std::ops::Range<usize>| -> Option<u32> {
            let part = b.get(range)?;
            part.iter()
                .all(u8::is_ascii_digit)
                .then(|| part.iter().fold(0, |n, d| n * 10 + u32::from(d - b'0')))
        };
        let at = |i: usize, c: &[u8]| b.get(i).is_some_and(|x| c.contains(x));
        if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
            return None;
        }
        let mut parts = Parts {
            year: i64::from(digits(0..4)?),
            month: digits(5..7)?,
            day: digits(8..10)?,
            hour: digits(11..13)?,
            minute: digits(14..16)?,
            second: digits(17..19)?,
            nanos: 0,
            offset_seconds: None,
        };
        let mut rest = &text[19..];
        if let Some(fraction) = rest.strip_prefix('.') {
            let len = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if len == 0 {
                return None;
            }
            // Nanoseconds: the first nine digits, padded; finer ones cannot be kept.
            let nine: String = fraction[..len]
                .chars()
                .chain("000000000".chars())
                .take(9)
                .collect();
            parts.nanos = nine.parse().ok()?;
            rest = &fraction[len..];
        }
        parts.offset_seconds = match rest.as_bytes() {
            [] => None,
            [b'Z' | b'z'] => Some(0),
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let number = |tens: u8, ones: u8| {
                    (tens.is_ascii_digit() && ones.is_ascii_digit())
                        .then(|| i64::from(tens - b'0') * 10 + i64::from(ones - b'0'))
                };
                let hours = number(*h1, *h2).filter(|h| *h <= 23)?;
                let minutes = number(*m1, *m2).filter(|m| *m <= 59)?;
                let seconds = hours * 3600 + minutes * 60;
                Some(if *sign == b'-' { -seconds } else { seconds })
            }
            _ => return None,
        };
        Some(parts)
    }
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the date, in the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_since_epoch(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimestampVisitor;
        impl<'de> Visitor<'de> for TimestampVisitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(Timestamp::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Timestamp, E> {
                Timestamp::parse_str(text).map_err(E::custom)
            }
            /// A bare TOML date-time reaches serde as a one-entry map holding its text.
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Timestamp, A::Error> {
                let Some(IgnoredAny) = map.next_key()? else {
                    return Err(de::Error::invalid_type(de::Unexpected::Map, &self));
                };
                let text: String = map.next_value()?;
                self.visit_str(&text)
            }
        }
        deserializer.deserialize_any(TimestampVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(text: &str) -> Result<(u64, u32), String> {
        Timestamp::parse_str(text).map(|t| {
            let since = t.0.duration_since(SystemTime::UNIX_EPOCH).unwrap();
            (since.as_secs(), since.subsec_nanos())
        })
    }

    #[test]
    fn parses_utc_and_offsets() {
        assert_eq!(unix("1970-01-01T00:00:00Z"), Ok((0, 0)));
        assert_eq!(unix("2022-01-01T00:00:00Z"), Ok((1_640_995_200, 0)));
        assert_eq!(unix("2022-01-01t01:00:00+01:00"), Ok((1_640_995_200, 0)));
        assert_eq!(unix("2021-12-31 23:30:00-00:30"), Ok((1_640_995_200, 0)));
        assert_eq!(unix("2018-08-02T10:10:20Z"), Ok((1_533_204_620, 0)));
        assert_eq!(
            unix("2000-02-29T12:00:00.25Z"),
            Ok((951_825_600, 250_000_000))
        );
        assert_eq!(
            unix("2000-01-01T00:00:00.1234567891Z").unwrap().1,
            123_456_789
        );
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for bad in [
            "",
            "2022-01-01",
            "2022-01-01T00:00Z",
            "2022-1-01T00:00:00Z",
            "2022-01-01T00:00:00.Z",
            "2022-01-01T00:00:00+0100",
            "2022-01-01T00:00:00+1:00",
            "2022-01-01T00:00:00Z trailing",
            "1640995200",
        ] {
            assert!(
                Timestamp::parse_str(bad)
                    .unwrap_err()
                    .contains("expected an RFC 3339 time"),
                "{bad}"
            );
        }
        let why = |text| Timestamp::parse_str(text).unwrap_err();
        assert!(why("2022-01-01T00:00:00").contains("no UTC offset"));
        assert!(why("2023-02-29T00:00:00Z").contains("no such date"));
        assert!(why("2022-13-01T00:00:00Z").contains("no such date"));
        assert!(why("2022-01-01T24:00:00Z").contains("no such time"));
        assert!(why("2022-01-01T23:59:60Z").contains("no such time"));
        assert!(why("1969-12-31T23:59:59Z").contains("before 1970"));
    }
}
