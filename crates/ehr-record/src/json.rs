//! JSON parsing into an order-preserving tree that rejects duplicate keys.
//!
//! `serde_json::Value` keeps the last of two equal keys and (without the workspace-wide
//! `preserve_order` feature) sorts keys; FHIR forbids duplicates, and errors should come in
//! document order. This tree does both, using serde_json's parser (and its nesting limit of
//! 128 levels, which bounds the validator's recursion too).

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{RecordError, shown};

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, as serde_json classified it.
    Number(Number),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Node>),
    /// An object, keys in document order, no duplicates.
    Object(Vec<(String, Node)>),
}

/// A JSON number. `Float` is anything written with a fraction or exponent, or an integer
/// too large for 64 bits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Number {
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// Any other number.
    Float(f64),
}

impl Node {
    /// The JSON type's name, for messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Number(_) => "a number",
            Node::String(_) => "a string",
            Node::Array(_) => "an array",
            Node::Object(_) => "an object",
        }
    }

    /// The member `key` of an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The string value, if this is a string.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Node::String(s) => Some(s),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub(crate) fn as_array(&self) -> Option<&[Node]> {
        match self {
            Node::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The members, if this is an object.
    pub(crate) fn as_object(&self) -> Option<&[(String, Node)]> {
        match self {
            Node::Object(members) => Some(members),
            _ => None,
        }
    }

    /// The value as a non-negative integer, if it is one.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Node::Number(Number::UInt(n)) => Some(*n),
            _ => None,
        }
    }

    /// `self.key` as an array (an absent key gives an empty slice).
    pub(crate) fn items(&self, key: &str) -> &[Node] {
        self.get(key).and_then(Node::as_array).unwrap_or_default()
    }
}

/// Marks the duplicate-key error inside serde_json's error message.
const DUPLICATE_PREFIX: &str = "\u{1}ehr-duplicate-key:";

/// Parses `bytes` as one JSON document.
pub(crate) fn parse(bytes: &[u8]) -> Result<Node, RecordError> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Err(RecordError::InvalidJson {
            line: 1,
            column: 1,
            message: "the file starts with a UTF-8 byte order mark (BOM); save it as UTF-8 \
                      without BOM"
                .into(),
        });
    }
    // Checking UTF-8 once over the whole input is much faster than string by string; invalid
    // UTF-8 goes to the byte parser, which reports where it is.
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str::<Node>(text),
        Err(_) => serde_json::from_slice::<Node>(bytes),
    };
    parsed.map_err(|err| {
        let (line, column) = (err.line(), err.column());
        let full = err.to_string();
        let suffix = format!(" at line {line} column {column}");
        let message = full.strip_suffix(&suffix).unwrap_or(&full);
        match message.strip_prefix(DUPLICATE_PREFIX) {
            Some(key) => RecordError::DuplicateKey { key: shown(key), line, column },
            None => RecordError::InvalidJson { line, column, message: message.to_owned() },
        }
    })
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Number(if v < 0 { Number::Int(v) } else { Number::UInt(v.unsigned_abs()) }))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Number(Number::UInt(v)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Number(Number::Float(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::String(v))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut members: Vec<(String, Node)> = Vec::new();
        // FHIR objects are small: a scan of the keys so far beats hashing (and cloning) each
        // key; large objects switch to a set.
        let mut seen: Option<std::collections::HashSet<String>> = None;
        while let Some(key) = map.next_key::<String>()? {
            let duplicate = match &mut seen {
                Some(set) => !set.insert(key.clone()),
                None => members.iter().any(|(k, _)| *k == key),
            };
            if duplicate {
                return Err(de::Error::custom(format_args!("{DUPLICATE_PREFIX}{key}")));
            }
            if seen.is_none() && members.len() >= 32 {
                seen = Some(members.iter().map(|(k, _)| k.clone()).chain([key.clone()]).collect());
            }
            let value = map.next_value::<Node>()?;
            members.push((key, value));
        }
        Ok(Node::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_document_order() {
        let node = parse(br#"{"b": 1, "a": [true, null, "x", -2, 1.5]}"#).unwrap();
        let members = node.as_object().unwrap();
        assert_eq!(members[0].0, "b");
        assert_eq!(members[1].0, "a");
        assert_eq!(
            members[1].1,
            Node::Array(vec![
                Node::Bool(true),
                Node::Null,
                Node::String("x".into()),
                Node::Number(Number::Int(-2)),
                Node::Number(Number::Float(1.5)),
            ])
        );
    }

    #[test]
    fn duplicate_keys_are_an_error_with_position() {
        let err = parse(b"{\n  \"a\": 1,\n  \"a\": 2\n}").unwrap_err();
        match err {
            RecordError::DuplicateKey { key, line, .. } => {
                assert_eq!(key, "a");
                assert_eq!(line, 3);
            }
            other => panic!("expected DuplicateKey, got {other:?}"),
        }
        // Nested objects too.
        assert_eq!(parse(br#"{"x": {"k": 1, "k": 1}}"#).unwrap_err().kind(), "DuplicateKey");
    }

    #[test]
    fn syntax_errors_carry_line_and_column() {
        match parse(b"{\n  \"a\": tru,\n  \"b\": 1\n}").unwrap_err() {
            RecordError::InvalidJson { line, column, message } => {
                assert_eq!(line, 2);
                assert!(column > 0);
                assert!(!message.contains(" at line "), "{message}");
            }
            other => panic!("expected InvalidJson, got {other:?}"),
        }
        assert_eq!(parse(b"{} {}").unwrap_err().kind(), "InvalidJson");
        assert_eq!(parse(b"[1e999]").unwrap_err().kind(), "InvalidJson");
        assert_eq!(parse(b"\"\xff\"").unwrap_err().kind(), "InvalidJson");
    }

    #[test]
    fn byte_order_mark_is_rejected() {
        let err = parse(b"\xEF\xBB\xBF{}").unwrap_err();
        assert!(err.to_string().contains("byte order mark"), "{err}");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert_eq!(parse(deep.as_bytes()).unwrap_err().kind(), "InvalidJson");
    }

    #[test]
    fn numbers_are_classified() {
        let n = parse(b"[0, 18446744073709551615, 18446744073709551616, 1.0, -0]").unwrap();
        let items = n.as_array().unwrap();
        assert_eq!(items[0], Node::Number(Number::UInt(0)));
        assert_eq!(items[1], Node::Number(Number::UInt(u64::MAX)));
        assert!(matches!(items[2], Node::Number(Number::Float(_))));
        assert!(matches!(items[3], Node::Number(Number::Float(_))));
        assert!(matches!(items[4], Node::Number(_)));
    }
}
