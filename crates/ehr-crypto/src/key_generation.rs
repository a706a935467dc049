//! Key generations: the master secret of generation `g ≥ 1` mixes the wallet's signature with
//! a second factor the wallet cannot be phished for, and is pinned on chain by a key-check
//! value.
//!
//! ```text
//! K_p(g)  = HKDF(ikm = sig_g[65] ‖ R_g[32], salt = patient[20] ‖ be64(g), info = "ehrkit/v2/master-secret")
//! KCV(g)  = HMAC-SHA256(K_p(g), "ehrkit/v2/key-check")[..24]
//! R_g     = HKDF(ikm = account key[32], salt = empty,
//!                info = "ehrkit/v2/recovery-secret" ‖ be64(chainId) ‖ recordIndex[20] ‖ be64(g))   (default)
//! ```
//!
//! `sig_g` is the wallet's signature of the generation's master-secret message; `R_g` is the
//! generation's recovery secret. A web site that phishes the signature gets nothing without
//! `R_g`, and `R_g` never leaves the patient's machine except as the recovery code the patient
//! types into the ehrkit page. By default `R_g` derives from the account key (so a CLI
//! patient has nothing extra to keep and nothing to lose), but any 32 random bytes work: the
//! on-chain key-check value is what tells a right `R_g` (and a deterministic signature) from
//! a wrong one.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::labels;
use crate::patient_keys::{MasterSecret, SIGNATURE_LEN};
use crate::{Error, Result};

/// Bytes of an on-chain key-check value.
pub const KEY_CHECK_LEN: usize = 24;

/// Text that starts every recovery code.
const CODE_PREFIX: &str = "ehr2";

/// A generation's recovery secret `R_g`. Zeroized on drop; `Debug` is redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RecoverySecret([u8; 32]);

impl RecoverySecret {
    /// Wraps 32 bytes (random ones, or a decoded recovery code).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The default `R_g`: derived from the patient's account key for one deployment and
    /// generation.
    pub fn from_account_key(
        account_key: &[u8; 32],
        chain_id: u64,
        record_index: &[u8; 20],
        generation: u64,
    ) -> Self {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&[]), account_key)
            .expand_multi_info(
                &[
                    labels::RECOVERY_SECRET,
                    &chain_id.to_be_bytes(),
                    record_index,
                    &generation.to_be_bytes(),
                ],
                &mut out,
            )
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self(out)
    }

    /// The recovery code: `ehr2-` then the 32 bytes and a 2-byte checksum in hex, in groups
    /// of four (what the patient types into the page).
    pub fn to_code(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(self.0.to_vec());
        bytes.extend_from_slice(&checksum(&self.0));
        let hex = Zeroizing::new(hex::encode(&*bytes));
        let mut code = Zeroizing::new(String::from(CODE_PREFIX));
        for group in hex.as_bytes().chunks(4) {
            code.push('-');
            code.push_str(std::str::from_utf8(group).expect("hex is ASCII"));
        }
        code
    }

    /// Parses a recovery code (case, spaces and dashes are free).
    pub fn from_code(code: &str) -> Result<Self> {
        let cleaned: Zeroizing<String> = Zeroizing::new(
            code.chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .collect::<String>()
                .to_lowercase(),
        );
        let Some(hex) = cleaned.strip_prefix(CODE_PREFIX) else {
            return Err(Error::InvalidRecoveryCode("it does not start with ehr2"));
        };
        let bytes = Zeroizing::new(
            hex::decode(hex).map_err(|_| Error::InvalidRecoveryCode("it is not hexadecimal"))?,
        );
        if bytes.len() != 34 {
            return Err(Error::InvalidRecoveryCode("it has the wrong length (68 hex digits)"));
        }
        let mut secret = [0u8; 32];
        secret.copy_from_slice(&bytes[..32]);
        if checksum(&secret) != bytes[32..] {
            secret.zeroize();
            return Err(Error::InvalidRecoveryCode("its checksum is wrong (a typo?)"));
        }
        Ok(Self(secret))
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for RecoverySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoverySecret(<redacted>)")
    }
}

fn checksum(secret: &[u8; 32]) -> [u8; 2] {
    let digest = Sha256::new().chain_update(labels::RECOVERY_CODE).chain_update(secret).finalize();
    [digest[0], digest[1]]
}

impl MasterSecret {
    /// `K_p(g)` of generation `generation` from the wallet's canonical 65-byte signature of
    /// that generation's message and the generation's recovery secret.
    pub fn from_generation(
        signature: &[u8; SIGNATURE_LEN],
        recovery: &RecoverySecret,
        patient: &[u8; 20],
        generation: u64,
    ) -> Self {
        let mut ikm = Zeroizing::new([0u8; SIGNATURE_LEN + 32]);
        ikm[..SIGNATURE_LEN].copy_from_slice(signature);
        ikm[SIGNATURE_LEN..].copy_from_slice(recovery.as_bytes());
        let mut salt = [0u8; 28];
        salt[..20].copy_from_slice(patient);
        salt[20..].copy_from_slice(&generation.to_be_bytes());
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&salt), &*ikm)
            .expand(labels::MASTER_SECRET_V2, &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        let secret = Self::from_bytes(out);
        out.zeroize();
        secret
    }

    /// The key-check value the consent registry stores for this master secret's generation.
    pub fn key_check(&self) -> [u8; KEY_CHECK_LEN] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.as_bytes())
            .expect("HMAC takes any key length");
        mac.update(labels::KEY_CHECK);
        let tag = mac.finalize().into_bytes();
        let mut out = [0u8; KEY_CHECK_LEN];
        out.copy_from_slice(&tag[..KEY_CHECK_LEN]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_round_trip_and_catch_typos() {
        let secret = RecoverySecret::from_account_key(&[7; 32], 31337, &[9; 20], 1);
        let code = secret.to_code();
        assert!(code.starts_with("ehr2-"));
        let back = RecoverySecret::from_code(&code.to_uppercase().replace('-', " ")).unwrap();
        assert_eq!(back.as_bytes(), secret.as_bytes());
        let mut typo = code.to_string();
        let at = typo.len() - 1;
        let last = if typo.ends_with('0') { "1" } else { "0" };
        typo.replace_range(at.., last);
        assert!(matches!(RecoverySecret::from_code(&typo), Err(Error::InvalidRecoveryCode(_))));
        assert!(RecoverySecret::from_code("ehr2-00").is_err());
        assert!(RecoverySecret::from_code("hello").is_err());
        assert_eq!(format!("{secret:?}"), "RecoverySecret(<redacted>)");
    }

    #[test]
    fn every_input_changes_the_master_secret_and_its_check() {
        let sig = [3u8; SIGNATURE_LEN];
        let r = RecoverySecret::from_bytes([4; 32]);
        let base = MasterSecret::from_generation(&sig, &r, &[5; 20], 1);
        let variants = [
            MasterSecret::from_generation(&[6; SIGNATURE_LEN], &r, &[5; 20], 1),
            MasterSecret::from_generation(&sig, &RecoverySecret::from_bytes([8; 32]), &[5; 20], 1),
            MasterSecret::from_generation(&sig, &r, &[6; 20], 1),
            MasterSecret::from_generation(&sig, &r, &[5; 20], 2),
            MasterSecret::from_signature(&sig, &[5; 20]),
        ];
        for other in variants {
            assert_ne!(other.as_bytes(), base.as_bytes());
            assert_ne!(other.key_check(), base.key_check());
        }
        let again = MasterSecret::from_generation(&sig, &r, &[5; 20], 1);
        assert_eq!(again.key_check(), base.key_check());
        let other_generation = RecoverySecret::from_account_key(&[7; 32], 31337, &[9; 20], 2);
        let first = RecoverySecret::from_account_key(&[7; 32], 31337, &[9; 20], 1);
        assert_ne!(other_generation.as_bytes(), first.as_bytes());
    }
}
