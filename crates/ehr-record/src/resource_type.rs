//! The FHIR R4 resource types ehrkit accepts.

use std::fmt;
use std::str::FromStr;

/// A FHIR R4 resource type that ehrkit validates and stores.
///
/// `Medication` is accepted because prescriptions carry it (contained in a MedicationRequest
/// or next to it in a Bundle).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    /// `Patient`: demographics.
    Patient,
    /// `Observation`: a measurement or finding (lab result, vital sign, ...).
    Observation,
    /// `Condition`: a diagnosis or problem.
    Condition,
    /// `MedicationRequest`: a prescription.
    MedicationRequest,
    /// `Medication`: the medication a prescription names.
    Medication,
    /// `DiagnosticReport`: a lab or imaging report.
    DiagnosticReport,
    /// `DocumentReference`: a document, including wrapped binary files.
    DocumentReference,
    /// `Bundle`: a collection of the above.
    Bundle,
}

impl ResourceType {
    /// Every accepted type.
    pub const ALL: [ResourceType; 8] = [
        ResourceType::Patient,
        ResourceType::Observation,
        ResourceType::Condition,
        ResourceType::MedicationRequest,
        ResourceType::Medication,
        ResourceType::DiagnosticReport,
        ResourceType::DocumentReference,
        ResourceType::Bundle,
    ];

    /// The accepted type names, for messages.
    pub(crate) const SUPPORTED_NAMES: &'static str = "Patient, Observation, Condition, \
        MedicationRequest, Medication, DiagnosticReport, DocumentReference, Bundle";

    /// The FHIR name (`"Observation"`).
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Patient => "Patient",
            ResourceType::Observation => "Observation",
            ResourceType::Condition => "Condition",
            ResourceType::MedicationRequest => "MedicationRequest",
            ResourceType::Medication => "Medication",
            ResourceType::DiagnosticReport => "DiagnosticReport",
            ResourceType::DocumentReference => "DocumentReference",
            ResourceType::Bundle => "Bundle",
        }
    }
}

/// The name is not an accepted resource type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a resource type ehrkit accepts (supported: {})", ResourceType::SUPPORTED_NAMES)]
pub struct UnsupportedResourceType;

impl FromStr for ResourceType {
    type Err = UnsupportedResourceType;

    /// Parses the exact FHIR name (case-sensitive, as in `resourceType`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceType::ALL.into_iter().find(|t| t.as_str() == s).ok_or(UnsupportedResourceType)
    }
}

impl fmt::Display for ResourceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_listed() {
        for t in ResourceType::ALL {
            assert_eq!(t.as_str().parse::<ResourceType>(), Ok(t));
            assert!(ResourceType::SUPPORTED_NAMES.contains(t.as_str()));
        }
        assert!("observation".parse::<ResourceType>().is_err());
        assert!("Encounter".parse::<ResourceType>().is_err());
    }
}
