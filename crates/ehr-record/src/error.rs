//! The one error type of this crate: every way a record input can be rejected.
//!
//! Messages say what is wrong, where (a FHIR path such as `Observation.code`), and what to
//! do. They deliberately do **not** echo free-text or date values from the input: records are
//! health data, and error messages end up in logs. What is shown: element names, resource
//! type names, category names, and a wrong code only when it looks like a code (no spaces).

use std::fmt;
use std::io;

use crate::ResourceType;

/// Result alias used across this crate.
pub type Result<T, E = RecordError> = std::result::Result<T, E>;

/// Why a record input was rejected. Each variant is one distinct cause; [`RecordError::kind`]
/// gives its stable name for matching in tests and tools.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The input has no bytes (or, for FHIR JSON, only whitespace).
    #[error(
        "the input is empty: give a FHIR R4 JSON resource, or a file with content to wrap in a \
         DocumentReference"
    )]
    Empty,

    /// The input (declared or actual size) is over the configured limit. Checked before the
    /// input is read in full: from the declared size when one is given, otherwise as soon as
    /// one byte more than the limit has been read.
    #[error(
        "the input is too large: {size} but the limit is {limit} bytes; raise \
         `Limits::{setting}` if this size is intended (FHIR R4 cannot describe attachments \
         over 2147483647 bytes), or split the record",
        size = SizeText(*.size, *.limit)
    )]
    TooLarge {
        /// The size, when it is known (declared, or read in full); `None` means "more than
        /// `limit`" (reading stopped there).
        size: Option<u64>,
        /// The limit that applied, in bytes.
        limit: u64,
        /// Name of the [`Limits`](crate::Limits) field that sets this limit.
        setting: &'static str,
    },

    /// Reading the input failed.
    #[error("reading the input failed: {0}; check that the file is readable and try again")]
    Io(#[source] io::Error),

    /// The bytes are not valid JSON (RFC 8259), with the position of the first problem.
    #[error(
        "invalid JSON at line {line}, column {column}: {message}; fix the syntax at that \
         position (FHIR JSON is plain UTF-8 JSON)"
    )]
    InvalidJson {
        /// 1-based line of the problem.
        line: usize,
        /// 1-based column of the problem.
        column: usize,
        /// What the JSON parser found wrong.
        message: String,
    },

    /// A JSON object has the same key twice. FHIR forbids it, and different readers would
    /// disagree on which value counts.
    #[error(
        "duplicate key `{key}` at line {line}, column {column}: a JSON object may name each \
         element once; remove or merge the duplicate"
    )]
    DuplicateKey {
        /// The repeated key.
        key: String,
        /// 1-based line where the duplicate was found.
        line: usize,
        /// 1-based column where the duplicate was found.
        column: usize,
    },

    /// The JSON document is valid but is not an object (a resource is a JSON object).
    #[error(
        "the JSON document is {found}, not an object: a FHIR resource is a JSON object with a \
         `resourceType`, e.g. {{\"resourceType\": \"Observation\", ...}}"
    )]
    NotAnObject {
        /// The JSON type found instead (`array`, `string`, ...).
        found: &'static str,
    },

    /// A resource object has no `resourceType` (one that is not a string is a
    /// [`WrongType`](Self::WrongType)).
    #[error(
        "`{path}` has no `resourceType`: every FHIR resource names its type, e.g. \
         \"resourceType\": \"Observation\""
    )]
    MissingResourceType {
        /// Where the resource is (`Bundle.entry[2].resource`, or the root type placeholder
        /// `Resource` for the top level).
        path: String,
    },

    /// The `resourceType` is not an R4 (4.0.1) resource type.
    #[error(
        "`{path}` has resourceType `{resource_type}`, which is not a FHIR R4 resource type \
         (names are case-sensitive, e.g. `Observation`); to store other content, wrap the \
         file as a document"
    )]
    UnknownResourceType {
        /// Where the resource is.
        path: String,
        /// The type given (escaped and shortened if needed).
        resource_type: String,
    },

    /// A required element (minimum cardinality 1 in FHIR R4) is absent.
    #[error("required element `{path}` is missing: FHIR R4 requires it, add it")]
    MissingField {
        /// FHIR path of the missing element, e.g. `Observation.code` or
        /// `MedicationRequest.medication[x]`.
        path: String,
    },

    /// An element that FHIR R4 does not define at this place.
    #[error(
        "`{path}` is not an element of FHIR R4 here: remove it, fix its spelling (names are \
         case-sensitive), or carry the data in an `extension`"
    )]
    UnknownElement {
        /// FHIR path of the unknown element.
        path: String,
    },

    /// A value has the wrong JSON type (e.g. a string where an array or object belongs).
    #[error("`{path}` must be {expected}, found {found}: change the value's JSON type")]
    WrongType {
        /// FHIR path of the value.
        path: String,
        /// What FHIR expects here, in words.
        expected: String,
        /// The JSON type found.
        found: &'static str,
    },

    /// A primitive value does not match its FHIR R4 datatype's format (the value itself is
    /// not repeated here, as it may be health data).
    #[error("`{path}` is not a valid FHIR {datatype}: expected {expected}")]
    InvalidFormat {
        /// FHIR path of the value.
        path: String,
        /// The FHIR datatype (`date`, `dateTime`, `id`, ...).
        datatype: &'static str,
        /// The expected format, in words.
        expected: &'static str,
    },

    /// An empty string, array or object, or a `null` outside a primitive array. FHIR JSON
    /// leaves absent elements out instead.
    #[error(
        "`{path}` is empty (or null): FHIR JSON leaves absent elements out; remove it or give it a value"
    )]
    EmptyValue {
        /// FHIR path of the empty value.
        path: String,
    },

    /// A code with a required binding is not in its R4 value set.
    #[error(
        "`{path}` is {value}, which is not in the FHIR R4 value set; use one of: {allowed}",
        value = CodeText(.value.as_deref()),
        allowed = .allowed.join(", ")
    )]
    NotInValueSet {
        /// FHIR path of the code.
        path: String,
        /// The code given, when it looks like a code (up to 40 printable ASCII characters
        /// without spaces); `None` when it looks like free text, which is not repeated.
        value: Option<String>,
        /// The codes R4 allows here.
        allowed: &'static [&'static str],
    },

    /// More than one type was given for a choice element (`value[x]` and friends).
    #[error(
        "`{path}` is a choice element and takes exactly one type, found {found}: keep one",
        found = .found.join(" and ")
    )]
    ChoiceConflict {
        /// FHIR path of the choice element, e.g. `Observation.value[x]`.
        path: String,
        /// The JSON names given, e.g. `valueString`, `valueQuantity`.
        found: Vec<String>,
    },

    /// A FHIR R4 invariant (constraint with a key such as `bdl-3` or `dom-3`) does not hold.
    #[error("`{path}` breaks FHIR R4 rule {key}: {message}")]
    ConstraintViolated {
        /// FHIR path of the element the rule is defined on.
        path: String,
        /// The rule's key in the R4 specification (or an ehrkit key for ehrkit rules).
        key: &'static str,
        /// What the rule requires.
        message: &'static str,
    },

    /// A category name that is not a valid ehrkit category.
    #[error(
        "invalid category `{name}`: {reason}; a category is 1 to 31 bytes of lowercase ASCII \
         letters, digits and single hyphens, starting with a letter (e.g. `lab`, `imaging`, \
         `mental-health`)"
    )]
    InvalidCategory {
        /// The name given (escaped and shortened if needed).
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },

    /// No category was given and none can be derived from the resource.
    #[error("cannot derive a category for this {resource_type}: {reason}; give one explicitly")]
    CategoryNotDerivable {
        /// The record's resource type.
        resource_type: ResourceType,
        /// Why no default applies.
        reason: String,
    },

    /// A framed record stream (see the crate's "Framing" section) is malformed.
    #[error("not a valid ehrkit record frame: {reason}")]
    InvalidFrame {
        /// What is wrong with the frame.
        reason: &'static str,
    },

    /// Attachment bytes do not match the size or SHA-256 recorded in their DocumentReference.
    #[error(
        "the attachment does not match its DocumentReference: {reason}; the file changed (or \
         was corrupted) after it was wrapped: wrap it again"
    )]
    AttachmentMismatch {
        /// Which check failed.
        reason: &'static str,
    },
}

impl RecordError {
    /// Stable name of the variant (`"MissingField"`, `"InvalidJson"`, ...), for tests, logs
    /// and machine-readable tool output.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Empty => "Empty",
            Self::TooLarge { .. } => "TooLarge",
            Self::Io(_) => "Io",
            Self::InvalidJson { .. } => "InvalidJson",
            Self::DuplicateKey { .. } => "DuplicateKey",
            Self::NotAnObject { .. } => "NotAnObject",
            Self::MissingResourceType { .. } => "MissingResourceType",
            Self::UnknownResourceType { .. } => "UnknownResourceType",
            Self::MissingField { .. } => "MissingField",
            Self::UnknownElement { .. } => "UnknownElement",
            Self::WrongType { .. } => "WrongType",
            Self::InvalidFormat { .. } => "InvalidFormat",
            Self::EmptyValue { .. } => "EmptyValue",
            Self::NotInValueSet { .. } => "NotInValueSet",
            Self::ChoiceConflict { .. } => "ChoiceConflict",
            Self::ConstraintViolated { .. } => "ConstraintViolated",
            Self::InvalidCategory { .. } => "InvalidCategory",
            Self::CategoryNotDerivable { .. } => "CategoryNotDerivable",
            Self::InvalidFrame { .. } => "InvalidFrame",
            Self::AttachmentMismatch { .. } => "AttachmentMismatch",
        }
    }

    /// The FHIR path the error points at, for the variants that have one.
    pub fn path(&self) -> Option<&str> {
        match self {
            Self::MissingResourceType { path }
            | Self::UnknownResourceType { path, .. }
            | Self::MissingField { path }
            | Self::UnknownElement { path }
            | Self::WrongType { path, .. }
            | Self::InvalidFormat { path, .. }
            | Self::EmptyValue { path }
            | Self::NotInValueSet { path, .. }
            | Self::ChoiceConflict { path, .. }
            | Self::ConstraintViolated { path, .. } => Some(path),
            _ => None,
        }
    }

    /// Wraps this error in an [`io::Error`] (kind `InvalidData`), for `Read` implementations;
    /// `RecordError::from` unwraps it again.
    pub(crate) fn into_io(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

impl From<io::Error> for RecordError {
    /// An `io::Error` that carries a `RecordError` (as the readers of this crate produce)
    /// becomes that error again; any other becomes [`RecordError::Io`].
    fn from(err: io::Error) -> Self {
        if err.get_ref().is_some_and(|inner| inner.is::<RecordError>()) {
            if let Some(inner) = err.into_inner() {
                match inner.downcast::<RecordError>() {
                    Ok(record_err) => return *record_err,
                    Err(other) => {
                        return Self::Io(io::Error::new(io::ErrorKind::InvalidData, other));
                    }
                }
            }
            return Self::Io(io::Error::from(io::ErrorKind::InvalidData));
        }
        Self::Io(err)
    }
}

/// Renders the code of [`RecordError::NotInValueSet`].
struct CodeText<'a>(Option<&'a str>);

impl fmt::Display for CodeText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(code) => write!(f, "`{code}`"),
            None => f.write_str("a value that is not a code (not repeated here)"),
        }
    }
}

/// The value of a code for a message: itself if it looks like a code, else `None` (it may be
/// free text with health data in it).
pub(crate) fn code_for_message(value: &str) -> Option<String> {
    let looks_like_code =
        !value.is_empty() && value.len() <= 40 && value.bytes().all(|b| b.is_ascii_graphic());
    looks_like_code.then(|| value.to_owned())
}

/// Renders a size for [`RecordError::TooLarge`].
struct SizeText(Option<u64>, u64);

impl fmt::Display for SizeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(size) => write!(f, "it is {size} bytes"),
            None => write!(f, "it has more than {} bytes", self.1),
        }
    }
}

/// Shortens and escapes an input-derived string for an error message: at most 64 characters,
/// control characters and quotes escaped.
pub(crate) fn shown(text: &str) -> String {
    const MAX: usize = 64;
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push('…');
            break;
        }
        if c == '`' {
            out.push_str("\\`");
        } else if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_carrying_record_errors_unwrap() {
        let io = RecordError::AttachmentMismatch { reason: "size" }.into_io();
        assert_eq!(RecordError::from(io).kind(), "AttachmentMismatch");
        let plain = io::Error::new(io::ErrorKind::NotFound, "gone");
        assert_eq!(RecordError::from(plain).kind(), "Io");
    }

    #[test]
    fn shown_escapes_and_truncates() {
        assert_eq!(shown("a\nb`"), "a\\nb\\`");
        let long = "x".repeat(100);
        assert_eq!(shown(&long).chars().count(), 65);
    }

    #[test]
    fn too_large_messages_name_the_setting() {
        let e = RecordError::TooLarge { size: None, limit: 10, setting: "max_json_bytes" };
        let msg = e.to_string();
        assert!(msg.contains("more than 10 bytes"), "{msg}");
        assert!(msg.contains("Limits::max_json_bytes"), "{msg}");
    }

    #[test]
    fn value_set_message_lists_codes() {
        let e = RecordError::NotInValueSet {
            path: "Observation.status".into(),
            value: code_for_message("done"),
            allowed: &["final", "amended"],
        };
        assert_eq!(
            e.to_string(),
            "`Observation.status` is `done`, which is not in the FHIR R4 value set; use one of: \
             final, amended"
        );
        assert_eq!(e.path(), Some("Observation.status"));
        let free_text = RecordError::NotInValueSet {
            path: "Observation.status".into(),
            value: code_for_message("patient reports chest pain"),
            allowed: &["final"],
        };
        assert!(!free_text.to_string().contains("chest"), "{free_text}");
    }
}
