//! Time as a dependency: services take a [`Clock`] so that token expiry,
//! revocation and `created_at` stamps can be tested with a fixed time.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use time::OffsetDateTime;

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Microseconds since the Unix epoch.
    fn now_micros(&self) -> i64;

    fn now(&self) -> OffsetDateTime {
        from_micros(self.now_micros())
    }
}

pub type SharedClock = Arc<dyn Clock>;

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one place the wall clock is read
    fn now_micros(&self) -> i64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_micros()).unwrap_or(i64::MAX),
            Err(_) => 0,
        }
    }
}

/// A clock tests move by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(micros: i64) -> Self {
        Self(AtomicI64::new(micros))
    }
    pub fn advance_secs(&self, secs: i64) {
        self.0.fetch_add(secs * 1_000_000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_micros(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

pub fn from_micros(micros: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// ISO 8601 with microseconds and `Z`, as Keystone prints `expires_at`.
pub fn iso_micros(micros: i64) -> String {
    let t = from_micros(micros);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// ISO 8601 with microseconds and no zone (UTC): how oslo's `jsonutils`
/// prints a datetime Keystone returns as is (`%Y-%m-%dT%H:%M:%S.%f`), as
/// an application credential's `expires_at`.
pub fn iso_micros_naive(micros: i64) -> String {
    let mut s = iso_micros(micros);
    s.pop();
    s
}

/// ISO 8601 to seconds, as most OpenStack `created_at` fields are printed.
pub fn iso_seconds(micros: i64) -> String {
    let t = from_micros(micros);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses the timestamps clients send (`2030-01-01T00:00:00Z`,
/// `2030-01-01T00:00:00.000000`, with or without zone) into micros.
pub fn parse_iso(s: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(to_micros(t));
    }
    // No zone: OpenStack treats it as UTC.
    let with_z = format!("{s}Z");
    if let Ok(t) = OffsetDateTime::parse(&with_z, &Rfc3339) {
        return Some(to_micros(t));
    }
    None
}

fn to_micros(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_round_trip() {
        let m = 1_700_000_000_123_456;
        assert_eq!(iso_micros(m), "2023-11-14T22:13:20.123456Z");
        assert_eq!(parse_iso(&iso_micros(m)), Some(m));
        assert_eq!(iso_micros_naive(m), "2023-11-14T22:13:20.123456");
        assert_eq!(parse_iso(&iso_micros_naive(m)), Some(m));
        assert_eq!(
            parse_iso("2023-11-14T22:13:20"),
            Some(1_700_000_000_000_000)
        );
        assert_eq!(parse_iso("not a date"), None);
    }
}
