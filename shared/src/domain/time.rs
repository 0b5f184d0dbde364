//! Timestamps as UTC epoch seconds: parsing the formats AWS events really carry, and formatting.
//! Pure: no I/O, no clock except in [`now`].

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since 1970-01-01T00:00:00Z.
pub type Epoch = i64;

/// Seconds in one day.
pub const DAY: i64 = 86_400;

/// The current time from the system clock.
pub fn now() -> Epoch {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

/// Epoch seconds of a calendar date and time of day, or `None` when a field is out of range.
pub fn epoch_from_parts(year: i64, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<Epoch> {
    if !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || h > 23
        || m > 59
        || s > 60
    {
        return None;
    }
    Some(
        days_from_civil(year, month, day) * DAY
            + i64::from(h) * 3600
            + i64::from(m) * 60
            + i64::from(s),
    )
}

/// `2026-12-01T10:00:00Z`.
pub fn format_rfc3339(t: Epoch) -> String {
    let (y, mo, d) = civil_from_days(t.div_euclid(DAY));
    let secs = t.rem_euclid(DAY);
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// `2026-12-01`.
pub fn format_date(t: Epoch) -> String {
    let (y, mo, d) = civil_from_days(t.div_euclid(DAY));
    format!("{y:04}-{mo:02}-{d:02}")
}

fn num(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// RFC 3339 / ISO 8601 as EventBridge envelopes and TOML carry it: `2021-12-03T18:03:16Z`,
/// fractional seconds, a numeric offset, a space instead of `T`, or a bare date (midnight UTC).
pub fn parse_rfc3339(s: &str) -> Option<Epoch> {
    let s = s.trim();
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mut parts = date.splitn(3, '-');
    let year: i64 = parts
        .next()
        .filter(|p| p.len() == 4)
        .and_then(num)
        .map(i64::from)?;
    let month = parts.next().and_then(num)?;
    let day = parts.next().and_then(num)?;
    let Some(rest) = rest else {
        return epoch_from_parts(year, month, day, 0, 0, 0);
    };
    let (clock, offset) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let clock = clock.split('.').next().unwrap_or(clock);
    let mut hms = clock.splitn(3, ':');
    let h = hms.next().and_then(num)?;
    let m = hms.next().and_then(num)?;
    let sec = match hms.next() {
        Some(v) => num(v)?,
        None => 0,
    };
    let base = epoch_from_parts(year, month, day, h, m, sec)?;
    let shift = match offset {
        "" | "Z" | "z" => 0,
        o => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let body = &o[1..];
            let (oh, om) = body
                .split_once(':')
                .unwrap_or((body.get(..2)?, body.get(2..).unwrap_or("0")));
            sign * (i64::from(num(oh)?) * 3600 + i64::from(num(om).unwrap_or(0)) * 60)
        }
    };
    Some(base - shift)
}

fn month_from_name(name: &str) -> Option<u32> {
    const NAMES: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.get(..3)?.to_ascii_lowercase();
    NAMES.iter().position(|n| *n == lower).map(|i| i as u32 + 1)
}

fn clock(s: &str) -> Option<(u32, u32, u32)> {
    let s = s.split('.').next()?;
    let mut it = s.splitn(3, ':');
    let h = num(it.next()?)?;
    let m = num(it.next()?)?;
    let sec = it.next().map_or(Some(0), num)?;
    Some((h, m, sec))
}

/// Timestamps inside Inspector finding details, which are not ISO 8601: `Dec 3, 2021, 6:02:30 PM`
/// and `Wed Sep 04 16:55:38.411 UTC 2024`; also accepts RFC 3339 and epoch seconds (the API's form).
pub fn parse_inspector_time(s: &str) -> Option<Epoch> {
    let s = s.trim();
    if let Some(t) = parse_rfc3339(s) {
        return Some(t);
    }
    if let Ok(n) = s.parse::<f64>() {
        return n.is_finite().then_some(n as i64);
    }
    let words: Vec<&str> = s.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    match words.as_slice() {
        // Dec 3, 2021, 6:02:30 PM
        [mon, day, year, time, ampm] => {
            let (mut h, m, sec) = clock(time)?;
            let pm = ampm.eq_ignore_ascii_case("PM");
            if !pm && !ampm.eq_ignore_ascii_case("AM") || h == 0 || h > 12 {
                return None;
            }
            h = h % 12 + if pm { 12 } else { 0 };
            epoch_from_parts(
                i64::from(num(year)?),
                month_from_name(mon)?,
                num(day)?,
                h,
                m,
                sec,
            )
        }
        // Wed Sep 04 16:55:38.411 UTC 2024
        [_, mon, day, time, zone, year]
            if zone.eq_ignore_ascii_case("UTC") || zone.eq_ignore_ascii_case("GMT") =>
        {
            let (h, m, sec) = clock(time)?;
            epoch_from_parts(
                i64::from(num(year)?),
                month_from_name(mon)?,
                num(day)?,
                h,
                m,
                sec,
            )
        }
        _ => None,
    }
}

/// The longest duration anything accepts: ten years of 365 days. Added to any date a policy or an
/// event carries (at most year 9999) it stays far inside `i64`, and no grace period, notice or wait
/// is meaningfully longer.
pub const MAX_DURATION: i64 = 3650 * DAY;

/// Why a duration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// Not a number followed by s, m, h, d or w.
    #[error("expected a number with s, m, h, d or w (\"30d\")")]
    Malformed,
    /// Longer than [`MAX_DURATION`] (or too long to count in seconds at all).
    #[error("longer than the 10-year limit (3650d)")]
    TooLong,
}

/// A duration such as `30s`, `15m`, `2h`, `7d`, `2w` or a bare number of seconds, at most
/// [`MAX_DURATION`]. Checked arithmetic throughout: nothing overflows silently.
pub fn duration(s: &str) -> Result<i64, DurationError> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => DAY,
        "w" => 7 * DAY,
        _ => return Err(DurationError::Malformed),
    };
    if digits.is_empty() {
        return Err(DurationError::Malformed);
    }
    // Only digits remain, so a parse error here is an overflow of u64.
    let n: i64 = digits.parse().map_err(|_| DurationError::TooLong)?;
    n.checked_mul(mult)
        .filter(|v| *v <= MAX_DURATION)
        .ok_or(DurationError::TooLong)
}

/// [`duration`], without the reason.
pub fn parse_duration(s: &str) -> Option<i64> {
    duration(s).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trips_across_leap_years_and_eras() {
        for days in [
            -800_000, -1, 0, 1, 11_016, 20_000, 20_513, 60_000, 2_000_000,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn parses_envelope_times_with_and_without_fraction_and_offset() {
        assert_eq!(parse_rfc3339("2021-12-03T18:03:16Z"), Some(1_638_554_596));
        assert_eq!(
            parse_rfc3339("2021-12-03T18:03:16.123Z"),
            Some(1_638_554_596)
        );
        assert_eq!(
            parse_rfc3339("2021-12-03T19:03:16+01:00"),
            Some(1_638_554_596)
        );
        assert_eq!(
            parse_rfc3339("2021-12-03T17:03:16-0100"),
            Some(1_638_554_596)
        );
        assert_eq!(
            parse_rfc3339("2026-12-01"),
            Some(days_from_civil(2026, 12, 1) * DAY)
        );
        assert_eq!(parse_rfc3339("2026-02-30"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-1-1x"), None);
    }

    #[test]
    fn parses_both_inspector_detail_formats() {
        assert_eq!(
            parse_inspector_time("Dec 3, 2021, 6:02:30 PM"),
            Some(1_638_554_550)
        );
        assert_eq!(
            parse_inspector_time("Dec 3, 2021, 12:02:30 AM"),
            Some(1_638_489_750)
        );
        assert_eq!(
            parse_inspector_time("Wed Sep 04 16:55:38.411 UTC 2024"),
            Some(1_725_468_938)
        );
        assert_eq!(parse_inspector_time("1725468938"), Some(1_725_468_938));
        assert_eq!(parse_inspector_time("1725468938.5"), Some(1_725_468_938));
        assert_eq!(parse_inspector_time("Dec 3, 2021, 13:02:30 PM"), None);
        assert_eq!(parse_inspector_time("sometime"), None);
    }

    #[test]
    fn formats_and_parses_durations() {
        assert_eq!(format_rfc3339(1_638_554_596), "2021-12-03T18:03:16Z");
        assert_eq!(format_date(1_638_554_596), "2021-12-03");
        assert_eq!(parse_duration("90s"), Some(90));
        assert_eq!(parse_duration("15m"), Some(900));
        assert_eq!(parse_duration("2h"), Some(7200));
        assert_eq!(parse_duration("3d"), Some(3 * DAY));
        assert_eq!(parse_duration("10"), Some(10));
        assert_eq!(parse_duration("10y"), None);
        assert_eq!(parse_duration(""), None);
        assert_eq!(parse_duration("2w"), Some(14 * DAY));
    }

    #[test]
    fn durations_never_overflow_and_stop_at_ten_years() {
        assert_eq!(duration("3650d"), Ok(MAX_DURATION));
        assert_eq!(duration("3651d"), Err(DurationError::TooLong));
        assert_eq!(
            duration(&format!("{}s", MAX_DURATION + 1)),
            Err(DurationError::TooLong)
        );
        assert_eq!(
            duration(&format!("{}s", i64::MAX)),
            Err(DurationError::TooLong)
        );
        assert_eq!(
            duration(&format!("{}w", i64::MAX / 2)),
            Err(DurationError::TooLong)
        );
        assert_eq!(
            duration("99999999999999999999999999d"),
            Err(DurationError::TooLong)
        );
        assert_eq!(duration("-5d"), Err(DurationError::Malformed));
        assert_eq!(duration("+5d"), Err(DurationError::Malformed));
        assert_eq!(duration("d"), Err(DurationError::Malformed));
        assert_eq!(duration("5 d"), Err(DurationError::Malformed));
    }
}
