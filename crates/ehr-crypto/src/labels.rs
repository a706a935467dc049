//! Every domain-separation label used by the crate, in one place so the format document and
//! the code cannot drift apart. Changing any of these is a format version bump.
//!
//! No label is a prefix of another, so `label ‖ data` inputs can never collide across uses.

/// HKDF-SHA256 `info` deriving the per-record AES-256-GCM content key from the data key.
pub const CONTENT_KEY: &[u8] = b"ehrkit/v1/content-key";
/// HKDF-SHA256 `info` deriving the 7-byte STREAM nonce prefix from the data key.
pub const NONCE_PREFIX: &[u8] = b"ehrkit/v1/nonce-prefix";
/// HKDF-SHA256 `info` deriving the HMAC-SHA256 key that authenticates the header.
pub const HEADER_MAC: &[u8] = b"ehrkit/v1/header-mac";
/// SHA-256 prefix for the header hash bound into every chunk's AAD.
pub const HEADER_HASH: &[u8] = b"ehrkit/v1/header-hash";
/// SHA-256 prefix for the slot binding (format version + record context) used as key-slot AAD.
pub const SLOT_BINDING: &[u8] = b"ehrkit/v1/slot-binding";
/// HKDF-SHA256 `info` prefix for ECIES key-encryption keys; the caller's purpose follows,
/// length-prefixed.
pub const ECIES_KEK: &[u8] = b"ehrkit/v1/ecies/kek";
/// ECIES purpose label for the data key wrapped in an envelope's public-key slot.
pub const ECIES_SLOT_PURPOSE: &str = "ehrkit/v1/envelope/ecies-slot";
/// HKDF-SHA256 `info` prefix for the wrapping key of a symmetric slot; the key id follows.
pub const SYMMETRIC_SLOT_KEK: &[u8] = b"ehrkit/v1/symmetric-slot/kek";
/// HKDF-SHA256 `info` deriving a patient's master secret from its wallet signature.
pub const MASTER_SECRET: &[u8] = b"ehrkit/v1/master-secret";
/// HKDF-SHA256 `info` deriving the master secret of a key generation ≥ 1 from the wallet's
/// signature and the generation's recovery secret.
pub const MASTER_SECRET_V2: &[u8] = b"ehrkit/v2/master-secret";
/// HMAC-SHA256 message giving a master secret's on-chain key-check value.
pub const KEY_CHECK: &[u8] = b"ehrkit/v2/key-check";
/// HKDF-SHA256 `info` prefix deriving a generation's default recovery secret from the account
/// key; chain id, record index and generation follow.
pub const RECOVERY_SECRET: &[u8] = b"ehrkit/v2/recovery-secret";
/// SHA-256 prefix of a recovery code's checksum.
pub const RECOVERY_CODE: &[u8] = b"ehrkit/v2/recovery-code";
/// HKDF-SHA256 `info` prefix deriving an epoch key from the master secret; `be64(epoch)` follows.
pub const EPOCH_KEY: &[u8] = b"ehrkit/v1/epoch";
/// HKDF-SHA256 `info` prefix deriving a category's index key from the epoch key; the 32-byte
/// category follows.
pub const INDEX_KEY: &[u8] = b"ehrkit/v1/index";
/// HKDF-SHA256 `info` prefix deriving a category's data key-encryption key from the epoch
/// key; the 32-byte category follows.
pub const DATA_KEK: &[u8] = b"ehrkit/v1/data";
/// HMAC-SHA256 prefix for a record's symmetric-slot key id; the 16-byte record id follows.
pub const KEY_ID: &[u8] = b"ehrkit/v1/key-id";
/// ECIES purpose label for grant key material wrapped to a grantee.
pub const GRANT_KEYS_PURPOSE: &str = "ehrkit/v1/grant-keys";
/// HKDF-SHA256 `info` deriving a patient's category naming key from the master secret.
pub const CATEGORY_NAMING_KEY: &[u8] = b"ehrkit/v2/category-naming-key";
/// HMAC-SHA256 prefix for a category's opaque on-chain id; the name left-aligned in 32 bytes
/// follows.
pub const CATEGORY_ID: &[u8] = b"ehrkit/v2/category-id";
/// ECIES purpose label for a request's or break-glass access's reason text, encrypted to the
/// patient.
pub const REASON_PURPOSE: &str = "ehrkit/v2/reason";
/// Keccak-256 prefix of a claim's terms commitment; amount, currency and salt follow.
pub const CLAIM_COMMITMENT: &[u8] = b"ehrkit/v2/claim-commitment";
/// ECIES purpose label for a claim's terms, encrypted to the insurer and the patient.
pub const CLAIM_TERMS_PURPOSE: &str = "ehrkit/v2/claim-terms";

/// ECIES purpose label for a grantee's read log, encrypted to the patient.
pub const READ_LOG_PURPOSE: &str = "ehrkit/v2/read-log";
/// HKDF-SHA256 `info` deriving the key and nonce that seal an emergency kit's key material
/// from the kit's emergency secret.
pub const EMERGENCY_KEY: &[u8] = b"ehrkit/v2/emergency-key";
/// ECIES purpose label for an emergency kit's scope, sealed to the patient itself.
pub const EMERGENCY_SCOPE_PURPOSE: &str = "ehrkit/v2/emergency-scope";
/// ECIES purpose label for a guardian's share of an emergency secret, wrapped to the guardian.
pub const GUARDIAN_SHARE_PURPOSE: &str = "ehrkit/v2/guardian-share";
/// ECIES purpose label for a guardian's share re-wrapped to a break-glass doctor.
pub const GUARDIAN_RELEASE_PURPOSE: &str = "ehrkit/v2/guardian-release";

/// Every label above, for prefix-freedom checks (here and in crates that add their own).
pub const ALL: [&[u8]; 28] = [
    CONTENT_KEY,
    NONCE_PREFIX,
    HEADER_MAC,
    HEADER_HASH,
    SLOT_BINDING,
    ECIES_KEK,
    ECIES_SLOT_PURPOSE.as_bytes(),
    SYMMETRIC_SLOT_KEK,
    MASTER_SECRET,
    MASTER_SECRET_V2,
    KEY_CHECK,
    RECOVERY_SECRET,
    RECOVERY_CODE,
    EPOCH_KEY,
    INDEX_KEY,
    DATA_KEK,
    KEY_ID,
    GRANT_KEYS_PURPOSE.as_bytes(),
    CATEGORY_NAMING_KEY,
    CATEGORY_ID,
    REASON_PURPOSE.as_bytes(),
    CLAIM_COMMITMENT,
    CLAIM_TERMS_PURPOSE.as_bytes(),
    READ_LOG_PURPOSE.as_bytes(),
    EMERGENCY_KEY,
    EMERGENCY_SCOPE_PURPOSE.as_bytes(),
    GUARDIAN_SHARE_PURPOSE.as_bytes(),
    GUARDIAN_RELEASE_PURPOSE.as_bytes(),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_label_is_a_prefix_of_another() {
        let all = ALL;
        for (i, a) in all.iter().enumerate() {
            for (j, b) in all.iter().enumerate() {
                if i != j {
                    assert!(!b.starts_with(a), "{:?} prefixes {:?}", a, b);
                }
            }
            assert!(a.starts_with(b"ehrkit/v1/") || a.starts_with(b"ehrkit/v2/"));
        }
    }
}
