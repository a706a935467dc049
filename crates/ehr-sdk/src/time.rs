//! Dates and times as people read and type them, in UTC, converted to the unix seconds block
//! headers carry. Hand-written (the civil-calendar algorithm is a dozen lines) so the SDK does
//! not pull a date library into every build.

use crate::parse::{ParseError, ParseResult};
use std::time::{SystemTime, UNIX_EPOCH};

/// This machine's clock, in unix seconds.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Days from 1970-01-01 to `year-month-day` (proleptic Gregorian).
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `(year, month, day)` of a day count from 1970-01-01.
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Days in `month` of `year` (proleptic Gregorian).
pub(crate) fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

/// A unix timestamp as `2025-03-01 14:05:09 UTC`.
pub fn format_timestamp(secs: u64) -> String {
    let secs = secs as i64;
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rest = secs.rem_euclid(86_400);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

/// A unix timestamp as RFC 3339 (`2025-03-01T14:05:09Z`), for machine output.
pub fn rfc3339(secs: u64) -> String {
    format_timestamp(secs).replacen(' ', "T", 1).replace(" UTC", "Z")
}

/// A point in time, UTC: `2025-03-01`, `2025-03-01T14:05:00Z` (seconds optional; also with a
/// space instead of `T`), or unix seconds (`1740787200`).
pub fn date(input: &str) -> ParseResult<u64> {
    let text = input.trim();
    let usage = "use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z (UTC) or unix seconds";
    let bad = || ParseError::new(format!("invalid date {input:?}: {usage}"));
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| bad());
    }
    let (day_part, time_part) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t.strip_suffix('Z').unwrap_or(t))),
        None => (text, None),
    };
    let fields: Vec<&str> = day_part.split('-').collect();
    let [y, m, d] = fields.as_slice() else { return Err(bad()) };
    let number = |s: &str, len: usize| -> ParseResult<u32> {
        if s.len() != len || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let (year, month, day) = (number(y, 4)?, number(m, 2)?, number(d, 2)?);
    if year < 1970
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year.into(), month)
    {
        return Err(ParseError::new(format!(
            "{input:?} is not a date on or after 1970-01-01: {usage}"
        )));
    }
    let mut secs = days_from_civil(year.into(), month, day) * 86_400;
    if let Some(time) = time_part {
        let fields: Vec<&str> = time.split(':').collect();
        let (h, mi, s) = match fields.as_slice() {
            [h, mi] => (number(h, 2)?, number(mi, 2)?, 0),
            [h, mi, s] => (number(h, 2)?, number(mi, 2)?, number(s, 2)?),
            _ => return Err(bad()),
        };
        if h > 23 || mi > 59 || s > 59 {
            return Err(ParseError::new(format!("{input:?} has an invalid time of day: {usage}")));
        }
        secs += i64::from(h * 3_600 + mi * 60 + s);
    }
    Ok(secs as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_in_utc() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(format_timestamp(1_740_837_909), "2025-03-01 14:05:09 UTC");
        assert_eq!(rfc3339(1_740_837_909), "2025-03-01T14:05:09Z");
    }

    #[test]
    fn dates_parse_in_every_accepted_form() {
        assert_eq!(date("1970-01-01").unwrap(), 0);
        assert_eq!(date("2025-03-01T14:05:09Z").unwrap(), 1_740_837_909);
        assert_eq!(date("2025-03-01 14:05").unwrap(), 1_740_837_900);
        assert_eq!(date("1740837909").unwrap(), 1_740_837_909);
        assert_eq!(date("2000-02-29").unwrap(), 951_782_400);
    }

    #[test]
    fn parsed_dates_round_trip_through_formatting() {
        for secs in [0u64, 86_399, 951_782_400, 1_740_837_909, 4_102_444_800] {
            assert_eq!(date(&rfc3339(secs)).unwrap(), secs);
        }
    }

    #[test]
    fn bad_dates_are_refused_with_one_line() {
        for input in [
            "yesterday",
            "2025-13-01",
            "2025-02-30",
            "2023-02-29",
            "1969-12-31",
            "2025-3-1",
            "2025-03-01T25:00Z",
            "2025-03-01T12",
            "",
            "2025-03-01T12:00:00:00Z",
        ] {
            let message = date(input).expect_err(input).to_string();
            assert!(message.contains("YYYY-MM-DD"), "{input}: {message}");
            assert!(!message.contains('\n'));
        }
    }
}
