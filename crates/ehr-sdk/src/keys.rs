//! The patient's key material, as grants hand it over: the master secret (derived from the
//! signing key, as `ehr-index` defines it), the keys of a scope in an epoch, and a record's
//! data key read from its envelope. Wrapping is `ehr_index::grant`'s; this module finds the
//! inputs on chain and in the store.

use crate::logs::fetch_logs;
use crate::session::Session;
use crate::{Error, Result};
use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use ehr_contracts::Scope;
use ehr_contracts::bindings::record_index::RecordIndex::RecordAdded;
use ehr_contracts::tx;
use ehr_crypto::{
    CategoryNamingKey, DataKey, DecryptionKey, EnvelopeReader, GrantKeys, Header, KEY_CHECK_LEN,
    MasterSecret, RecordContext, RecoverySecret, SecretKey,
};
use ehr_index::SearchKeys;
use ehr_index::grant::{NamedScope, grant_keys, wrap_grant};
use ehr_store::{BlobStore, Cid};
use futures_util::StreamExt;
use zeroize::Zeroizing;

/// The longest header the format allows (64 ECIES slots); a stream that has not given a
/// whole header by then is not an envelope.
const MAX_HEADER_BYTES: usize = ehr_crypto::envelope::MAX_HEADER_LEN;

/// The signer's current master secret for this deployment (the signer must be the patient),
/// checked against the key-check value on chain ([`patient_keys`]).
pub async fn master_secret(session: &Session) -> Result<MasterSecret> {
    Ok(patient_keys(session).await?.current().clone())
}

/// A patient's master secrets, one per key generation, each with the first epoch it covers.
pub struct PatientKeys {
    generation: u64,
    masters: Vec<(u64, MasterSecret)>,
}

impl PatientKeys {
    /// The current generation (0: the patient never set up key generations).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The current generation's master secret: the one new epochs derive from.
    pub fn current(&self) -> &MasterSecret {
        &self.masters.last().expect("at least one generation").1
    }

    /// The category naming key: the first generation's, so that category ids (which grants
    /// and records are compared by on chain) survive key rotations.
    pub fn naming_key(&self) -> CategoryNamingKey {
        self.masters.first().expect("at least one generation").1.category_naming_key()
    }

    /// The keys of every epoch, as a searcher holds them, knowing the well-known category
    /// names.
    pub fn search_keys(&self) -> SearchKeys {
        let mut keys = SearchKeys::patient_generations(self.masters.clone());
        crate::record_keys::learn_well_known_names(&mut keys);
        keys
    }
}

/// Derives the signing patient's master secret of every key generation it has and checks each
/// against the key-check value the consent registry stores for it: a wrong recovery secret, or
/// a wallet whose signatures are not deterministic, is [`Error::KeyCheckMismatch`] here,
/// before any key is used. Epochs before the first generation (a patient that set up
/// generations late) use the original signature-only derivation.
pub async fn patient_keys(session: &Session) -> Result<PatientKeys> {
    let signer = session.chain().signer()?;
    let patient = signer.address();
    let d = session.deployment();
    let consent = session.consent();
    let state = tx::call("read the key generation", consent.keysOf(patient)).await?;
    let generation = state.generation;
    let mut masters = Vec::new();
    for g in 1..=generation {
        let info = tx::call("read a key generation", consent.generationOf(patient, g)).await?;
        if g == 1 && info.startEpoch > 0 {
            let legacy =
                ehr_index::derive_master_secret(signer, d.chain_id, d.record_index).await?;
            masters.push((0, legacy));
        }
        let master = generation_master_secret(session, g).await?;
        if master.key_check() != info.keyCheck.0 {
            return Err(Error::KeyCheckMismatch { patient, generation: g });
        }
        masters.push((info.startEpoch, master));
    }
    if masters.is_empty() {
        masters
            .push((0, ehr_index::derive_master_secret(signer, d.chain_id, d.record_index).await?));
    }
    Ok(PatientKeys { generation, masters })
}

/// The recovery secret of key generation `generation` for the signing patient: the one the
/// session was given, else the one derived from the account key.
pub fn recovery_secret(session: &Session, generation: u64) -> Result<RecoverySecret> {
    if let Some(secret) = session.recovery_override(generation) {
        return Ok(secret.clone());
    }
    let key: Zeroizing<[u8; 32]> =
        Zeroizing::new(session.chain().signer()?.credential().to_bytes().into());
    let d = session.deployment();
    Ok(RecoverySecret::from_account_key(&key, d.chain_id, &d.record_index.0.0, generation))
}

/// The key-check value of the signing patient's master secret of `generation`.
pub async fn key_check_of(session: &Session, generation: u64) -> Result<[u8; KEY_CHECK_LEN]> {
    Ok(generation_master_secret(session, generation).await?.key_check())
}

/// The signing patient's master secret of key generation `generation` (≥ 1), unchecked: the
/// wallet's signature of the generation's message mixed with its recovery secret.
async fn generation_master_secret(session: &Session, generation: u64) -> Result<MasterSecret> {
    let d = session.deployment();
    let recovery = recovery_secret(session, generation)?;
    Ok(ehr_index::master_secret::derive_generation_master_secret(
        session.chain().signer()?,
        d.chain_id,
        d.record_index,
        generation,
        &recovery,
    )
    .await?)
}

/// The signer's secp256k1 secret key, for opening envelope slots.
pub fn signer_secret_key(session: &Session) -> Result<SecretKey> {
    let bytes = session.chain().signer()?.credential().to_bytes();
    SecretKey::from_bytes(&bytes).map_err(|_| Error::InvalidPrivateKey)
}

/// The keys a grant of `scope` in `epoch` hands over (their [`GrantKeys::scope`] is the scope
/// as the chain holds it, a category by its opaque id). A record scope needs the record's data
/// key (see [`record_data_key`]); without it this is [`Error::RecordKeyNeeded`].
pub fn scope_keys(
    keys: &PatientKeys,
    scope: &NamedScope,
    epoch: u64,
    record_key: Option<DataKey>,
) -> Result<GrantKeys> {
    match (scope, record_key) {
        (NamedScope::Record(record), Some(key)) => Ok(GrantKeys::Record { record: *record, key }),
        (NamedScope::Record(record), None) => Err(Error::RecordKeyNeeded { record: *record }),
        (scope, _) => Ok(grant_keys(keys.current(), &keys.naming_key(), epoch, scope)?),
    }
}

/// The contracts' form of a scope of the key hierarchy.
pub fn contract_scope(scope: ehr_crypto::GrantScope) -> Scope {
    match scope {
        ehr_crypto::GrantScope::All => Scope::All,
        ehr_crypto::GrantScope::Category(id) => Scope::Category(B256::from(id)),
        ehr_crypto::GrantScope::Record(id) => Scope::Record(id),
    }
}

/// A scope read from chain, named again with the patient's keys: a category id becomes its
/// name, or [`Error::UnnamedCategory`] when the name is not known here.
pub fn named_scope(keys: &SearchKeys, scope: &Scope) -> Result<NamedScope> {
    Ok(match scope {
        Scope::All => NamedScope::All,
        Scope::Record(id) => NamedScope::Record(*id),
        Scope::Category(id) => {
            let category = ehr_index::Category::from_bytes32(*id);
            let name = keys
                .category_name(&category)
                .ok_or_else(|| Error::UnnamedCategory { id: category.to_string() })?;
            NamedScope::Category(name.to_owned())
        }
    })
}

/// `wrappedKeys` for a grant of `keys` to `grantee`, whose public key is read from the role
/// registry and checked against its address.
pub async fn wrap_for_grantee(
    session: &Session,
    keys: &GrantKeys,
    patient: Address,
    grantee: Address,
    epoch: u64,
) -> Result<Bytes> {
    let public_key = crate::roles::registered_public_key(session, grantee).await?;
    Ok(wrap_grant(keys, patient, grantee, &public_key, epoch)?)
}

/// The data key of the signer's record `record_id`, read from its envelope `cid`.
///
/// The CID is checked against the digest the record index holds for that record, and the
/// envelope's context against this deployment and patient, so a wrong CID cannot make a grant
/// hand over another record's key.
pub async fn record_data_key(session: &Session, record_id: u64, cid: Cid) -> Result<DataKey> {
    let patient = session.chain().address()?;
    let digest = record_digest_on_chain(session, patient, record_id).await?;
    if digest != ehr_index::record_digest(&cid) {
        return Err(Error::InvalidRecordCid {
            record: record_id,
            cid: cid.to_string(),
            reason: "its digest is not the one the record index holds for that record".into(),
        });
    }
    let store = session.store().ok_or(Error::NoStore)?;
    let header_bytes = read_header(store.as_ref(), cid).await?;
    let (header, _) = Header::parse(&header_bytes)?;
    // The header names only the record id; this deployment and patient complete the context,
    // and an envelope of another patient or deployment does not open under them.
    let d = session.deployment();
    let context = RecordContext {
        chain_id: d.chain_id,
        index_contract: d.record_index.0.0,
        patient: patient.0.0,
        record_id: *header.record_id(),
    };
    let secret = signer_secret_key(session)?;
    let reader = EnvelopeReader::new(
        std::io::Cursor::new(header_bytes),
        DecryptionKey::Secp256k1(&secret),
        &context,
    )
    .map_err(|e| match e {
        ehr_crypto::Error::NoKeyForRecipient | ehr_crypto::Error::HeaderAuthentication => {
            Error::InvalidRecordCid {
                record: record_id,
                cid: cid.to_string(),
                reason: "the envelope does not open as this patient's record in this deployment"
                    .into(),
            }
        }
        other => other.into(),
    })?;
    Ok(reader.data_key().clone())
}

/// The envelope header of `patient`'s record `record_id` and its CID: the header bytes only,
/// read from the store at the CID whose digest the record index holds for that record. For a
/// client that opens a slot itself (the patient page, which derives the category key).
pub async fn record_header(
    session: &Session,
    patient: Address,
    record_id: u64,
) -> Result<(Cid, Vec<u8>)> {
    let digest = record_digest_on_chain(session, patient, record_id).await?;
    let store = session.store().ok_or(Error::NoStore)?;
    let cid = crate::fetch::locate_envelope(store.as_ref(), record_id, digest).await?;
    let mut bytes = read_header(store.as_ref(), cid).await?;
    let (_, len) = Header::parse(&bytes)?;
    bytes.truncate(len);
    Ok((cid, bytes))
}

/// The digest of `patient`'s record `record_id` from its `RecordAdded` event.
async fn record_digest_on_chain(
    session: &Session,
    patient: Address,
    record_id: u64,
) -> Result<B256> {
    let d = session.deployment();
    let filter = Filter::new()
        .address(d.record_index)
        .event_signature(RecordAdded::SIGNATURE_HASH)
        .topic1(patient.into_word())
        .topic2(B256::from(U256::from(record_id)));
    let (head, _) = session.chain().head().await?;
    let logs = fetch_logs(session.chain(), &filter, d.deployed_at_block, head).await?;
    logs.iter()
        .find_map(|log| log.log_decode::<RecordAdded>().ok())
        .map(|event| event.inner.data.digest)
        .ok_or(Error::UnknownRecord { patient, record: record_id })
}

/// Reads the envelope's first bytes until they hold a whole header.
async fn read_header(store: &dyn BlobStore, cid: Cid) -> Result<Vec<u8>> {
    let mut stream = store.get(cid).await?;
    let mut bytes = Vec::new();
    while let Some(piece) = stream.next().await {
        bytes.extend_from_slice(&piece?);
        if Header::parse(&bytes).is_ok() || bytes.len() > MAX_HEADER_BYTES {
            break;
        }
    }
    Ok(bytes)
}
