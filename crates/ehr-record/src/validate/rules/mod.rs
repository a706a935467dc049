//! The R4 invariants the generated definitions cannot express (their FHIRPath is not
//! evaluated here), written by hand for the rules that can be decided locally, and where
//! core extensions may be used.

mod bundle;
mod condition;
mod datatypes;
mod observation;
mod patient;
mod period;

use crate::error::RecordError;
use crate::json::Node;
use crate::validate::path::Path;
use crate::validate::schema::{Obj, member, rule};
use crate::validate::{Ctx, Host, defs};

/// Extra rules of a structure, run after its elements were walked.
pub(crate) type Check = fn(&Obj, &Path<'_>, &mut Ctx) -> Result<(), RecordError>;

/// The invariants of the structure (datatype, resource or backbone element) `name`.
pub(crate) fn for_struct(name: &str) -> Option<Check> {
    Some(match name {
        "Extension" => datatypes::extension,
        "Coding" => datatypes::coding,
        "Quantity" | "MoneyQuantity" => datatypes::quantity,
        "SimpleQuantity" => datatypes::simple_quantity,
        "Age" => datatypes::age,
        "Count" => datatypes::count,
        "Distance" => datatypes::distance,
        "Duration" => datatypes::duration,
        "Range" => period::range,
        "Period" => period::period,
        "Ratio" => datatypes::ratio,
        "Attachment" => datatypes::attachment,
        "ContactPoint" => datatypes::contact_point,
        "Timing.repeat" => datatypes::timing_repeat,
        "DataRequirement.codeFilter" => datatypes::code_filter,
        "DataRequirement.dateFilter" => datatypes::date_filter,
        "Expression" => datatypes::expression,
        "Bundle" => bundle::bundle,
        "Bundle.entry" => bundle::entry,
        "Condition" => condition::condition,
        "Condition.stage" => condition::stage,
        "Condition.evidence" => condition::evidence,
        "Observation" => observation::observation,
        "Observation.component" => observation::component,
        "Observation.referenceRange" => observation::reference_range,
        "Patient.contact" => patient::contact,
        _ => return None,
    })
}

/// dom-2, dom-4, dom-5: what a contained resource may not have.
pub(crate) fn contained(obj: &Obj, path: &Path<'_>) -> Result<(), RecordError> {
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

/// The extensions of an element: no version in the URL, and core extensions (those R4
/// defines) only where their definition's context allows.
pub(crate) fn check_extensions(obj: &Obj, path: &Path<'_>, host: Host<'_>, ctx: &mut Ctx) {
    for key in ["extension", "modifierExtension"] {
        let Some(items) = member(obj, key).and_then(Node::as_array) else { continue };
        let at = path.field(key);
        for (i, ext) in items.iter().enumerate() {
            let Some(url) = ext.get("url").and_then(Node::as_str) else { continue };
            if url.contains('|') {
                ctx.push(RecordError::ConstraintViolated {
                    path: at.index(i).field("url").render(),
                    key: "ext-url-version",
                    message: "an extension URL may not carry a version (`|version`)",
                });
                continue;
            }
            let d = defs::defs();
            if let Some(types) = d.extension_types.get(url) {
                ctx.report(value_type(ext, types, &at.index(i)));
            }
            let Some(contexts) = d.extension_contexts.get(url) else { continue };
            if !contexts.iter().any(|c| context_allows(c, host)) {
                ctx.push(RecordError::ConstraintViolated {
                    path: at.index(i).render(),
                    key: "ext-context",
                    message: "this core R4 extension is not allowed on this element (see the \
                              contexts of its StructureDefinition)",
                });
            }
        }
    }
}

/// The value of a core extension has one of the types its definition allows (none, for a
/// complex extension).
fn value_type(ext: &Node, types: &[&str], path: &Path<'_>) -> Result<(), RecordError> {
    let Some(obj) = ext.as_object() else { return Ok(()) };
    let Some(suffix) = obj.iter().find_map(|(k, _)| k.strip_prefix("value")) else {
        return Ok(());
    };
    let allowed = types.iter().any(|t| {
        let mut chars = t.chars();
        chars.next().is_some_and(|first| {
            suffix.strip_prefix(first.to_ascii_uppercase()) == Some(chars.as_str())
        })
    });
    rule(
        allowed,
        path,
        "ext-value-type",
        "the value of this core R4 extension has a type its definition does not allow (or \
         the extension takes nested extensions, not a value)",
    )
}

/// Whether the context expression `context` (an element path such as `Patient`,
/// `HumanName.family` or `Element`) covers `host`. Expressions that are not plain paths
/// (FHIRPath) are not evaluated and allow any place.
fn context_allows(context: &str, host: Host<'_>) -> bool {
    let plain = context.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    if !plain || context == "Element" {
        return true;
    }
    let is_path = |parent: &str, field: &str| {
        context.strip_prefix(parent).and_then(|r| r.strip_prefix('.')) == Some(field)
    };
    match host {
        Host::Resource(ty) => context == ty || context == "Resource" || context == "DomainResource",
        Host::Complex { ty, parent, field } => {
            context == ty
                || is_path(parent, field)
                || (context == "Quantity" && quantity_kind(ty))
                || (context == "BackboneElement" && ty.contains('.'))
        }
        Host::Primitive { prim, parent, field } => {
            context == prim.name()
                || prim.base().is_some_and(|b| b.name() == context)
                || is_path(parent, field)
        }
    }
}

/// The specialisations and profiles of Quantity.
fn quantity_kind(ty: &str) -> bool {
    matches!(ty, "Age" | "Count" | "Distance" | "Duration" | "SimpleQuantity" | "MoneyQuantity")
}
