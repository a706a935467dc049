//! The guardian registry's custom errors as names and sentences (see `revert`).

use crate::bindings::guardian_registry::GuardianRegistry::GuardianRegistryErrors as G;
use std::fmt;

pub(crate) fn guardian_error_name(e: &G) -> &'static str {
    match e {
        G::GuardianAlreadyReleased(_) => "GuardianAlreadyReleased",
        G::GuardianDoctorInactive(_) => "GuardianDoctorInactive",
        G::GuardianDuplicate(_) => "GuardianDuplicate",
        G::GuardianHospitalNotAllowed(_) => "GuardianHospitalNotAllowed",
        G::GuardianInvalidCount(_) => "GuardianInvalidCount",
        G::GuardianInvalidGuardian(_) => "GuardianInvalidGuardian",
        G::GuardianInvalidKit(_) => "GuardianInvalidKit",
        G::GuardianInvalidRenewalCap(_) => "GuardianInvalidRenewalCap",
        G::GuardianInvalidShare(_) => "GuardianInvalidShare",
        G::GuardianInvalidThreshold(_) => "GuardianInvalidThreshold",
        G::GuardianNoGuardians(_) => "GuardianNoGuardians",
        G::GuardianNoOpenEmergency(_) => "GuardianNoOpenEmergency",
        G::GuardianNotConsentRegistry(_) => "GuardianNotConsentRegistry",
        G::GuardianNotGuardian(_) => "GuardianNotGuardian",
        G::GuardianNotPatient(_) => "GuardianNotPatient",
        G::GuardianRenewalCapExceeded(_) => "GuardianRenewalCapExceeded",
        G::GuardianWithoutPublicKey(_) => "GuardianWithoutPublicKey",
        G::GuardianWiring(_) => "GuardianWiring",
        G::GuardianWrongEpoch(_) => "GuardianWrongEpoch",
    }
}

pub(crate) fn fmt_guardian(e: &G, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match e {
        G::GuardianAlreadyReleased(e) => write!(
            f,
            "guardian {} already released its share of patient {}'s current kit to {}",
            e.guardian, e.patient, e.doctor
        ),
        G::GuardianDoctorInactive(e) => {
            write!(f, "{} is no longer an active doctor of an active hospital", e.doctor)
        }
        G::GuardianDuplicate(e) => write!(f, "guardian {} is named twice", e.guardian),
        G::GuardianHospitalNotAllowed(e) => write!(
            f,
            "patient {}'s break-glass policy does not admit hospital {}",
            e.patient, e.hospital
        ),
        G::GuardianInvalidCount(e) => {
            write!(f, "a patient names 1 to {} guardians, not {}", e.max, e.count)
        }
        G::GuardianInvalidGuardian(e) => write!(
            f,
            "{} cannot be a guardian: a guardian is a registered patient or an active organization or staff member, other than the patient",
            e.guardian
        ),
        G::GuardianInvalidKit(e) => write!(f, "an emergency kit is 1 to 24,576 bytes, not {}", e.length),
        G::GuardianInvalidRenewalCap(e) => write!(
            f,
            "a renewal cap is at most {} seconds, not {}",
            e.max, e.cap
        ),
        G::GuardianInvalidShare(e) => write!(f, "a wrapped share is 1 to 256 bytes, not {}", e.length),
        G::GuardianInvalidThreshold(e) => write!(
            f,
            "a threshold is 1 to the number of guardians: {} of {} is not",
            e.threshold, e.guardians
        ),
        G::GuardianNoGuardians(e) => write!(f, "patient {} has no guardians", e.patient),
        G::GuardianNoOpenEmergency(e) => write!(
            f,
            "{} holds no open break-glass access to patient {} (never opened, closed or ended)",
            e.doctor, e.patient
        ),
        G::GuardianNotConsentRegistry(e) => {
            write!(f, "{} is not the consent registry wired to the guardian registry", e.caller)
        }
        G::GuardianNotGuardian(e) => write!(
            f,
            "{} is not guardian number {} of patient {}",
            e.caller, e.index, e.patient
        ),
        G::GuardianNotPatient(e) => write!(f, "{} is not a registered patient", e.account),
        G::GuardianRenewalCapExceeded(e) => write!(
            f,
            "{}'s break-glass access to patient {} would add up to {} s since the patient last confirmed it, over the patient's cap of {} s",
            e.doctor, e.patient, e.used, e.cap
        ),
        G::GuardianWithoutPublicKey(e) => write!(
            f,
            "{} has registered no public key, so no share can be wrapped to it (it runs `ehr key register`)",
            e.guardian
        ),
        G::GuardianWiring(_) => f.write_str(
            "the guardian registry is not wired to the consent registry (or already is); finish the deployment",
        ),
        G::GuardianWrongEpoch(e) => write!(
            f,
            "the kit was made for key epoch {} but the patient is at epoch {}; make it again",
            e.given, e.current
        ),
    }
}
