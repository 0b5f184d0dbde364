//! Timestamps as UTC epoch seconds: parsing the formats AWS events really carry, and formatting.
//! The calendar and RFC 3339 are the `time` crate's; Inspector's text formats, the lenient forms
//! people type and the policy duration syntax are ours, on top of it.
//! Pure: no I/O, no clock except in [`now`].

use std::time::{SystemTime, UNIX_EPOCH};

use ::time::format_description::well_known::Rfc3339;
use ::time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

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

/// Midnight UTC of a calendar date, or `None` when there is no such date (or it lies outside
/// years -9999..=9999, the calendar's range).
pub fn date_epoch(year: i32, month: u8, day: u8) -> Option<Epoch> {
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    Some(date.midnight().assume_utc().unix_timestamp())
}

/// The calendar date of wider fields, as the parsers below read them.
fn calendar_date(year: i64, month: u32, day: u32) -> Option<Date> {
    let month = Month::try_from(u8::try_from(month).ok()?).ok()?;
    Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?).ok()
}

/// Epoch seconds of a date, a time of day and an offset, or `None` when a field is out of range.
/// A leap second (`:60`) counts as the first second of the next minute, as POSIX time counts it.
fn instant(date: Date, h: u32, m: u32, s: u32, offset: UtcOffset) -> Option<Epoch> {
    let leap = s == 60;
    let s = if leap { 59 } else { u8::try_from(s).ok()? };
    let time = Time::from_hms(u8::try_from(h).ok()?, u8::try_from(m).ok()?, s).ok()?;
    let t = PrimitiveDateTime::new(date, time).assume_offset(offset);
    Some(t.unix_timestamp() + i64::from(leap))
}

/// Epoch seconds of a UTC calendar date and time of day, or `None` when a field is out of range.
fn utc_epoch(year: i64, month: u32, day: u32, h: u32, m: u32, s: u32) -> Option<Epoch> {
    instant(calendar_date(year, month, day)?, h, m, s, UtcOffset::UTC)
}

/// `2026-12-01T10:00:00Z`. An instant outside years 0000..=9999, which RFC 3339 cannot write, is
/// written as the first or last second of that range.
pub fn format_rfc3339(t: Epoch) -> String {
    const FIRST: Epoch = -62_167_219_200; // 0000-01-01T00:00:00Z
    const LAST: Epoch = 253_402_300_799; // 9999-12-31T23:59:59Z
    OffsetDateTime::from_unix_timestamp(t.clamp(FIRST, LAST))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// `2026-12-01`: the date of [`format_rfc3339`].
pub fn format_date(t: Epoch) -> String {
    let mut text = format_rfc3339(t);
    text.truncate(10);
    text
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
    strict_rfc3339(s).or_else(|| lenient_rfc3339(s))
}

/// Strict RFC 3339, the form of every AWS timestamp, by the crate's parser. It takes any byte
/// between date and time; RFC 3339 names `T` and a space (and this module always took `t`). It
/// reads a leap second as 23:59:59.999999999; [`instant`] counts it as the next minute's first.
fn strict_rfc3339(s: &str) -> Option<Epoch> {
    if !matches!(s.as_bytes().get(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    Some(t.unix_timestamp() + i64::from(s.get(17..19) == Some("60")))
}

/// What people write in a policy file or on the command line beyond strict RFC 3339: a bare date
/// (midnight UTC), no seconds, no offset (UTC), an offset without its colon (`+0100`, `+01`),
/// one-digit fields, a fraction of a second (ignored). The ranges are the crate's.
fn lenient_rfc3339(s: &str) -> Option<Epoch> {
    let (date, rest) = match s.split_once(['T', 't', ' ']) {
        Some((date, rest)) => (date, Some(rest)),
        None => (s, None),
    };
    let mut parts = date.splitn(3, '-');
    let year = parts.next().filter(|p| p.len() == 4).and_then(num)?;
    let month = parts.next().and_then(num)?;
    let day = parts.next().and_then(num)?;
    let date = calendar_date(i64::from(year), month, day)?;
    let Some(rest) = rest else {
        return Some(date.midnight().assume_utc().unix_timestamp());
    };
    let (time, offset) = rest.split_at(rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len()));
    let (h, m, sec) = clock(time)?;
    instant(date, h, m, sec, numeric_offset(offset)?)
}

/// `Z`, `+01:00`, `-0100`, `+01` or nothing (UTC); minutes that are not a number count as zero,
/// as they always did here.
fn numeric_offset(o: &str) -> Option<UtcOffset> {
    if matches!(o, "" | "Z" | "z") {
        return Some(UtcOffset::UTC);
    }
    let sign = if o.starts_with('-') { -1 } else { 1 };
    let body = o.get(1..)?;
    let (oh, om) = body
        .split_once(':')
        .unwrap_or((body.get(..2)?, body.get(2..).unwrap_or("0")));
    let oh = i8::try_from(num(oh)?).ok()?;
    let om = num(om).map_or(Some(0), |m| i8::try_from(m).ok())?;
    UtcOffset::from_hms(sign * oh, sign * om, 0).ok()
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
            utc_epoch(
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
            utc_epoch(
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
    /// Not a duration `humantime` reads, nor a bare number of seconds.
    #[error("expected a duration such as 90s, 15m, 2h or 7d")]
    Malformed,
    /// Longer than [`MAX_DURATION`] (or too long to count in seconds at all).
    #[error("longer than the 10-year limit (3650d)")]
    TooLong,
}

/// A duration in whole seconds, at most [`MAX_DURATION`]: what `humantime` reads (`30s`, `15m`,
/// `2h`, `7d`, `2w`, `1h 30m`, `3days`; a fraction of a second is dropped), or a bare number of
/// seconds. A sign, a number too large for the crate and anything over the limit are refused.
pub fn duration(s: &str) -> Result<i64, DurationError> {
    let s = s.trim();
    let seconds = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        // Only digits, so a parse error here is an overflow of u64.
        s.parse::<u64>().map_err(|_| DurationError::TooLong)?
    } else {
        match humantime::parse_duration(s) {
            Ok(d) => d.as_secs(),
            Err(humantime::DurationError::NumberOverflow) => return Err(DurationError::TooLong),
            Err(_) => return Err(DurationError::Malformed),
        }
    };
    i64::try_from(seconds)
        .ok()
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
    fn dates_are_counted_on_the_proleptic_gregorian_calendar() {
        assert_eq!(date_epoch(1970, 1, 1), Some(0));
        assert_eq!(date_epoch(2024, 2, 29), Some(19_782 * DAY));
        assert_eq!(date_epoch(1969, 12, 31), Some(-DAY));
        assert_eq!(date_epoch(2000, 2, 29), Some(11_016 * DAY));
        assert_eq!(date_epoch(1900, 2, 29), None);
        assert_eq!(date_epoch(2023, 2, 29), None);
        assert_eq!(date_epoch(2026, 13, 1), None);
        assert_eq!(date_epoch(2026, 4, 31), None);
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
        assert_eq!(parse_rfc3339("2026-12-01"), date_epoch(2026, 12, 1));
        assert_eq!(parse_rfc3339("2026-02-30"), None);
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2026-1-1x"), None);
    }

    #[test]
    fn keeps_the_lenient_forms_people_type_on_top_of_strict_rfc3339() {
        let t = Some(1_638_554_596); // 2021-12-03T18:03:16Z
        assert_eq!(parse_rfc3339("  2021-12-03t18:03:16z \n"), t);
        assert_eq!(parse_rfc3339("2021-12-03 18:03:16"), t);
        assert_eq!(parse_rfc3339("2021-12-3T18:3:16Z"), t);
        assert_eq!(parse_rfc3339("2021-12-03T19:03:16+01"), t);
        assert_eq!(parse_rfc3339("2021-12-03T18:33:16+0030"), t);
        assert_eq!(parse_rfc3339("2021-12-03T18:03:16.Z"), t);
        assert_eq!(parse_rfc3339("2021-12-03T18:03Z"), Some(1_638_554_580));
    }

    #[test]
    fn counts_a_leap_second_as_the_first_second_of_the_next_minute() {
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60Z"),
            date_epoch(2017, 1, 1)
        );
        assert_eq!(
            parse_rfc3339("2016-12-31T23:59:60.5Z"),
            date_epoch(2017, 1, 1)
        );
        assert_eq!(parse_rfc3339("2021-12-03T18:02:60Z"), Some(1_638_554_580));
        assert_eq!(parse_rfc3339("2021-12-03T18:02:61Z"), None);
    }

    #[test]
    fn refuses_what_is_not_a_time() {
        for text in [
            "2021-12-03X18:03:16Z",
            "2021-12-03_18:03:16Z",
            "2021-12-03T24:00:00Z",
            "2021-12-03T18:60:00Z",
            "2021-12-03T18:03:16+26:00",
            "2021-12-03T18:03:16+",
            "2021-12-03T",
            "-2021-12-03",
            "021-12-03",
            "2021-00-03",
            "2021-12-00",
            "2021-12-32T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339(text), None, "{text}");
        }
    }

    #[test]
    fn formats_instants_outside_years_0000_to_9999_at_the_edge_of_that_range() {
        assert_eq!(format_rfc3339(i64::MAX), "9999-12-31T23:59:59Z");
        assert_eq!(format_rfc3339(i64::MIN), "0000-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
        assert_eq!(format_date(-1), "1969-12-31");
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
        assert_eq!(duration(""), Err(DurationError::Malformed));
        assert_eq!(duration("5 parsecs"), Err(DurationError::Malformed));
        assert_eq!(duration("1h 30m"), Ok(5400));
        assert_eq!(duration("1500ms"), Ok(1));
    }

    mod properties {
        //! Round trips of the formatter and agreement of the parser with the `time` crate.

        use super::super::*;
        use proptest::prelude::*;

        /// 9999-12-31T23:59:59Z, the last second RFC 3339 can write.
        const LAST: Epoch = 253_402_300_799;

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 512,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn formatting_then_parsing_gives_back_any_instant_from_1970_to_9999(t in 0..=LAST) {
                prop_assert_eq!(parse_rfc3339(&format_rfc3339(t)), Some(t));
                prop_assert_eq!(parse_rfc3339(&format_date(t)), Some(t - t.rem_euclid(DAY)));
            }

            #[test]
            fn parsing_valid_rfc3339_agrees_with_the_crate(
                (year, month, day) in (0..=9999i32, 1..=12u8, 1..=31u8),
                (h, m, s) in (0..24u8, 0..60u8, 0..60u8),
                fraction in proptest::option::of("[0-9]{1,9}"),
                (zulu, west, oh, om) in (any::<bool>(), any::<bool>(), 0..=23u8, 0..60u8),
                sep in prop::sample::select(vec!['T', 't', ' ']),
            ) {
                let month = Month::try_from(month).unwrap();
                let day = day.min(::time::util::days_in_month(month, year));
                let offset = if zulu {
                    "Z".to_owned()
                } else {
                    format!("{}{oh:02}:{om:02}", if west { '-' } else { '+' })
                };
                let fraction = fraction.map(|f| format!(".{f}")).unwrap_or_default();
                let text = format!(
                    "{year:04}-{:02}-{day:02}{sep}{h:02}:{m:02}:{s:02}{fraction}{offset}",
                    u8::from(month)
                );
                let sign = if west { -1 } else { 1 };
                let offset = if zulu {
                    UtcOffset::UTC
                } else {
                    UtcOffset::from_hms(sign * oh as i8, sign * om as i8, 0).unwrap()
                };
                let expected = PrimitiveDateTime::new(
                    Date::from_calendar_date(year, month, day).unwrap(),
                    Time::from_hms(h, m, s).unwrap(),
                )
                .assume_offset(offset)
                .unix_timestamp();
                prop_assert_eq!(parse_rfc3339(&text), Some(expected), "{}", text);
                let crate_parse = OffsetDateTime::parse(&text, &Rfc3339).map(|t| t.unix_timestamp());
                prop_assert_eq!(crate_parse, Ok(expected), "{}", text);
            }
        }
    }
}
