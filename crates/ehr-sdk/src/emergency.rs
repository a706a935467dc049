//! Break-glass access: a hospital doctor opens time-limited access to a patient with a reason
//! (always logged on chain); the doctor or the patient closes it early. The patient's policy
//! (the guardian registry's, applied on chain at every opening) says which hospitals may, and
//! how long a doctor's access may add up to before the patient confirms it.

use crate::Result;
use crate::parse::duration_within;
use crate::requests::{reason_binding, seal_reason};
use crate::session::{Session, TxInfo, event_in};
use alloy::primitives::Address;
use ehr_contracts::bindings::ConsentRegistry::{EmergencyAccessClosed, EmergencyAccessOpened};
use ehr_contracts::bindings::IGuardianRegistry;
use ehr_contracts::bindings::guardian_registry::GuardianRegistry::EmergencyRenewalConfirmed;
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

/// How a patient rules on one hospital's break-glass openings (the guardian registry's
/// `HospitalRule`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum HospitalRule {
    /// No rule: admitted unless the patient admits only allowed hospitals.
    Default,
    /// Admitted (the only ones, with `allowed_only`).
    Allowed,
    /// Never admitted.
    Denied,
}

impl HospitalRule {
    fn as_u8(self) -> u8 {
        match self {
            Self::Default => 0,
            Self::Allowed => 1,
            Self::Denied => 2,
        }
    }
}

/// A patient's break-glass policy, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyPolicy {
    /// The patient.
    pub patient: Address,
    /// Only hospitals it allowed may break the glass (else any it did not deny).
    pub allowed_only: bool,
    /// The most seconds a doctor's access adds up to before the patient confirms it.
    pub renewal_cap: u64,
    /// The transaction, when this was a change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tx: Option<TxInfo>,
}

/// Sets the signing patient's break-glass policy: `allowed_only`, and the renewal cap
/// (`None`: the default, 72 hours; at most 365 days).
pub async fn set_policy(
    session: &Session,
    allowed_only: bool,
    renewal_cap: Option<Duration>,
) -> Result<EmergencyPolicy> {
    let patient = session.chain().address()?;
    let cap = match renewal_cap {
        Some(cap) => duration_within(
            "a renewal cap",
            cap,
            Duration::from_secs(1),
            Duration::from_secs(365 * 86_400),
        )?
        .as_secs(),
        None => 0,
    };
    let receipt = tx::send(
        "set the break-glass policy",
        session.guardians_as_signer()?.setEmergencyPolicy(allowed_only, cap),
    )
    .await?;
    let mut policy = policy_of(session, patient).await?;
    policy.tx = Some(TxInfo::of(&receipt));
    Ok(policy)
}

/// `patient`'s break-glass policy.
pub async fn policy_of(session: &Session, patient: Address) -> Result<EmergencyPolicy> {
    let stored =
        tx::call("read the break-glass policy", session.guardians()?.emergencyPolicyOf(patient))
            .await?;
    Ok(EmergencyPolicy {
        patient,
        allowed_only: stored.allowedOnly,
        renewal_cap: stored.renewalCap,
        tx: None,
    })
}

/// A hospital rule the patient set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HospitalRuleSet {
    /// The patient.
    pub patient: Address,
    /// The hospital.
    pub hospital: Address,
    /// The rule.
    pub rule: HospitalRule,
    /// The transaction.
    pub tx: TxInfo,
}

/// Rules on `hospital`'s break-glass openings for the signing patient.
pub async fn set_hospital_rule(
    session: &Session,
    hospital: Address,
    rule: HospitalRule,
) -> Result<HospitalRuleSet> {
    let patient = session.chain().address()?;
    let call = session.guardians_as_signer()?;
    let receipt =
        tx::send("rule on a hospital", call.setHospitalRule(hospital, rule.as_u8())).await?;
    Ok(HospitalRuleSet { patient, hospital, rule, tx: TxInfo::of(&receipt) })
}

/// A confirmation of a doctor's break-glass access.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmergencyConfirmed {
    /// The patient.
    pub patient: Address,
    /// The doctor.
    pub doctor: Address,
    /// Seconds it had used against the cap (now zero).
    pub used: u64,
    /// The transaction.
    pub tx: TxInfo,
}

/// The signing patient confirms `doctor`'s break-glass access: the time it used against the
/// renewal cap starts again at zero.
pub async fn confirm(session: &Session, doctor: Address) -> Result<EmergencyConfirmed> {
    const ACTION: &str = "confirm the emergency access";
    let patient = session.chain().address()?;
    let contract = session.guardians_as_signer()?;
    let receipt = tx::send(ACTION, contract.confirmEmergency(doctor)).await?;
    let event: EmergencyRenewalConfirmed = event_in(&receipt, *contract.address(), ACTION)?;
    Ok(EmergencyConfirmed { patient, doctor, used: event.used, tx: TxInfo::of(&receipt) })
}

/// A doctor's break-glass access that is open now, with what the patient's guardians released
/// to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenEmergency {
    /// The doctor.
    pub doctor: Address,
    /// Its hospital (at the latest opening).
    pub hospital: Address,
    /// Unix time the access ends.
    pub until: u64,
    /// Why, as a code (the latest opening's).
    #[serde(serialize_with = "crate::serde_text::display")]
    pub reason_code: ReasonCode,
    /// The guardians that released their share of the current kit to it.
    pub released_by: Vec<Address>,
    /// Shares needed (0: the patient has no guardians).
    pub threshold: u8,
}

/// `patient`'s guardian set, `None` without a guardian registry.
pub async fn guardianship_of(
    session: &Session,
    patient: Address,
) -> Result<Option<IGuardianRegistry::Guardianship>> {
    if session.deployment().guardian_registry.is_none() {
        return Ok(None);
    }
    let set = tx::call("read the guardians", session.guardians()?.guardianshipOf(patient)).await?;
    Ok(Some(set))
}

/// The guardians of `set` that released their share of the current kit to `doctor`, and the
/// threshold (`(vec![], 0)` without guardians): state only, no logs.
pub async fn released_to(
    session: &Session,
    patient: Address,
    doctor: Address,
    set: Option<&IGuardianRegistry::Guardianship>,
) -> Result<(Vec<Address>, u8)> {
    let Some(set) = set else { return Ok((Vec::new(), 0)) };
    let releases =
        tx::call("read the releases", session.guardians()?.releasesOf(patient, doctor)).await?;
    let by = set
        .guardians
        .iter()
        .enumerate()
        .filter(|(i, _)| releases.released & (1 << i) != 0)
        .map(|(_, g)| *g)
        .collect();
    Ok((by, set.threshold))
}

/// Every break-glass access to `patient` open at the latest block, oldest opening first, with
/// the guardians that released to each doctor (`ehr emergency list`, the page's list).
pub async fn open_emergencies(session: &Session, patient: Address) -> Result<Vec<OpenEmergency>> {
    use alloy::rpc::types::Filter;
    use alloy::sol_types::SolEvent;
    let d = session.deployment();
    let filter = Filter::new()
        .address(d.consent_registry)
        .event_signature(EmergencyAccessOpened::SIGNATURE_HASH)
        .topic1(patient.into_word());
    let (head, _) = session.chain().head().await?;
    let logs = crate::logs::fetch_logs(session.chain(), &filter, d.deployed_at_block, head).await?;
    let mut latest: Vec<EmergencyAccessOpened> = Vec::new();
    for event in logs.iter().filter_map(|log| log.log_decode::<EmergencyAccessOpened>().ok()) {
        let event = event.inner.data;
        latest.retain(|e| e.doctor != event.doctor);
        latest.push(event);
    }
    let guardianship = guardianship_of(session, patient).await?;
    let mut open = Vec::new();
    for event in latest {
        let until = tx::call(
            "read the emergency access",
            session.consent().emergencyUntil(patient, event.doctor),
        )
        .await?;
        if until == 0 {
            continue;
        }
        let (released_by, threshold) =
            released_to(session, patient, event.doctor, guardianship.as_ref()).await?;
        open.push(OpenEmergency {
            doctor: event.doctor,
            hospital: event.hospital,
            until,
            reason_code: ReasonCode::from_u16(event.reasonCode)?,
            released_by,
            threshold,
        });
    }
    Ok(open)
}
