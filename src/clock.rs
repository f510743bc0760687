//! The station's clock, as the journal stamps its rows and people read
//! them: seconds since the epoch, the UTC day (the name of the day key),
//! and times for people. A leaf: every module may use it, it uses none.
//! (The district's clock, the envelopes' time, is `queue::Clock`.)

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the epoch on the system clock.
pub fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Today's UTC date as `YYYY-MM-DD`, the name of the day key.
pub fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`, for people.
pub fn format_time(t: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(t) {
        Ok(d) => format!("{} {:02}:{:02}:{:02} UTC", day_name(d.date()), d.hour(), d.minute(), d.second()),
        Err(_) => t.to_string(),
    }
}

pub fn day_name(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}
