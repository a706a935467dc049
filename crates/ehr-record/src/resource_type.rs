//! FHIR R4 resource types: every concrete type of R4 (4.0.1).

use std::fmt;
use std::str::FromStr;

use crate::validate::defs;

/// A concrete FHIR R4 resource type (`Observation`, `Encounter`, ...): one of the 146 that
/// the R4 StructureDefinitions define. Made by parsing the exact FHIR name, or from the
/// constants for the types ehrkit treats specially.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceType(&'static str);

impl ResourceType {
    /// `Patient`.
    pub const PATIENT: ResourceType = ResourceType("Patient");
    /// `Observation`.
    pub const OBSERVATION: ResourceType = ResourceType("Observation");
    /// `Condition`.
    pub const CONDITION: ResourceType = ResourceType("Condition");
    /// `MedicationRequest`.
    pub const MEDICATION_REQUEST: ResourceType = ResourceType("MedicationRequest");
    /// `Medication`.
    pub const MEDICATION: ResourceType = ResourceType("Medication");
    /// `DiagnosticReport`.
    pub const DIAGNOSTIC_REPORT: ResourceType = ResourceType("DiagnosticReport");
    /// `DocumentReference`.
    pub const DOCUMENT_REFERENCE: ResourceType = ResourceType("DocumentReference");
    /// `Bundle`.
    pub const BUNDLE: ResourceType = ResourceType("Bundle");
    /// `Composition`.
    pub const COMPOSITION: ResourceType = ResourceType("Composition");

    /// Every R4 resource type, in alphabetical order.
    pub fn all() -> impl Iterator<Item = ResourceType> {
        defs::defs().resource_types.iter().map(|name| ResourceType(name))
    }

    /// The FHIR name (`"Observation"`).
    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// The name is not an R4 resource type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a FHIR R4 resource type (names are case-sensitive, e.g. `Observation`)")]
pub struct UnsupportedResourceType;

impl FromStr for ResourceType {
    type Err = UnsupportedResourceType;

    /// Parses the exact FHIR name (case-sensitive, as in `resourceType`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let names = &defs::defs().resource_types;
        names.binary_search(&s).map(|i| ResourceType(names[i])).map_err(|_| UnsupportedResourceType)
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
    fn names_round_trip() {
        assert_eq!(ResourceType::all().count(), 146);
        for t in ResourceType::all() {
            assert_eq!(t.as_str().parse::<ResourceType>(), Ok(t));
        }
        for t in [
            ResourceType::PATIENT,
            ResourceType::OBSERVATION,
            ResourceType::CONDITION,
            ResourceType::MEDICATION_REQUEST,
            ResourceType::MEDICATION,
            ResourceType::DIAGNOSTIC_REPORT,
            ResourceType::DOCUMENT_REFERENCE,
            ResourceType::BUNDLE,
            ResourceType::COMPOSITION,
        ] {
            assert_eq!(t.as_str().parse::<ResourceType>(), Ok(t), "{t} is an R4 type");
        }
        assert_eq!("Encounter".parse::<ResourceType>().map(ResourceType::as_str), Ok("Encounter"));
        assert!("observation".parse::<ResourceType>().is_err());
        assert!("DomainResource".parse::<ResourceType>().is_err());
    }
}
