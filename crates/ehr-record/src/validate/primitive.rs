//! FHIR R4 primitive datatypes: JSON type and format of each value.
//!
//! The formats follow the regular expressions of the R4 datatypes page (written out by hand,
//! so the crate needs no regex engine), plus the rules stated in prose next to them: dates
//! SHALL be valid dates, strings SHALL NOT exceed 1 MB, integers are 32-bit.

use crate::error::RecordError;
use crate::json::{Node, Number};
use crate::validate::path::Path;
use crate::validate::schema::Prim;

/// Largest FHIR `integer`, `unsignedInt` and `positiveInt`.
const INT_MAX: u64 = i32::MAX as u64;

/// Largest FHIR `string` value in bytes ("strings SHALL NOT exceed 1MB in size").
const STRING_MAX: usize = 1024 * 1024;

/// Checks that `node` is a valid value of `prim`.
pub(crate) fn check(prim: Prim, node: &Node, path: &Path<'_>) -> Result<(), RecordError> {
    let format = |expected| RecordError::InvalidFormat {
        path: path.render(),
        datatype: prim.name(),
        expected,
    };
    let wrong = |expected: &str| RecordError::WrongType {
        path: path.render(),
        expected: expected.to_owned(),
        found: node.type_name(),
    };
    match prim {
        Prim::Boolean => match node {
            Node::Bool(_) => Ok(()),
            _ => Err(wrong("a JSON boolean (true or false, without quotes)")),
        },
        Prim::Integer | Prim::UnsignedInt | Prim::PositiveInt | Prim::Decimal => {
            let Node::Number(n) = node else {
                return Err(wrong(match prim {
                    Prim::Decimal => "a JSON number (without quotes)",
                    _ => "a JSON number that is a whole number (without quotes)",
                }));
            };
            let ok = match (prim, n) {
                (Prim::Decimal, _) => true,
                (Prim::Integer, Number::Int(v)) => *v >= i64::from(i32::MIN),
                (Prim::Integer | Prim::UnsignedInt, Number::UInt(v)) => *v <= INT_MAX,
                (Prim::PositiveInt, Number::UInt(v)) => (1..=INT_MAX).contains(v),
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                Err(format(match prim {
                    Prim::Integer => {
                        "a whole number from -2147483648 to 2147483647, without fraction or \
                         exponent"
                    }
                    Prim::UnsignedInt => {
                        "a whole number from 0 to 2147483647, without fraction or exponent"
                    }
                    _ => "a whole number from 1 to 2147483647, without fraction or exponent",
                }))
            }
        }
        _ => {
            let Node::String(s) = node else {
                return Err(RecordError::WrongType {
                    path: path.render(),
                    expected: format!("a JSON string (FHIR {})", prim.name()),
                    found: node.type_name(),
                });
            };
            if s.is_empty() {
                return Err(RecordError::EmptyValue { path: path.render() });
            }
            match string_format(prim, s) {
                None => Ok(()),
                Some(expected) => Err(format(expected)),
            }
        }
    }
}

/// Why `s` is not a valid `prim` (a string-valued primitive), or `None` when it is.
fn string_format(prim: Prim, s: &str) -> Option<&'static str> {
    let (ok, expected) = match prim {
        Prim::String | Prim::Markdown => (
            s.len() <= STRING_MAX && !s.contains(['\u{b}', '\u{c}']),
            "text of at most 1 MiB without vertical-tab or form-feed characters",
        ),
        Prim::Code => (
            is_code(s),
            "a code: no leading or trailing whitespace and single spaces between words",
        ),
        Prim::Id => (is_id(s), "1 to 64 characters of A-Z, a-z, 0-9, '-' and '.'"),
        Prim::Uri | Prim::Url | Prim::Canonical => {
            (!s.chars().any(char::is_whitespace), "a URI without whitespace")
        }
        Prim::Oid => (is_oid(s), "urn:oid: followed by a dotted OID such as 1.2.3"),
        Prim::Uuid => {
            (is_uuid(s), "urn:uuid: followed by a lowercase UUID (8-4-4-4-12 hex digits)")
        }
        Prim::Base64Binary => (is_base64(s), "standard base64 (RFC 4648) with padding"),
        Prim::Date => (is_date(s), "YYYY, YYYY-MM or YYYY-MM-DD, a real calendar date"),
        Prim::DateTime => (
            is_date_time(s),
            "YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or \
             +hh:mm), a real calendar date",
        ),
        Prim::Instant => (
            is_instant(s),
            "YYYY-MM-DDThh:mm:ss(.sss) with a time zone (Z or +hh:mm), a real calendar date",
        ),
        Prim::Time => (is_time(s), "hh:mm:ss(.sss) without a time zone"),
        Prim::Xhtml => {
            (is_xhtml_div(s), "an XHTML <div> element with xmlns=\"http://www.w3.org/1999/xhtml\"")
        }
        Prim::Boolean | Prim::Integer | Prim::UnsignedInt | Prim::PositiveInt | Prim::Decimal => {
            (true, "")
        }
    };
    if ok { None } else { Some(expected) }
}

/// `[^\s]+(\s[^\s]+)*`
pub(crate) fn is_code(s: &str) -> bool {
    let mut prev_space = true; // disallows a leading space
    for c in s.chars() {
        let space = c.is_whitespace();
        if space && prev_space {
            return false;
        }
        prev_space = space;
    }
    !s.is_empty() && !prev_space
}

/// `[A-Za-z0-9\-\.]{1,64}`
pub(crate) fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// `urn:oid:[0-2](\.(0|[1-9][0-9]*))+`
fn is_oid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:oid:") else {
        return false;
    };
    let mut arcs = rest.split('.');
    let first_ok = matches!(arcs.next(), Some("0" | "1" | "2"));
    let mut count = 0;
    let rest_ok = arcs.all(|arc| {
        count += 1;
        !arc.is_empty()
            && arc.bytes().all(|b| b.is_ascii_digit())
            && (arc == "0" || !arc.starts_with('0'))
    });
    first_ok && rest_ok && count > 0
}

/// `urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`
fn is_uuid(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("urn:uuid:") else {
        return false;
    };
    let groups: Vec<&str> = rest.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, len)| {
            g.len() == len && g.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// Standard base64 with padding; whitespace is ignored (RFC 4648, as R4 allows).
fn is_base64(s: &str) -> bool {
    let mut count = 0usize;
    let mut padding = 0usize;
    for b in s.bytes() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if b == b'=' {
            padding += 1;
        } else if padding > 0 || !(b.is_ascii_alphanumeric() || b == b'+' || b == b'/') {
            return false;
        }
        count += 1;
    }
    count > 0 && count.is_multiple_of(4) && padding <= 2
}

/// Four digits, `0001` to `9999`.
fn year(s: &[u8]) -> Option<u32> {
    let y = digits(s, 4)?;
    (y > 0).then_some(y)
}

/// Exactly `n` ASCII digits as a number.
fn digits(s: &[u8], n: usize) -> Option<u32> {
    if s.len() != n || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
}

/// Two digits within `lo..=hi`.
fn two(s: &[u8], lo: u32, hi: u32) -> Option<u32> {
    digits(s, 2).filter(|v| (lo..=hi).contains(v))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `YYYY-MM-DD`, a real date.
fn full_date(s: &[u8]) -> bool {
    if s.len() != 10 || s[4] != b'-' || s[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m)) = (year(&s[..4]), two(&s[5..7], 1, 12)) else {
        return false;
    };
    two(&s[8..], 1, days_in_month(y, m)).is_some()
}

/// R4 `date`: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
pub(crate) fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    match b.len() {
        4 => year(b).is_some(),
        7 => b[4] == b'-' && year(&b[..4]).is_some() && two(&b[5..], 1, 12).is_some(),
        10 => full_date(b),
        _ => false,
    }
}

/// R4 `dateTime`: a `date`, or a full date with a time and a time zone.
pub(crate) fn is_date_time(s: &str) -> bool {
    if s.len() <= 10 {
        return is_date(s);
    }
    is_instant(s)
}

/// R4 `instant`: `YYYY-MM-DDThh:mm:ss(.s+)(Z|(+|-)hh:mm)`.
pub(crate) fn is_instant(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 11 || !full_date(&b[..10]) || b[10] != b'T' {
        return false;
    }
    let t = &b[11..];
    let zone_at = t.iter().position(|&c| c == b'Z' || c == b'+' || c == b'-');
    match zone_at {
        Some(at) => time_of_day(&t[..at]) && zone(&t[at..]),
        None => false,
    }
}

/// R4 `time`: `hh:mm:ss(.s+)`, no zone.
pub(crate) fn is_time(s: &str) -> bool {
    time_of_day(s.as_bytes())
}

/// `([01][0-9]|2[0-3]):[0-5][0-9]:([0-5][0-9]|60)(\.[0-9]+)?`
fn time_of_day(t: &[u8]) -> bool {
    if t.len() < 8 || t[2] != b':' || t[5] != b':' {
        return false;
    }
    let hms = two(&t[..2], 0, 23).is_some()
        && two(&t[3..5], 0, 59).is_some()
        && two(&t[6..8], 0, 60).is_some();
    let fraction = match &t[8..] {
        [] => true,
        [b'.', rest @ ..] => !rest.is_empty() && rest.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    hms && fraction
}

/// `Z|(\+|-)((0[0-9]|1[0-3]):[0-5][0-9]|14:00)`
fn zone(z: &[u8]) -> bool {
    match z {
        b"Z" => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            let h = two(&[*h1, *h2], 0, 14);
            let m = two(&[*m1, *m2], 0, 59);
            matches!((h, m), (Some(0..=13), Some(_)) | (Some(14), Some(0)))
        }
        _ => false,
    }
}

/// The narrative `div`: an XHTML `<div>` in the XHTML namespace. The content rules (txt-1)
/// are checked by the Narrative definition.
fn is_xhtml_div(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("<div") else {
        return false;
    };
    let Some(end) = rest.find('>') else {
        return false;
    };
    let open_tag = &rest[..end];
    (rest.starts_with(char::is_whitespace))
        && (open_tag.contains("xmlns=\"http://www.w3.org/1999/xhtml\"")
            || open_tag.contains("xmlns='http://www.w3.org/1999/xhtml'"))
        && s.trim_end().ends_with("</div>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(prim: Prim, node: Node) -> bool {
        check(prim, &node, &Path::root("T")).is_ok()
    }

    fn s(v: &str) -> Node {
        Node::String(v.to_owned())
    }

    #[test]
    fn dates_follow_r4() {
        for good in ["2024", "2024-02", "2024-02-29", "2000-02-29", "0001-01-01"] {
            assert!(is_date(good), "{good}");
        }
        for bad in [
            "0000",
            "24",
            "2024-2",
            "2024-13",
            "2024-00",
            "2023-02-29",
            "1900-02-29",
            "2024-04-31",
            "2024-01-01T00:00:00Z",
            "2024/01/01",
            "２０２４",
            "2024-1-1",
        ] {
            assert!(!is_date(bad), "{bad}");
        }
    }

    #[test]
    fn date_times_need_seconds_and_zone_with_a_time() {
        for good in [
            "2024",
            "2024-05",
            "2024-05-06",
            "2024-05-06T07:08:09Z",
            "2024-05-06T07:08:09.123+02:00",
            "2024-05-06T23:59:60-14:00",
            "2024-05-06T00:00:00+14:00",
        ] {
            assert!(is_date_time(good), "{good}");
        }
        for bad in [
            "2024-05-06T07:08:09",
            "2024-05-06T07:08Z",
            "2024-05-06T24:00:00Z",
            "2024-05-06T07:08:09+14:30",
            "2024-05-06T07:08:09+1:00",
            "2024-05-06T07:08:09.Z",
            "2024-05-06 07:08:09Z",
            "2024-05-06T07:08:09ZZ",
            "2024-02-30T00:00:00Z",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }

    #[test]
    fn instants_need_everything() {
        assert!(is_instant("2015-02-07T13:28:17.239+02:00"));
        assert!(!is_instant("2015-02-07"));
        assert!(!is_instant("2015-02-07T13:28:17"));
    }

    #[test]
    fn times_have_no_zone() {
        assert!(is_time("13:28:17"));
        assert!(is_time("13:28:17.5"));
        assert!(!is_time("13:28"));
        assert!(!is_time("13:28:17Z"));
        assert!(!is_time("25:00:00"));
    }

    #[test]
    fn codes_ids_and_uris() {
        assert!(is_code("final"));
        assert!(is_code("text/plain; charset=UTF-8"));
        assert!(!is_code(" final"));
        assert!(!is_code("final "));
        assert!(!is_code("a  b"));
        assert!(!is_code(""));
        assert!(is_id("abc-1.2"));
        assert!(!is_id("abc_1"));
        assert!(!is_id(&"a".repeat(65)));
        assert!(ok(Prim::Uri, s("http://loinc.org")));
        assert!(!ok(Prim::Uri, s("http://a b")));
        assert!(ok(Prim::Oid, s("urn:oid:1.2.840.10008")));
        assert!(!ok(Prim::Oid, s("urn:oid:3.1")));
        assert!(!ok(Prim::Oid, s("urn:oid:1.02")));
        assert!(!ok(Prim::Oid, s("urn:oid:1")));
        assert!(ok(Prim::Uuid, s("urn:uuid:c757873d-ec9a-4326-a141-556f43239520")));
        assert!(!ok(Prim::Uuid, s("urn:uuid:C757873D-ec9a-4326-a141-556f43239520")));
        assert!(!ok(Prim::Uuid, s("c757873d-ec9a-4326-a141-556f43239520")));
    }

    #[test]
    fn base64_is_checked() {
        assert!(is_base64("aGVsbG8="));
        assert!(is_base64("aGVs\nbG8h"));
        assert!(is_base64("+/+/"));
        assert!(!is_base64("aGVsbG8"));
        assert!(!is_base64("aGVsbG8=x==="));
        assert!(!is_base64("a==="));
        assert!(!is_base64("aGV*"));
    }

    #[test]
    fn numbers_by_kind() {
        use Number::*;
        assert!(ok(Prim::Integer, Node::Number(Int(-2147483648))));
        assert!(!ok(Prim::Integer, Node::Number(Int(-2147483649))));
        assert!(!ok(Prim::Integer, Node::Number(UInt(2147483648))));
        assert!(!ok(Prim::Integer, Node::Number(Float(1.0))));
        assert!(ok(Prim::UnsignedInt, Node::Number(UInt(0))));
        assert!(!ok(Prim::UnsignedInt, Node::Number(Int(-1))));
        assert!(!ok(Prim::PositiveInt, Node::Number(UInt(0))));
        assert!(ok(Prim::PositiveInt, Node::Number(UInt(1))));
        assert!(ok(Prim::Decimal, Node::Number(Float(0.5))));
        assert!(!ok(Prim::Decimal, s("0.5")));
        assert!(!ok(Prim::Boolean, s("true")));
    }

    #[test]
    fn strings_are_bounded_and_never_empty() {
        let err = check(Prim::String, &s(""), &Path::root("T")).unwrap_err();
        assert_eq!(err.kind(), "EmptyValue");
        assert!(ok(Prim::String, s(" ")));
        assert!(!ok(Prim::String, s("a\u{c}b")));
        assert!(!ok(Prim::String, s(&"a".repeat(STRING_MAX + 1))));
        assert!(!ok(Prim::String, Node::Number(Number::UInt(1))));
    }

    #[test]
    fn narrative_div() {
        assert!(is_xhtml_div(r#"<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>"#));
        assert!(!is_xhtml_div("<div><p>x</p></div>"));
        assert!(!is_xhtml_div(r#"<divx xmlns="http://www.w3.org/1999/xhtml">x</divx>"#));
        assert!(!is_xhtml_div(r#"<p xmlns="http://www.w3.org/1999/xhtml">x</p>"#));
    }

    #[test]
    fn errors_do_not_echo_values() {
        let err = check(Prim::Date, &s("1970-13-01"), &Path::root("Patient").field("birthDate"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("Patient.birthDate"), "{err}");
        assert!(!err.contains("1970"), "{err}");
    }
}
