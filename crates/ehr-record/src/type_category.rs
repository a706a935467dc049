//! The default category of each R4 resource type (the table in the crate README).

use crate::{Category, ResourceType};

/// Allergies and intolerances.
pub(crate) const ALLERGY: Category = Category::from_static("allergy");
/// Vaccinations.
pub(crate) const IMMUNIZATION: Category = Category::from_static("immunization");
/// Procedures done, and Observations of category `procedure`.
pub(crate) const PROCEDURE: Category = Category::from_static("procedure");
/// Visits, admissions, appointments.
pub(crate) const ENCOUNTER: Category = Category::from_static("encounter");
/// Plans, goals, orders, referrals, risk assessments.
pub(crate) const CARE_PLAN: Category = Category::from_static("care-plan");
/// Family history.
pub(crate) const FAMILY_HISTORY: Category = Category::from_static("family-history");
/// Insurance, claims, payments.
pub(crate) const BILLING: Category = Category::from_static("billing");
/// Practitioners, organisations, locations, services: who and where.
pub(crate) const PROVIDER: Category = Category::from_static("provider");
/// Consents.
pub(crate) const CONSENT: Category = Category::from_static("consent");
/// Devices and their use.
pub(crate) const DEVICE: Category = Category::from_static("device");
/// Questionnaires and their answers, Observations of category `survey`.
pub(crate) const ASSESSMENT: Category = Category::from_static("assessment");
/// Research studies and their subjects.
pub(crate) const RESEARCH: Category = Category::from_static("research");
/// Audit trails and provenance.
pub(crate) const AUDIT: Category = Category::from_static("audit");
/// Observations without a more specific category.
pub(crate) const OBSERVATION: Category = Category::from_static("observation");
/// DiagnosticReports that are neither laboratory nor imaging (cardiology, ...).
pub(crate) const REPORT: Category = Category::from_static("report");
/// Observations of category `social-history`, or US Core `sdoh`.
pub(crate) const SOCIAL_HISTORY: Category = Category::from_static("social-history");
/// Observations of category `exam`.
pub(crate) const EXAM: Category = Category::from_static("exam");
/// Observations of category `therapy`.
pub(crate) const THERAPY: Category = Category::from_static("therapy");
/// Observations of category `activity`.
pub(crate) const ACTIVITY: Category = Category::from_static("activity");
/// A Bundle whose entries have different categories (a patient summary, a whole export).
pub(crate) const SUMMARY: Category = Category::from_static("summary");
/// Everything else: conformance, knowledge and definitional resources, infrastructure.
pub(crate) const OTHER: Category = Category::from_static("other");

/// The category of a resource type when its content does not say more (Observation,
/// DiagnosticReport, DocumentReference and Bundle look at their content first).
pub(crate) fn for_type(resource_type: ResourceType) -> Category {
    match resource_type.as_str() {
        "Patient" | "Person" | "RelatedPerson" => Category::DEMOGRAPHICS,
        "Condition" => Category::DIAGNOSIS,
        "MedicationRequest"
        | "Medication"
        | "MedicationDispense"
        | "MedicationAdministration"
        | "MedicationStatement"
        | "MedicationKnowledge" => Category::PRESCRIPTION,
        "Observation" => OBSERVATION,
        "DiagnosticReport" => REPORT,
        "Specimen" | "MolecularSequence" | "BiologicallyDerivedProduct" => Category::LAB,
        "ImagingStudy" | "Media" => Category::IMAGING,
        "DocumentReference"
        | "DocumentManifest"
        | "Composition"
        | "Communication"
        | "CommunicationRequest"
        | "List"
        | "Binary" => Category::NOTE,
        "AllergyIntolerance" => ALLERGY,
        "Immunization" | "ImmunizationEvaluation" | "ImmunizationRecommendation" => IMMUNIZATION,
        "Procedure" => PROCEDURE,
        "Encounter"
        | "EpisodeOfCare"
        | "Appointment"
        | "AppointmentResponse"
        | "Schedule"
        | "Slot" => ENCOUNTER,
        "CarePlan" | "CareTeam" | "Goal" | "ServiceRequest" | "NutritionOrder"
        | "DeviceRequest" | "RequestGroup" | "Task" | "RiskAssessment" | "ClinicalImpression"
        | "DetectedIssue" | "Flag" | "VisionPrescription" | "AdverseEvent" | "GuidanceResponse"
        | "SupplyRequest" | "SupplyDelivery" | "BodyStructure" => CARE_PLAN,
        "FamilyMemberHistory" => FAMILY_HISTORY,
        "Claim"
        | "ClaimResponse"
        | "ExplanationOfBenefit"
        | "Coverage"
        | "CoverageEligibilityRequest"
        | "CoverageEligibilityResponse"
        | "EnrollmentRequest"
        | "EnrollmentResponse"
        | "PaymentNotice"
        | "PaymentReconciliation"
        | "Account"
        | "ChargeItem"
        | "Invoice"
        | "InsurancePlan"
        | "Contract" => BILLING,
        "Practitioner"
        | "PractitionerRole"
        | "Organization"
        | "OrganizationAffiliation"
        | "Location"
        | "HealthcareService"
        | "Endpoint" => PROVIDER,
        "Consent" => CONSENT,
        "Device" | "DeviceMetric" | "DeviceUseStatement" | "DeviceDefinition" => DEVICE,
        "Questionnaire" | "QuestionnaireResponse" => ASSESSMENT,
        "ResearchStudy" | "ResearchSubject" => RESEARCH,
        "AuditEvent" | "Provenance" => AUDIT,
        "Bundle" => SUMMARY,
        _ => OTHER,
    }
}

/// Types that accompany other data in a Bundle (who, where, what drug) and do not decide the
/// Bundle's category unless they are all it holds.
pub(crate) fn accompanies(resource_type: ResourceType) -> bool {
    matches!(
        resource_type.as_str(),
        "Patient"
            | "Medication"
            | "Practitioner"
            | "PractitionerRole"
            | "Organization"
            | "Location"
            | "Provenance"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_has_a_category_and_the_names_are_valid() {
        for t in ResourceType::all() {
            let c = for_type(t);
            assert_eq!(Category::new(c.as_str()).unwrap(), c, "{t}");
        }
        assert_eq!(for_type("Encounter".parse().unwrap()).as_str(), "encounter");
        assert_eq!(for_type("StructureDefinition".parse().unwrap()), OTHER);
    }
}
