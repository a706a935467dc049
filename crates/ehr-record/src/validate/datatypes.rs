//! FHIR R4 (4.0.1) complex datatypes and their invariants.
//!
//! Element lists and cardinalities are those of the R4 datatypes pages. Invariants that
//! compare values across precisions or time zones (`per-1`, `rng-2`) are not checked.

use crate::content_type::is_mime_type;
use crate::error::RecordError;
use crate::json::{Node, Number};
use crate::validate::path::Path;
use crate::validate::schema::*;

/// `Element`: `id` and `extension`.
pub(crate) static ELEMENT_FIELDS: [Field; 2] =
    [attr("id", STRING, 0), list("extension", cx(&EXTENSION))];

/// `BackboneElement`: `Element` plus `modifierExtension`.
pub(crate) static BACKBONE_FIELDS: [Field; 3] = [
    attr("id", STRING, 0),
    list("extension", cx(&EXTENSION)),
    list("modifierExtension", cx(&EXTENSION)),
];

/// `Resource`: `id`, `meta`, `implicitRules`, `language`.
pub(crate) static RESOURCE_FIELDS: [Field; 4] =
    [opt("id", ID), opt("meta", cx(&META)), opt("implicitRules", URI), opt("language", CODE)];

/// `DomainResource`: `Resource` plus `text`, `contained`, `extension`, `modifierExtension`.
pub(crate) static DOMAIN_RESOURCE_FIELDS: [Field; 8] = [
    opt("id", ID),
    opt("meta", cx(&META)),
    opt("implicitRules", URI),
    opt("language", CODE),
    opt("text", cx(&NARRATIVE)),
    list("contained", Type::Resource),
    list("extension", cx(&EXTENSION)),
    list("modifierExtension", cx(&EXTENSION)),
];

/// The types an extension's `value[x]` may have in R4.
static EXTENSION_VALUE: [(&str, Type); 50] = [
    ("Base64Binary", BASE64),
    ("Boolean", BOOLEAN),
    ("Canonical", CANONICAL),
    ("Code", CODE),
    ("Date", DATE),
    ("DateTime", DATE_TIME),
    ("Decimal", DECIMAL),
    ("Id", ID),
    ("Instant", INSTANT),
    ("Integer", INTEGER),
    ("Markdown", MARKDOWN),
    ("Oid", OID),
    ("PositiveInt", POSITIVE_INT),
    ("String", STRING),
    ("Time", TIME),
    ("UnsignedInt", UNSIGNED_INT),
    ("Uri", URI),
    ("Url", URL),
    ("Uuid", UUID),
    ("Address", cx(&ADDRESS)),
    ("Age", cx(&AGE)),
    ("Annotation", cx(&ANNOTATION)),
    ("Attachment", cx(&ATTACHMENT)),
    ("CodeableConcept", cx(&CODEABLE_CONCEPT)),
    ("Coding", cx(&CODING)),
    ("ContactPoint", cx(&CONTACT_POINT)),
    ("Count", cx(&COUNT)),
    ("Distance", cx(&DISTANCE)),
    ("Duration", cx(&DURATION)),
    ("HumanName", cx(&HUMAN_NAME)),
    ("Identifier", cx(&IDENTIFIER)),
    ("Money", cx(&MONEY)),
    ("Period", cx(&PERIOD)),
    ("Quantity", cx(&QUANTITY)),
    ("Range", cx(&RANGE)),
    ("Ratio", cx(&RATIO)),
    ("Reference", cx(&REFERENCE)),
    ("SampledData", cx(&SAMPLED_DATA)),
    ("Signature", cx(&SIGNATURE)),
    ("Timing", cx(&TIMING)),
    ("ContactDetail", cx(&CONTACT_DETAIL)),
    ("Contributor", cx(&CONTRIBUTOR)),
    ("DataRequirement", cx(&DATA_REQUIREMENT)),
    ("Expression", cx(&EXPRESSION)),
    ("ParameterDefinition", cx(&PARAMETER_DEFINITION)),
    ("RelatedArtifact", cx(&RELATED_ARTIFACT)),
    ("TriggerDefinition", cx(&TRIGGER_DEFINITION)),
    ("UsageContext", cx(&USAGE_CONTEXT)),
    ("Dosage", cx(&DOSAGE)),
    ("Meta", cx(&META)),
];

/// `Extension`.
pub(crate) static EXTENSION: Struct = Struct {
    name: "Extension",
    base: Base::Element,
    fields: &[attr("url", URI, 1), choice("value", &EXTENSION_VALUE)],
    check: Some(|obj, path, _| {
        rule(
            has(obj, "extension") != has_choice(obj, "value"),
            path,
            "ext-1",
            "an extension has either a value[x] or nested extensions, not both and not neither",
        )
    }),
};

/// `Coding`.
pub(crate) static CODING: Struct = Struct {
    name: "Coding",
    base: Base::Element,
    fields: &[
        opt("system", URI),
        opt("version", STRING),
        opt("code", CODE),
        opt("display", STRING),
        opt("userSelected", BOOLEAN),
    ],
    check: None,
};

/// `CodeableConcept`.
pub(crate) static CODEABLE_CONCEPT: Struct = Struct {
    name: "CodeableConcept",
    base: Base::Element,
    fields: &[list("coding", cx(&CODING)), opt("text", STRING)],
    check: None,
};

/// `Identifier`.
pub(crate) static IDENTIFIER: Struct = Struct {
    name: "Identifier",
    base: Base::Element,
    fields: &[
        opt("use", code(&["usual", "official", "temp", "secondary", "old"])),
        opt("type", cx(&CODEABLE_CONCEPT)),
        opt("system", URI),
        opt("value", STRING),
        opt("period", cx(&PERIOD)),
        opt("assigner", cx(&REFERENCE)),
    ],
    check: None,
};

/// `Reference`. Local references (`#id`) are collected for ref-1 and dom-3.
pub(crate) static REFERENCE: Struct = Struct {
    name: "Reference",
    base: Base::Element,
    fields: &[
        opt("reference", STRING),
        opt("type", URI),
        opt("identifier", cx(&IDENTIFIER)),
        opt("display", STRING),
    ],
    check: Some(|obj, path, ctx| {
        if let Some(Node::String(target)) = member(obj, "reference") {
            ctx.local_reference(target, &path.field("reference"));
        }
        Ok(())
    }),
};

/// `Period`.
pub(crate) static PERIOD: Struct = Struct {
    name: "Period",
    base: Base::Element,
    fields: &[opt("start", DATE_TIME), opt("end", DATE_TIME)],
    check: None,
};

static QUANTITY_COMPARATOR: [&str; 4] = ["<", "<=", ">=", ">"];

/// The elements of `Quantity` and its profiles.
static QUANTITY_FIELDS: [Field; 5] = [
    opt("value", DECIMAL),
    opt("comparator", code(&QUANTITY_COMPARATOR)),
    opt("unit", STRING),
    opt("system", URI),
    opt("code", CODE),
];

const UCUM: &str = "http://unitsofmeasure.org";

fn qty_3(obj: &Obj, path: &Path<'_>) -> Result<(), RecordError> {
    rule(
        !has(obj, "code") || has(obj, "system"),
        path,
        "qty-3",
        "a quantity with a unit code must also name the code system",
    )
}

/// The rule Age, Distance, Duration and Count share: a value needs a unit code, and the
/// system, if any, is UCUM.
fn ucum_quantity(obj: &Obj) -> bool {
    (has(obj, "code") || !has(obj, "value"))
        && member(obj, "system").is_none_or(|s| s.as_str() == Some(UCUM))
}

/// `Quantity`.
pub(crate) static QUANTITY: Struct = Struct {
    name: "Quantity",
    base: Base::Element,
    fields: &QUANTITY_FIELDS,
    check: Some(|obj, path, _| qty_3(obj, path)),
};

/// `SimpleQuantity`: a Quantity without comparator.
pub(crate) static SIMPLE_QUANTITY: Struct = Struct {
    name: "SimpleQuantity",
    base: Base::Element,
    fields: &QUANTITY_FIELDS,
    check: Some(|obj, path, _| {
        qty_3(obj, path)?;
        rule(!has(obj, "comparator"), path, "sqty-1", "a SimpleQuantity has no comparator")
    }),
};

/// `Age`.
pub(crate) static AGE: Struct = Struct {
    name: "Age",
    base: Base::Element,
    fields: &QUANTITY_FIELDS,
    check: Some(|obj, path, _| {
        qty_3(obj, path)?;
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
    }),
};

/// `Count`.
pub(crate) static COUNT: Struct = Struct {
    name: "Count",
    base: Base::Element,
    fields: &QUANTITY_FIELDS,
    check: Some(|obj, path, _| {
        qty_3(obj, path)?;
        let whole = !matches!(member(obj, "value"), Some(Node::Number(Number::Float(_))));
        let unit_one = member(obj, "code").is_none_or(|c| c.as_str() == Some("1"));
        rule(
            ucum_quantity(obj) && whole && unit_one,
            path,
            "cnt-3",
            "a count with a value has UCUM unit code \"1\" and a whole-number value",
        )
    }),
};

/// `Distance`.
pub(crate) static DISTANCE: Struct = Struct {
    name: "Distance",
    base: Base::Element,
    fields: &QUANTITY_FIELDS,
    check: Some(|obj, path, _| {
        qty_3(obj, path)?;
        rule(ucum_quantity(obj), path, "dis-1", "a distance with a value has a UCUM unit code")
    }),
};

/// `Duration`.
pub(crate) static DURATION: Struct = Struct {
    name: "Duration",
    base: Base::Element,
    fields: &QUANTITY_FIELDS,
    check: Some(|obj, path, _| {
        qty_3(obj, path)?;
        rule(ucum_quantity(obj), path, "drt-1", "a duration with a value has a UCUM unit code")
    }),
};

/// `Money`.
pub(crate) static MONEY: Struct = Struct {
    name: "Money",
    base: Base::Element,
    fields: &[opt("value", DECIMAL), opt("currency", CODE)],
    check: None,
};

/// `Range`.
pub(crate) static RANGE: Struct = Struct {
    name: "Range",
    base: Base::Element,
    fields: &[opt("low", cx(&SIMPLE_QUANTITY)), opt("high", cx(&SIMPLE_QUANTITY))],
    check: None,
};

/// `Ratio`.
pub(crate) static RATIO: Struct = Struct {
    name: "Ratio",
    base: Base::Element,
    fields: &[opt("numerator", cx(&QUANTITY)), opt("denominator", cx(&QUANTITY))],
    check: Some(|obj, path, _| {
        let (n, d) = (has(obj, "numerator"), has(obj, "denominator"));
        rule(
            (n && d) || (!n && !d && has(obj, "extension")),
            path,
            "rat-1",
            "a ratio has both numerator and denominator, or neither and an extension",
        )
    }),
};

/// `SampledData`.
pub(crate) static SAMPLED_DATA: Struct = Struct {
    name: "SampledData",
    base: Base::Element,
    fields: &[
        req("origin", cx(&SIMPLE_QUANTITY)),
        req("period", DECIMAL),
        opt("factor", DECIMAL),
        opt("lowerLimit", DECIMAL),
        opt("upperLimit", DECIMAL),
        req("dimensions", POSITIVE_INT),
        opt("data", STRING),
    ],
    check: None,
};

/// `Attachment`.
pub(crate) static ATTACHMENT: Struct = Struct {
    name: "Attachment",
    base: Base::Element,
    fields: &[
        opt("contentType", CODE),
        opt("language", CODE),
        opt("data", BASE64),
        opt("url", URL),
        opt("size", UNSIGNED_INT),
        opt("hash", BASE64),
        opt("title", STRING),
        opt("creation", DATE_TIME),
    ],
    check: Some(|obj, path, _| {
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
        )
    }),
};

/// `Annotation`.
pub(crate) static ANNOTATION: Struct = Struct {
    name: "Annotation",
    base: Base::Element,
    fields: &[
        choice("author", &[("Reference", cx(&REFERENCE)), ("String", STRING)]),
        opt("time", DATE_TIME),
        req("text", MARKDOWN),
    ],
    check: None,
};

/// `HumanName`.
pub(crate) static HUMAN_NAME: Struct = Struct {
    name: "HumanName",
    base: Base::Element,
    fields: &[
        opt("use", code(&["usual", "official", "temp", "nickname", "anonymous", "old", "maiden"])),
        opt("text", STRING),
        opt("family", STRING),
        list("given", STRING),
        list("prefix", STRING),
        list("suffix", STRING),
        opt("period", cx(&PERIOD)),
    ],
    check: None,
};

/// `ContactPoint`.
pub(crate) static CONTACT_POINT: Struct = Struct {
    name: "ContactPoint",
    base: Base::Element,
    fields: &[
        opt("system", code(&["phone", "fax", "email", "pager", "url", "sms", "other"])),
        opt("value", STRING),
        opt("use", code(&["home", "work", "temp", "old", "mobile"])),
        opt("rank", POSITIVE_INT),
        opt("period", cx(&PERIOD)),
    ],
    check: Some(|obj, path, _| {
        rule(
            !has(obj, "value") || has(obj, "system"),
            path,
            "cpt-2",
            "a contact point with a value must give its system (phone, email, ...)",
        )
    }),
};

/// `Address`.
pub(crate) static ADDRESS: Struct = Struct {
    name: "Address",
    base: Base::Element,
    fields: &[
        opt("use", code(&["home", "work", "temp", "old", "billing"])),
        opt("type", code(&["postal", "physical", "both"])),
        opt("text", STRING),
        list("line", STRING),
        opt("city", STRING),
        opt("district", STRING),
        opt("state", STRING),
        opt("postalCode", STRING),
        opt("country", STRING),
        opt("period", cx(&PERIOD)),
    ],
    check: None,
};

/// `Signature`.
pub(crate) static SIGNATURE: Struct = Struct {
    name: "Signature",
    base: Base::Element,
    fields: &[
        req_list("type", cx(&CODING)),
        req("when", INSTANT),
        req("who", cx(&REFERENCE)),
        opt("onBehalfOf", cx(&REFERENCE)),
        opt("targetFormat", CODE),
        opt("sigFormat", CODE),
        opt("data", BASE64),
    ],
    check: None,
};

/// `Meta`.
pub(crate) static META: Struct = Struct {
    name: "Meta",
    base: Base::Element,
    fields: &[
        opt("versionId", ID),
        opt("lastUpdated", INSTANT),
        opt("source", URI),
        list("profile", CANONICAL),
        list("security", cx(&CODING)),
        list("tag", cx(&CODING)),
    ],
    check: None,
};

/// Markup the narrative may not hold (txt-1: no scripts, forms, frames, objects, event
/// attributes). Matched case-insensitively; a conservative reading of the rule, since the
/// narrative may be shown to people.
const FORBIDDEN_MARKUP: [&str; 14] = [
    "<script",
    "<iframe",
    "<frame",
    "<object",
    "<embed",
    "<applet",
    "<form",
    "<input",
    "<button",
    "<base",
    "<link",
    "<meta",
    "<style",
    "javascript:",
];

fn has_event_attribute(lower: &str) -> bool {
    // ` onload=`, ` onclick =` and the like.
    lower.match_indices("on").any(|(at, _)| {
        let before_ok = lower[..at].ends_with(|c: char| c.is_ascii_whitespace() || c == '/');
        let rest = &lower[at + 2..];
        let name_len = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        before_ok && name_len > 0 && rest[name_len..].trim_start().starts_with('=')
    })
}

/// `Narrative`.
pub(crate) static NARRATIVE: Struct = Struct {
    name: "Narrative",
    base: Base::Element,
    fields: &[
        req("status", code(&["generated", "extensions", "additional", "empty"])),
        attr("div", XHTML, 1),
    ],
    check: Some(|obj, path, _| {
        if let Some(Node::String(div)) = member(obj, "div") {
            let lower = div.to_ascii_lowercase();
            let tag_content: String = {
                // Only look inside tags for event attributes.
                let mut inside = false;
                lower
                    .chars()
                    .filter(|&c| {
                        if c == '<' {
                            inside = true;
                        } else if c == '>' {
                            inside = false;
                            return true;
                        }
                        inside
                    })
                    .collect()
            };
            rule(
                !FORBIDDEN_MARKUP.iter().any(|m| lower.contains(m))
                    && !has_event_attribute(&tag_content),
                &path.field("div"),
                "txt-1",
                "the narrative may hold only basic HTML formatting: no scripts, forms, frames, \
                 objects or event attributes",
            )?;
        }
        Ok(())
    }),
};

static UNITS_OF_TIME: [&str; 7] = ["s", "min", "h", "d", "wk", "mo", "a"];

static EVENT_TIMING: [&str; 26] = [
    "MORN",
    "MORN.early",
    "MORN.late",
    "NOON",
    "AFT",
    "AFT.early",
    "AFT.late",
    "EVE",
    "EVE.early",
    "EVE.late",
    "NIGHT",
    "PHS",
    "HS",
    "WAKE",
    "C",
    "CM",
    "CD",
    "CV",
    "AC",
    "ACM",
    "ACD",
    "ACV",
    "PC",
    "PCM",
    "PCD",
    "PCV",
];

fn negative(node: Option<&Node>) -> bool {
    match node {
        Some(Node::Number(Number::Int(_))) => true,
        Some(Node::Number(Number::Float(v))) => *v < 0.0,
        _ => false,
    }
}

/// `Timing.repeat`.
static TIMING_REPEAT: Struct = Struct {
    name: "Timing.repeat",
    base: Base::Element,
    fields: &[
        choice(
            "bounds",
            &[("Duration", cx(&DURATION)), ("Range", cx(&RANGE)), ("Period", cx(&PERIOD))],
        ),
        opt("count", POSITIVE_INT),
        opt("countMax", POSITIVE_INT),
        opt("duration", DECIMAL),
        opt("durationMax", DECIMAL),
        opt("durationUnit", code(&UNITS_OF_TIME)),
        opt("frequency", POSITIVE_INT),
        opt("frequencyMax", POSITIVE_INT),
        opt("period", DECIMAL),
        opt("periodMax", DECIMAL),
        opt("periodUnit", code(&UNITS_OF_TIME)),
        list("dayOfWeek", code(&["mon", "tue", "wed", "thu", "fri", "sat", "sun"])),
        list("timeOfDay", TIME),
        list("when", code(&EVENT_TIMING)),
        opt("offset", UNSIGNED_INT),
    ],
    check: Some(|obj, path, _| {
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
    }),
};

/// `Timing`.
pub(crate) static TIMING: Struct = Struct {
    name: "Timing",
    base: Base::Backbone,
    fields: &[
        list("event", DATE_TIME),
        opt("repeat", cx(&TIMING_REPEAT)),
        opt("code", cx(&CODEABLE_CONCEPT)),
    ],
    check: None,
};

/// `Dosage.doseAndRate`.
static DOSE_AND_RATE: Struct = Struct {
    name: "Dosage.doseAndRate",
    base: Base::Element,
    fields: &[
        opt("type", cx(&CODEABLE_CONCEPT)),
        choice("dose", &[("Range", cx(&RANGE)), ("Quantity", cx(&SIMPLE_QUANTITY))]),
        choice(
            "rate",
            &[("Ratio", cx(&RATIO)), ("Range", cx(&RANGE)), ("Quantity", cx(&SIMPLE_QUANTITY))],
        ),
    ],
    check: None,
};

/// `Dosage`.
pub(crate) static DOSAGE: Struct = Struct {
    name: "Dosage",
    base: Base::Backbone,
    fields: &[
        opt("sequence", INTEGER),
        opt("text", STRING),
        list("additionalInstruction", cx(&CODEABLE_CONCEPT)),
        opt("patientInstruction", STRING),
        opt("timing", cx(&TIMING)),
        choice("asNeeded", &[("Boolean", BOOLEAN), ("CodeableConcept", cx(&CODEABLE_CONCEPT))]),
        opt("site", cx(&CODEABLE_CONCEPT)),
        opt("route", cx(&CODEABLE_CONCEPT)),
        opt("method", cx(&CODEABLE_CONCEPT)),
        list("doseAndRate", cx(&DOSE_AND_RATE)),
        opt("maxDosePerPeriod", cx(&RATIO)),
        opt("maxDosePerAdministration", cx(&SIMPLE_QUANTITY)),
        opt("maxDosePerLifetime", cx(&SIMPLE_QUANTITY)),
    ],
    check: None,
};

/// `ContactDetail`.
pub(crate) static CONTACT_DETAIL: Struct = Struct {
    name: "ContactDetail",
    base: Base::Element,
    fields: &[opt("name", STRING), list("telecom", cx(&CONTACT_POINT))],
    check: None,
};

/// `Contributor`.
pub(crate) static CONTRIBUTOR: Struct = Struct {
    name: "Contributor",
    base: Base::Element,
    fields: &[
        req("type", code(&["author", "editor", "reviewer", "endorser"])),
        req("name", STRING),
        list("contact", cx(&CONTACT_DETAIL)),
    ],
    check: None,
};

fn path_xor_search_param(obj: &Obj, path: &Path<'_>, key: &'static str) -> Result<(), RecordError> {
    rule(
        has(obj, "path") != has(obj, "searchParam"),
        path,
        key,
        "give either a path or a searchParam, not both",
    )
}

/// `DataRequirement.codeFilter`.
static CODE_FILTER: Struct = Struct {
    name: "DataRequirement.codeFilter",
    base: Base::Element,
    fields: &[
        opt("path", STRING),
        opt("searchParam", STRING),
        opt("valueSet", CANONICAL),
        list("code", cx(&CODING)),
    ],
    check: Some(|obj, path, _| path_xor_search_param(obj, path, "drq-1")),
};

/// `DataRequirement.dateFilter`.
static DATE_FILTER: Struct = Struct {
    name: "DataRequirement.dateFilter",
    base: Base::Element,
    fields: &[
        opt("path", STRING),
        opt("searchParam", STRING),
        choice(
            "value",
            &[("DateTime", DATE_TIME), ("Period", cx(&PERIOD)), ("Duration", cx(&DURATION))],
        ),
    ],
    check: Some(|obj, path, _| path_xor_search_param(obj, path, "drq-2")),
};

/// `DataRequirement.sort`.
static SORT: Struct = Struct {
    name: "DataRequirement.sort",
    base: Base::Element,
    fields: &[req("path", STRING), req("direction", code(&["ascending", "descending"]))],
    check: None,
};

/// `DataRequirement`.
pub(crate) static DATA_REQUIREMENT: Struct = Struct {
    name: "DataRequirement",
    base: Base::Element,
    fields: &[
        req("type", CODE),
        list("profile", CANONICAL),
        choice(
            "subject",
            &[("CodeableConcept", cx(&CODEABLE_CONCEPT)), ("Reference", cx(&REFERENCE))],
        ),
        list("mustSupport", STRING),
        list("codeFilter", cx(&CODE_FILTER)),
        list("dateFilter", cx(&DATE_FILTER)),
        opt("limit", POSITIVE_INT),
        list("sort", cx(&SORT)),
    ],
    check: None,
};

/// `Expression`.
pub(crate) static EXPRESSION: Struct = Struct {
    name: "Expression",
    base: Base::Element,
    fields: &[
        opt("description", STRING),
        opt("name", ID),
        req("language", CODE),
        opt("expression", STRING),
        opt("reference", URI),
    ],
    check: Some(|obj, path, _| {
        rule(
            has(obj, "expression") || has(obj, "reference"),
            path,
            "exp-1",
            "an expression gives an expression or a reference, or both",
        )
    }),
};

/// `ParameterDefinition`.
pub(crate) static PARAMETER_DEFINITION: Struct = Struct {
    name: "ParameterDefinition",
    base: Base::Element,
    fields: &[
        opt("name", CODE),
        req("use", code(&["in", "out"])),
        opt("min", INTEGER),
        opt("max", STRING),
        opt("documentation", STRING),
        req("type", CODE),
        opt("profile", CANONICAL),
    ],
    check: None,
};

/// `RelatedArtifact`.
pub(crate) static RELATED_ARTIFACT: Struct = Struct {
    name: "RelatedArtifact",
    base: Base::Element,
    fields: &[
        req(
            "type",
            code(&[
                "documentation",
                "justification",
                "citation",
                "predecessor",
                "successor",
                "derived-from",
                "depends-on",
                "composed-of",
            ]),
        ),
        opt("label", STRING),
        opt("display", STRING),
        opt("citation", MARKDOWN),
        opt("url", URL),
        opt("document", cx(&ATTACHMENT)),
        opt("resource", CANONICAL),
    ],
    check: None,
};

/// `TriggerDefinition`.
pub(crate) static TRIGGER_DEFINITION: Struct = Struct {
    name: "TriggerDefinition",
    base: Base::Element,
    fields: &[
        req(
            "type",
            code(&[
                "named-event",
                "periodic",
                "data-changed",
                "data-added",
                "data-modified",
                "data-removed",
                "data-accessed",
                "data-access-ended",
            ]),
        ),
        opt("name", STRING),
        choice(
            "timing",
            &[
                ("Timing", cx(&TIMING)),
                ("Reference", cx(&REFERENCE)),
                ("Date", DATE),
                ("DateTime", DATE_TIME),
            ],
        ),
        list("data", cx(&DATA_REQUIREMENT)),
        opt("condition", cx(&EXPRESSION)),
    ],
    check: None,
};

/// `UsageContext`.
pub(crate) static USAGE_CONTEXT: Struct = Struct {
    name: "UsageContext",
    base: Base::Element,
    fields: &[
        req("code", cx(&CODING)),
        req_choice(
            "value",
            &[
                ("CodeableConcept", cx(&CODEABLE_CONCEPT)),
                ("Quantity", cx(&QUANTITY)),
                ("Range", cx(&RANGE)),
                ("Reference", cx(&REFERENCE)),
            ],
        ),
    ],
    check: None,
};
