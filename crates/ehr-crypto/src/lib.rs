#![doc = include_str!("../README.md")]

mod address;
mod aead;
pub mod claim_terms;
pub mod ecies;
pub mod emergency_kit;
mod entropy;
pub mod envelope;
mod error;
pub mod key_generation;
mod keys;
pub mod labels;
pub mod padding;
pub mod patient_keys;
pub mod read_log;
pub mod reason;

pub use address::{RAW_PUBLIC_KEY_LEN, eth_address, public_key_for_address, raw_public_key};
pub use envelope::{
    ChunkSize, DecryptionKey, EnvelopeReader, EnvelopeStats, EnvelopeWriter, Header, KeySlot,
    Recipients, RecordContext, RecordId, open, seal,
};
pub use error::{Error, Result};
pub use k256::{PublicKey, SecretKey};
pub use key_generation::{KEY_CHECK_LEN, RecoverySecret};
pub use keys::{DataKey, KEY_LEN, KeyEncryptionKey, KeyId};
pub use patient_keys::{
    CategoryKeys, CategoryNamingKey, EpochKey, GrantKeys, GrantParties, GrantScope, IndexKey,
    MasterSecret,
};

/// Test-vector plumbing: injected randomness and intermediate values. Not a stable API and
/// never for production use.
#[doc(hidden)]
pub mod internals {
    pub use crate::entropy::{DECOY_BODY_LEN, Entropy, FixedEntropy, OsEntropy};

    use crate::envelope::RecordContext;
    use crate::envelope::schedule::{self, RecordKeys};
    use crate::keys::DataKey;

    /// Content key, STREAM nonce prefix and header MAC key derived for an envelope.
    pub fn record_keys(data_key: &DataKey, salt: &[u8; 32]) -> ([u8; 32], [u8; 7], [u8; 32]) {
        let keys = RecordKeys::derive(data_key, salt);
        (*keys.content_key, keys.nonce_prefix, *keys.mac_key)
    }

    /// The hash of a serialized header and its record context that every chunk's AAD
    /// starts with.
    pub fn header_hash(header_bytes: &[u8], context: &RecordContext) -> [u8; 32] {
        schedule::header_hash(header_bytes, context)
    }

    /// Key and nonce of an ECIES wrap (sender side), for interop vectors.
    pub fn ecies_key_nonce(
        ephemeral: &k256::SecretKey,
        recipient: &k256::PublicKey,
        purpose: &str,
    ) -> crate::Result<([u8; 32], [u8; 12])> {
        crate::ecies::key_nonce(ephemeral, recipient, purpose)
    }

    /// The AAD of every key slot for `context`.
    pub fn slot_binding(context: &RecordContext) -> [u8; 32] {
        schedule::slot_binding(context)
    }
}

/// Lower-case hex without allocating, for `Debug` impls of public identifiers.
fn fmt_hex(f: &mut std::fmt::Formatter<'_>, bytes: &[u8]) -> std::fmt::Result {
    bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
}
