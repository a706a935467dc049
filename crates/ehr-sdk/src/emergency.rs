//! Break-glass access: a hospital doctor opens time-limited access to a patient with a reason
//! (always logged on chain); the doctor or the patient closes it early.

use crate::Result;
use crate::parse::duration_within;
use crate::requests::{reason_binding, seal_reason};
use crate::session::{Session, TxInfo, event_in};
use alloy::primitives::Address;
use ehr_contracts::bindings::ConsentRegistry::{EmergencyAccessClosed, EmergencyAccessOpened};
use ehr_contracts::{ReasonCode, tx};
use ehr_crypto::reason::ReasonContext;
use serde::Serialize;
use std::time::Duration;

/// The longest break-glass access lasts (the consent registry's `MAX_EMERGENCY_DURATION`).
pub const MAX_EMERGENCY_DURATION: Duration = Duration::from_secs(72 * 3_600);

/// Open break-glass access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyOpened {
    /// The patient.
    pub patient: Address,
    /// The doctor (the signer).
    pub doctor: Address,
    /// The doctor's hospital.
    pub hospital: Address,
    /// Unix time the access ends.
    pub until: u64,
    /// Why, as a code (in clear on chain).
    #[serde(serialize_with = "crate::serde_text::display")]
    pub reason_code: ReasonCode,
    /// The doctor's words, encrypted to the patient on chain (`None` without).
    pub reason: Option<String>,
    /// The transaction.
    pub tx: TxInfo,
}

/// Closed break-glass access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyClosed {
    /// The patient.
    pub patient: Address,
    /// The doctor whose access ended.
    pub doctor: Address,
    /// Who closed it (the patient or the doctor).
    pub closed_by: Address,
    /// The transaction.
    pub tx: TxInfo,
}

/// Opens break-glass access to `patient` for `duration` (1 s to 72 h) as the signing doctor.
pub async fn open(
    session: &Session,
    patient: Address,
    reason_code: ReasonCode,
    reason: Option<&str>,
    duration: Duration,
) -> Result<EmergencyOpened> {
    const ACTION: &str = "open emergency access";
    let duration = duration_within(
        "emergency access",
        duration,
        Duration::from_secs(1),
        MAX_EMERGENCY_DURATION,
    )?;
    let doctor = session.chain().address()?;
    let binding =
        reason_binding(session, ReasonContext::Emergency, patient, doctor, reason_code.as_u16());
    let sealed = seal_reason(session, &binding, reason).await?;
    let contract = session.consent_as_signer()?;
    let call =
        contract.openEmergencyAccess(patient, reason_code.as_u16(), sealed, duration.as_secs());
    let receipt = tx::send(ACTION, call).await?;
    let event: EmergencyAccessOpened =
        event_in(&receipt, session.deployment().consent_registry, ACTION)?;
    Ok(EmergencyOpened {
        patient: event.patient,
        doctor: event.doctor,
        hospital: event.hospital,
        until: event.until,
        reason_code,
        reason: reason.map(str::to_owned),
        tx: TxInfo::of(&receipt),
    })
}

/// Ends `doctor`'s break-glass access to `patient`; the signer is the patient or the doctor.
pub async fn close(
    session: &Session,
    patient: Address,
    doctor: Address,
) -> Result<EmergencyClosed> {
    const ACTION: &str = "close emergency access";
    let contract = session.consent_as_signer()?;
    let call = contract.closeEmergencyAccess(patient, doctor);
    let receipt = tx::send(ACTION, call).await?;
    let event: EmergencyAccessClosed =
        event_in(&receipt, session.deployment().consent_registry, ACTION)?;
    Ok(EmergencyClosed {
        patient: event.patient,
        doctor: event.doctor,
        closed_by: event.closedBy,
        tx: TxInfo::of(&receipt),
    })
}
