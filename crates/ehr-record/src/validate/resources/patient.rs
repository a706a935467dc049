//! `Patient` (R4).

use crate::validate::datatypes::*;
use crate::validate::schema::*;

static GENDER: [&str; 4] = ["male", "female", "other", "unknown"];

static CONTACT: Struct = Struct {
    name: "Patient.contact",
    base: Base::Backbone,
    fields: &[
        list("relationship", cx(&CODEABLE_CONCEPT)),
        opt("name", cx(&HUMAN_NAME)),
        list("telecom", cx(&CONTACT_POINT)),
        opt("address", cx(&ADDRESS)),
        opt("gender", code(&GENDER)),
        opt("organization", cx(&REFERENCE)),
        opt("period", cx(&PERIOD)),
    ],
    check: Some(|obj, path, _| {
        rule(
            has(obj, "name")
                || has(obj, "telecom")
                || has(obj, "address")
                || has(obj, "organization"),
            path,
            "pat-1",
            "a contact has a name, telecom, address or organization",
        )
    }),
};

static COMMUNICATION: Struct = Struct {
    name: "Patient.communication",
    base: Base::Backbone,
    fields: &[req("language", cx(&CODEABLE_CONCEPT)), opt("preferred", BOOLEAN)],
    check: None,
};

static LINK: Struct = Struct {
    name: "Patient.link",
    base: Base::Backbone,
    fields: &[
        req("other", cx(&REFERENCE)),
        req("type", code(&["replaced-by", "replaces", "refer", "seealso"])),
    ],
    check: None,
};

static DECEASED: [(&str, Type); 2] = [("Boolean", BOOLEAN), ("DateTime", DATE_TIME)];
static MULTIPLE_BIRTH: [(&str, Type); 2] = [("Boolean", BOOLEAN), ("Integer", INTEGER)];

/// `Patient`: no required elements.
pub(crate) static PATIENT: Struct = Struct {
    name: "Patient",
    base: Base::DomainResource,
    fields: &[
        list("identifier", cx(&IDENTIFIER)),
        opt("active", BOOLEAN),
        list("name", cx(&HUMAN_NAME)),
        list("telecom", cx(&CONTACT_POINT)),
        opt("gender", code(&GENDER)),
        opt("birthDate", DATE),
        choice("deceased", &DECEASED),
        list("address", cx(&ADDRESS)),
        opt("maritalStatus", cx(&CODEABLE_CONCEPT)),
        choice("multipleBirth", &MULTIPLE_BIRTH),
        list("photo", cx(&ATTACHMENT)),
        list("contact", cx(&CONTACT)),
        list("communication", cx(&COMMUNICATION)),
        list("generalPractitioner", cx(&REFERENCE)),
        opt("managingOrganization", cx(&REFERENCE)),
        list("link", cx(&LINK)),
    ],
    check: None,
};
