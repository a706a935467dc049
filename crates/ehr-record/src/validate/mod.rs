//! FHIR R4 validation of any resource.
//!
//! The validator walks the parsed JSON against the R4 (4.0.1) definitions generated from
//! HL7's StructureDefinitions (`defs`), collecting every problem (up to a limit) in
//! document order. It checks:
//!
//! - every key is an element R4 defines at that place (unknown elements are errors, as FHIR
//!   JSON requires);
//! - cardinality: required elements present, arrays exactly where R4 repeats an element, no
//!   empty arrays, objects or strings, no `null` except inside primitive arrays;
//! - primitive JSON types and formats, `_element` siblings of primitives and their alignment;
//! - choice elements (`value[x]`): at most one type, exactly one where required;
//! - `code` elements with a required binding whose value set the definitions enumerate;
//! - references: local (`#id`, ref-1), `urn:uuid:` targets inside a Bundle, and the target
//!   resource types the definition allows;
//! - the hand-written R4 invariants of `rules` (`ext-1`, `dom-2..5`, `bdl-*`, `txt-1/2`,
//!   `per-1`, `rng-2`, ...), and where core extensions may be used;
//! - `contained` resources and Bundle entries of any type, recursively.

pub(crate) mod defs;
mod element_type;
mod path;
mod primitive;
mod references;
mod rules;
mod schema;
mod xhtml;

pub use element_type::{ElementType, element_type};

use std::collections::BTreeMap;

use crate::ResourceType;
use crate::error::{RecordError, code_for_message, shown};
use crate::json::Node;
use defs::{FieldDef, Kind, StructDef, TypeRef};
use path::Path;
use schema::{Obj, Prim, member};

pub(crate) use primitive::is_code;
pub(crate) use references::{BundleScope, Scope};

/// Most errors one validation reports.
pub(crate) const MAX_ERRORS: usize = 100;

/// What a validation found.
pub(crate) struct Outcome {
    /// The top-level resource type, when it is an R4 type.
    pub(crate) resource_type: Option<ResourceType>,
    /// Every problem, in document order, at most the limit.
    pub(crate) errors: Vec<RecordError>,
    /// More problems than the limit were found.
    pub(crate) truncated: bool,
    /// How many resources of each type the document holds (itself, entries, contained).
    pub(crate) counts: BTreeMap<ResourceType, usize>,
}

/// Validates a whole JSON document as one FHIR R4 resource and returns its type, or the
/// first problem.
pub(crate) fn validate(node: &Node) -> Result<ResourceType, RecordError> {
    let outcome = validate_all(node, 1);
    match (outcome.errors.into_iter().next(), outcome.resource_type) {
        (Some(err), _) => Err(err),
        (None, Some(t)) => Ok(t),
        (None, None) => Err(RecordError::MissingResourceType { path: "Resource".into() }),
    }
}

/// Validates a whole JSON document, reporting up to `limit` problems.
pub(crate) fn validate_all(node: &Node, limit: usize) -> Outcome {
    let mut ctx = Ctx::new(limit.max(1));
    let resource_type = if matches!(node, Node::Object(_)) {
        check_resource(node, &Path::root("Resource"), Place::Root, &mut ctx)
    } else {
        ctx.push(RecordError::NotAnObject { found: node.type_name() });
        None
    };
    Outcome { resource_type, errors: ctx.errors, truncated: ctx.truncated, counts: ctx.counts }
}

/// State carried through one validation.
pub(crate) struct Ctx {
    errors: Vec<RecordError>,
    limit: usize,
    truncated: bool,
    /// Local-reference scopes, one per resource that can hold `contained` resources.
    pub(crate) scopes: Vec<Scope>,
    /// `urn:uuid:` scopes, one per Bundle being walked.
    pub(crate) bundles: Vec<BundleScope>,
    counts: BTreeMap<ResourceType, usize>,
}

impl Ctx {
    fn new(limit: usize) -> Ctx {
        Ctx {
            errors: Vec::new(),
            limit,
            truncated: false,
            scopes: Vec::new(),
            bundles: Vec::new(),
            counts: BTreeMap::new(),
        }
    }

    /// Records a problem (beyond the limit, only that there were more).
    pub(crate) fn push(&mut self, err: RecordError) {
        if self.errors.len() < self.limit {
            self.errors.push(err);
        } else {
            self.truncated = true;
        }
    }

    /// Records the problem of a rule that failed.
    pub(crate) fn report(&mut self, result: Result<(), RecordError>) {
        if let Err(err) = result {
            self.push(err);
        }
    }

    /// Only the first problem is wanted and it is found: walking further only costs time.
    /// With a larger limit the walk goes on, so that `truncated` says whether there were
    /// more problems than listed.
    fn full(&self) -> bool {
        self.limit == 1 && !self.errors.is_empty()
    }
}

/// Where a resource sits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The document itself.
    Root,
    /// In `contained`.
    Contained,
    /// In `Bundle.entry.resource`, `Bundle.entry.response.outcome` or `Parameters`.
    Nested,
}

/// What an extension is attached to, for the contexts of core extensions.
#[derive(Clone, Copy)]
pub(crate) enum Host<'a> {
    /// A resource of this type.
    Resource(&'a str),
    /// An instance of a datatype or backbone element (`ty`), the value of `parent.field`.
    Complex { ty: &'a str, parent: &'a str, field: &'a str },
    /// A primitive value of `parent.field`.
    Primitive { prim: Prim, parent: &'a str, field: &'a str },
}

/// Validates a resource; returns its type when it is an R4 type.
fn check_resource(node: &Node, at: &Path<'_>, place: Place, ctx: &mut Ctx) -> Option<ResourceType> {
    let Node::Object(obj) = node else {
        ctx.push(match node {
            Node::Null => RecordError::EmptyValue { path: at.render() },
            _ => RecordError::WrongType {
                path: at.render(),
                expected: "a resource (a JSON object with a resourceType)".into(),
                found: node.type_name(),
            },
        });
        return None;
    };
    let type_name = match member(obj, "resourceType") {
        None => {
            ctx.push(RecordError::MissingResourceType { path: at.render() });
            return None;
        }
        Some(Node::String(s)) => s,
        Some(other) => {
            ctx.push(RecordError::WrongType {
                path: at.field("resourceType").render(),
                expected: "a string naming the resource type".into(),
                found: other.type_name(),
            });
            return None;
        }
    };
    let Ok(resource_type) = type_name.parse::<ResourceType>() else {
        let looks_like_name =
            type_name.len() <= 64 && type_name.bytes().all(|b| b.is_ascii_alphanumeric());
        ctx.push(RecordError::UnknownResourceType {
            path: at.render(),
            resource_type: if looks_like_name {
                shown(type_name)
            } else {
                "(not a type name, not repeated)".to_owned()
            },
        });
        return None;
    };
    *ctx.counts.entry(resource_type).or_default() += 1;
    let root;
    let typed;
    let here = if place == Place::Root {
        root = Path::root(resource_type.as_str());
        &root
    } else {
        typed = at.of_type(resource_type.as_str());
        &typed
    };
    let d = defs::defs();
    let Some(index) = d.struct_named(resource_type.as_str()) else {
        return Some(resource_type); // every R4 resource type has a definition (tested)
    };
    let def = &d.structs[usize::from(index)];
    let host = Host::Resource(def.name);
    let is_bundle = resource_type == ResourceType::BUNDLE;
    if is_bundle {
        ctx.bundles.push(BundleScope::of(obj));
    }
    if place == Place::Contained {
        ctx.report(rules::contained(obj, here));
        references::enter_contained(ctx, obj, resource_type);
        check_struct(obj, def, here, host, ctx);
        references::leave_contained(ctx);
    } else {
        ctx.scopes.push(Scope::default());
        check_struct(obj, def, here, host, ctx);
        if let Some(scope) = ctx.scopes.pop() {
            references::check_local(&scope, here, ctx);
        }
    }
    if is_bundle && let Some(scope) = ctx.bundles.pop() {
        references::check_bundle(&scope, ctx);
    }
    Some(resource_type)
}

/// Splits `_name` into `(true, "name")`.
fn split_key(key: &str) -> (bool, &str) {
    match key.strip_prefix('_') {
        Some(name) => (true, name),
        None => (false, key),
    }
}

/// Presence of each element of a structure, as a bit set (at most `defs::MAX_FIELDS`
/// elements, checked when the definitions load).
#[derive(Default)]
struct Seen([u64; defs::MAX_FIELDS / 64]);

impl Seen {
    /// Marks `i`; returns whether it was marked before.
    fn insert(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let before = self.0[word] & bit != 0;
        self.0[word] |= bit;
        before
    }

    fn contains(&self, i: usize) -> bool {
        self.0[i / 64] & (1u64 << (i % 64)) != 0
    }
}

fn check_struct(
    obj: &Obj,
    def: &'static StructDef,
    path: &Path<'_>,
    host: Host<'_>,
    ctx: &mut Ctx,
) {
    if ctx.full() {
        return;
    }
    if obj.is_empty() {
        ctx.push(RecordError::EmptyValue { path: path.render() });
        return;
    }
    let mut seen = Seen::default();
    for (position, (key, value)) in obj.iter().enumerate() {
        if def.is_resource && key == "resourceType" {
            continue;
        }
        let (underscore, name) = split_key(key);
        let unknown = || RecordError::UnknownElement { path: path.field(key).render() };
        let Some((field_index, field, ty)) = def.resolve_indexed(name) else {
            ctx.push(unknown());
            continue;
        };
        let Kind::Prim(prim) = ty.kind else {
            if underscore {
                ctx.push(unknown());
                continue;
            }
            if seen.insert(field_index) && field.choice {
                ctx.push(choice_conflict(obj, def, field, name, path));
            }
            check_complex_field(field, ty, def, key, value, path, ctx);
            continue;
        };
        if underscore && field.attr {
            ctx.push(unknown());
            continue;
        }
        if def.is_resource && key == "_id" {
            ctx.push(RecordError::ConstraintViolated {
                path: path.field("id").render(),
                key: "id-extension",
                message: "Resource.id may not have extensions (nor an `_id`)",
            });
            continue;
        }
        // `name` and `_name` are checked together, at the first of the two.
        let sibling = obj.iter().enumerate().find(|(_, (k, _))| {
            let (u, n) = split_key(k);
            u != underscore && n == name
        });
        if let Some((other, _)) = sibling
            && other < position
        {
            continue;
        }
        if seen.insert(field_index) && field.choice {
            ctx.push(choice_conflict(obj, def, field, name, path));
        }
        let sibling = sibling.map(|(_, (k, v))| (k.as_str(), v));
        let (val, ext) = if underscore {
            (sibling, Some((key.as_str(), value)))
        } else {
            (Some((key.as_str(), value)), sibling)
        };
        let host = Host::Primitive { prim, parent: def.name, field: field.name };
        check_primitive_field(field, prim, val, ext, path, host, ctx);
    }
    for (i, field) in def.fields.iter().enumerate() {
        if field.min > 0 && !seen.contains(i) {
            let missing =
                if field.choice { path.choice(field.name) } else { path.field(field.name) };
            ctx.push(RecordError::MissingField { path: missing.render() });
        }
    }
    if !def.is_resource {
        ctx.report(schema::rule(
            obj.iter().any(|(k, _)| k != "id"),
            path,
            "ele-1",
            "an element needs a value or child elements besides its id",
        ));
    }
    rules::check_extensions(obj, path, host, ctx);
    if let Some(check) = def.check {
        let result = check(obj, path, ctx);
        ctx.report(result);
    }
}

/// The error for a second type of the choice element `field`, given as `name`.
fn choice_conflict(
    obj: &Obj,
    def: &StructDef,
    field: &'static FieldDef,
    name: &str,
    path: &Path<'_>,
) -> RecordError {
    let mut found: Vec<String> = obj
        .iter()
        .map(|(k, _)| split_key(k).1)
        .filter(|n| def.resolve(n).is_some_and(|(f, _)| std::ptr::eq(f, field)))
        .map(str::to_owned)
        .collect();
    found.dedup();
    if found.len() < 2 {
        found.push(name.to_owned());
    }
    RecordError::ChoiceConflict { path: path.choice(field.name).render(), found }
}

/// A primitive element given as `name` (value), `_name` (id/extensions) or both.
fn check_primitive_field(
    field: &'static FieldDef,
    prim: Prim,
    value: Option<(&str, &Node)>,
    ext: Option<(&str, &Node)>,
    parent: &Path<'_>,
    host: Host<'_>,
    ctx: &mut Ctx,
) {
    let name = value.or(ext).map_or(field.name, |(k, _)| k.trim_start_matches('_'));
    let path = parent.field(name);
    if !field.many() {
        if let Some((key, v)) = value {
            if let Node::Array(_) = v {
                ctx.push(RecordError::WrongType {
                    path: parent.field(key).render(),
                    expected: format!("a single {} value, not an array", prim.name()),
                    found: v.type_name(),
                });
                return;
            }
            check_primitive_value(field, prim, v, &path, ctx);
        }
        if let Some((key, e)) = ext {
            check_primitive_element(e, &parent.field(key), value.is_some(), host, ctx);
        }
        return;
    }
    // A repeating primitive: `name` and `_name` are arrays aligned by index, `null` filling
    // the gaps.
    let values = value.and_then(|(key, node)| primitive_array(key, node, prim, parent, ctx));
    let exts = ext.and_then(|(key, node)| primitive_array(key, node, prim, parent, ctx));
    if let (Some(v), Some(e)) = (values, exts)
        && v.len() != e.len()
    {
        ctx.push(RecordError::ConstraintViolated {
            path: path.render(),
            key: "json-primitive-array",
            message: "the arrays `name` and `_name` of a repeating primitive must have the \
                      same length (null fills the gaps)",
        });
        return;
    }
    let len = values.or(exts).map_or(0, <[Node]>::len);
    for i in 0..len {
        let v = values.and_then(|v| v.get(i)).filter(|n| !matches!(n, Node::Null));
        let e = exts.and_then(|e| e.get(i)).filter(|n| !matches!(n, Node::Null));
        let item = path.index(i);
        if v.is_none() && e.is_none() {
            ctx.push(RecordError::EmptyValue { path: item.render() });
            continue;
        }
        if let Some(v) = v {
            check_primitive_value(field, prim, v, &item, ctx);
        }
        if let Some(e) = e {
            check_primitive_element(e, &item, v.is_some(), host, ctx);
        }
    }
}

/// The items of a repeating primitive's `name` or `_name` array.
fn primitive_array<'n>(
    key: &str,
    node: &'n Node,
    prim: Prim,
    parent: &Path<'_>,
    ctx: &mut Ctx,
) -> Option<&'n [Node]> {
    match node {
        Node::Array(items) if items.is_empty() => {
            ctx.push(RecordError::EmptyValue { path: parent.field(key).render() });
            None
        }
        Node::Array(items) => Some(items.as_slice()),
        other => {
            ctx.push(RecordError::WrongType {
                path: parent.field(key).render(),
                expected: format!("an array of {}", prim.name()),
                found: other.type_name(),
            });
            None
        }
    }
}

fn check_primitive_value(
    field: &'static FieldDef,
    prim: Prim,
    v: &Node,
    path: &Path<'_>,
    ctx: &mut Ctx,
) {
    if let Node::Null = v {
        ctx.push(RecordError::EmptyValue { path: path.render() });
        return;
    }
    if let Err(err) = primitive::check(prim, v, path) {
        ctx.push(err);
        return;
    }
    let Node::String(s) = v else { return };
    if prim == Prim::Code
        && let Some(vs) = field.binding
    {
        let codes = &defs::defs().value_sets[usize::from(vs)].codes;
        if codes.binary_search(&s.as_str()).is_err() {
            ctx.push(RecordError::NotInValueSet {
                path: path.render(),
                value: code_for_message(s),
                allowed: codes,
            });
        }
    }
    match prim {
        Prim::Uri | Prim::Url | Prim::Canonical => references::uri_value(s, path, ctx),
        Prim::Xhtml => ctx.report(xhtml::check(s, path)),
        _ => {}
    }
}

/// The `_name` object of a primitive: `id` and `extension` only.
fn check_primitive_element(
    e: &Node,
    path: &Path<'_>,
    has_value: bool,
    host: Host<'_>,
    ctx: &mut Ctx,
) {
    let Node::Object(obj) = e else {
        ctx.push(match e {
            Node::Null => RecordError::EmptyValue { path: path.render() },
            _ => RecordError::WrongType {
                path: path.render(),
                expected: "an object with the primitive's id and extensions".into(),
                found: e.type_name(),
            },
        });
        return;
    };
    if obj.is_empty() {
        ctx.push(RecordError::EmptyValue { path: path.render() });
        return;
    }
    let d = defs::defs();
    let element = &d.structs[usize::from(d.struct_named("Element").unwrap_or_default())];
    for (key, value) in obj {
        match (key.as_str(), element.resolve(key)) {
            ("id", _) => ctx.report(primitive::check(Prim::String, value, &path.field(key))),
            ("extension", Some((field, ty))) => {
                check_complex_field(field, ty, element, key, value, path, ctx);
            }
            _ => ctx.push(RecordError::UnknownElement { path: path.field(key).render() }),
        }
    }
    ctx.report(schema::rule(
        has_value || obj.iter().any(|(k, _)| k != "id"),
        path,
        "ele-1",
        "a primitive needs a value or extensions besides its id",
    ));
    rules::check_extensions(obj, path, host, ctx);
}

fn check_complex_field(
    field: &'static FieldDef,
    ty: TypeRef,
    parent_def: &'static StructDef,
    key: &str,
    value: &Node,
    parent: &Path<'_>,
    ctx: &mut Ctx,
) {
    let path = parent.field(key);
    let type_name = || match ty.kind {
        Kind::Struct(i) => defs::defs().structs[usize::from(i)].name,
        _ => ty.code,
    };
    if field.many() {
        let Node::Array(items) = value else {
            ctx.push(RecordError::WrongType {
                path: path.render(),
                expected: format!("an array of {}", type_name()),
                found: value.type_name(),
            });
            return;
        };
        if items.is_empty() {
            ctx.push(RecordError::EmptyValue { path: path.render() });
            return;
        }
        if let Some(max) = field.max
            && items.len() > max as usize
        {
            ctx.push(RecordError::ConstraintViolated {
                path: path.render(),
                key: "cardinality",
                message: "this element has more items than R4 allows",
            });
        }
        for (i, item) in items.iter().enumerate() {
            if ctx.full() {
                return;
            }
            check_complex_value(field, ty, parent_def, item, &path.index(i), ctx);
        }
    } else {
        if let Node::Array(_) = value {
            ctx.push(RecordError::WrongType {
                path: path.render(),
                expected: format!("a single {} (a JSON object), not an array", type_name()),
                found: value.type_name(),
            });
            return;
        }
        check_complex_value(field, ty, parent_def, value, &path, ctx);
    }
}

fn check_complex_value(
    field: &'static FieldDef,
    ty: TypeRef,
    parent_def: &'static StructDef,
    value: &Node,
    path: &Path<'_>,
    ctx: &mut Ctx,
) {
    if let Node::Null = value {
        ctx.push(RecordError::EmptyValue { path: path.render() });
        return;
    }
    match ty.kind {
        Kind::Struct(index) => {
            let def = &defs::defs().structs[usize::from(index)];
            let Node::Object(obj) = value else {
                ctx.push(RecordError::WrongType {
                    path: path.render(),
                    expected: format!("a {} (a JSON object)", def.name),
                    found: value.type_name(),
                });
                return;
            };
            let host = Host::Complex { ty: def.name, parent: parent_def.name, field: field.name };
            if def.name == "Bundle.entry"
                && let Some(bundle) = ctx.bundles.last_mut()
            {
                let full_url = member(obj, "fullUrl").and_then(Node::as_str);
                bundle.base = full_url.and_then(BundleScope::rest_base);
            }
            check_struct(obj, def, path, host, ctx);
            if ty.code == "Reference" {
                references::check_reference(obj, field.targets.as_deref(), path, ctx);
            }
        }
        Kind::Resource => {
            let place = if field.name == "contained" { Place::Contained } else { Place::Nested };
            check_resource(value, path, place, ctx);
        }
        Kind::Prim(_) => {} // handled by check_primitive_field
    }
}

#[cfg(test)]
mod tests;
