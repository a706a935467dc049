//! Symmetric key types: the per-record data key and key-encryption keys for symmetric slots.

use std::fmt;

use rand_core::{OsRng, RngCore};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Result};

/// Length in bytes of every symmetric key in this crate (AES-256).
pub const KEY_LEN: usize = 32;

/// The random 256-bit key that encrypts one record.
///
/// Generate a fresh one per record with [`DataKey::generate`]; it is never stored in clear,
/// only wrapped in the envelope's key slots. Zeroized on drop; `Debug` is redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; KEY_LEN]);

impl DataKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; KEY_LEN];
        OsRng.try_fill_bytes(&mut key).map_err(|_| Error::Randomness)?;
        Ok(Self(key))
    }

    /// Wraps existing key bytes (an unwrapped slot, a test vector).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// The raw key. Handle with care: copies are not zeroized for you.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

/// A 256-bit key-encryption key for [symmetric key slots](crate::envelope::KeySlot).
///
/// Callers derive these from per-epoch key material; this crate only uses them to wrap data
/// keys. Zeroized on drop; `Debug` is redacted.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyEncryptionKey([u8; KEY_LEN]);

impl KeyEncryptionKey {
    /// Wraps existing key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self> {
        let mut key = [0u8; KEY_LEN];
        OsRng.try_fill_bytes(&mut key).map_err(|_| Error::Randomness)?;
        Ok(Self(key))
    }

    /// The raw key. Handle with care: copies are not zeroized for you.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey([redacted])")
    }
}

/// Public 16-byte identifier of a [`KeyEncryptionKey`], stored in clear in symmetric slots
/// so a reader knows which of its keys to try.
///
/// It is visible to anyone holding the envelope: choose ids that reveal no more than the
/// caller intends (e.g. derived from the key material, not from a person's identity).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 16]);

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId(")?;
        crate::fmt_hex(f, &self.0)?;
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_key_bytes() {
        let dk = DataKey::from_bytes([0xab; KEY_LEN]);
        let kek = KeyEncryptionKey::from_bytes([0xcd; KEY_LEN]);
        let printed = format!("{dk:?} {kek:?} {dk:#?}");
        assert!(printed.contains("[redacted]"));
        assert!(!printed.contains("ab") && !printed.contains("171") && !printed.contains("cd"));
    }

    #[test]
    fn generated_keys_differ() {
        let a = DataKey::generate().unwrap();
        let b = DataKey::generate().unwrap();
        assert_ne!(a.as_bytes(), b.as_bytes());
        assert_ne!(a.as_bytes(), &[0u8; KEY_LEN]);
    }

    #[test]
    fn key_id_debug_is_hex() {
        let id = KeyId([0x01; 16]);
        assert_eq!(format!("{id:?}"), format!("KeyId({})", "01".repeat(16)));
    }
}
