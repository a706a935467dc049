//! `Condition` (R4).

use crate::json::Node;
use crate::validate::datatypes::*;
use crate::validate::schema::*;

const CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";

static ONSET_ABATEMENT: [(&str, Type); 5] = [
    ("DateTime", DATE_TIME),
    ("Age", cx(&AGE)),
    ("Period", cx(&PERIOD)),
    ("Range", cx(&RANGE)),
    ("String", STRING),
];

static STAGE: Struct = Struct {
    name: "Condition.stage",
    base: Base::Backbone,
    fields: &[
        opt("summary", cx(&CODEABLE_CONCEPT)),
        list("assessment", cx(&REFERENCE)),
        opt("type", cx(&CODEABLE_CONCEPT)),
    ],
    check: Some(|obj, path, _| {
        rule(
            has(obj, "summary") || has(obj, "assessment"),
            path,
            "con-1",
            "a stage has a summary or an assessment",
        )
    }),
};

static EVIDENCE: Struct = Struct {
    name: "Condition.evidence",
    base: Base::Backbone,
    fields: &[list("code", cx(&CODEABLE_CONCEPT)), list("detail", cx(&REFERENCE))],
    check: Some(|obj, path, _| {
        rule(
            has(obj, "code") || has(obj, "detail"),
            path,
            "con-2",
            "evidence has a code or a detail",
        )
    }),
};

/// Whether `concept` has a coding of `system` with one of `codes`.
fn has_coding(concept: Option<&Node>, system: &str, codes: &[&str]) -> bool {
    concept.is_some_and(|c| {
        c.items("coding").iter().any(|coding| {
            coding.get("system").and_then(Node::as_str) == Some(system)
                && coding
                    .get("code")
                    .and_then(Node::as_str)
                    .is_some_and(|code| codes.contains(&code))
        })
    })
}

/// `Condition`: subject is required.
pub(crate) static CONDITION: Struct = Struct {
    name: "Condition",
    base: Base::DomainResource,
    fields: &[
        list("identifier", cx(&IDENTIFIER)),
        opt("clinicalStatus", cx(&CODEABLE_CONCEPT)),
        opt("verificationStatus", cx(&CODEABLE_CONCEPT)),
        list("category", cx(&CODEABLE_CONCEPT)),
        opt("severity", cx(&CODEABLE_CONCEPT)),
        opt("code", cx(&CODEABLE_CONCEPT)),
        list("bodySite", cx(&CODEABLE_CONCEPT)),
        req("subject", cx(&REFERENCE)),
        opt("encounter", cx(&REFERENCE)),
        choice("onset", &ONSET_ABATEMENT),
        choice("abatement", &ONSET_ABATEMENT),
        opt("recordedDate", DATE_TIME),
        opt("recorder", cx(&REFERENCE)),
        opt("asserter", cx(&REFERENCE)),
        list("stage", cx(&STAGE)),
        list("evidence", cx(&EVIDENCE)),
        list("note", cx(&ANNOTATION)),
    ],
    check: Some(|obj, path, _| {
        let clinical = member(obj, "clinicalStatus");
        rule(
            !has_choice(obj, "abatement")
                || has_coding(clinical, CLINICAL, &["inactive", "resolved", "remission"]),
            path,
            "con-4",
            "a condition with an abatement has clinicalStatus inactive, resolved or remission \
             (system http://terminology.hl7.org/CodeSystem/condition-clinical)",
        )?;
        rule(
            clinical.is_none()
                || !has_coding(
                    member(obj, "verificationStatus"),
                    VERIFICATION,
                    &["entered-in-error"],
                ),
            path,
            "con-5",
            "a condition whose verificationStatus is entered-in-error has no clinicalStatus",
        )
    }),
};
