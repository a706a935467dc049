//! The free-text reason of an access request, a break-glass opening or an insurer's claim
//! decision, encrypted to the patient: the chain carries a code in clear and this ciphertext.
//!
//! ```text
//! sealed = ECIES(patient public key, purpose "ehrkit/v2/reason", aad, utf8(text))
//! aad    = context[1] ‖ be64(chain_id) ‖ registry[20] ‖ patient[20] ‖ sender[20] ‖ be16(code)
//! context: 0x00 access request, 0x01 break-glass access (registry: the consent registry),
//!          0x02 claim decision (registry: the claim registry)
//! ```
//!
//! The aad binds the text to the deployment, the patient, the account that sent it and the
//! code, so a reason cannot be moved to another kind of act, patient, sender or code. The output is
//! `49 + len(text)` bytes (ECIES: a 33-byte point and a 16-byte tag).

use k256::{PublicKey, SecretKey};

use crate::{Error, Result, ecies, labels};

/// The longest reason text, in bytes (the consent registry takes at most
/// `MAX_ENCRYPTED_REASON_LENGTH` = 305 bytes of ciphertext).
pub const MAX_REASON_TEXT_LEN: usize = 256;

/// What a reason is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReasonContext {
    /// An access request (`requestAccess`).
    Request,
    /// Break-glass access (`openEmergencyAccess`).
    Emergency,
    /// An insurer's decision on a claim (`ClaimRegistry.decide`).
    ClaimDecision,
}

/// Where a reason belongs: the associated data of its encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReasonBinding {
    /// Request, break-glass access or claim decision.
    pub context: ReasonContext,
    /// The chain id.
    pub chain_id: u64,
    /// The contract the reason is sent to: the consent registry (requests, break-glass) or
    /// the claim registry (decisions).
    pub registry: [u8; 20],
    /// The patient the reason is for (and encrypted to).
    pub patient: [u8; 20],
    /// The account that sends the request, opens the access or decides the claim.
    pub sender: [u8; 20],
    /// The reason code sent with it.
    pub code: u16,
}

impl ReasonBinding {
    /// `context ‖ be64(chain_id) ‖ registry ‖ patient ‖ sender ‖ be16(code)`.
    pub fn aad(&self) -> [u8; 71] {
        let mut aad = [0u8; 71];
        aad[0] = match self.context {
            ReasonContext::Request => 0,
            ReasonContext::Emergency => 1,
            ReasonContext::ClaimDecision => 2,
        };
        aad[1..9].copy_from_slice(&self.chain_id.to_be_bytes());
        aad[9..29].copy_from_slice(&self.registry);
        aad[29..49].copy_from_slice(&self.patient);
        aad[49..69].copy_from_slice(&self.sender);
        aad[69..].copy_from_slice(&self.code.to_be_bytes());
        aad
    }
}

/// Encrypts `text` (1 to 256 bytes) to the patient's public key, which must belong to
/// `binding.patient` ([`Error::AddressMismatch`] otherwise; [`Error::InvalidReasonLength`] for
/// an empty or too long text).
pub fn seal_reason(
    patient_key: &PublicKey,
    binding: &ReasonBinding,
    text: &str,
) -> Result<Vec<u8>> {
    if crate::eth_address(patient_key) != binding.patient {
        return Err(Error::AddressMismatch);
    }
    if text.is_empty() || text.len() > MAX_REASON_TEXT_LEN {
        return Err(Error::InvalidReasonLength { len: text.len() });
    }
    ecies::wrap(patient_key, labels::REASON_PURPOSE, &binding.aad(), text.as_bytes())
}

/// Decrypts a sealed reason with the patient's secret key. Anything that does not
/// authenticate under `binding` (another key, request, sender or code; modified bytes) or is
/// not UTF-8 is [`Error::UnwrapFailed`].
pub fn open_reason(patient: &SecretKey, binding: &ReasonBinding, sealed: &[u8]) -> Result<String> {
    let plain = ecies::unwrap(patient, labels::REASON_PURPOSE, &binding.aad(), sealed)?;
    String::from_utf8(plain.to_vec()).map_err(|_| Error::UnwrapFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(patient: &SecretKey) -> ReasonBinding {
        ReasonBinding {
            context: ReasonContext::Request,
            chain_id: 31337,
            registry: [7; 20],
            patient: crate::eth_address(&patient.public_key()),
            sender: [9; 20],
            code: 1,
        }
    }

    #[test]
    fn only_the_patient_reads_a_reason_and_only_where_it_was_sent() {
        let patient = SecretKey::from_bytes(&[1; 32].into()).unwrap();
        let b = binding(&patient);
        let sealed = seal_reason(&patient.public_key(), &b, "knee pain since Monday").unwrap();
        assert_eq!(sealed.len(), 49 + 22);
        assert_eq!(open_reason(&patient, &b, &sealed).unwrap(), "knee pain since Monday");
        let other = SecretKey::from_bytes(&[2; 32].into()).unwrap();
        assert!(matches!(open_reason(&other, &b, &sealed), Err(Error::UnwrapFailed)));
        for moved in [
            ReasonBinding { code: 2, ..b },
            ReasonBinding { sender: [8; 20], ..b },
            ReasonBinding { context: ReasonContext::Emergency, ..b },
            ReasonBinding { context: ReasonContext::ClaimDecision, ..b },
            ReasonBinding { registry: [6; 20], ..b },
            ReasonBinding { chain_id: 1, ..b },
        ] {
            assert!(matches!(open_reason(&patient, &moved, &sealed), Err(Error::UnwrapFailed)));
        }
        assert!(matches!(seal_reason(&other.public_key(), &b, "x"), Err(Error::AddressMismatch)));
        assert!(matches!(
            seal_reason(&patient.public_key(), &b, ""),
            Err(Error::InvalidReasonLength { len: 0 })
        ));
        let long = "x".repeat(MAX_REASON_TEXT_LEN + 1);
        assert!(matches!(
            seal_reason(&patient.public_key(), &b, &long),
            Err(Error::InvalidReasonLength { len: 257 })
        ));
        let longest = "x".repeat(MAX_REASON_TEXT_LEN);
        assert_eq!(seal_reason(&patient.public_key(), &b, &longest).unwrap().len(), 305);
    }
}
