//! References: local ones (`#id`, ref-1, dom-3), `urn:uuid:` ones inside a Bundle, and the
//! target types each `Reference` element allows.

use std::collections::{HashMap, HashSet};

use crate::ResourceType;
use crate::error::RecordError;
use crate::json::Node;
use crate::validate::path::Path;
use crate::validate::schema::{Obj, member, rule};
use crate::validate::{Ctx, defs};

/// The local-reference scope of a resource that can hold `contained` resources.
#[derive(Default)]
pub(crate) struct Scope {
    /// `id` and type of each contained resource, in order.
    contained: Vec<(Option<String>, ResourceType)>,
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
    /// The target types the element allows (`None`: any).
    targets: Option<&'static [&'static str]>,
    /// Where it is.
    path: String,
}

/// The `urn:uuid:` scope of a Bundle: its entries' fullUrls and the references to resolve.
pub(crate) struct BundleScope {
    /// Whether every `urn:` reference must resolve inside the bundle: documents, messages,
    /// transactions and batches travel as a whole. In collections, search results and
    /// histories a target may be left out (HL7's validator accepts those, see the corpus
    /// case ref-policy-r4).
    closed: bool,
    /// fullUrl → the entry resources' types (when R4 types) and `meta.versionId`s (several
    /// entries may share a fullUrl with different versions).
    entries: HashMap<String, Vec<EntryRef>>,
    /// The RESTful base (`https://server/fhir/`) of the entry being walked, against which
    /// its relative references resolve.
    pub(crate) base: Option<String>,
    /// References to resolve when the Bundle is done.
    pending: Vec<PendingRef>,
}

/// An entry as references see it: its resource's type (when an R4 type) and `meta.versionId`.
type EntryRef = (Option<ResourceType>, Option<String>);

struct PendingRef {
    target: String,
    targets: Option<&'static [&'static str]>,
    path: String,
}

impl BundleScope {
    /// The scope of the Bundle `obj`.
    pub(crate) fn of(obj: &Obj) -> BundleScope {
        let mut entries: HashMap<String, Vec<_>> = HashMap::new();
        for entry in member(obj, "entry").and_then(Node::as_array).unwrap_or_default() {
            let Some(url) = entry.get("fullUrl").and_then(Node::as_str) else { continue };
            let resource = entry.get("resource");
            let rt = resource
                .and_then(|r| r.get("resourceType"))
                .and_then(Node::as_str)
                .and_then(|t| t.parse().ok());
            let version = resource
                .and_then(|r| r.get("meta"))
                .and_then(|m| m.get("versionId"))
                .and_then(Node::as_str)
                .map(str::to_owned);
            entries.entry(url.to_owned()).or_default().push((rt, version));
        }
        let kind = member(obj, "type").and_then(Node::as_str);
        let closed = matches!(kind, Some("document" | "message" | "transaction" | "batch"));
        BundleScope { closed, entries, base: None, pending: Vec::new() }
    }

    /// The RESTful base of an entry's fullUrl (`https://server/fhir/` of
    /// `https://server/fhir/Patient/1`), when it has one.
    pub(crate) fn rest_base(full_url: &str) -> Option<String> {
        if !(full_url.starts_with("http://") || full_url.starts_with("https://")) {
            return None;
        }
        let mut tail = full_url.rsplitn(3, '/');
        let (_id, ty, base) = (tail.next()?, tail.next()?, tail.next()?);
        defs::defs().is_resource_type(ty).then(|| format!("{base}/"))
    }
}

/// A contained resource starts.
pub(crate) fn enter_contained(ctx: &mut Ctx, obj: &Obj, resource_type: ResourceType) {
    if let Some(scope) = ctx.scopes.last_mut() {
        scope.current = Some(scope.contained.len());
        let id = member(obj, "id").and_then(Node::as_str).map(str::to_owned);
        scope.contained.push((id, resource_type));
    }
}

/// A contained resource ends.
pub(crate) fn leave_contained(ctx: &mut Ctx) {
    if let Some(scope) = ctx.scopes.last_mut() {
        scope.current = None;
    }
}

/// A uri/url/canonical value: a local `#id` counts as referring to a contained resource
/// (dom-3).
pub(crate) fn uri_value(value: &str, path: &Path<'_>, ctx: &mut Ctx) {
    record_local(value, None, false, path, ctx);
}

fn record_local(
    value: &str,
    targets: Option<&'static [&'static str]>,
    is_reference: bool,
    path: &Path<'_>,
    ctx: &mut Ctx,
) {
    if let (Some(target), Some(scope)) = (value.strip_prefix('#'), ctx.scopes.last_mut()) {
        scope.refs.push(LocalRef {
            owner: scope.current,
            target: target.to_owned(),
            is_reference,
            targets,
            path: path.render(),
        });
    }
}

/// A `Reference` value of an element allowing `targets`.
pub(crate) fn check_reference(
    obj: &Obj,
    targets: Option<&'static [&'static str]>,
    path: &Path<'_>,
    ctx: &mut Ctx,
) {
    if let Some(Node::String(ty)) = member(obj, "type")
        && defs::defs().is_resource_type(ty)
    {
        ctx.report(target_allowed(ty, targets, &path.field("type")));
    }
    let Some(Node::String(reference)) = member(obj, "reference") else { return };
    let at = path.field("reference");
    if reference.starts_with('#') {
        record_local(reference, targets, true, &at, ctx);
    } else if reference.starts_with("urn:uuid:") || reference.starts_with("urn:oid:") {
        if let Some(bundle) = ctx.bundles.last_mut() {
            bundle.pending.push(PendingRef {
                target: reference.clone(),
                targets,
                path: at.render(),
            });
        }
    } else if let Some(ty) = type_in_url(reference) {
        ctx.report(target_allowed(ty, targets, &at));
        if let Some(bundle) = ctx.bundles.last() {
            let result = bundle.resolve_relative(reference, &at);
            ctx.report(result);
        }
    }
}

impl BundleScope {
    /// A RESTful reference inside a Bundle: when entries carry the URL it resolves to, it
    /// must pick out one of them (a versioned reference the one with that `meta.versionId`).
    /// When none does, the target may live on a server and nothing is reported.
    fn resolve_relative(&self, reference: &str, at: &Path<'_>) -> Result<(), RecordError> {
        let (plain, version) = match reference.split_once("/_history/") {
            Some((plain, version)) => (plain, Some(version)),
            None => (reference, None),
        };
        let absolute = plain.starts_with("http://") || plain.starts_with("https://");
        let url = match (&self.base, absolute) {
            (_, true) => plain.to_owned(),
            (Some(base), false) => format!("{base}{plain}"),
            (None, false) => return Ok(()),
        };
        let Some(candidates) = self.entries.get(&url) else { return Ok(()) };
        match version {
            Some(v) => rule(
                candidates.iter().any(|(_, cv)| cv.as_deref() == Some(v)),
                at,
                "bundle-reference-version",
                "no entry of the bundle has this reference's URL and version (meta.versionId)",
            ),
            None => rule(
                candidates.len() == 1,
                at,
                "bundle-reference-ambiguous",
                "several entries of the bundle have this reference's URL (different versions): \
                 name the version (…/_history/<versionId>)",
            ),
        }
    }
}

/// The resource type a RESTful reference names: `Patient/1`, `Patient/1/_history/2`,
/// `https://server/fhir/Patient/1`.
fn type_in_url(reference: &str) -> Option<&str> {
    let reference = reference.split(['?', '#']).next().unwrap_or_default();
    let base = match reference.find("/_history/") {
        Some(at) => &reference[..at],
        None => reference,
    };
    let mut segments = base.rsplit('/');
    let _id = segments.next()?;
    let ty = segments.next()?;
    defs::defs().is_resource_type(ty).then_some(ty)
}

fn target_allowed(
    ty: &str,
    targets: Option<&'static [&'static str]>,
    path: &Path<'_>,
) -> Result<(), RecordError> {
    let allowed = targets.is_none_or(|t| t.contains(&ty));
    rule(
        allowed,
        path,
        "reference-target",
        "the reference points to a resource type this element does not allow (see the \
         element's target types in the R4 definition)",
    )
}

/// ref-1, dom-3, duplicate contained ids and target types of local references, for the
/// resource whose scope just closed.
pub(crate) fn check_local(scope: &Scope, path: &Path<'_>, ctx: &mut Ctx) {
    let contained = path.field("contained");
    let mut ids: HashMap<&str, ResourceType> = HashMap::new();
    for (i, (id, ty)) in scope.contained.iter().enumerate() {
        if let Some(id) = id.as_deref()
            && ids.insert(id, *ty).is_some()
        {
            ctx.push(RecordError::ConstraintViolated {
                path: contained.index(i).field("id").render(),
                key: "contained-id-unique",
                message: "contained resources must have distinct ids",
            });
        }
    }
    let targets: HashSet<&str> = scope.refs.iter().map(|r| r.target.as_str()).collect();
    let refers_to_container: HashSet<usize> =
        scope.refs.iter().filter(|r| r.target.is_empty()).filter_map(|r| r.owner).collect();
    for r in scope.refs.iter().filter(|r| r.is_reference && !r.target.is_empty()) {
        match ids.get(r.target.as_str()) {
            None => ctx.push(RecordError::ConstraintViolated {
                path: r.path.clone(),
                key: "ref-1",
                message: "a local reference (#id) must name a resource in `contained`",
            }),
            Some(ty) if r.targets.is_some_and(|t| !t.contains(&ty.as_str())) => {
                ctx.push(RecordError::ConstraintViolated {
                    path: r.path.clone(),
                    key: "reference-target",
                    message: "the reference points to a resource type this element does not \
                              allow (see the element's target types in the R4 definition)",
                });
            }
            Some(_) => {}
        }
    }
    for (i, (id, _)) in scope.contained.iter().enumerate() {
        let referenced = id.as_deref().is_some_and(|id| targets.contains(id))
            || refers_to_container.contains(&i);
        ctx.report(rule(
            referenced,
            &contained.index(i),
            "dom-3",
            "a contained resource must be referenced from the rest of the resource (as #id) \
             or refer to its container (as #)",
        ));
    }
}

/// Resolves a finished Bundle's `urn:` references. In a closed bundle (document, message,
/// transaction, batch) each must name an entry; an open bundle's unresolved references go to
/// the Bundle around it, if any.
pub(crate) fn check_bundle(scope: &BundleScope, ctx: &mut Ctx) {
    for r in &scope.pending {
        let types = scope.entries.get(&r.target).map(|e| e.iter().filter_map(|(t, _)| *t));
        match types.map(|mut t| t.next()) {
            Some(Some(ty)) if r.targets.is_some_and(|t| !t.contains(&ty.as_str())) => {
                ctx.push(RecordError::ConstraintViolated {
                    path: r.path.clone(),
                    key: "reference-target",
                    message: "the reference points to a resource type this element does not \
                              allow (see the element's target types in the R4 definition)",
                });
            }
            Some(_) => {}
            None if scope.closed => ctx.push(RecordError::ConstraintViolated {
                path: r.path.clone(),
                key: "bundle-reference",
                message: "a urn:uuid: or urn:oid: reference in a document, message, \
                          transaction or batch Bundle must be the fullUrl of one of its entries",
            }),
            None => {
                if let Some(outer) = ctx.bundles.last_mut() {
                    outer.pending.push(PendingRef {
                        target: r.target.clone(),
                        targets: r.targets,
                        path: r.path.clone(),
                    });
                }
            }
        }
    }
}
