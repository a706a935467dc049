//! Telling FHIR JSON from other JSON and from non-JSON by content, for uploads that do not
//! say what a file is.

use std::fmt;

use serde::Deserializer;
use serde::de::{IgnoredAny, MapAccess, Visitor};

/// What a file's bytes are, as far as FHIR is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonContent {
    /// A JSON object with a string `resourceType`: meant as a FHIR resource (validate it).
    FhirResource,
    /// Well-formed JSON that is not a FHIR resource (an array, or an object without a
    /// string `resourceType`).
    OtherJson,
    /// Not JSON (invalid syntax, or not UTF-8).
    NotJson,
}

/// Classifies `bytes` by content. Only the top-level object's keys are looked at (values are
/// skipped, not built), so this is cheap next to validation.
///
/// ```
/// use ehr_record::{JsonContent, sniff_json};
/// assert_eq!(sniff_json(br#"{"resourceType": "Patient"}"#), JsonContent::FhirResource);
/// assert_eq!(sniff_json(br#"{"name": "x"}"#), JsonContent::OtherJson);
/// assert_eq!(sniff_json(b"%PDF-1.7"), JsonContent::NotJson);
/// ```
pub fn sniff_json(bytes: &[u8]) -> JsonContent {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    match de.deserialize_any(Sniffer).and_then(|found| de.end().map(|()| found)) {
        Ok(true) => JsonContent::FhirResource,
        Ok(false) => JsonContent::OtherJson,
        Err(_) => JsonContent::NotJson,
    }
}

/// Visits a JSON value; `true` for an object with a string `resourceType`.
struct Sniffer;

impl<'de> Visitor<'de> for Sniffer {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "resourceType" {
                found |= map.next_value::<ResourceTypeValue>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(false)
    }

    fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_str<E>(self, _: &str) -> Result<bool, E> {
        Ok(false)
    }

    fn visit_unit<E>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// Whether a `resourceType` value is a string.
struct ResourceTypeValue(bool);

impl<'de> serde::Deserialize<'de> for ResourceTypeValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IsString;
        impl<'de> Visitor<'de> for IsString {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E>(self, _: &str) -> Result<bool, E> {
                Ok(true)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(false)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<bool, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(false)
            }
            fn visit_bool<E>(self, _: bool) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_i64<E>(self, _: i64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_u64<E>(self, _: u64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_f64<E>(self, _: f64) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_unit<E>(self) -> Result<bool, E> {
                Ok(false)
            }
        }
        d.deserialize_any(IsString).map(ResourceTypeValue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_content() {
        assert_eq!(
            sniff_json(b" {\"a\":[1,{\"b\":null}],\"resourceType\":\"Bundle\"} "),
            JsonContent::FhirResource
        );
        assert_eq!(sniff_json(br#"{"resourceType": 7}"#), JsonContent::OtherJson);
        assert_eq!(sniff_json(b"[1, 2]"), JsonContent::OtherJson);
        assert_eq!(sniff_json(b"\"text\""), JsonContent::OtherJson);
        assert_eq!(sniff_json(b"{\"resourceType\": \"Patient\""), JsonContent::NotJson);
        assert_eq!(sniff_json(b"{} trailing"), JsonContent::NotJson);
        assert_eq!(sniff_json(b""), JsonContent::NotJson);
        assert_eq!(sniff_json(&[0xff, 0xfe]), JsonContent::NotJson);
    }
}
