//! Wall-clock time as the store and the wire formats count it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix milliseconds now.
#[cfg(not(test))]
pub fn now_ms() -> i64 {
    system_now_ms()
}

/// Unix milliseconds now, as the tokio clock moves in unit tests: under
/// `tokio::time::pause()` a retry schedule of hours runs at once, and its times still read as
/// the schedule says.
#[cfg(test)]
pub fn now_ms() -> i64 {
    use std::sync::OnceLock;
    static START: OnceLock<(std::time::Instant, i64)> = OnceLock::new();
    let (start, start_ms) = *START.get_or_init(|| (std::time::Instant::now(), system_now_ms()));
    let elapsed = tokio::time::Instant::now()
        .into_std()
        .saturating_duration_since(start);
    start_ms + elapsed.as_millis() as i64
}

fn system_now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds, as the admin API and the envelopes
/// show times.
pub fn rfc3339(unix_ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(unix_ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}
