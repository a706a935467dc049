//! per-1 (a period does not end before it starts) and rng-2 (a range's low is not above its
//! high): the two invariants that compare values.

use std::cmp::Ordering;

use crate::error::RecordError;
use crate::json::{Node, Number};
use crate::validate::Ctx;
use crate::validate::path::Path;
use crate::validate::schema::{Obj, member, rule};

/// per-1: `start` ≤ `end`. Values of different precision are compared at the coarser one
/// (`2020-05` and `2020-05-10` do not conflict), and two times with time zones as instants.
pub(super) fn period(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Result<(), RecordError> {
    let value = |key| member(obj, key).and_then(Node::as_str).and_then(DateTime::parse);
    if let (Some(start), Some(end)) = (value("start"), value("end")) {
        rule(
            start.compare(&end) != Ordering::Greater,
            path,
            "per-1",
            "a period's end may not be before its start",
        )?;
    }
    Ok(())
}

/// rng-2: `low.value` ≤ `high.value` when both are given (in the same unit, or both without).
pub(super) fn range(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Result<(), RecordError> {
    let (Some(low), Some(high)) = (member(obj, "low"), member(obj, "high")) else {
        return Ok(());
    };
    let value = |q: &Node| match q.get("value") {
        Some(Node::Number(Number::UInt(v))) => Some(*v as f64),
        Some(Node::Number(Number::Int(v))) => Some(*v as f64),
        Some(Node::Number(Number::Float(v))) => Some(*v),
        _ => None,
    };
    if let (Some(l), Some(h)) = (value(low), value(high))
        && unit(low) == unit(high)
    {
        rule(l <= h, path, "rng-2", "a range's low may not be greater than its high")?;
    }
    Ok(())
}

/// A quantity's unit: its code, else its display unit.
fn unit(q: &Node) -> Option<&str> {
    q.get("code").or_else(|| q.get("unit")).and_then(Node::as_str)
}

/// A parsed FHIR `dateTime` (already validated as one).
#[derive(Debug)]
struct DateTime {
    /// Year, month, day; month and day 0 when absent.
    date: (u32, u32, u32),
    /// Seconds since 1970 (UTC) and the fraction's digits, when a time is given.
    instant: Option<(i64, String)>,
}

impl DateTime {
    fn parse(s: &str) -> Option<DateTime> {
        let num = |range: std::ops::Range<usize>| s.get(range)?.parse::<u32>().ok();
        let year = num(0..4)?;
        let month = if s.len() >= 7 { num(5..7)? } else { 0 };
        let day = if s.len() >= 10 { num(8..10)? } else { 0 };
        let instant = match s.get(10..) {
            Some(rest) if rest.starts_with('T') => {
                let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
                let mut tail = &s[19..];
                let mut fraction = String::new();
                if let Some(f) = tail.strip_prefix('.') {
                    let digits = f.bytes().take_while(u8::is_ascii_digit).count();
                    fraction = f[..digits].trim_end_matches('0').to_owned();
                    tail = &f[digits..];
                }
                let offset = match tail.as_bytes().first() {
                    Some(b'+' | b'-') => {
                        let sign = if tail.starts_with('-') { -1 } else { 1 };
                        let oh: i64 = tail.get(1..3)?.parse().ok()?;
                        let om: i64 = tail.get(4..6)?.parse().ok()?;
                        sign * (oh * 3600 + om * 60)
                    }
                    _ => 0,
                };
                let days = days_from_civil(i64::from(year), i64::from(month), i64::from(day));
                let secs = days * 86_400 + i64::from(h * 3600 + m * 60 + sec) - offset;
                Some((secs, fraction))
            }
            _ => None,
        };
        Some(DateTime { date: (year, month, day), instant })
    }

    fn compare(&self, other: &DateTime) -> Ordering {
        if let (Some((a, fa)), Some((b, fb))) = (&self.instant, &other.instant) {
            // Fractions compare as digit strings once the trailing zeros are gone.
            return a.cmp(b).then_with(|| fa.cmp(fb));
        }
        let precision = |(_, m, d): (u32, u32, u32)| match (m, d) {
            (0, _) => 1,
            (_, 0) => 2,
            _ => 3,
        };
        let common = precision(self.date).min(precision(other.date));
        let cut = |(y, m, d): (u32, u32, u32)| match common {
            1 => (y, 0, 0),
            2 => (y, m, 0),
            _ => (y, m, d),
        };
        cut(self.date).cmp(&cut(other.date))
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        DateTime::parse(a).unwrap().compare(&DateTime::parse(b).unwrap())
    }

    #[test]
    fn compares_at_the_common_precision() {
        assert_eq!(cmp("2020-05", "2020-05-10"), Ordering::Equal);
        assert_eq!(cmp("2021", "2020-12-31"), Ordering::Greater);
        assert_eq!(cmp("2020-01-02", "2020-01-01T23:00:00Z"), Ordering::Greater);
        assert_eq!(cmp("2020-01-01T10:00:00+02:00", "2020-01-01T09:00:00Z"), Ordering::Less);
        assert_eq!(cmp("2020-01-01T09:00:00.5Z", "2020-01-01T09:00:00.50Z"), Ordering::Equal);
        assert_eq!(cmp("2020-01-01T09:00:00.25Z", "2020-01-01T09:00:00.3Z"), Ordering::Less);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    proptest::proptest! {
        #[test]
        fn any_string_parses_or_not_without_panicking(s in "[0-9T:+.Z\\-é]{0,30}") {
            let _ = DateTime::parse(&s);
        }
    }
}
