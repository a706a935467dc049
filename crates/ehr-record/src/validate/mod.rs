//! FHIR R4 validation of the resources ehrkit accepts.
//!
//! The validator walks the parsed JSON against hand-written R4 definitions
//! (`datatypes`, `resources`) and stops at the first problem, in document order. It checks:
//!
//! - every key is an element R4 defines at that place (unknown elements are errors, as FHIR
//!   JSON requires), including the inherited `id`, `meta`, `implicitRules`, `language`,
//!   `text`, `contained`, `extension` and `modifierExtension`;
//! - cardinality: required elements present, arrays exactly where R4 has `0..*`/`1..*`,
//!   no empty arrays, objects or strings, no `null` except inside primitive arrays;
//! - primitive JSON types and formats, `_element` siblings of primitives and their alignment;
//! - choice elements (`value[x]`): at most one type, exactly one where required;
//! - codes with required bindings (`Observation.status`, `Bundle.type`, ...);
//! - R4 invariants that can be decided locally (`ext-1`, `dom-2`..`dom-5`, `ref-1`,
//!   `bdl-*`, `obs-3/6/7`, `con-4/5`, `pat-1`, `att-1`, `cpt-2`, `qty-3`, `tim-*`, `txt-1`, ...);
//! - `Bundle` entries and `contained` resources, recursively, each of an accepted type.
//!
//! Not checked: terminology (whether a LOINC code exists), profiles, references to other
//! resources (they may live elsewhere), and invariants needing date arithmetic (`per-1`).

mod datatypes;
mod path;
mod primitive;
mod resources;
mod schema;

use std::collections::HashSet;

use crate::ResourceType;
use crate::error::{RecordError, code_for_message};
use crate::json::Node;
use path::Path;
use schema::{Base, Field, Obj, Prim, Shape, Struct, Type, member, rule};

pub(crate) use primitive::is_code;

/// Validates a whole JSON document as one accepted FHIR R4 resource and returns its type.
pub(crate) fn validate(node: &Node) -> Result<ResourceType, RecordError> {
    if !matches!(node, Node::Object(_)) {
        return Err(RecordError::NotAnObject { found: node.type_name() });
    }
    let mut ctx = Ctx::default();
    check_resource(node, &Path::root("Resource"), Place::Root, &mut ctx)
}

/// State carried through one validation: the local-reference scopes (one per resource that
/// can hold `contained` resources).
#[derive(Default)]
pub(crate) struct Ctx {
    scopes: Vec<Scope>,
}

#[derive(Default)]
struct Scope {
    /// `id` of each contained resource, in order.
    contained_ids: Vec<Option<String>>,
    /// Local references (`#id`, `#`) seen in this resource.
    refs: Vec<LocalRef>,
    /// Index of the contained resource being walked, if any.
    current: Option<usize>,
}

struct LocalRef {
    /// The contained resource it appears in (`None`: the container itself).
    owner: Option<usize>,
    /// What follows `#` (empty: the container).
    target: String,
    /// A `Reference.reference` (ref-1 applies) rather than a uri/url/canonical value.
    is_reference: bool,
    /// Where it is.
    path: String,
}

impl Ctx {
    /// Records a `Reference.reference` value, if it is local.
    pub(crate) fn local_reference(&mut self, value: &str, path: &Path<'_>) {
        self.record(value, path, true);
    }

    fn record(&mut self, value: &str, path: &Path<'_>, is_reference: bool) {
        if let (Some(target), Some(scope)) = (value.strip_prefix('#'), self.scopes.last_mut()) {
            scope.refs.push(LocalRef {
                owner: scope.current,
                target: target.to_owned(),
                is_reference,
                path: path.render(),
            });
        }
    }
}

/// Where a resource sits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The document itself.
    Root,
    /// In `contained`.
    Contained,
    /// In `Bundle.entry.resource` or `Bundle.entry.response.outcome`.
    Entry,
}

fn check_resource(
    node: &Node,
    at: &Path<'_>,
    place: Place,
    ctx: &mut Ctx,
) -> Result<ResourceType, RecordError> {
    let Node::Object(obj) = node else {
        return Err(RecordError::WrongType {
            path: at.render(),
            expected: "a resource (a JSON object with a resourceType)".into(),
            found: node.type_name(),
        });
    };
    let type_name = match member(obj, "resourceType") {
        None => return Err(RecordError::MissingResourceType { path: at.render() }),
        Some(Node::String(s)) => s,
        Some(other) => {
            return Err(RecordError::WrongType {
                path: at.field("resourceType").render(),
                expected: "a string naming the resource type".into(),
                found: other.type_name(),
            });
        }
    };
    let resource_type: ResourceType =
        type_name.parse().map_err(|_| RecordError::UnknownResourceType {
            path: at.render(),
            resource_type: if type_name.len() <= 64
                && type_name.bytes().all(|b| b.is_ascii_alphanumeric())
            {
                type_name.clone()
            } else {
                "(not a type name, not repeated)".to_owned()
            },
        })?;
    let root;
    let typed;
    let here = if place == Place::Root {
        root = Path::root(resource_type.as_str());
        &root
    } else {
        typed = at.of_type(resource_type.as_str());
        &typed
    };
    let def = resources::definition(resource_type);

    if place == Place::Contained {
        check_contained_rules(obj, here)?;
        if let Some(scope) = ctx.scopes.last_mut() {
            scope.current = Some(scope.contained_ids.len());
            let id = member(obj, "id").and_then(Node::as_str).map(str::to_owned);
            scope.contained_ids.push(id);
        }
        check_struct(obj, def, here, ctx)?;
        if let Some(scope) = ctx.scopes.last_mut() {
            scope.current = None;
        }
    } else {
        ctx.scopes.push(Scope::default());
        check_struct(obj, def, here, ctx)?;
        if let Some(scope) = ctx.scopes.pop() {
            check_local_references(&scope, here)?;
        }
    }
    Ok(resource_type)
}

/// dom-2, dom-4, dom-5: what a contained resource may not have.
fn check_contained_rules(obj: &Obj, path: &Path<'_>) -> Result<(), RecordError> {
    rule(
        member(obj, "contained").is_none(),
        path,
        "dom-2",
        "a contained resource may not contain resources itself",
    )?;
    let meta = member(obj, "meta");
    let meta_has = |key| meta.and_then(|m| m.get(key)).is_some();
    rule(
        !meta_has("versionId") && !meta_has("lastUpdated"),
        path,
        "dom-4",
        "a contained resource may not have meta.versionId or meta.lastUpdated",
    )?;
    rule(
        !meta_has("security"),
        path,
        "dom-5",
        "a contained resource may not have a security label (meta.security)",
    )
}

/// ref-1 and dom-3 for the resource whose scope just closed.
fn check_local_references(scope: &Scope, path: &Path<'_>) -> Result<(), RecordError> {
    let ids: HashSet<&str> = scope.contained_ids.iter().filter_map(|id| id.as_deref()).collect();
    let targets: HashSet<&str> = scope.refs.iter().map(|r| r.target.as_str()).collect();
    let refers_to_container: HashSet<usize> =
        scope.refs.iter().filter(|r| r.target.is_empty()).filter_map(|r| r.owner).collect();
    for r in scope.refs.iter().filter(|r| r.is_reference && !r.target.is_empty()) {
        if !ids.contains(r.target.as_str()) {
            return Err(RecordError::ConstraintViolated {
                path: r.path.clone(),
                key: "ref-1",
                message: "a local reference (#id) must name a resource in `contained`",
            });
        }
    }
    let contained = path.field("contained");
    for (i, id) in scope.contained_ids.iter().enumerate() {
        let referenced = id.as_deref().is_some_and(|id| targets.contains(id))
            || refers_to_container.contains(&i);
        rule(
            referenced,
            &contained.index(i),
            "dom-3",
            "a contained resource must be referenced from the rest of the resource (as #id) \
             or refer to its container (as #)",
        )?;
    }
    Ok(())
}

/// The inherited elements of a structure.
fn base_fields(base: Base) -> &'static [Field] {
    match base {
        Base::Element => &datatypes::ELEMENT_FIELDS,
        Base::Backbone => &datatypes::BACKBONE_FIELDS,
        Base::Resource => &datatypes::RESOURCE_FIELDS,
        Base::DomainResource => &datatypes::DOMAIN_RESOURCE_FIELDS,
    }
}

/// The element a JSON name (without `_`) stands for, and its type.
fn resolve(name: &str, def: &'static Struct) -> Option<(&'static Field, Type)> {
    base_fields(def.base).iter().chain(def.fields).find_map(|field| match field.shape {
        Shape::One(ty) => (field.name == name).then_some((field, ty)),
        Shape::Choice(types) => {
            let suffix = name.strip_prefix(field.name)?;
            types.iter().find(|(s, _)| *s == suffix).map(|(_, ty)| (field, *ty))
        }
    })
}

fn check_struct(
    obj: &Obj,
    def: &'static Struct,
    path: &Path<'_>,
    ctx: &mut Ctx,
) -> Result<(), RecordError> {
    let is_resource = matches!(def.base, Base::Resource | Base::DomainResource);
    if obj.is_empty() {
        return Err(RecordError::EmptyValue { path: path.render() });
    }
    // Each element seen, with the JSON name (without `_`) it was given as.
    let mut seen: Vec<(&'static Field, &str)> = Vec::new();
    for (key, value) in obj {
        if is_resource && key == "resourceType" {
            continue;
        }
        let (underscore, name) = match key.strip_prefix('_') {
            Some(name) => (true, name),
            None => (false, key.as_str()),
        };
        let unknown = || RecordError::UnknownElement { path: path.field(key).render() };
        let (field, ty) = resolve(name, def).ok_or_else(unknown)?;
        let primitive = ty.primitive();
        if underscore && (primitive.is_none() || field.attr) {
            return Err(unknown());
        }
        match seen.iter().find(|(f, _)| std::ptr::eq(*f, field)) {
            Some((_, other)) if *other != name => {
                return Err(RecordError::ChoiceConflict {
                    path: path.choice(field.name).render(),
                    found: vec![(*other).to_owned(), name.to_owned()],
                });
            }
            Some(_) => {}
            None => seen.push((field, name)),
        }
        match primitive {
            Some(prim) => {
                let sibling = |want_underscore: bool| {
                    obj.iter().find(|(k, _)| {
                        let (u, n) = match k.strip_prefix('_') {
                            Some(n) => (true, n),
                            None => (false, k.as_str()),
                        };
                        u == want_underscore && n == name
                    })
                };
                if underscore {
                    if sibling(false).is_some() {
                        continue; // checked together with the value
                    }
                    let ext = Some((key.as_str(), value));
                    check_primitive_field(field, ty, prim, None, ext, path, ctx)?;
                } else {
                    let ext = sibling(true).map(|(k, v)| (k.as_str(), v));
                    let val = Some((key.as_str(), value));
                    check_primitive_field(field, ty, prim, val, ext, path, ctx)?;
                }
            }
            None => check_complex_field(field, ty, key, value, path, ctx)?,
        }
    }
    for field in base_fields(def.base).iter().chain(def.fields) {
        if field.min > 0 && !seen.iter().any(|(f, _)| std::ptr::eq(*f, field)) {
            let missing = match field.shape {
                Shape::Choice(_) => path.choice(field.name),
                Shape::One(_) => path.field(field.name),
            };
            return Err(RecordError::MissingField { path: missing.render() });
        }
    }
    if !is_resource {
        rule(
            obj.iter().any(|(k, _)| k != "id"),
            path,
            "ele-1",
            "an element needs a value or child elements besides its id",
        )?;
    }
    match def.check {
        Some(check) => check(obj, path, ctx),
        None => Ok(()),
    }
}

/// A primitive element given as `name` (value), `_name` (id/extensions) or both.
fn check_primitive_field(
    field: &Field,
    ty: Type,
    prim: Prim,
    value: Option<(&str, &Node)>,
    ext: Option<(&str, &Node)>,
    parent: &Path<'_>,
    ctx: &mut Ctx,
) -> Result<(), RecordError> {
    let name = value.or(ext).map_or(field.name, |(k, _)| k.trim_start_matches('_'));
    let path = parent.field(name);
    if !field.many {
        if let Some((key, v)) = value {
            if let Node::Array(_) = v {
                return Err(RecordError::WrongType {
                    path: parent.field(key).render(),
                    expected: format!("a single {} value, not an array", ty.name()),
                    found: v.type_name(),
                });
            }
            check_primitive_value(ty, prim, v, &path, ctx)?;
        }
        if let Some((key, e)) = ext {
            check_primitive_element(e, &parent.field(key), value.is_some(), ctx)?;
        }
        return Ok(());
    }
    // A repeating primitive: `name` and `_name` are arrays aligned by index, `null` filling
    // the gaps.
    let values = value.map(|(key, node)| primitive_array(key, node, ty, parent)).transpose()?;
    let exts = ext.map(|(key, node)| primitive_array(key, node, ty, parent)).transpose()?;
    if let (Some(v), Some(e)) = (values, exts)
        && v.len() != e.len()
    {
        return Err(RecordError::ConstraintViolated {
            path: path.render(),
            key: "json-primitive-array",
            message: "the arrays `name` and `_name` of a repeating primitive must have the \
                      same length (null fills the gaps)",
        });
    }
    let len = values.or(exts).map_or(0, <[Node]>::len);
    for i in 0..len {
        let v = values.and_then(|v| v.get(i)).filter(|n| !matches!(n, Node::Null));
        let e = exts.and_then(|e| e.get(i)).filter(|n| !matches!(n, Node::Null));
        let item = path.index(i);
        if v.is_none() && e.is_none() {
            return Err(RecordError::EmptyValue { path: item.render() });
        }
        if let Some(v) = v {
            check_primitive_value(ty, prim, v, &item, ctx)?;
        }
        if let Some(e) = e {
            check_primitive_element(e, &item, v.is_some(), ctx)?;
        }
    }
    Ok(())
}

/// The items of a repeating primitive's `name` or `_name` array.
fn primitive_array<'n>(
    key: &str,
    node: &'n Node,
    ty: Type,
    parent: &Path<'_>,
) -> Result<&'n [Node], RecordError> {
    match node {
        Node::Array(items) if items.is_empty() => {
            Err(RecordError::EmptyValue { path: parent.field(key).render() })
        }
        Node::Array(items) => Ok(items.as_slice()),
        other => Err(RecordError::WrongType {
            path: parent.field(key).render(),
            expected: format!("an array of {}", ty.name()),
            found: other.type_name(),
        }),
    }
}

fn check_primitive_value(
    ty: Type,
    prim: Prim,
    v: &Node,
    path: &Path<'_>,
    ctx: &mut Ctx,
) -> Result<(), RecordError> {
    if let Node::Null = v {
        return Err(RecordError::EmptyValue { path: path.render() });
    }
    primitive::check(prim, v, path)?;
    let Node::String(s) = v else { return Ok(()) };
    if let Type::Code(codes) = ty
        && !codes.contains(&s.as_str())
    {
        return Err(RecordError::NotInValueSet {
            path: path.render(),
            value: code_for_message(s),
            allowed: codes,
        });
    }
    if matches!(prim, Prim::Uri | Prim::Url | Prim::Canonical) {
        ctx.record(s, path, false);
    }
    Ok(())
}

/// The `_name` object of a primitive: `id` and `extension` only.
fn check_primitive_element(
    e: &Node,
    path: &Path<'_>,
    has_value: bool,
    ctx: &mut Ctx,
) -> Result<(), RecordError> {
    let Node::Object(obj) = e else {
        return Err(match e {
            Node::Null => RecordError::EmptyValue { path: path.render() },
            _ => RecordError::WrongType {
                path: path.render(),
                expected: "an object with the primitive's id and extensions".into(),
                found: e.type_name(),
            },
        });
    };
    check_struct_fields_only(obj, path, ctx)?;
    rule(
        has_value || obj.iter().any(|(k, _)| k != "id"),
        path,
        "ele-1",
        "a primitive needs a value or extensions besides its id",
    )
}

/// Checks the `_name` object's members (`id`, `extension`) without the ele-1 rule of
/// `check_struct` (a primitive with a value may carry just an id).
fn check_struct_fields_only(obj: &Obj, path: &Path<'_>, ctx: &mut Ctx) -> Result<(), RecordError> {
    if obj.is_empty() {
        return Err(RecordError::EmptyValue { path: path.render() });
    }
    for (key, value) in obj {
        match key.as_str() {
            "id" => primitive::check(Prim::String, value, &path.field(key))?,
            "extension" => {
                let field = &datatypes::ELEMENT_FIELDS[1];
                check_complex_field(
                    field,
                    schema::cx(&datatypes::EXTENSION),
                    key,
                    value,
                    path,
                    ctx,
                )?;
            }
            _ => {
                return Err(RecordError::UnknownElement { path: path.field(key).render() });
            }
        }
    }
    Ok(())
}

fn check_complex_field(
    field: &Field,
    ty: Type,
    key: &str,
    value: &Node,
    parent: &Path<'_>,
    ctx: &mut Ctx,
) -> Result<(), RecordError> {
    let path = parent.field(key);
    if field.many {
        let Node::Array(items) = value else {
            return Err(RecordError::WrongType {
                path: path.render(),
                expected: format!("an array of {}", ty.name()),
                found: value.type_name(),
            });
        };
        if items.is_empty() {
            return Err(RecordError::EmptyValue { path: path.render() });
        }
        for (i, item) in items.iter().enumerate() {
            check_complex_value(field, ty, item, &path.index(i), ctx)?;
        }
        Ok(())
    } else {
        if let Node::Array(_) = value {
            return Err(RecordError::WrongType {
                path: path.render(),
                expected: format!("a single {} (a JSON object), not an array", ty.name()),
                found: value.type_name(),
            });
        }
        check_complex_value(field, ty, value, &path, ctx)
    }
}

fn check_complex_value(
    field: &Field,
    ty: Type,
    value: &Node,
    path: &Path<'_>,
    ctx: &mut Ctx,
) -> Result<(), RecordError> {
    if let Node::Null = value {
        return Err(RecordError::EmptyValue { path: path.render() });
    }
    match ty {
        Type::Complex(def) => match value {
            Node::Object(obj) => check_struct(obj, def, path, ctx),
            other => Err(RecordError::WrongType {
                path: path.render(),
                expected: format!("a {} (a JSON object)", def.name),
                found: other.type_name(),
            }),
        },
        Type::Resource => {
            let place = if field.name == "contained" { Place::Contained } else { Place::Entry };
            check_resource(value, path, place, ctx).map(|_| ())
        }
        Type::Prim(_) | Type::Code(_) => Ok(()), // handled by check_primitive_field
    }
}

#[cfg(test)]
mod tests;
