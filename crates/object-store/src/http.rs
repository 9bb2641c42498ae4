//! HTTP details as Swift's swob spells them: timestamps, dates, ETags,
//! `Range` and `If-*` headers, reading header values.

use axum::http::HeaderMap;
use std::time::{Duration, UNIX_EPOCH};

/// Swift's `X-Timestamp` "normal" form: seconds with five decimals,
/// zero-padded to 16 characters (`1700000000.12345`).
pub fn timestamp_normal(micros: i64) -> String {
    let micros = micros.max(0);
    format!(
        "{:010}.{:05}",
        micros / 1_000_000,
        (micros % 1_000_000) / 10
    )
}

/// The whole seconds of `Last-Modified`: Swift rounds the timestamp up.
pub fn last_modified_secs(micros: i64) -> i64 {
    (micros.max(0) + 999_999) / 1_000_000
}

/// An HTTP date (`Tue, 15 Nov 1994 08:12:31 GMT`).
pub fn http_date(secs: i64) -> String {
    let secs = u64::try_from(secs).unwrap_or(0);
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Parses any of the three HTTP date formats into seconds; `None` when
/// invalid (Swift then ignores the header).
pub fn parse_http_date(s: &str) -> Option<i64> {
    let t = httpdate::parse_http_date(s.trim()).ok()?;
    let d = t.duration_since(UNIX_EPOCH).ok()?;
    i64::try_from(d.as_secs()).ok()
}

/// `last_modified` of listings: ISO 8601 with microseconds and no zone
/// (`2024-01-31T12:00:00.123450`), from the five-decimal timestamp.
pub fn iso_listing(micros: i64) -> String {
    let micros = (micros.max(0) / 10) * 10;
    let t = common::clock::from_micros(micros);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// An ETag without its quotes.
pub fn normalize_etag(tag: &str) -> &str {
    let t = tag.trim();
    if t.len() >= 2 && t.starts_with('"') && t.ends_with('"') {
        &t[1..t.len() - 1]
    } else {
        t
    }
}

/// A header's value as UTF-8 (Swift carries UTF-8 in header values);
/// `None` when absent or not UTF-8.
pub fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| std::str::from_utf8(v.as_bytes()).ok())
}

/// Whether Swift's `config_true_value` reads `v` as true.
pub fn true_value(v: &str) -> bool {
    matches!(
        v.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes" | "on" | "t" | "y"
    )
}

/// `If-Match` / `If-None-Match`: a set of normalised tags, `*` for any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match(Vec<String>);

impl Match {
    pub fn parse(v: &str) -> Match {
        Match(
            v.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| normalize_etag(t).to_string())
                .collect(),
        )
    }

    pub fn is_star(&self) -> bool {
        self.0.iter().any(|t| t == "*")
    }

    pub fn contains(&self, etag: &str) -> bool {
        let e = normalize_etag(etag);
        self.0.iter().any(|t| t == "*" || t == e)
    }
}

/// One byte range as written: `(first, last)`, either side optional.
pub type RangeSpec = (Option<u64>, Option<u64>);

/// Parses a `Range` header as swob does; `None` means syntactically
/// invalid, which the RFC says to ignore (a plain 200).
pub fn parse_range(v: &str) -> Option<Vec<RangeSpec>> {
    let v: String = v.chars().filter(|c| *c != ' ').collect();
    let lower = v.to_ascii_lowercase();
    let specs = lower.strip_prefix("bytes=")?;
    let mut out = Vec::new();
    for spec in specs.split(',') {
        let (start, end) = spec.split_once('-')?;
        let start = if start.is_empty() {
            None
        } else {
            Some(start.parse::<u64>().ok()?)
        };
        let end = if end.is_empty() {
            // `bytes=-` names no byte at all.
            start?;
            None
        } else {
            if !end.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let e = end.parse::<u64>().ok()?;
            if start.is_some_and(|s| e < s) {
                return None;
            }
            Some(e)
        };
        out.push((start, end));
    }
    if out.is_empty() {
        return None;
    }
    Some(out)
}

/// swob's `ranges_for_length`: the satisfiable half-open ranges of a body
/// of `length` bytes. Empty means 416. Refuses (empty) more than 50
/// ranges, more than 2 overlapping or 8 out of order, as RFC 7233 §6.1
/// advises and Swift does.
pub fn ranges_for_length(specs: &[RangeSpec], length: u64) -> Vec<(u64, u64)> {
    let mut all = Vec::new();
    for &(begin, end) in specs {
        match (begin, end) {
            (None, Some(0)) => {}
            (None, Some(n)) => all.push((length.saturating_sub(n), length)),
            (Some(b), None) if b < length => all.push((b, length)),
            (Some(b), Some(e)) if b < length => all.push((b, (e + 1).min(length))),
            _ => {}
        }
    }
    if all.len() > 50 {
        return Vec::new();
    }
    let mut overlaps = 0;
    for (i, &(s1, e1)) in all.iter().enumerate() {
        for &(s2, e2) in &all[i + 1..] {
            if (s1 < s2 && s2 < e1)
                || (s1 < e2 && e2 < e1)
                || (s2 < s1 && s1 < e2)
                || (s2 < e1 && e1 < e2)
            {
                overlaps += 1;
                if overlaps > 2 {
                    return Vec::new();
                }
            }
        }
    }
    let ascending = all.windows(2).all(|w| w[0] <= w[1]);
    if !ascending && all.len() >= 8 {
        return Vec::new();
    }
    all
}

/// `bytes a-b/total` for the half-open range `[start, end)`.
pub fn content_range(start: u64, end: u64, total: u64) -> String {
    format!("bytes {}-{}/{}", start, end.saturating_sub(1), total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_and_dates() {
        assert_eq!(timestamp_normal(1_700_000_000_123_456), "1700000000.12345");
        assert_eq!(timestamp_normal(5), "0000000000.00000");
        assert_eq!(last_modified_secs(1_700_000_000_000_001), 1_700_000_001);
        assert_eq!(last_modified_secs(1_700_000_000_000_000), 1_700_000_000);
        assert_eq!(http_date(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(
            parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"),
            Some(784_111_777)
        );
        assert_eq!(
            parse_http_date("Sun Nov  6 08:49:37 1994"),
            Some(784_111_777)
        );
        assert_eq!(parse_http_date("yesterday"), None);
        assert_eq!(
            iso_listing(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123450"
        );
    }

    #[test]
    fn ranges_as_swob() {
        assert_eq!(parse_range("bytes=0-4"), Some(vec![(Some(0), Some(4))]));
        assert_eq!(
            parse_range("bytes=1-2, -3,5-"),
            Some(vec![(Some(1), Some(2)), (None, Some(3)), (Some(5), None)])
        );
        for bad in [
            "bytes=5-3",
            "bytes=-",
            "bytes=45",
            "bytes=a-b",
            "items=0-1",
            "",
        ] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
        let r = |s: &str, n| ranges_for_length(&parse_range(s).unwrap(), n);
        assert_eq!(r("bytes=0-4", 10), vec![(0, 5)]);
        assert_eq!(r("bytes=-3", 10), vec![(7, 10)]);
        assert_eq!(r("bytes=-30", 10), vec![(0, 10)]);
        assert_eq!(r("bytes=8-20", 10), vec![(8, 10)]);
        assert_eq!(r("bytes=10-", 10), Vec::<(u64, u64)>::new());
        assert_eq!(r("bytes=-0", 10), Vec::<(u64, u64)>::new());
        assert_eq!(r("bytes=0-0,2-3", 10), vec![(0, 1), (2, 4)]);
        assert_eq!(
            r("bytes=0-5,1-6,2-7,3-8", 10),
            Vec::<(u64, u64)>::new(),
            "too many overlaps"
        );
        assert_eq!(content_range(0, 5, 10), "bytes 0-4/10");
    }

    #[test]
    fn etags_and_matches() {
        assert_eq!(normalize_etag("\"abc\""), "abc");
        assert_eq!(normalize_etag("abc"), "abc");
        let m = Match::parse("\"a\", b");
        assert!(m.contains("a") && m.contains("\"b\"") && !m.contains("c"));
        assert!(Match::parse("*").is_star());
        assert!(true_value("True") && true_value("on") && !true_value("no"));
    }
}
