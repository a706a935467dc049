//! Serializing the contracts' enums (`Scope`, `Purpose`, `OrgKind`, `Role`) as the same words
//! people type and read (`category:lab`, `treatment`), so JSON output matches the human one.

use serde::Serializer;
use std::fmt::Display;

/// `serialize_with` for any `Display` value.
pub(crate) fn display<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// `serialize_with` for a list of `Display` values.
pub(crate) fn display_list<T: Display, S: Serializer>(
    values: &[T],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(values.iter().map(ToString::to_string))
}
