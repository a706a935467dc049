//! `DocumentReference` (R4).

use crate::validate::datatypes::*;
use crate::validate::schema::*;

static RELATES_TO: Struct = Struct {
    name: "DocumentReference.relatesTo",
    base: Base::Backbone,
    fields: &[
        req("code", code(&["replaces", "transforms", "signs", "appends"])),
        req("target", cx(&REFERENCE)),
    ],
    check: None,
};

static CONTENT: Struct = Struct {
    name: "DocumentReference.content",
    base: Base::Backbone,
    fields: &[req("attachment", cx(&ATTACHMENT)), opt("format", cx(&CODING))],
    check: None,
};

static CONTEXT: Struct = Struct {
    name: "DocumentReference.context",
    base: Base::Backbone,
    fields: &[
        list("encounter", cx(&REFERENCE)),
        list("event", cx(&CODEABLE_CONCEPT)),
        opt("period", cx(&PERIOD)),
        opt("facilityType", cx(&CODEABLE_CONCEPT)),
        opt("practiceSetting", cx(&CODEABLE_CONCEPT)),
        opt("sourcePatientInfo", cx(&REFERENCE)),
        list("related", cx(&REFERENCE)),
    ],
    check: None,
};

/// `DocumentReference`: status and at least one content with an attachment are required.
pub(crate) static DOCUMENT_REFERENCE: Struct = Struct {
    name: "DocumentReference",
    base: Base::DomainResource,
    fields: &[
        opt("masterIdentifier", cx(&IDENTIFIER)),
        list("identifier", cx(&IDENTIFIER)),
        req("status", code(&["current", "superseded", "entered-in-error"])),
        opt("docStatus", code(&["preliminary", "final", "amended", "entered-in-error"])),
        opt("type", cx(&CODEABLE_CONCEPT)),
        list("category", cx(&CODEABLE_CONCEPT)),
        opt("subject", cx(&REFERENCE)),
        opt("date", INSTANT),
        list("author", cx(&REFERENCE)),
        opt("authenticator", cx(&REFERENCE)),
        opt("custodian", cx(&REFERENCE)),
        list("relatesTo", cx(&RELATES_TO)),
        opt("description", STRING),
        list("securityLabel", cx(&CODEABLE_CONCEPT)),
        req_list("content", cx(&CONTENT)),
        opt("context", cx(&CONTEXT)),
    ],
    check: None,
};
