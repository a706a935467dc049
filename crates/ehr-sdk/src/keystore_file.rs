//! Writing a Web3 Secret Storage (v3) keystore with a chosen scrypt cost.
//!
//! alloy writes keystores through `eth-keystore`, whose scrypt cost is fixed at N = 2^13 — a
//! 32nd of the 2^18 that geth and Foundry use by default, so a stolen keystore's password is
//! guessed 32× faster. The format is small (scrypt → 32-byte key; AES-128-CTR under its first
//! half; MAC = keccak256(second half ‖ ciphertext)), and reading stays alloy's
//! (`PrivateKeySigner::decrypt_keystore`), which takes the cost from the file — so every
//! keystore this writes is checked by the reader the CLI uses.

use aes::cipher::{KeyIvInit, StreamCipher};
use alloy::primitives::{Address, keccak256};
use rand_core::{OsRng, RngCore};
use serde_json::{Value, json};
use zeroize::Zeroizing;

/// The scrypt cost of a new keystore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KdfCost {
    /// N = 2^18, r = 8, p = 1: geth's and Foundry's standard (≈ 256 MiB and about a second
    /// to unlock).
    #[default]
    Standard,
    /// N = 2^13: for tests and throw-away dev accounts only (`--fast-kdf`).
    Fast,
}

impl KdfCost {
    fn log_n(self) -> u8 {
        match self {
            Self::Standard => 18,
            Self::Fast => 13,
        }
    }
}

type Aes128Ctr = ctr::Ctr128BE<aes::Aes128>;

/// The keystore JSON for `key` (the account `address`) under `password`.
pub(crate) fn encrypt(
    key: &[u8; 32],
    address: Address,
    password: &str,
    cost: KdfCost,
) -> Result<Value, String> {
    let mut salt = [0u8; 32];
    let mut iv = [0u8; 16];
    let mut id = [0u8; 16];
    for buf in [&mut salt[..], &mut iv[..], &mut id[..]] {
        OsRng.try_fill_bytes(buf).map_err(|e| format!("no randomness: {e}"))?;
    }
    let params = scrypt::Params::new(cost.log_n(), 8, 1).map_err(|e| e.to_string())?;
    let mut derived = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(password.as_bytes(), &salt, &params, derived.as_mut_slice())
        .map_err(|e| e.to_string())?;
    let mut ciphertext = Zeroizing::new(key.to_vec());
    Aes128Ctr::new(derived[..16].into(), (&iv).into()).apply_keystream(&mut ciphertext);
    let mac = keccak256([&derived[16..32], &ciphertext[..]].concat());
    Ok(json!({
        "address": hex::encode(address),
        "crypto": {
            "cipher": "aes-128-ctr",
            "cipherparams": { "iv": hex::encode(iv) },
            "ciphertext": hex::encode(&ciphertext[..]),
            "kdf": "scrypt",
            "kdfparams": {
                "dklen": 32,
                "n": 1u32 << cost.log_n(),
                "p": 1,
                "r": 8,
                "salt": hex::encode(salt),
            },
            "mac": hex::encode(mac),
        },
        "id": uuid_v4(id),
        "version": 3,
    }))
}

/// A random (version 4) UUID in its text form.
fn uuid_v4(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::signers::local::PrivateKeySigner;

    #[test]
    fn alloy_reads_what_this_writes_at_either_cost() {
        let signer = PrivateKeySigner::random();
        let key: [u8; 32] = signer.credential().to_bytes().into();
        let dir = tempfile::tempdir().unwrap();
        for cost in [KdfCost::Fast, KdfCost::Standard] {
            let json = encrypt(&key, signer.address(), "pw", cost).unwrap();
            assert_eq!(json["crypto"]["kdfparams"]["n"], 1u32 << cost.log_n());
            let path = dir.path().join(format!("{cost:?}"));
            std::fs::write(&path, json.to_string()).unwrap();
            let back = PrivateKeySigner::decrypt_keystore(&path, "pw").unwrap();
            assert_eq!(back.address(), signer.address());
            assert!(PrivateKeySigner::decrypt_keystore(&path, "wrong").is_err());
        }
        let id = uuid_v4([0xff; 16]);
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
    }
}
