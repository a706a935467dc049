//! Break-glass access: a hospital doctor opens time-limited access to a patient with a reason
//! (always logged on chain); the doctor or the patient closes it early.

use crate::Result;
use crate::parse::duration_within;
use crate::requests::check_reason;
use crate::session::{Session, TxInfo, event_in};
use alloy::primitives::Address;
use ehr_contracts::bindings::ConsentRegistry::{EmergencyAccessClosed, EmergencyAccessOpened};
use ehr_contracts::tx;
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
    /// The reason logged.
    pub reason: String,
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
    reason: &str,
    duration: Duration,
) -> Result<EmergencyOpened> {
    const ACTION: &str = "open emergency access";
    let duration = duration_within(
        "emergency access",
        duration,
        Duration::from_secs(1),
        MAX_EMERGENCY_DURATION,
    )?;
    check_reason(reason)?;
    let contract = session.consent_as_signer()?;
    let call = contract.openEmergencyAccess(patient, reason.to_owned(), duration.as_secs());
    let receipt = tx::send(ACTION, call).await?;
    let event: EmergencyAccessOpened =
        event_in(&receipt, session.deployment().consent_registry, ACTION)?;
    Ok(EmergencyOpened {
        patient: event.patient,
        doctor: event.doctor,
        hospital: event.hospital,
        until: event.until,
        reason: event.reason,
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
