//! Primitive datatypes and the small helpers the validator and its invariants share.

use crate::error::RecordError;
use crate::json::Node;
use crate::validate::path::Path;

/// FHIR R4 primitive datatypes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prim {
    Boolean,
    Integer,
    UnsignedInt,
    PositiveInt,
    Decimal,
    String,
    Markdown,
    Code,
    Id,
    Uri,
    Url,
    Canonical,
    Oid,
    Uuid,
    Base64Binary,
    Date,
    DateTime,
    Instant,
    Time,
    Xhtml,
}

impl Prim {
    /// Every primitive datatype.
    const ALL: [Prim; 20] = [
        Prim::Boolean,
        Prim::Integer,
        Prim::UnsignedInt,
        Prim::PositiveInt,
        Prim::Decimal,
        Prim::String,
        Prim::Markdown,
        Prim::Code,
        Prim::Id,
        Prim::Uri,
        Prim::Url,
        Prim::Canonical,
        Prim::Oid,
        Prim::Uuid,
        Prim::Base64Binary,
        Prim::Date,
        Prim::DateTime,
        Prim::Instant,
        Prim::Time,
        Prim::Xhtml,
    ];

    /// The primitive named `name` (`dateTime`).
    pub(crate) fn from_name(name: &str) -> Option<Prim> {
        Prim::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The primitive it specialises (`code` → `string`), for extension contexts.
    pub(crate) fn base(self) -> Option<Prim> {
        match self {
            Prim::Markdown | Prim::Code | Prim::Id => Some(Prim::String),
            Prim::Url | Prim::Canonical | Prim::Oid | Prim::Uuid => Some(Prim::Uri),
            Prim::UnsignedInt | Prim::PositiveInt => Some(Prim::Integer),
            _ => None,
        }
    }

    /// The FHIR name (`dateTime`).
    pub(crate) fn name(self) -> &'static str {
        match self {
            Prim::Boolean => "boolean",
            Prim::Integer => "integer",
            Prim::UnsignedInt => "unsignedInt",
            Prim::PositiveInt => "positiveInt",
            Prim::Decimal => "decimal",
            Prim::String => "string",
            Prim::Markdown => "markdown",
            Prim::Code => "code",
            Prim::Id => "id",
            Prim::Uri => "uri",
            Prim::Url => "url",
            Prim::Canonical => "canonical",
            Prim::Oid => "oid",
            Prim::Uuid => "uuid",
            Prim::Base64Binary => "base64Binary",
            Prim::Date => "date",
            Prim::DateTime => "dateTime",
            Prim::Instant => "instant",
            Prim::Time => "time",
            Prim::Xhtml => "xhtml",
        }
    }
}

/// An object's members in document order.
pub(crate) type Obj = [(String, Node)];

/// The member `key` of an object.
pub(crate) fn member<'a>(obj: &'a Obj, key: &str) -> Option<&'a Node> {
    obj.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

/// Whether the element `name` is present, as `name` or `_name`.
pub(crate) fn has(obj: &Obj, name: &str) -> bool {
    obj.iter().any(|(k, _)| k.strip_prefix('_').unwrap_or(k) == name)
}

/// Whether the choice element `name[x]` is present, as any `name<Type>` or `_name<Type>`.
pub(crate) fn has_choice(obj: &Obj, name: &str) -> bool {
    obj.iter().any(|(k, _)| {
        k.strip_prefix('_')
            .unwrap_or(k)
            .strip_prefix(name)
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_uppercase()))
    })
}

/// `Err(ConstraintViolated)` unless `ok`.
pub(crate) fn rule(
    ok: bool,
    path: &Path<'_>,
    key: &'static str,
    message: &'static str,
) -> Result<(), RecordError> {
    if ok {
        Ok(())
    } else {
        Err(RecordError::ConstraintViolated { path: path.render(), key, message })
    }
}
