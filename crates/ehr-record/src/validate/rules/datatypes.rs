//! Invariants of R4 (4.0.1) complex datatypes.

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::content_type::is_mime_type;
use crate::error::RecordError;
use crate::json::{Node, Number};
use crate::validate::Ctx;
use crate::validate::path::Path;
use crate::validate::schema::{Obj, has, has_choice, member, rule};

type Outcome = Result<(), RecordError>;

/// ext-1: an extension has a value or nested extensions, not both.
pub(super) fn extension(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    rule(
        has(obj, "extension") != has_choice(obj, "value"),
        path,
        "ext-1",
        "an extension has either a value[x] or nested extensions, not both and not neither",
    )
}

/// Coding.system is an absolute URI (R4: "the identification of the code system", a URL,
/// `urn:oid:` or `urn:uuid:`), as HL7's validator requires.
pub(super) fn coding(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    let Some(Node::String(system)) = member(obj, "system") else { return Ok(()) };
    let scheme = system.split_once(':').map(|(s, _)| s).unwrap_or_default();
    let absolute = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    rule(
        absolute,
        &path.field("system"),
        "coding-system-absolute",
        "Coding.system must be an absolute URI (such as http://loinc.org or urn:oid:...), \
         not a relative one",
    )
}

const UCUM: &str = "http://unitsofmeasure.org";

/// qty-3: a unit code needs its system.
pub(super) fn quantity(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    rule(
        !has(obj, "code") || has(obj, "system"),
        path,
        "qty-3",
        "a quantity with a unit code must also name the code system",
    )
}

/// qty-3 and sqty-1 (the profile already leaves `comparator` out; kept for its message).
pub(super) fn simple_quantity(obj: &Obj, path: &Path<'_>, ctx: &mut Ctx) -> Outcome {
    quantity(obj, path, ctx)?;
    rule(!has(obj, "comparator"), path, "sqty-1", "a SimpleQuantity has no comparator")
}

/// The rule Age, Distance, Duration and Count share: a value needs a unit code, and the
/// system, if any, is UCUM.
fn ucum_quantity(obj: &Obj) -> bool {
    (has(obj, "code") || !has(obj, "value"))
        && member(obj, "system").is_none_or(|s| s.as_str() == Some(UCUM))
}

/// age-1.
pub(super) fn age(obj: &Obj, path: &Path<'_>, ctx: &mut Ctx) -> Outcome {
    quantity(obj, path, ctx)?;
    let positive = match member(obj, "value") {
        Some(Node::Number(Number::UInt(v))) => *v > 0,
        Some(Node::Number(Number::Float(v))) => *v > 0.0,
        Some(Node::Number(Number::Int(_))) => false,
        _ => true,
    };
    rule(
        ucum_quantity(obj) && positive,
        path,
        "age-1",
        "an age with a value has a UCUM unit code and a value greater than 0",
    )
}

/// cnt-3.
pub(super) fn count(obj: &Obj, path: &Path<'_>, ctx: &mut Ctx) -> Outcome {
    quantity(obj, path, ctx)?;
    let whole = !matches!(member(obj, "value"), Some(Node::Number(Number::Float(_))));
    let unit_one = member(obj, "code").is_none_or(|c| c.as_str() == Some("1"));
    rule(
        ucum_quantity(obj) && whole && unit_one,
        path,
        "cnt-3",
        "a count with a value has UCUM unit code \"1\" and a whole-number value",
    )
}

/// dis-1.
pub(super) fn distance(obj: &Obj, path: &Path<'_>, ctx: &mut Ctx) -> Outcome {
    quantity(obj, path, ctx)?;
    rule(ucum_quantity(obj), path, "dis-1", "a distance with a value has a UCUM unit code")
}

/// drt-1.
pub(super) fn duration(obj: &Obj, path: &Path<'_>, ctx: &mut Ctx) -> Outcome {
    quantity(obj, path, ctx)?;
    rule(ucum_quantity(obj), path, "drt-1", "a duration with a value has a UCUM unit code")
}

/// rat-1.
pub(super) fn ratio(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    let (n, d) = (has(obj, "numerator"), has(obj, "denominator"));
    rule(
        (n && d) || (!n && !d && has(obj, "extension")),
        path,
        "rat-1",
        "a ratio has both numerator and denominator, or neither and an extension",
    )
}

/// A MIME type in `contentType`, att-1, and `hash` being the SHA-1 of `data` (R4 defines
/// `Attachment.hash` as the base64 SHA-1 of the data).
pub(super) fn attachment(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    if let Some(Node::String(ct)) = member(obj, "contentType")
        && !is_mime_type(ct)
    {
        return Err(RecordError::InvalidFormat {
            path: path.field("contentType").render(),
            datatype: "code",
            expected: "a MIME type (BCP 13) such as application/pdf",
        });
    }
    rule(
        !has(obj, "data") || has(obj, "contentType"),
        path,
        "att-1",
        "an attachment with inline data must give its contentType",
    )?;
    if let (Some(Node::String(data)), Some(Node::String(hash))) =
        (member(obj, "data"), member(obj, "hash"))
    {
        let engine = base64::engine::general_purpose::STANDARD;
        // Both are valid base64 here (checked as base64Binary before this rule runs).
        if let (Ok(data), Ok(hash)) = (engine.decode(data), engine.decode(hash)) {
            rule(
                Sha1::digest(&data)[..] == hash[..],
                &path.field("hash"),
                "att-hash",
                "Attachment.hash must be the base64 SHA-1 of Attachment.data",
            )?;
        }
    }
    Ok(())
}

/// cpt-2.
pub(super) fn contact_point(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    rule(
        !has(obj, "value") || has(obj, "system"),
        path,
        "cpt-2",
        "a contact point with a value must give its system (phone, email, ...)",
    )
}

fn negative(node: Option<&Node>) -> bool {
    match node {
        Some(Node::Number(Number::Int(_))) => true,
        Some(Node::Number(Number::Float(v))) => *v < 0.0,
        _ => false,
    }
}

/// tim-1, 2, 4..10.
pub(super) fn timing_repeat(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    let requires =
        |a: &str, b: &str, key, message| rule(!has(obj, a) || has(obj, b), path, key, message);
    requires("duration", "durationUnit", "tim-1", "a duration needs a durationUnit")?;
    requires("period", "periodUnit", "tim-2", "a period needs a periodUnit")?;
    rule(!negative(member(obj, "duration")), path, "tim-4", "duration may not be negative")?;
    rule(!negative(member(obj, "period")), path, "tim-5", "period may not be negative")?;
    requires("periodMax", "period", "tim-6", "periodMax needs a period")?;
    requires("durationMax", "duration", "tim-7", "durationMax needs a duration")?;
    requires("countMax", "count", "tim-8", "countMax needs a count")?;
    let meal_only = obj
        .iter()
        .filter(|(k, _)| k == "when")
        .flat_map(|(_, v)| v.as_array().unwrap_or_default())
        .any(|w| matches!(w.as_str(), Some("C" | "CM" | "CD" | "CV")));
    rule(
        !has(obj, "offset") || (has(obj, "when") && !meal_only),
        path,
        "tim-9",
        "an offset needs a `when` that is not C, CM, CD or CV",
    )?;
    rule(
        !(has(obj, "timeOfDay") && has(obj, "when")),
        path,
        "tim-10",
        "give either timeOfDay or when, not both",
    )
}

fn path_xor_search_param(obj: &Obj, path: &Path<'_>, key: &'static str) -> Outcome {
    rule(
        has(obj, "path") != has(obj, "searchParam"),
        path,
        key,
        "give either a path or a searchParam, not both",
    )
}

/// drq-1.
pub(super) fn code_filter(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    path_xor_search_param(obj, path, "drq-1")
}

/// drq-2.
pub(super) fn date_filter(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    path_xor_search_param(obj, path, "drq-2")
}

/// exp-1.
pub(super) fn expression(obj: &Obj, path: &Path<'_>, _: &mut Ctx) -> Outcome {
    rule(
        has(obj, "expression") || has(obj, "reference"),
        path,
        "exp-1",
        "an expression gives an expression or a reference, or both",
    )
}
