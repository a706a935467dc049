//! Threshold guardians: the patient names n guardians and a threshold t and publishes an
//! emergency kit (`ehr_crypto::emergency_kit`) holding its emergency categories' keys of every
//! epoch so far; when a doctor opens break-glass access, each guardian that agrees releases its
//! share to the doctor on chain ([`release`], [`watch_once`]); with t releases the doctor reads
//! the emergency categories ([`crate::emergency_keys`]).
//!
//! Every kit is re-split when the epoch changes ([`resplit`], called wherever the patient
//! re-shares a new epoch with its grantees), so the doctor of a later emergency also reads
//! what was written since.

use crate::logs::fetch_logs;
use crate::session::{Session, TxInfo, event_in};
use crate::{Error, Result};
use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::consent_registry::ConsentRegistry::EmergencyAccessOpened;
use ehr_contracts::bindings::guardian_registry::GuardianRegistry::{
    EmergencyKitPublished, ShareReleased,
};
use ehr_contracts::tx;
use ehr_crypto::GrantKeys;
use ehr_crypto::emergency_kit::{EmergencyKit, KitContext, KitGuardian, MAX_GUARDIANS, seal_kit};
use ehr_index::category_name_bytes;
use serde::Serialize;
use std::fmt;

/// The categories of an emergency kit unless the patient picks others: an International
/// Patient Summary-like set (allergies, medications, problems, immunizations).
pub const DEFAULT_EMERGENCY_CATEGORIES: [&str; 4] =
    ["allergy", "prescription", "diagnosis", "immunization"];

/// What an emergency doctor may read once t guardians released their shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "categories")]
pub enum EmergencyScope {
    /// Every record (the kit holds each epoch's key and the naming key).
    All,
    /// These categories, by name.
    Categories(Vec<String>),
}

impl Default for EmergencyScope {
    fn default() -> Self {
        Self::Categories(DEFAULT_EMERGENCY_CATEGORIES.iter().map(|c| (*c).to_owned()).collect())
    }
}

impl fmt::Display for EmergencyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Categories(names) => f.write_str(&names.join(", ")),
        }
    }
}

impl EmergencyScope {
    /// The bytes the kit seals to the patient, so that a re-split knows the scope again:
    /// `0x00` (all) or `0x01 ‖ name[32] ‖ …`.
    fn to_bytes(&self) -> Result<Vec<u8>> {
        match self {
            Self::All => Ok(vec![0]),
            Self::Categories(names) => {
                let mut out = vec![1];
                for name in names {
                    out.extend_from_slice(&category_name_bytes(name)?);
                }
                Ok(out)
            }
        }
    }

    fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let invalid = || Error::Crypto(ehr_crypto::Error::InvalidKit("a malformed sealed scope"));
        match bytes.split_first() {
            Some((0, [])) => Ok(Self::All),
            Some((1, names)) if names.len() % 32 == 0 => names
                .chunks(32)
                .map(|chunk| {
                    let end = chunk.iter().position(|&b| b == 0).unwrap_or(32);
                    std::str::from_utf8(&chunk[..end]).map(str::to_owned).map_err(|_| invalid())
                })
                .collect::<Result<Vec<_>>>()
                .map(Self::Categories),
            _ => Err(invalid()),
        }
    }
}

/// A kit the patient published.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KitPublished {
    /// The patient.
    pub patient: Address,
    /// The kit's id (releases name it).
    pub kit_id: u64,
    /// The epoch it was made in (it covers every epoch up to it).
    pub epoch: u64,
    /// Shares needed.
    pub threshold: u8,
    /// The guardians, share i for the i-th.
    pub guardians: Vec<Address>,
    /// What the doctor reads with the threshold of shares.
    pub scope: EmergencyScope,
    /// The kit's size on chain, in bytes.
    pub kit_bytes: usize,
    /// The transaction.
    pub tx: TxInfo,
}

/// Names the signing patient's guardians and threshold, with a first kit of `scope` for its
/// current epoch. Checks before sending: 1 ≤ t ≤ n ≤ 16
/// ([`ehr_crypto::Error::InvalidThreshold`]), no guardian twice ([`Error::DuplicateGuardian`]),
/// every guardian with a registered public key ([`Error::GuardianWithoutPublicKey`]).
pub async fn set_guardians(
    session: &Session,
    guardians: &[Address],
    threshold: u8,
    scope: EmergencyScope,
) -> Result<KitPublished> {
    if threshold == 0 || usize::from(threshold) > guardians.len() || guardians.len() > MAX_GUARDIANS
    {
        return Err(
            ehr_crypto::Error::InvalidThreshold { threshold, guardians: guardians.len() }.into()
        );
    }
    for (i, guardian) in guardians.iter().enumerate() {
        if guardians[..i].contains(guardian) {
            return Err(Error::DuplicateGuardian { guardian: *guardian });
        }
    }
    let patient = session.chain().address()?;
    session.require_patient(patient).await?;
    let epoch = tx::call("read the key epoch", session.consent().epochOf(patient)).await?;
    let kit = build_kit(session, patient, epoch, guardians, threshold, &scope).await?;
    let kit_bytes = kit.len();
    let contract = session.guardians_as_signer()?;
    const ACTION: &str = "set the guardians";
    let call = contract.setGuardians(guardians.to_vec(), threshold, epoch, kit);
    let receipt = tx::send(ACTION, call).await?;
    let event: EmergencyKitPublished = event_in(&receipt, *contract.address(), ACTION)?;
    Ok(KitPublished {
        patient,
        kit_id: event.kitId,
        epoch,
        threshold,
        guardians: guardians.to_vec(),
        scope,
        kit_bytes,
        tx: TxInfo::of(&receipt),
    })
}

/// Whether the signing patient has guardians whose kit covers an older epoch than the
/// current one (two `eth_call`s; no log is read). The page rotates and re-shares epochs but
/// cannot split kits, so a rotation made there leaves the kit behind until the SDK re-splits.
pub async fn kit_is_stale(session: &Session) -> Result<bool> {
    if session.deployment().guardian_registry.is_none() {
        return Ok(false);
    }
    let patient = session.chain().address()?;
    let set = tx::call("read the guardians", session.guardians()?.guardianshipOf(patient)).await?;
    if set.kitHash == B256::ZERO || set.guardians.is_empty() {
        return Ok(false);
    }
    let epoch = tx::call("read the key epoch", session.consent().epochOf(patient)).await?;
    Ok(set.epoch < epoch)
}

/// Publishes a new kit for the signing patient's guardians when its current kit is of an
/// older epoch (a re-split: fresh secret, fresh shares, the new epoch's keys too), with the
/// scope sealed in the old kit. `None` when there is nothing to do (no guardian registry, no
/// guardians, or the kit is current).
pub async fn resplit(session: &Session) -> Result<Option<KitPublished>> {
    if session.deployment().guardian_registry.is_none() {
        return Ok(None);
    }
    let patient = session.chain().address()?;
    let (head, _) = session.chain().head().await?;
    let Some(current) = current_kit(session, patient, head).await? else { return Ok(None) };
    let epoch = tx::call("read the key epoch", session.consent().epochOf(patient)).await?;
    if current.epoch >= epoch {
        return Ok(None);
    }
    let own = crate::keys::signer_secret_key(session)?;
    let sealed = current.kit.patient_scope(&own, &current.context())?;
    let scope = EmergencyScope::from_bytes(&sealed)?;
    let kit =
        build_kit(session, patient, epoch, &current.guardians, current.threshold, &scope).await?;
    let kit_bytes = kit.len();
    let contract = session.guardians_as_signer()?;
    const ACTION: &str = "re-split the emergency kit";
    let receipt = tx::send(ACTION, contract.publishKit(epoch, kit)).await?;
    let event: EmergencyKitPublished = event_in(&receipt, *contract.address(), ACTION)?;
    Ok(Some(KitPublished {
        patient,
        kit_id: event.kitId,
        epoch,
        threshold: current.threshold,
        guardians: current.guardians,
        scope,
        kit_bytes,
        tx: TxInfo::of(&receipt),
    }))
}

/// The kit of `scope` for `epoch`, sealed to `guardians` (keys read from the role registry and
/// checked against their addresses) and to the patient.
async fn build_kit(
    session: &Session,
    patient: Address,
    epoch: u64,
    guardians: &[Address],
    threshold: u8,
    scope: &EmergencyScope,
) -> Result<Bytes> {
    let mut kit_guardians = Vec::with_capacity(guardians.len());
    for guardian in guardians {
        let raw = match crate::roles::registered_public_key(session, *guardian).await {
            Err(Error::NoPublicKey { .. }) => {
                return Err(Error::GuardianWithoutPublicKey { guardian: *guardian });
            }
            other => other?,
        };
        let key = ehr_crypto::public_key_for_address(&raw, &guardian.0.0)?;
        kit_guardians.push(KitGuardian { address: guardian.0.0, key });
    }
    let patient_raw = crate::roles::registered_public_key(session, patient).await?;
    let patient_key = ehr_crypto::public_key_for_address(&patient_raw, &patient.0.0)?;
    let keys = crate::keys::patient_keys(session).await?;
    let search = keys.search_keys();
    let naming = keys.naming_key();
    let mut entries = Vec::new();
    for e in 0..=epoch {
        let epoch_key = search.epoch_key(e).expect("the patient derives every epoch's key");
        match scope {
            EmergencyScope::All => {
                entries.push((e, GrantKeys::All { epoch: epoch_key, naming: naming.clone() }));
            }
            EmergencyScope::Categories(names) => {
                for name in names {
                    let name = category_name_bytes(name)?;
                    let category = naming.category_id(&name);
                    let keys = epoch_key.category_keys(&category);
                    entries.push((e, GrantKeys::Category { category, name, keys }));
                }
            }
        }
    }
    let context = KitContext { patient: patient.0.0, epoch };
    Ok(seal_kit(&context, &patient_key, &kit_guardians, threshold, &scope.to_bytes()?, &entries)?
        .into())
}

/// A patient's current kit, read from its event and checked against the registry's hash.
#[derive(Debug, Clone)]
pub struct VerifiedKit {
    /// The kit.
    pub kit: EmergencyKit,
    /// Its id.
    pub kit_id: u64,
    /// The epoch it was made in.
    pub epoch: u64,
    /// The guardian set.
    pub guardians: Vec<Address>,
    /// Shares needed.
    pub threshold: u8,
    /// The patient.
    pub patient: Address,
}

impl VerifiedKit {
    /// The binding of the kit's shares and material.
    pub fn context(&self) -> KitContext {
        KitContext { patient: self.patient.0.0, epoch: self.epoch }
    }

    /// The index (1-based) of `account` in the guardian set.
    pub fn index_of(&self, account: Address) -> Option<u8> {
        self.guardians.iter().position(|g| *g == account).map(|i| (i + 1) as u8)
    }
}

/// `patient`'s current kit at block `at_block`, `None` when it has none. The kit's bytes come
/// from an `EmergencyKitPublished` event and must hash to `kitHashOf` read at the same block
/// ([`Error::KitMismatch`] otherwise: a node cannot hand anyone a kit the patient did not
/// publish).
pub async fn current_kit(
    session: &Session,
    patient: Address,
    at_block: u64,
) -> Result<Option<VerifiedKit>> {
    let registry = session.guardians()?;
    let set = tx::call(
        "read the guardians",
        registry.guardianshipOf(patient).block(BlockId::number(at_block)),
    )
    .await?;
    if set.kitHash == B256::ZERO || set.guardians.is_empty() {
        return Ok(None);
    }
    let filter = Filter::new()
        .address(*registry.address())
        .event_signature(EmergencyKitPublished::SIGNATURE_HASH)
        .topic1(patient.into_word())
        .topic2(B256::from(U256::from(set.kitId)));
    let logs =
        fetch_logs(session.chain(), &filter, session.deployment().deployed_at_block, at_block)
            .await?;
    let bytes = logs
        .iter()
        .filter(|log| log.address() == *registry.address())
        .filter_map(|log| log.log_decode::<EmergencyKitPublished>().ok())
        .map(|event| event.inner.data)
        .find(|event| keccak256(&event.kit) == set.kitHash && event.epoch == set.epoch)
        .ok_or(Error::KitMismatch { patient, at_block })?
        .kit;
    Ok(Some(VerifiedKit {
        kit: EmergencyKit::parse(&bytes)?,
        kit_id: set.kitId,
        epoch: set.epoch,
        guardians: set.guardians,
        threshold: set.threshold,
        patient,
    }))
}

/// Why a guardian does not release its share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "rule")]
pub enum Refusal {
    /// The doctor's break-glass access is not open (never opened, closed or ended).
    NotOpen,
    /// The doctor is not an active doctor of an active hospital.
    DoctorInactive,
    /// The patient's policy does not admit the doctor's hospital.
    HospitalNotAllowed {
        /// The hospital.
        hospital: Address,
    },
    /// The doctor's access adds up to more than the patient's renewal cap.
    OverRenewalCap {
        /// Seconds used since the patient last confirmed.
        used: u64,
        /// The cap.
        cap: u64,
    },
    /// This guardian already released its share of the current kit to the doctor.
    AlreadyReleased,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOpen => f.write_str("its break-glass access is not open (closed or ended)"),
            Self::DoctorInactive => {
                f.write_str("it is no longer an active doctor of an active hospital")
            }
            Self::HospitalNotAllowed { hospital } => {
                write!(f, "the patient's policy does not admit its hospital {hospital}")
            }
            Self::OverRenewalCap { used, cap } => write!(
                f,
                "its access adds up to {used} s since the patient last confirmed it, over the cap of {cap} s"
            ),
            Self::AlreadyReleased => f.write_str("this guardian already released its share to it"),
        }
    }
}

/// A share a guardian released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Released {
    /// The patient.
    pub patient: Address,
    /// The doctor.
    pub doctor: Address,
    /// The guardian (the signer).
    pub guardian: Address,
    /// Its number in the set.
    pub index: u8,
    /// The kit.
    pub kit_id: u64,
    /// Releases of this kit to the doctor so far, this one included.
    pub released: u8,
    /// Shares needed.
    pub threshold: u8,
    /// The transaction.
    pub tx: TxInfo,
}

/// As one of `patient`'s guardians, checks the rules and releases the signer's share of the
/// current kit to `doctor`, re-wrapped to the doctor's registered key. Refusals are
/// [`Error::ReleaseRefused`] with the rule, before anything is sent; the contract applies the
/// same rules again.
pub async fn release(session: &Session, patient: Address, doctor: Address) -> Result<Released> {
    let guardian = session.chain().address()?;
    let (head, _) = session.chain().head().await?;
    let kit = current_kit(session, patient, head).await?.ok_or(Error::NoGuardians { patient })?;
    let index = kit.index_of(guardian).ok_or(Error::NotAGuardian { patient, account: guardian })?;
    if let Some(reason) = refusal(session, patient, doctor, index).await? {
        return Err(Error::ReleaseRefused { patient, doctor, reason });
    }
    let own = crate::keys::signer_secret_key(session)?;
    let share = kit.kit.guardian_share(index, &own, &kit.context())?;
    let doctor_raw = crate::roles::registered_public_key(session, doctor).await?;
    let doctor_key = ehr_crypto::public_key_for_address(&doctor_raw, &doctor.0.0)?;
    let wrapped = kit.kit.release_to(&share, &guardian.0.0, &doctor_key, &kit.context())?;
    let contract = session.guardians_as_signer()?;
    const ACTION: &str = "release the share";
    let receipt =
        tx::send(ACTION, contract.releaseShare(patient, doctor, index, wrapped.into())).await?;
    let _: ShareReleased = event_in(&receipt, *contract.address(), ACTION)?;
    let releases =
        tx::call("read the releases", session.guardians()?.releasesOf(patient, doctor)).await?;
    Ok(Released {
        patient,
        doctor,
        guardian,
        index,
        kit_id: kit.kit_id,
        released: releases.count,
        threshold: kit.threshold,
        tx: TxInfo::of(&receipt),
    })
}

/// The rule that forbids guardian `index` releasing to `doctor` now, if any.
async fn refusal(
    session: &Session,
    patient: Address,
    doctor: Address,
    index: u8,
) -> Result<Option<Refusal>> {
    let until =
        tx::call("read the emergency access", session.consent().emergencyUntil(patient, doctor))
            .await?;
    if until == 0 {
        return Ok(Some(Refusal::NotOpen));
    }
    let roles = session.roles();
    let hospital = tx::call("read the doctor's hospital", roles.orgOf(doctor)).await?;
    let hospital_kind = ehr_contracts::OrgKind::Hospital as u8;
    let active = tx::call("check the doctor", roles.isActiveDoctor(doctor)).await?
        && tx::call(
            "check the hospital",
            roles.isActiveOrganizationOfKind(hospital, hospital_kind),
        )
        .await?;
    if !active {
        return Ok(Some(Refusal::DoctorInactive));
    }
    let registry = session.guardians()?;
    if !tx::call("read the policy", registry.hospitalAllowed(patient, hospital)).await? {
        return Ok(Some(Refusal::HospitalNotAllowed { hospital }));
    }
    let used = tx::call("read the time used", registry.emergencyUsedOf(patient, doctor)).await?;
    let cap = tx::call("read the policy", registry.emergencyPolicyOf(patient)).await?.renewalCap;
    if used > cap {
        return Ok(Some(Refusal::OverRenewalCap { used, cap }));
    }
    let releases = tx::call("read the releases", registry.releasesOf(patient, doctor)).await?;
    if releases.released & (1 << (index - 1)) != 0 {
        return Ok(Some(Refusal::AlreadyReleased));
    }
    Ok(None)
}

/// What a guardian did about one break-glass opening.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "outcome")]
pub enum WatchOutcome {
    /// It released its share.
    Released(Released),
    /// The rules said no.
    Refused {
        /// The patient.
        patient: Address,
        /// The doctor.
        doctor: Address,
        /// Which rule.
        reason: Refusal,
    },
    /// Releasing failed otherwise (the node, the kit, the doctor's key).
    Failed {
        /// The patient.
        patient: Address,
        /// The doctor.
        doctor: Address,
        /// Why.
        error: String,
    },
}

/// One pass of `ehr guardian watch`: every `EmergencyAccessOpened` in `from..=to` whose
/// patient names the signer as a guardian, and whose access is still open, is answered with
/// [`release`]. Openings of patients it does not guard, and accesses already closed or
/// expired, are passed over in silence: a watcher that starts from an old block (to answer
/// what it missed while down) reports only what it can still act on.
pub async fn watch_once(session: &Session, from: u64, to: u64) -> Result<Vec<WatchOutcome>> {
    let guardian = session.chain().address()?;
    let filter = Filter::new()
        .address(session.deployment().consent_registry)
        .event_signature(EmergencyAccessOpened::SIGNATURE_HASH);
    let logs = fetch_logs(session.chain(), &filter, from, to).await?;
    let registry = session.guardians()?;
    let mut outcomes = Vec::new();
    let mut seen: Vec<(Address, Address)> = Vec::new();
    for event in logs.iter().filter_map(|log| log.log_decode::<EmergencyAccessOpened>().ok()) {
        let (patient, doctor) = (event.inner.data.patient, event.inner.data.doctor);
        if seen.contains(&(patient, doctor)) {
            continue;
        }
        seen.push((patient, doctor));
        let set = tx::call("read the guardians", registry.guardianshipOf(patient)).await?;
        if !set.guardians.contains(&guardian) {
            continue;
        }
        // Zero once the access was closed or has run out (as `hasAccess` sees it).
        let until = tx::call(
            "read the emergency access",
            session.consent().emergencyUntil(patient, doctor),
        )
        .await?;
        if until == 0 {
            continue;
        }
        outcomes.extend(answer(session, patient, doctor).await);
    }
    Ok(outcomes)
}

/// [`release`] as a watcher reports it: `None` when this guardian already released to the
/// doctor (nothing to say). A [`WatchOutcome::Failed`] is worth answering again later.
pub async fn answer(session: &Session, patient: Address, doctor: Address) -> Option<WatchOutcome> {
    Some(match release(session, patient, doctor).await {
        Ok(released) => WatchOutcome::Released(released),
        Err(Error::ReleaseRefused { reason: Refusal::AlreadyReleased, .. }) => return None,
        Err(Error::ReleaseRefused { reason, .. }) => {
            WatchOutcome::Refused { patient, doctor, reason }
        }
        Err(e) => WatchOutcome::Failed { patient, doctor, error: e.to_string() },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_their_sealed_bytes() {
        for scope in [EmergencyScope::All, EmergencyScope::default()] {
            assert_eq!(EmergencyScope::from_bytes(&scope.to_bytes().unwrap()).unwrap(), scope);
        }
        assert!(EmergencyScope::from_bytes(&[1, 2]).is_err());
        assert!(EmergencyScope::Categories(vec!["a b".into()]).to_bytes().is_err());
        assert_eq!(
            EmergencyScope::default().to_string(),
            "allergy, prescription, diagnosis, immunization"
        );
    }
}
