//! The per-record key schedule and the hashes that bind chunks and slots to their context.
//!
//! ```text
//! HKDF-SHA256(salt = header salt, ikm = data key)
//!   ├─ "ehrkit/v1/content-key"  → 32-byte AES-256-GCM content key
//!   ├─ "ehrkit/v1/nonce-prefix" →  7-byte STREAM nonce prefix
//!   └─ "ehrkit/v1/header-mac"   → 32-byte HMAC-SHA256 key for the header MAC
//! ```
//!
//! The salt is 32 fresh random bytes per envelope, so even if a data key were ever reused
//! the content keys differ and no (key, nonce) pair can repeat.

use aead_stream::{NewStream, StreamBE32, StreamPrimitive};
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::KeyInit;
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::context::RecordContext;
use super::header::{MAC_LEN, SALT_LEN, VERSION};
use crate::keys::{DataKey, KEY_LEN, KeyEncryptionKey, KeyId};
use crate::{aead, labels};

/// Length of the STREAM nonce prefix (12-byte GCM nonce − 4-byte counter − 1-byte flag).
pub(crate) const NONCE_PREFIX_LEN: usize = 7;

/// The STREAM instance that encrypts chunks.
pub(crate) type ChunkCipher = StreamBE32<Aes256Gcm>;

/// Encrypts one chunk in place, appending its tag; fails only past GCM's length limit.
///
/// Not generic and never inlined, on purpose: the writer and reader are generic over their
/// I/O, so a call from their bodies would instantiate the AES-GCM code in whichever crate
/// names the I/O type, at that crate's optimisation level. Through these two functions it is
/// compiled once, here (an unoptimised test build otherwise ran the envelope at ~6 MB/s).
#[inline(never)]
pub(crate) fn seal_chunk(
    cipher: &ChunkCipher,
    position: u32,
    last: bool,
    aad: &[u8],
    chunk: &mut Vec<u8>,
) -> bool {
    cipher.encrypt_in_place(position, last, aad, chunk).is_ok()
}

/// Decrypts one chunk (ciphertext ‖ tag) in place; `false`, with `chunk` untouched, when it
/// does not authenticate. See [`seal_chunk`] for why this is a plain function.
#[inline(never)]
pub(crate) fn open_chunk(
    cipher: &ChunkCipher,
    position: u32,
    last: bool,
    aad: &[u8],
    chunk: &mut Vec<u8>,
) -> bool {
    cipher.decrypt_in_place(position, last, aad, chunk).is_ok()
}

/// Chunk AAD: header hash ‖ chunk kind.
pub(crate) type ChunkAad = [u8; 33];

/// Chunk kind byte in the AAD: a chunk that holds only record bytes.
pub(crate) const KIND_DATA: u8 = 0;
/// Chunk kind byte in the AAD: a chunk that holds the padding marker or padding.
pub(crate) const KIND_PADDING: u8 = 1;

/// Keys derived from the data key for one envelope.
pub(crate) struct RecordKeys {
    pub(crate) content_key: Zeroizing<[u8; KEY_LEN]>,
    pub(crate) nonce_prefix: [u8; NONCE_PREFIX_LEN],
    pub(crate) mac_key: Zeroizing<[u8; KEY_LEN]>,
}

impl RecordKeys {
    pub(crate) fn derive(data_key: &DataKey, salt: &[u8; SALT_LEN]) -> Self {
        let hkdf = Hkdf::<Sha256>::new(Some(salt), data_key.as_bytes());
        let mut keys = RecordKeys {
            content_key: Zeroizing::new([0; KEY_LEN]),
            nonce_prefix: [0; NONCE_PREFIX_LEN],
            mac_key: Zeroizing::new([0; KEY_LEN]),
        };
        // HKDF only refuses outputs longer than 255·32 bytes.
        const SHORT: &str = "HKDF output far below the length limit";
        hkdf.expand(labels::CONTENT_KEY, &mut keys.content_key[..]).expect(SHORT);
        hkdf.expand(labels::NONCE_PREFIX, &mut keys.nonce_prefix).expect(SHORT);
        hkdf.expand(labels::HEADER_MAC, &mut keys.mac_key[..]).expect(SHORT);
        keys
    }

    pub(crate) fn chunk_cipher(&self) -> ChunkCipher {
        let aead = Aes256Gcm::new((&*self.content_key).into());
        ChunkCipher::from_aead(aead, (&self.nonce_prefix).into())
    }

    pub(crate) fn header_mac(&self, authenticated: &[u8]) -> [u8; MAC_LEN] {
        self.mac(authenticated).finalize().into_bytes().into()
    }

    /// Constant-time check of a header MAC.
    pub(crate) fn verify_header_mac(&self, authenticated: &[u8], mac: &[u8; MAC_LEN]) -> bool {
        self.mac(authenticated).verify_slice(mac).is_ok()
    }

    fn mac(&self, authenticated: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.mac_key[..])
            .expect("HMAC accepts keys of any length");
        mac.update(authenticated);
        mac
    }
}

/// SHA-256 of the full serialized header (MAC included) and the record context, bound into
/// every chunk's AAD. The MAC already covers the context; hashing it again keeps each chunk
/// bound to it even on its own.
pub(crate) fn header_hash(header_bytes: &[u8], context: &RecordContext) -> [u8; 32] {
    Sha256::new()
        .chain_update(labels::HEADER_HASH)
        .chain_update(header_bytes)
        .chain_update(context.to_bytes())
        .finalize()
        .into()
}

pub(crate) fn chunk_aad(header_hash: &[u8; 32], kind: u8) -> ChunkAad {
    let mut aad = [0u8; 33];
    aad[..32].copy_from_slice(header_hash);
    aad[32] = kind;
    aad
}

/// AAD of every key slot: format version and record context, so a wrapped key cannot be
/// moved to another record or format version.
pub(crate) fn slot_binding(context: &RecordContext) -> [u8; 32] {
    Sha256::new()
        .chain_update(labels::SLOT_BINDING)
        .chain_update([VERSION])
        .chain_update(context.to_bytes())
        .finalize()
        .into()
}

/// Wrapping key and nonce of a symmetric slot. The per-slot random salt makes them unique
/// per slot even though one key-encryption key wraps many records' data keys.
pub(crate) fn symmetric_slot_key(
    kek: &KeyEncryptionKey,
    salt: &[u8; 16],
    key_id: &KeyId,
) -> aead::WrapKeyNonce {
    let hkdf = Hkdf::<Sha256>::new(Some(salt), kek.as_bytes());
    let mut out = Zeroizing::new([0u8; 32 + aead::NONCE_LEN]);
    hkdf.expand_multi_info(&[labels::SYMMETRIC_SLOT_KEK, &key_id.0], &mut out[..])
        .expect("HKDF output far below the length limit");
    out
}

/// AAD of a symmetric slot: slot binding ‖ key id.
pub(crate) fn symmetric_slot_aad(binding: &[u8; 32], key_id: &KeyId) -> [u8; 48] {
    let mut aad = [0u8; 48];
    aad[..32].copy_from_slice(binding);
    aad[32..].copy_from_slice(&key_id.0);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_keys_depend_on_salt_and_key_and_differ_from_each_other() {
        let dk = DataKey::from_bytes([1; 32]);
        let a = RecordKeys::derive(&dk, &[0; 32]);
        let b = RecordKeys::derive(&dk, &[1; 32]);
        let c = RecordKeys::derive(&DataKey::from_bytes([2; 32]), &[0; 32]);
        assert_ne!(*a.content_key, *b.content_key);
        assert_ne!(*a.content_key, *c.content_key);
        assert_ne!(a.nonce_prefix, b.nonce_prefix);
        assert_ne!(*a.content_key, *a.mac_key);
    }

    #[test]
    fn header_mac_verifies_only_the_same_bytes() {
        let keys = RecordKeys::derive(&DataKey::from_bytes([1; 32]), &[0; 32]);
        let mac = keys.header_mac(b"header");
        assert!(keys.verify_header_mac(b"header", &mac));
        assert!(!keys.verify_header_mac(b"headeR", &mac));
        let other = RecordKeys::derive(&DataKey::from_bytes([2; 32]), &[0; 32]);
        assert!(!other.verify_header_mac(b"header", &mac));
    }
}
