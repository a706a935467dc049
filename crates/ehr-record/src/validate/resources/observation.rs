//! `Observation` (R4).

use crate::json::Node;
use crate::validate::datatypes::*;
use crate::validate::schema::*;

/// `Observation.status` (required binding observation-status).
pub(crate) static OBSERVATION_STATUS: [&str; 8] = [
    "registered",
    "preliminary",
    "final",
    "amended",
    "corrected",
    "cancelled",
    "entered-in-error",
    "unknown",
];

/// `Observation.value[x]` and `Observation.component.value[x]`.
static VALUE: [(&str, Type); 11] = [
    ("Quantity", cx(&QUANTITY)),
    ("CodeableConcept", cx(&CODEABLE_CONCEPT)),
    ("String", STRING),
    ("Boolean", BOOLEAN),
    ("Integer", INTEGER),
    ("Range", cx(&RANGE)),
    ("Ratio", cx(&RATIO)),
    ("SampledData", cx(&SAMPLED_DATA)),
    ("Time", TIME),
    ("DateTime", DATE_TIME),
    ("Period", cx(&PERIOD)),
];

static EFFECTIVE: [(&str, Type); 4] = [
    ("DateTime", DATE_TIME),
    ("Period", cx(&PERIOD)),
    ("Timing", cx(&TIMING)),
    ("Instant", INSTANT),
];

static REFERENCE_RANGE: Struct = Struct {
    name: "Observation.referenceRange",
    base: Base::Backbone,
    fields: &[
        opt("low", cx(&SIMPLE_QUANTITY)),
        opt("high", cx(&SIMPLE_QUANTITY)),
        opt("type", cx(&CODEABLE_CONCEPT)),
        list("appliesTo", cx(&CODEABLE_CONCEPT)),
        opt("age", cx(&RANGE)),
        opt("text", STRING),
    ],
    check: Some(|obj, path, _| {
        rule(
            has(obj, "low") || has(obj, "high") || has(obj, "text"),
            path,
            "obs-3",
            "a reference range has at least a low, a high or a text",
        )
    }),
};

fn obs_6(obj: &Obj, path: &crate::validate::path::Path<'_>) -> Result<(), crate::RecordError> {
    rule(
        !has(obj, "dataAbsentReason") || !has_choice(obj, "value"),
        path,
        "obs-6",
        "dataAbsentReason is only allowed when there is no value[x]",
    )
}

static COMPONENT: Struct = Struct {
    name: "Observation.component",
    base: Base::Backbone,
    fields: &[
        req("code", cx(&CODEABLE_CONCEPT)),
        choice("value", &VALUE),
        opt("dataAbsentReason", cx(&CODEABLE_CONCEPT)),
        list("interpretation", cx(&CODEABLE_CONCEPT)),
        list("referenceRange", cx(&REFERENCE_RANGE)),
    ],
    check: Some(|obj, path, _| obs_6(obj, path)),
};

/// `(system, code)` of each coding of a CodeableConcept.
fn codings(concept: Option<&Node>) -> Vec<(Option<&str>, &str)> {
    concept
        .map(|c| c.items("coding"))
        .unwrap_or_default()
        .iter()
        .filter_map(|coding| {
            let code = coding.get("code")?.as_str()?;
            Some((coding.get("system").and_then(Node::as_str), code))
        })
        .collect()
}

/// `Observation`: status and code are required.
pub(crate) static OBSERVATION: Struct = Struct {
    name: "Observation",
    base: Base::DomainResource,
    fields: &[
        list("identifier", cx(&IDENTIFIER)),
        list("basedOn", cx(&REFERENCE)),
        list("partOf", cx(&REFERENCE)),
        req("status", code(&OBSERVATION_STATUS)),
        list("category", cx(&CODEABLE_CONCEPT)),
        req("code", cx(&CODEABLE_CONCEPT)),
        opt("subject", cx(&REFERENCE)),
        list("focus", cx(&REFERENCE)),
        opt("encounter", cx(&REFERENCE)),
        choice("effective", &EFFECTIVE),
        opt("issued", INSTANT),
        list("performer", cx(&REFERENCE)),
        choice("value", &VALUE),
        opt("dataAbsentReason", cx(&CODEABLE_CONCEPT)),
        list("interpretation", cx(&CODEABLE_CONCEPT)),
        list("note", cx(&ANNOTATION)),
        opt("bodySite", cx(&CODEABLE_CONCEPT)),
        opt("method", cx(&CODEABLE_CONCEPT)),
        opt("specimen", cx(&REFERENCE)),
        opt("device", cx(&REFERENCE)),
        list("referenceRange", cx(&REFERENCE_RANGE)),
        list("hasMember", cx(&REFERENCE)),
        list("derivedFrom", cx(&REFERENCE)),
        list("component", cx(&COMPONENT)),
    ],
    check: Some(|obj, path, _| {
        obs_6(obj, path)?;
        // obs-7: a component with the observation's own code means the value belongs there.
        let own = codings(member(obj, "code"));
        let repeats_code = member(obj, "component")
            .and_then(Node::as_array)
            .unwrap_or_default()
            .iter()
            .any(|c| codings(c.get("code")).iter().any(|cc| own.contains(cc)));
        rule(
            !(repeats_code && has_choice(obj, "value")),
            path,
            "obs-7",
            "when a component has the same code as the observation, the observation itself \
             has no value[x]",
        )
    }),
};
