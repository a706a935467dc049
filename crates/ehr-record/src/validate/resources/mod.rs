//! FHIR R4 (4.0.1) definitions of the resources ehrkit accepts.

mod bundle;
mod condition;
mod diagnostic_report;
mod document_reference;
mod medication;
mod observation;
mod patient;

use crate::ResourceType;
use crate::validate::schema::Struct;

/// The R4 definition of `resource_type`.
pub(super) fn definition(resource_type: ResourceType) -> &'static Struct {
    match resource_type {
        ResourceType::Patient => &patient::PATIENT,
        ResourceType::Observation => &observation::OBSERVATION,
        ResourceType::Condition => &condition::CONDITION,
        ResourceType::MedicationRequest => &medication::MEDICATION_REQUEST,
        ResourceType::Medication => &medication::MEDICATION,
        ResourceType::DiagnosticReport => &diagnostic_report::DIAGNOSTIC_REPORT,
        ResourceType::DocumentReference => &document_reference::DOCUMENT_REFERENCE,
        ResourceType::Bundle => &bundle::BUNDLE,
    }
}
