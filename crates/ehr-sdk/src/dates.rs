//! FHIR dates shifted by whole days, for de-identified exports.
//!
//! Unlike [`crate::time`] (what people type, from 1970 on), FHIR dates go back centuries
//! (birth dates), come in three precisions (`2024`, `2024-03`, `2024-03-15`) and as times with
//! their own offsets, so this module has its own strict parser. Proleptic Gregorian calendar,
//! days counted from 1970-01-01 over 400-year eras; shifting by whole days keeps the time of
//! day and the offset as written, so no time zone database is needed.

use crate::time::{civil_from_days, days_from_civil, days_in_month};

/// Parses `YYYY-MM-DD` into a valid calendar date.
fn parse_date(text: &str) -> Option<(i64, u32, u32)> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let year = parse_digits(&text[0..4])?;
    let month = parse_digits(&text[5..7])? as u32;
    let day = parse_digits(&text[8..10])? as u32;
    ((1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month))
        .then_some((year, month, day))
}

fn parse_digits(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn two_digits(text: &str) -> Option<i64> {
    (text.len() == 2).then(|| parse_digits(text)).flatten()
}

/// Whether `text` is FHIR's time part after the date: `Thh:mm:ss[.fraction](Z|±hh:mm)`.
fn is_time_with_offset(text: &str) -> bool {
    let Some(rest) = text.strip_prefix('T') else { return false };
    let (time, offset) = match rest.strip_suffix('Z') {
        Some(time) => (time, None),
        None => match rest.rfind(['+', '-']) {
            Some(at) => (&rest[..at], Some(&rest[at + 1..])),
            None => return false,
        },
    };
    let offset_ok = offset.is_none_or(|o| {
        o.split_once(':').is_some_and(|(h, m)| {
            two_digits(h).is_some_and(|h| h <= 14) && two_digits(m).is_some_and(|m| m <= 59)
        })
    });
    let (clock, fraction) = match time.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (time, None),
    };
    let fraction_ok =
        fraction.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    let parts: Vec<Option<i64>> = clock.split(':').map(two_digits).collect();
    let clock_ok = matches!(parts.as_slice(),
        [Some(h), Some(m), Some(s)] if *h <= 23 && *m <= 59 && *s <= 60);
    offset_ok && fraction_ok && clock_ok
}

/// A FHIR `date`, `dateTime` or `instant` moved by `days` whole days, at its own precision:
/// `2024` and `2024-03` move by whole years and months' worth of days from their first day and
/// keep their precision; a full date moves exactly; a time keeps its clock time and offset.
/// `None` if `value` is not such a date (it is then left alone).
pub(crate) fn shift_fhir_date(value: &str, days: i64) -> Option<String> {
    let shift =
        |year: i64, month: u32, day: u32| civil_from_days(days_from_civil(year, month, day) + days);
    match value.len() {
        4 => {
            let year = parse_digits(value)?;
            let (y, _, _) = shift(year, 1, 1);
            Some(format!("{y:04}"))
        }
        7 if value.as_bytes()[4] == b'-' => {
            let year = parse_digits(&value[..4])?;
            let month = u32::try_from(parse_digits(&value[5..])?).ok()?;
            if !(1..=12).contains(&month) {
                return None;
            }
            let (y, m, _) = shift(year, month, 1);
            Some(format!("{y:04}-{m:02}"))
        }
        10 => {
            let (year, month, day) = parse_date(value)?;
            let (y, m, d) = shift(year, month, day);
            Some(format!("{y:04}-{m:02}-{d:02}"))
        }
        n if n > 10 && value.as_bytes()[10] == b'T' => {
            let (year, month, day) = parse_date(&value[..10])?;
            // Only shift what parses as a time with an offset, as FHIR requires for times.
            if !is_time_with_offset(&value[10..]) {
                return None;
            }
            let (y, m, d) = shift(year, month, day);
            (y >= 0).then(|| format!("{y:04}-{m:02}-{d:02}{}", &value[10..]))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        for days in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn fhir_dates_shift_at_their_precision() {
        assert_eq!(shift_fhir_date("2024-02-28", 2).unwrap(), "2024-03-01");
        assert_eq!(shift_fhir_date("2024-03-01", -1).unwrap(), "2024-02-29");
        assert_eq!(
            shift_fhir_date("2024-12-15T10:30:00+02:00", 20).unwrap(),
            "2025-01-04T10:30:00+02:00"
        );
        assert_eq!(shift_fhir_date("2024-03", -1).unwrap(), "2024-02");
        assert_eq!(shift_fhir_date("2024", 400).unwrap(), "2025");
        for not_a_date in ["final", "2024-13", "12345", "2024-02-30", "2024-01-01Tnoon"] {
            assert_eq!(shift_fhir_date(not_a_date, 3), None, "{not_a_date}");
        }
    }
}
