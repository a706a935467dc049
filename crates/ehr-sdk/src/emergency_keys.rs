//! The keys a break-glass doctor holds once guardians released their shares to it: the
//! patient's current emergency kit opened with at least t verified shares.
//!
//! Both inputs come from an RPC node that may lie, and both are checked against state read at
//! the same block: the kit against `kitHashOf` ([`crate::guardians::current_kit`]), the
//! `ShareReleased` events against `releaseChainOf` (folded here). Each share is then checked
//! against the kit's Feldman commitments, so a guardian that posts a wrong share is named
//! ([`ehr_crypto::Error::ShareDoesNotVerify`]) and does not count.

use crate::guardians::current_kit;
use crate::logs::fetch_logs;
use crate::session::Session;
use crate::{Error, Result};
use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolEvent, SolValue};
use ehr_contracts::bindings::guardian_registry::GuardianRegistry::ShareReleased;
use ehr_contracts::tx;
use ehr_crypto::{GrantKeys, SecretKey};

/// What the releases to one doctor gave it.
#[derive(Debug)]
pub struct EmergencyKeys {
    /// The key material of the patient's emergency scope, per epoch; empty unless at least
    /// `threshold` shares verified.
    pub keys: Vec<(u64, GrantKeys)>,
    /// Verified shares of the current kit.
    pub verified: usize,
    /// Shares needed.
    pub threshold: u8,
    /// Released shares that did not verify (guardian index and why).
    pub bad_shares: Vec<(u8, ehr_crypto::Error)>,
}

/// The emergency keys the holder of `doctor` received for `patient` up to block `at_block`,
/// or `None` when nothing of the current kit was released to it (or the patient has no kit,
/// or the deployment no guardian registry).
pub async fn emergency_keys(
    session: &Session,
    patient: Address,
    doctor: &SecretKey,
    at_block: u64,
) -> Result<Option<EmergencyKeys>> {
    if session.deployment().guardian_registry.is_none() {
        return Ok(None);
    }
    let doctor_address = Address::from(ehr_crypto::eth_address(&doctor.public_key()));
    let registry = session.guardians()?;
    let releases = tx::call(
        "read the releases",
        registry.releasesOf(patient, doctor_address).block(BlockId::number(at_block)),
    )
    .await?;
    if releases.count == 0 {
        return Ok(None);
    }
    let Some(kit) = current_kit(session, patient, at_block).await? else { return Ok(None) };
    let events = verified_releases(session, patient, doctor_address, at_block).await?;
    let mut shares = Vec::new();
    let mut bad_shares = Vec::new();
    for event in events.iter().filter(|e| e.kitId == kit.kit_id) {
        // The registry only accepts a release from guardian `index` itself.
        match kit.kit.released_share(
            &event.wrappedShare,
            event.index,
            &event.guardian.0.0,
            doctor,
            &kit.context(),
        ) {
            Ok(share) => shares.push(share),
            Err(error) => bad_shares.push((event.index, error)),
        }
    }
    let verified = shares.len();
    let keys = if verified >= usize::from(kit.threshold) {
        kit.kit.open(&shares, &kit.context())?
    } else {
        Vec::new()
    };
    Ok(Some(EmergencyKeys { keys, verified, threshold: kit.threshold, bad_shares }))
}

/// Every `ShareReleased` to (patient, doctor) up to `at_block`, in chain order, checked
/// against `releaseChainOf` at that block ([`Error::ReleaseChainMismatch`]).
pub async fn verified_releases(
    session: &Session,
    patient: Address,
    doctor: Address,
    at_block: u64,
) -> Result<Vec<ShareReleased>> {
    let registry = session.guardians()?;
    let filter = Filter::new()
        .address(*registry.address())
        .event_signature(ShareReleased::SIGNATURE_HASH)
        .topic1(patient.into_word())
        .topic2(doctor.into_word());
    let logs =
        fetch_logs(session.chain(), &filter, session.deployment().deployed_at_block, at_block)
            .await?;
    let mut head = B256::ZERO;
    let mut events = Vec::new();
    for log in logs.iter().filter(|log| log.address() == *registry.address()) {
        let event = log
            .log_decode::<ShareReleased>()
            .map_err(|_| Error::ReleaseChainMismatch { patient, doctor, at_block })?
            .inner
            .data;
        head = keccak256(
            // uint8 is abi-encoded as a 32-byte word, like the uint256 it is widened to.
            (
                head,
                event.kitId,
                event.guardian,
                U256::from(event.index),
                keccak256(&event.wrappedShare),
            )
                .abi_encode(),
        );
        events.push(event);
    }
    let expected = tx::call(
        "read the release commitment",
        registry.releaseChainOf(patient, doctor).block(BlockId::number(at_block)),
    )
    .await?;
    if head != expected {
        return Err(Error::ReleaseChainMismatch { patient, doctor, at_block });
    }
    Ok(events)
}
