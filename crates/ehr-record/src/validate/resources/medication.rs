//! `MedicationRequest` and `Medication` (R4).

use crate::validate::datatypes::*;
use crate::validate::schema::*;

static CODEABLE_OR_REFERENCE: [(&str, Type); 2] =
    [("CodeableConcept", cx(&CODEABLE_CONCEPT)), ("Reference", cx(&REFERENCE))];

static BOOLEAN_OR_REFERENCE: [(&str, Type); 2] =
    [("Boolean", BOOLEAN), ("Reference", cx(&REFERENCE))];

static BOOLEAN_OR_CODEABLE: [(&str, Type); 2] =
    [("Boolean", BOOLEAN), ("CodeableConcept", cx(&CODEABLE_CONCEPT))];

static INITIAL_FILL: Struct = Struct {
    name: "MedicationRequest.dispenseRequest.initialFill",
    base: Base::Backbone,
    fields: &[opt("quantity", cx(&SIMPLE_QUANTITY)), opt("duration", cx(&DURATION))],
    check: None,
};

static DISPENSE_REQUEST: Struct = Struct {
    name: "MedicationRequest.dispenseRequest",
    base: Base::Backbone,
    fields: &[
        opt("initialFill", cx(&INITIAL_FILL)),
        opt("dispenseInterval", cx(&DURATION)),
        opt("validityPeriod", cx(&PERIOD)),
        opt("numberOfRepeatsAllowed", UNSIGNED_INT),
        opt("quantity", cx(&SIMPLE_QUANTITY)),
        opt("expectedSupplyDuration", cx(&DURATION)),
        opt("performer", cx(&REFERENCE)),
    ],
    check: None,
};

static SUBSTITUTION: Struct = Struct {
    name: "MedicationRequest.substitution",
    base: Base::Backbone,
    fields: &[req_choice("allowed", &BOOLEAN_OR_CODEABLE), opt("reason", cx(&CODEABLE_CONCEPT))],
    check: None,
};

/// `MedicationRequest`: status, intent, medication[x] and subject are required.
pub(crate) static MEDICATION_REQUEST: Struct = Struct {
    name: "MedicationRequest",
    base: Base::DomainResource,
    fields: &[
        list("identifier", cx(&IDENTIFIER)),
        req(
            "status",
            code(&[
                "active",
                "on-hold",
                "cancelled",
                "completed",
                "entered-in-error",
                "stopped",
                "draft",
                "unknown",
            ]),
        ),
        opt("statusReason", cx(&CODEABLE_CONCEPT)),
        req(
            "intent",
            code(&[
                "proposal",
                "plan",
                "order",
                "original-order",
                "reflex-order",
                "filler-order",
                "instance-order",
                "option",
            ]),
        ),
        list("category", cx(&CODEABLE_CONCEPT)),
        opt("priority", code(&["routine", "urgent", "asap", "stat"])),
        opt("doNotPerform", BOOLEAN),
        choice("reported", &BOOLEAN_OR_REFERENCE),
        req_choice("medication", &CODEABLE_OR_REFERENCE),
        req("subject", cx(&REFERENCE)),
        opt("encounter", cx(&REFERENCE)),
        list("supportingInformation", cx(&REFERENCE)),
        opt("authoredOn", DATE_TIME),
        opt("requester", cx(&REFERENCE)),
        opt("performer", cx(&REFERENCE)),
        opt("performerType", cx(&CODEABLE_CONCEPT)),
        opt("recorder", cx(&REFERENCE)),
        list("reasonCode", cx(&CODEABLE_CONCEPT)),
        list("reasonReference", cx(&REFERENCE)),
        list("instantiatesCanonical", CANONICAL),
        list("instantiatesUri", URI),
        list("basedOn", cx(&REFERENCE)),
        opt("groupIdentifier", cx(&IDENTIFIER)),
        opt("courseOfTherapyType", cx(&CODEABLE_CONCEPT)),
        list("insurance", cx(&REFERENCE)),
        list("note", cx(&ANNOTATION)),
        list("dosageInstruction", cx(&DOSAGE)),
        opt("dispenseRequest", cx(&DISPENSE_REQUEST)),
        opt("substitution", cx(&SUBSTITUTION)),
        opt("priorPrescription", cx(&REFERENCE)),
        list("detectedIssue", cx(&REFERENCE)),
        list("eventHistory", cx(&REFERENCE)),
    ],
    check: None,
};

static INGREDIENT: Struct = Struct {
    name: "Medication.ingredient",
    base: Base::Backbone,
    fields: &[
        req_choice("item", &CODEABLE_OR_REFERENCE),
        opt("isActive", BOOLEAN),
        opt("strength", cx(&RATIO)),
    ],
    check: None,
};

static BATCH: Struct = Struct {
    name: "Medication.batch",
    base: Base::Backbone,
    fields: &[opt("lotNumber", STRING), opt("expirationDate", DATE_TIME)],
    check: None,
};

/// `Medication`: no required elements.
pub(crate) static MEDICATION: Struct = Struct {
    name: "Medication",
    base: Base::DomainResource,
    fields: &[
        list("identifier", cx(&IDENTIFIER)),
        opt("code", cx(&CODEABLE_CONCEPT)),
        opt("status", code(&["active", "inactive", "entered-in-error"])),
        opt("manufacturer", cx(&REFERENCE)),
        opt("form", cx(&CODEABLE_CONCEPT)),
        opt("amount", cx(&RATIO)),
        list("ingredient", cx(&INGREDIENT)),
        opt("batch", cx(&BATCH)),
    ],
    check: None,
};
