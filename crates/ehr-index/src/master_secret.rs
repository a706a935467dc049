//! The message a patient's wallet signs to derive its master secret.
//!
//! A patient with nothing but a browser wallet must be able to re-derive every key, so the
//! master secret comes from a signature: EIP-712 typed data
//! `MasterSecret(address patient,string purpose)` with the fixed [`PURPOSE`], in the domain
//! `{name "ehrkit", version "1", chainId, verifyingContract = the RecordIndex}`. ECDSA with
//! RFC 6979 nonces is deterministic, so the same wallet signs the same bytes every time; the
//! CLI signs the same message with its local key. The domain ties the secret to one deployment.
//!
//! Wallets differ in how they encode the same signature (`v` as 0/1 or 27/28, rarely a high
//! `s`), so the signature is canonicalized (low `s`, `v` 27/28) before it is hashed.
//!
//! A wallet that adds fresh randomness to its signatures (hedged signing) would give a new
//! secret every time; [`master_secret_from_wallet_signature`] at least checks that the
//! signature is the patient's for this message.
//!
//! That is key generation 0, the original scheme, kept for patients who never set up key
//! generations. Generation `g ≥ 1` signs `MasterSecret(address patient,uint64 generation,string
//! purpose)` in the same domain with version "2", and mixes the generation's recovery secret
//! into the derivation ([`ehr_crypto::key_generation`]): a phished signature alone is worth
//! nothing, and the on-chain key-check value catches a wallet whose signature is not
//! deterministic before anything is granted or written.

use alloy::primitives::{Address, B256, Signature, U256};
use alloy::signers::Signer;
use alloy::sol_types::{Eip712Domain, SolStruct};
use ehr_crypto::MasterSecret;

use crate::{Error, Result};

/// The `purpose` string of the master-secret message, exactly.
pub const PURPOSE: &str = "Derive my ehrkit record keys. Sign this only in ehrkit.";

/// The EIP-712 domain name.
pub const DOMAIN_NAME: &str = "ehrkit";

/// The EIP-712 domain version.
pub const DOMAIN_VERSION: &str = "1";

/// The EIP-712 domain version of the generation messages (generation ≥ 1).
pub const DOMAIN_VERSION_V2: &str = "2";

/// The typed struct the wallet signs.
pub mod typed {
    #![allow(missing_docs)]
    alloy::sol! {
        #[derive(Debug, PartialEq, Eq)]
        struct MasterSecret {
            address patient;
            string purpose;
        }
    }
}

/// The typed struct the wallet signs for a key generation ≥ 1 (its own module: the EIP-712
/// type name is the same).
pub mod typed_v2 {
    #![allow(missing_docs)]
    alloy::sol! {
        #[derive(Debug, PartialEq, Eq)]
        struct MasterSecret {
            address patient;
            uint64 generation;
            string purpose;
        }
    }
}

/// The EIP-712 hash the patient signs for key generation `generation` (≥ 1).
pub fn generation_signing_hash(
    patient: Address,
    generation: u64,
    chain_id: u64,
    record_index: Address,
) -> B256 {
    let domain = Eip712Domain::new(
        Some(DOMAIN_NAME.into()),
        Some(DOMAIN_VERSION_V2.into()),
        Some(U256::from(chain_id)),
        Some(record_index),
        None,
    );
    typed_v2::MasterSecret { patient, generation, purpose: PURPOSE.into() }
        .eip712_signing_hash(&domain)
}

/// The master secret of key generation `generation` (≥ 1): `signer` (the patient) signs the
/// generation's message, and the signature is mixed with `recovery`.
pub async fn derive_generation_master_secret<S: Signer + Sync>(
    signer: &S,
    chain_id: u64,
    record_index: Address,
    generation: u64,
    recovery: &ehr_crypto::RecoverySecret,
) -> Result<MasterSecret> {
    let patient = signer.address();
    let hash = generation_signing_hash(patient, generation, chain_id, record_index);
    let signature = canonical(&signer.sign_hash(&hash).await?.as_bytes())?;
    Ok(MasterSecret::from_generation(&signature.as_bytes(), recovery, patient.as_ref(), generation))
}

/// The EIP-712 domain of the master-secret message for one deployment.
pub fn domain(chain_id: u64, record_index: Address) -> Eip712Domain {
    Eip712Domain::new(
        Some(DOMAIN_NAME.into()),
        Some(DOMAIN_VERSION.into()),
        Some(U256::from(chain_id)),
        Some(record_index),
        None,
    )
}

/// The typed data a wallet is asked to sign (for `eth_signTypedData_v4`).
pub fn message(patient: Address) -> typed::MasterSecret {
    typed::MasterSecret { patient, purpose: PURPOSE.into() }
}

/// The EIP-712 hash the patient signs.
pub fn signing_hash(patient: Address, chain_id: u64, record_index: Address) -> B256 {
    message(patient).eip712_signing_hash(&domain(chain_id, record_index))
}

/// Derives the patient's master secret by signing the message with `signer` (the patient's
/// key: the secret belongs to `signer.address()`).
pub async fn derive_master_secret<S: Signer + Sync>(
    signer: &S,
    chain_id: u64,
    record_index: Address,
) -> Result<MasterSecret> {
    let patient = signer.address();
    let hash = signing_hash(patient, chain_id, record_index);
    let signature = signer.sign_hash(&hash).await?;
    master_secret_from_signature(&signature.as_bytes(), patient)
}

/// The master secret from a 65-byte `r ‖ s ‖ v` signature of the message (as a browser
/// wallet returns it), canonicalized first. Does not check who signed: see
/// [`master_secret_from_wallet_signature`].
pub fn master_secret_from_signature(signature: &[u8], patient: Address) -> Result<MasterSecret> {
    let canonical = canonical(signature)?;
    Ok(MasterSecret::from_signature(&canonical.as_bytes(), patient.as_ref()))
}

/// [`master_secret_from_signature`], after checking that `signature` is `patient`'s signature
/// of the message for this deployment (a wallet on the wrong account would otherwise yield a
/// secret that silently finds nothing).
pub fn master_secret_from_wallet_signature(
    signature: &[u8],
    patient: Address,
    chain_id: u64,
    record_index: Address,
) -> Result<MasterSecret> {
    let canonical = canonical(signature)?;
    let hash = signing_hash(patient, chain_id, record_index);
    let signer =
        canonical.recover_address_from_prehash(&hash).map_err(|_| Error::InvalidSignature)?;
    if signer != patient {
        return Err(Error::WrongSigner { signer, patient });
    }
    Ok(MasterSecret::from_signature(&canonical.as_bytes(), patient.as_ref()))
}

fn canonical(signature: &[u8]) -> Result<Signature> {
    Signature::from_raw(signature).map(Signature::normalized_s).map_err(|_| Error::InvalidSignature)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::local::PrivateKeySigner;

    fn signer() -> PrivateKeySigner {
        PrivateKeySigner::from_bytes(&B256::repeat_byte(0x42)).unwrap()
    }

    #[tokio::test]
    async fn derivation_is_deterministic_and_bound_to_the_deployment() {
        let signer = signer();
        let index = Address::repeat_byte(7);
        let a = derive_master_secret(&signer, 31337, index).await.unwrap();
        let b = derive_master_secret(&signer, 31337, index).await.unwrap();
        assert_eq!(a.as_bytes(), b.as_bytes());
        let other_chain = derive_master_secret(&signer, 1, index).await.unwrap();
        let other_contract = derive_master_secret(&signer, 31337, Address::repeat_byte(8)).await;
        assert_ne!(a.as_bytes(), other_chain.as_bytes());
        assert_ne!(a.as_bytes(), other_contract.unwrap().as_bytes());
        let other_patient = PrivateKeySigner::random();
        let other_patient = derive_master_secret(&other_patient, 31337, index).await.unwrap();
        assert_ne!(a.as_bytes(), other_patient.as_bytes());
    }

    #[tokio::test]
    async fn every_encoding_of_the_signature_gives_the_same_secret() {
        let signer = signer();
        let index = Address::repeat_byte(7);
        let hash = signing_hash(signer.address(), 31337, index);
        let signature = signer.sign_hash(&hash).await.unwrap();
        let expected = derive_master_secret(&signer, 31337, index).await.unwrap();
        let electrum = signature.as_bytes();
        let parity = signature.as_rsy();
        // The same point with the high s and flipped parity.
        let n = alloy::primitives::U256::from_str_radix(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
            16,
        )
        .unwrap();
        let high = Signature::new(signature.r(), n - signature.s(), !signature.v()).as_bytes();
        for encoding in [electrum, parity, high] {
            let secret =
                master_secret_from_wallet_signature(&encoding, signer.address(), 31337, index)
                    .unwrap();
            assert_eq!(secret.as_bytes(), expected.as_bytes());
        }
    }

    #[tokio::test]
    async fn a_signature_by_another_account_or_for_another_deployment_is_refused() {
        let signer = signer();
        let index = Address::repeat_byte(7);
        let signature =
            signer.sign_hash(&signing_hash(signer.address(), 31337, index)).await.unwrap();
        let bytes = signature.as_bytes();
        assert!(matches!(
            master_secret_from_wallet_signature(&bytes, Address::repeat_byte(1), 31337, index),
            Err(Error::WrongSigner { .. })
        ));
        assert!(matches!(
            master_secret_from_wallet_signature(&bytes, signer.address(), 1, index),
            Err(Error::WrongSigner { .. })
        ));
        assert!(matches!(
            master_secret_from_signature(&bytes[..64], signer.address()),
            Err(Error::InvalidSignature)
        ));
    }

    #[test]
    fn type_string_and_purpose_are_exact() {
        assert_eq!(
            typed::MasterSecret::eip712_encode_type(),
            "MasterSecret(address patient,string purpose)"
        );
        assert_eq!(message(Address::ZERO).purpose, PURPOSE);
    }
}
