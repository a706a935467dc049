//! `DiagnosticReport` (R4).

use crate::validate::datatypes::*;
use crate::validate::schema::*;

static EFFECTIVE: [(&str, Type); 2] = [("DateTime", DATE_TIME), ("Period", cx(&PERIOD))];

static MEDIA: Struct = Struct {
    name: "DiagnosticReport.media",
    base: Base::Backbone,
    fields: &[opt("comment", STRING), req("link", cx(&REFERENCE))],
    check: None,
};

/// `DiagnosticReport`: status and code are required.
pub(crate) static DIAGNOSTIC_REPORT: Struct = Struct {
    name: "DiagnosticReport",
    base: Base::DomainResource,
    fields: &[
        list("identifier", cx(&IDENTIFIER)),
        list("basedOn", cx(&REFERENCE)),
        req(
            "status",
            code(&[
                "registered",
                "partial",
                "preliminary",
                "final",
                "amended",
                "corrected",
                "appended",
                "cancelled",
                "entered-in-error",
                "unknown",
            ]),
        ),
        list("category", cx(&CODEABLE_CONCEPT)),
        req("code", cx(&CODEABLE_CONCEPT)),
        opt("subject", cx(&REFERENCE)),
        opt("encounter", cx(&REFERENCE)),
        choice("effective", &EFFECTIVE),
        opt("issued", INSTANT),
        list("performer", cx(&REFERENCE)),
        list("resultsInterpreter", cx(&REFERENCE)),
        list("specimen", cx(&REFERENCE)),
        list("result", cx(&REFERENCE)),
        list("imagingStudy", cx(&REFERENCE)),
        list("media", cx(&MEDIA)),
        opt("conclusion", STRING),
        list("conclusionCode", cx(&CODEABLE_CONCEPT)),
        list("presentedForm", cx(&ATTACHMENT)),
    ],
    check: None,
};
