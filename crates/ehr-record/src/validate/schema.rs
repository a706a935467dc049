//! The small schema language the R4 definitions in `datatypes` and `resources` are written in.

use crate::error::RecordError;
use crate::json::Node;
use crate::validate::Ctx;
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

/// The type of an element.
#[derive(Clone, Copy)]
pub(crate) enum Type {
    /// A primitive.
    Prim(Prim),
    /// A `code` with a required binding: one of these codes.
    Code(&'static [&'static str]),
    /// A complex datatype or backbone element.
    Complex(&'static Struct),
    /// An inline resource (`contained`, `Bundle.entry.resource`).
    Resource,
}

impl Type {
    /// The primitive, if this type is one (a bound code is a `code`).
    pub(crate) fn primitive(self) -> Option<Prim> {
        match self {
            Type::Prim(p) => Some(p),
            Type::Code(_) => Some(Prim::Code),
            Type::Complex(_) | Type::Resource => None,
        }
    }

    /// The type's name for messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Type::Prim(p) => p.name(),
            Type::Code(_) => "code",
            Type::Complex(s) => s.name,
            Type::Resource => "Resource",
        }
    }
}

/// One type or a choice of types (`value[x]`).
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// A single type.
    One(Type),
    /// A choice element: `(JSON suffix, type)` pairs, e.g. `("Quantity", QUANTITY)`.
    Choice(&'static [(&'static str, Type)]),
}

/// An element definition.
pub(crate) struct Field {
    /// The name (without `[x]` for choices).
    pub(crate) name: &'static str,
    /// Its type(s).
    pub(crate) shape: Shape,
    /// Minimum cardinality: 0 or 1.
    pub(crate) min: u8,
    /// Maximum cardinality `*` (a JSON array) rather than 1.
    pub(crate) many: bool,
    /// An XML attribute in FHIR (`Element.id`, `Extension.url`) or the narrative `div`: no
    /// `_name` sibling is allowed.
    pub(crate) attr: bool,
}

/// What a structure inherits.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base {
    /// `Element`: `id`, `extension`.
    Element,
    /// `BackboneElement`: `Element` plus `modifierExtension`.
    Backbone,
    /// `Resource`: `id`, `meta`, `implicitRules`, `language`.
    Resource,
    /// `DomainResource`: `Resource` plus `text`, `contained`, `extension`,
    /// `modifierExtension`.
    DomainResource,
}

/// An object's members in document order.
pub(crate) type Obj = [(String, Node)];

/// Extra rules (R4 invariants) of a structure, run after its elements validated.
pub(crate) type Check = fn(&Obj, &Path<'_>, &mut Ctx) -> Result<(), RecordError>;

/// A complex datatype, backbone element or resource.
pub(crate) struct Struct {
    /// FHIR name, for messages.
    pub(crate) name: &'static str,
    /// What it inherits.
    pub(crate) base: Base,
    /// Its own elements.
    pub(crate) fields: &'static [Field],
    /// Its invariants.
    pub(crate) check: Option<Check>,
}

/// `name 0..1`
pub(crate) const fn opt(name: &'static str, ty: Type) -> Field {
    Field { name, shape: Shape::One(ty), min: 0, many: false, attr: false }
}

/// `name 1..1`
pub(crate) const fn req(name: &'static str, ty: Type) -> Field {
    Field { name, shape: Shape::One(ty), min: 1, many: false, attr: false }
}

/// `name 0..*`
pub(crate) const fn list(name: &'static str, ty: Type) -> Field {
    Field { name, shape: Shape::One(ty), min: 0, many: true, attr: false }
}

/// `name 1..*`
pub(crate) const fn req_list(name: &'static str, ty: Type) -> Field {
    Field { name, shape: Shape::One(ty), min: 1, many: true, attr: false }
}

/// `name[x] 0..1`
pub(crate) const fn choice(name: &'static str, types: &'static [(&'static str, Type)]) -> Field {
    Field { name, shape: Shape::Choice(types), min: 0, many: false, attr: false }
}

/// `name[x] 1..1`
pub(crate) const fn req_choice(
    name: &'static str,
    types: &'static [(&'static str, Type)],
) -> Field {
    Field { name, shape: Shape::Choice(types), min: 1, many: false, attr: false }
}

/// An attribute-like primitive (no `_name` sibling).
pub(crate) const fn attr(name: &'static str, ty: Type, min: u8) -> Field {
    Field { name, shape: Shape::One(ty), min, many: false, attr: true }
}

/// A complex type.
pub(crate) const fn cx(s: &'static Struct) -> Type {
    Type::Complex(s)
}

/// A code bound to a required value set.
pub(crate) const fn code(codes: &'static [&'static str]) -> Type {
    Type::Code(codes)
}

pub(crate) const BOOLEAN: Type = Type::Prim(Prim::Boolean);
pub(crate) const INTEGER: Type = Type::Prim(Prim::Integer);
pub(crate) const UNSIGNED_INT: Type = Type::Prim(Prim::UnsignedInt);
pub(crate) const POSITIVE_INT: Type = Type::Prim(Prim::PositiveInt);
pub(crate) const DECIMAL: Type = Type::Prim(Prim::Decimal);
pub(crate) const STRING: Type = Type::Prim(Prim::String);
pub(crate) const MARKDOWN: Type = Type::Prim(Prim::Markdown);
pub(crate) const CODE: Type = Type::Prim(Prim::Code);
pub(crate) const ID: Type = Type::Prim(Prim::Id);
pub(crate) const URI: Type = Type::Prim(Prim::Uri);
pub(crate) const URL: Type = Type::Prim(Prim::Url);
pub(crate) const CANONICAL: Type = Type::Prim(Prim::Canonical);
pub(crate) const OID: Type = Type::Prim(Prim::Oid);
pub(crate) const UUID: Type = Type::Prim(Prim::Uuid);
pub(crate) const BASE64: Type = Type::Prim(Prim::Base64Binary);
pub(crate) const DATE: Type = Type::Prim(Prim::Date);
pub(crate) const DATE_TIME: Type = Type::Prim(Prim::DateTime);
pub(crate) const INSTANT: Type = Type::Prim(Prim::Instant);
pub(crate) const TIME: Type = Type::Prim(Prim::Time);
pub(crate) const XHTML: Type = Type::Prim(Prim::Xhtml);

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
