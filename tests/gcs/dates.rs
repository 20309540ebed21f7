//! Dates as the XML API writes them (`LastModified`, `Last-Modified`) and
//! reads them (`X-Goog-Date`), without a date crate.

use std::time::{SystemTime, UNIX_EPOCH};

pub(crate) fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Days since 1970-01-01 → (year, month, day), Howard Hinnant's algorithm.
fn civil(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// (year, month, day) → days since 1970-01-01.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn parts_of(t: SystemTime) -> (i64, u32, u32, u64, u64, u64, i64) {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let (y, mo, d) = civil(days);
    let rem = secs % 86_400;
    (
        y,
        mo,
        d,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        (days + 4).rem_euclid(7),
    )
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    let (y, mo, d, h, mi, s, _) = parts_of(t);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.000Z")
}

pub(crate) fn http_date(t: SystemTime) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (y, mo, d, h, mi, s, wd) = parts_of(t);
    format!(
        "{}, {d:02} {} {y:04} {h:02}:{mi:02}:{s:02} GMT",
        DAYS[wd as usize],
        MONTHS[(mo - 1) as usize]
    )
}

/// `YYYYMMDDTHHMMSSZ` → seconds since the epoch.
pub(crate) fn parse_goog_date(s: &str) -> Option<u64> {
    if s.len() != 16 || &s[8..9] != "T" || !s.ends_with('Z') {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r).and_then(|v| v.parse::<u32>().ok());
    let days = days_from_civil(i64::from(n(0..4)?), n(4..6)?, n(6..8)?);
    let secs = days * 86_400 + i64::from(n(9..11)?) * 3600 + i64::from(n(11..13)?) * 60 + i64::from(n(13..15)?);
    u64::try_from(secs).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_format() {
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_796_404_435);
        assert_eq!(rfc3339(t), "2026-12-04T17:13:55.000Z");
        assert_eq!(http_date(t), "Fri, 04 Dec 2026 17:13:55 GMT");
        assert_eq!(parse_goog_date("20261204T171355Z"), Some(1_796_404_435));
        assert_eq!(parse_goog_date("2026-12-04"), None);
    }
}
