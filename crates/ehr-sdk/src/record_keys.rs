//! Which keys a writer or a reader of a patient's records uses.
//!
//! The patient derives everything from its master secret (`ehr_index::derive_master_secret`,
//! a signature of its own account key). Anyone else holds what the patient's grants carried
//! to it: per key epoch, an epoch key (All grants) or some categories' `K_idx ‖ K_data`
//! (Category grants), and record data keys (Record grants), read from the consent registry's
//! `AccessGranted` and `EpochKeysShared` events and unwrapped with its account key.
//!
//! Categories are opaque per-patient ids on chain; the ring maps names to ids and back
//! ([`category_id`], [`SearchKeys::describe_category`]) as far as its keys allow: the patient
//! and All grantees compute any id and know the well-known names, a Category grantee knows its
//! grants' categories.
//!
//! - A writer needs `K_idx` (tags) and `K_data` (the envelope's symmetric slot) of the
//!   patient's current epoch and the record's category ([`writer_keys`]).
//! - A break-glass doctor also holds the emergency categories' keys once t guardians released
//!   their shares of the patient's emergency kit to it ([`crate::emergency_keys`]).
//! - A reader opens the patient's ECIES slot with the patient's account key, or the
//!   symmetric slot with `K_data` of the record's (epoch, category), or uses a Record grant's
//!   data key ([`reader_key`]).

use crate::Session;
use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;
use ehr_crypto::{CategoryKeys, SecretKey};
use ehr_index::{SearchKeys, UnreadableGrant, VerifiedRecord};

use crate::pipeline::ReaderKey;
use crate::{Error, Result};

/// The keys an account holds for one patient's records.
#[derive(Debug)]
pub struct KeyRing {
    /// The account holding them.
    pub holder: Address,
    /// The patient.
    pub patient: Address,
    /// The keys (every epoch's for the patient itself).
    pub keys: SearchKeys,
    /// Grant events whose key material did not unwrap (wrapped to another key, malformed).
    pub unreadable: Vec<UnreadableGrant>,
    /// What guardians released to the holder under break-glass access (`None`: nothing);
    /// its keys are in `keys` once the threshold of shares verified.
    pub emergency: Option<crate::emergency_keys::EmergencyKeys>,
}

impl KeyRing {
    /// Whether the holder is the patient (and so holds every key).
    pub fn is_patient(&self) -> bool {
        self.holder == self.patient
    }
}

/// The account's secret key as the envelope and grant cryptography uses it.
pub fn secret_key(signer: &PrivateKeySigner) -> SecretKey {
    SecretKey::from_slice(signer.to_bytes().as_slice())
        .expect("a local signer's key is a valid secp256k1 scalar")
}

/// The keys the session's signer holds for `patient`'s records, with grants read up to block
/// `to_block`: its master secrets' (checked against the chain) if it is the patient, else what
/// its grants carried (checked against the registry's commitment) and, under break-glass
/// access, the emergency scope once t guardians released their shares to it (checked against
/// the guardian registry's commitments: [`crate::emergency_keys`]).
pub async fn key_ring(session: &Session, patient: Address, to_block: u64) -> Result<KeyRing> {
    let signer = session.chain().signer()?;
    let holder = signer.address();
    if holder == patient {
        let keys = crate::keys::patient_keys(session).await?.search_keys();
        return Ok(KeyRing { holder, patient, keys, unreadable: Vec::new(), emergency: None });
    }
    let client = session.index_client();
    let secret = secret_key(signer);
    let mut granted = client.grantee_keys(patient, &secret, to_block).await?;
    let emergency =
        crate::emergency_keys::emergency_keys(session, patient, &secret, to_block).await?;
    if let Some(emergency) = &emergency {
        for (epoch, keys) in &emergency.keys {
            granted.keys.insert(*epoch, keys.clone());
        }
    }
    learn_well_known_names(&mut granted.keys);
    Ok(KeyRing { holder, patient, keys: granted.keys, unreadable: granted.unreadable, emergency })
}

/// Lets keys holding the naming key show the well-known categories, and the default
/// emergency ones, by name.
pub(crate) fn learn_well_known_names(keys: &mut SearchKeys) {
    keys.learn_names(ehr_record::Category::WELL_KNOWN.iter().map(|c| c.as_str()));
    keys.learn_names(crate::guardians::DEFAULT_EMERGENCY_CATEGORIES);
}

/// `K_idx` and `K_data` for writing a record of `category` in `epoch`.
pub fn writer_keys(
    ring: &KeyRing,
    epoch: u64,
    category: &ehr_index::Category,
) -> Result<CategoryKeys> {
    ring.keys.category_keys(epoch, category).ok_or_else(|| Error::NoCategoryKeys {
        patient: ring.patient,
        holder: ring.holder,
        category: ring.keys.describe_category(category),
        epoch,
    })
}

/// The key that opens `record` for the holder of `ring`, whose account key `signer` is: the
/// patient's account key (its ECIES slot), else `K_data` of the record's (epoch, category),
/// else a Record grant's data key.
///
/// Break-glass access itself hands over no keys: a break-glass doctor reads the emergency
/// categories with the keys its guardians' released shares open (in the ring like a grant's).
pub fn reader_key(
    ring: &KeyRing,
    signer: &PrivateKeySigner,
    record: &VerifiedRecord,
) -> Result<ReaderKey> {
    if ring.is_patient() {
        return Ok(ReaderKey::Secret(secret_key(signer)));
    }
    if let Some(keys) = ring.keys.category_keys(record.epoch, &record.category) {
        return Ok(ReaderKey::Category(keys));
    }
    if let Some(key) = ring.keys.record_key(record.record_id) {
        return Ok(ReaderKey::DataKey(key.clone()));
    }
    Err(Error::NoRecordKey {
        patient: ring.patient,
        reader: ring.holder,
        record_id: record.record_id,
        category: ring.keys.describe_category(&record.category),
        epoch: record.epoch,
    })
}

/// The opaque on-chain id of the record category `category` for the ring's patient
/// ([`ehr_index::Error::UnknownCategoryName`] when the ring cannot map that name).
pub fn category_id(ring: &KeyRing, category: ehr_record::Category) -> Result<ehr_index::Category> {
    Ok(ring.keys.category_id(category.as_str())?)
}
