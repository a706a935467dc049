//! An insurance claim's amount and currency, kept off chain: the claim registry stores a
//! commitment, and the terms travel ECIES-encrypted to the insurer and to the patient, who
//! check them against it.
//!
//! ```text
//! commitment = keccak256("ehrkit/v2/claim-commitment" ‖ be128(amount) ‖ currency[3] ‖ salt[32])
//! sealed     = ECIES(insurer key, "ehrkit/v2/claim-terms", aad, terms) ‖ ECIES(patient key, same)
//! terms      = be128(amount) ‖ currency[3] ‖ salt[32]                          (51 bytes)
//! aad        = be64(chain_id) ‖ claim_registry[20] ‖ patient[20] ‖ insurer[20] ‖ commitment[32]
//! ```
//!
//! The salt is 32 random bytes, so the commitment hides the amount (a guessed amount cannot be
//! tested against it), and keccak binds the patient to one amount. Each copy is `49 + 51 = 100`
//! bytes, `sealed` is 200. A reader opens the copy its key fits and accepts the terms only if
//! they hash to the commitment the registry stores (read it with `eth_call`, not from a log).

use k256::{PublicKey, SecretKey};
use rand_core::{OsRng, RngCore};
use sha3::{Digest, Keccak256};

use crate::{Error, Result, ecies, labels};

/// The plaintext terms' length: amount, currency, salt.
pub const TERMS_LEN: usize = 16 + 3 + 32;
/// One encrypted copy's length.
pub const SEALED_COPY_LEN: usize = ecies::OVERHEAD + TERMS_LEN;
/// The sealed terms' length: the insurer's copy, then the patient's.
pub const SEALED_TERMS_LEN: usize = 2 * SEALED_COPY_LEN;

/// A claim's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimTerms {
    /// The amount, in the currency's minor unit.
    pub amount: u128,
    /// The ISO 4217 code's three ASCII letters.
    pub currency: [u8; 3],
    /// The commitment's blinding salt.
    pub salt: [u8; 32],
}

impl ClaimTerms {
    /// Terms with a fresh random salt.
    pub fn new(amount: u128, currency: [u8; 3]) -> Self {
        let mut salt = [0u8; 32];
        OsRng.fill_bytes(&mut salt);
        Self { amount, currency, salt }
    }

    /// `keccak256("ehrkit/v2/claim-commitment" ‖ be128(amount) ‖ currency ‖ salt)`.
    pub fn commitment(&self) -> [u8; 32] {
        let mut hash = Keccak256::new();
        hash.update(labels::CLAIM_COMMITMENT);
        hash.update(self.to_bytes());
        hash.finalize().into()
    }

    fn to_bytes(self) -> [u8; TERMS_LEN] {
        let mut out = [0u8; TERMS_LEN];
        out[..16].copy_from_slice(&self.amount.to_be_bytes());
        out[16..19].copy_from_slice(&self.currency);
        out[19..].copy_from_slice(&self.salt);
        out
    }

    fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; TERMS_LEN] = bytes.try_into().ok()?;
        Some(Self {
            amount: u128::from_be_bytes(bytes[..16].try_into().ok()?),
            currency: bytes[16..19].try_into().ok()?,
            salt: bytes[19..].try_into().ok()?,
        })
    }
}

/// Where a claim's terms belong: the associated data of their encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TermsBinding {
    /// The chain id.
    pub chain_id: u64,
    /// The claim registry's address.
    pub claim_registry: [u8; 20],
    /// The patient filing the claim.
    pub patient: [u8; 20],
    /// The insurer it is filed with.
    pub insurer: [u8; 20],
}

impl TermsBinding {
    fn aad(&self, commitment: &[u8; 32]) -> [u8; 100] {
        let mut aad = [0u8; 100];
        aad[..8].copy_from_slice(&self.chain_id.to_be_bytes());
        aad[8..28].copy_from_slice(&self.claim_registry);
        aad[28..48].copy_from_slice(&self.patient);
        aad[48..68].copy_from_slice(&self.insurer);
        aad[68..].copy_from_slice(commitment);
        aad
    }
}

/// Encrypts `terms` to the insurer and to the patient, whose keys must belong to the
/// binding's addresses ([`Error::AddressMismatch`] otherwise).
pub fn seal_terms(
    terms: &ClaimTerms,
    insurer_key: &PublicKey,
    patient_key: &PublicKey,
    binding: &TermsBinding,
) -> Result<Vec<u8>> {
    if crate::eth_address(insurer_key) != binding.insurer
        || crate::eth_address(patient_key) != binding.patient
    {
        return Err(Error::AddressMismatch);
    }
    let aad = binding.aad(&terms.commitment());
    let plain = terms.to_bytes();
    let mut out = ecies::wrap(insurer_key, labels::CLAIM_TERMS_PURPOSE, &aad, &plain)?;
    out.extend(ecies::wrap(patient_key, labels::CLAIM_TERMS_PURPOSE, &aad, &plain)?);
    Ok(out)
}

/// Opens the copy of `sealed` that `secret` (the insurer's or the patient's key) fits and checks
/// it against `commitment`. [`Error::UnwrapFailed`] when no copy opens (another key, claim or
/// commitment; modified bytes), [`Error::CommitmentMismatch`] when terms open but do not hash
/// to the commitment.
pub fn open_terms(
    sealed: &[u8],
    secret: &SecretKey,
    binding: &TermsBinding,
    commitment: &[u8; 32],
) -> Result<ClaimTerms> {
    if sealed.len() != SEALED_TERMS_LEN {
        return Err(Error::UnwrapFailed);
    }
    let aad = binding.aad(commitment);
    let plain = sealed
        .chunks(SEALED_COPY_LEN)
        .find_map(|copy| ecies::unwrap(secret, labels::CLAIM_TERMS_PURPOSE, &aad, copy).ok())
        .ok_or(Error::UnwrapFailed)?;
    let terms = ClaimTerms::from_bytes(&plain).ok_or(Error::UnwrapFailed)?;
    if &terms.commitment() != commitment {
        return Err(Error::CommitmentMismatch);
    }
    Ok(terms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; 32].into()).unwrap()
    }

    #[test]
    fn insurer_and_patient_open_the_terms_and_check_the_commitment() {
        let (insurer, patient, other) = (key(1), key(2), key(3));
        let binding = TermsBinding {
            chain_id: 31337,
            claim_registry: [4; 20],
            patient: crate::eth_address(&patient.public_key()),
            insurer: crate::eth_address(&insurer.public_key()),
        };
        let terms = ClaimTerms::new(12_050, *b"EUR");
        assert_ne!(terms.salt, ClaimTerms::new(12_050, *b"EUR").salt, "fresh salt");
        let commitment = terms.commitment();
        let sealed =
            seal_terms(&terms, &insurer.public_key(), &patient.public_key(), &binding).unwrap();
        assert_eq!(sealed.len(), SEALED_TERMS_LEN);
        assert_eq!(SEALED_TERMS_LEN, 200);
        for reader in [&insurer, &patient] {
            assert_eq!(open_terms(&sealed, reader, &binding, &commitment).unwrap(), terms);
        }
        assert!(matches!(
            open_terms(&sealed, &other, &binding, &commitment),
            Err(Error::UnwrapFailed)
        ));
        let other_claim = TermsBinding { insurer: [9; 20], ..binding };
        assert!(matches!(
            open_terms(&sealed, &insurer, &other_claim, &commitment),
            Err(Error::UnwrapFailed)
        ));
        // Terms sealed under a commitment they do not hash to are refused.
        let lie = ClaimTerms { amount: 1, ..terms };
        let aad = binding.aad(&commitment);
        let mut forged =
            ecies::wrap(&insurer.public_key(), labels::CLAIM_TERMS_PURPOSE, &aad, &lie.to_bytes())
                .unwrap();
        forged.extend_from_slice(&sealed[SEALED_COPY_LEN..]);
        assert!(matches!(
            open_terms(&forged, &insurer, &binding, &commitment),
            Err(Error::CommitmentMismatch)
        ));
        assert!(matches!(
            seal_terms(&terms, &other.public_key(), &patient.public_key(), &binding),
            Err(Error::AddressMismatch)
        ));
    }
}
