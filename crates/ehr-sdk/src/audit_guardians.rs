//! The guardian registry's events in a patient's audit trail: guardian sets, emergency kits,
//! every share released to a break-glass doctor, and the break-glass policy.

use crate::audit::{AuditEvent, EventSource, decoded};
use alloy::sol_types::SolEvent;
use ehr_contracts::Deployment;
use ehr_contracts::bindings::guardian_registry::GuardianRegistry::{
    EmergencyKitPublished, EmergencyPolicySet, EmergencyRenewalConfirmed, GuardiansCleared,
    GuardiansSet, HospitalRuleSet, ShareReleased,
};

/// The sources, all with the patient in topic 1; none for a deployment without the registry.
pub(crate) fn sources() -> Vec<EventSource> {
    let guardians = |d: &Deployment| d.guardian_registry;
    let source = |signature, decode| EventSource {
        contract: guardians,
        signature,
        patient_topic: 1,
        decode,
    };
    vec![
        source(GuardiansSet::SIGNATURE_HASH, |log| {
            let e = decoded::<GuardiansSet>(log)?;
            Some(AuditEvent::GuardiansSet { threshold: e.threshold, guardians: e.guardians })
        }),
        source(GuardiansCleared::SIGNATURE_HASH, |log| {
            decoded::<GuardiansCleared>(log).map(|_| AuditEvent::GuardiansCleared)
        }),
        source(EmergencyKitPublished::SIGNATURE_HASH, |log| {
            let e = decoded::<EmergencyKitPublished>(log)?;
            Some(AuditEvent::EmergencyKitPublished { kit_id: e.kitId, epoch: e.epoch })
        }),
        source(ShareReleased::SIGNATURE_HASH, |log| {
            let e = decoded::<ShareReleased>(log)?;
            Some(AuditEvent::ShareReleased {
                doctor: e.doctor,
                guardian: e.guardian,
                index: e.index,
                kit_id: e.kitId,
            })
        }),
        source(EmergencyPolicySet::SIGNATURE_HASH, |log| {
            let e = decoded::<EmergencyPolicySet>(log)?;
            Some(AuditEvent::EmergencyPolicySet {
                allowed_only: e.allowedOnly,
                renewal_cap: e.renewalCap,
            })
        }),
        source(HospitalRuleSet::SIGNATURE_HASH, |log| {
            let e = decoded::<HospitalRuleSet>(log)?;
            Some(AuditEvent::HospitalRuleSet { hospital: e.hospital, rule: e.rule })
        }),
        source(EmergencyRenewalConfirmed::SIGNATURE_HASH, |log| {
            let e = decoded::<EmergencyRenewalConfirmed>(log)?;
            Some(AuditEvent::EmergencyConfirmed { doctor: e.doctor, used: e.used })
        }),
    ]
}
