//! Who can open an envelope: building key slots for recipients, and opening them.

use std::fmt;

use k256::{PublicKey, SecretKey};

use super::context::RecordContext;
use super::header::{ECIES_SLOT_LEN, KeySlot, MAX_SLOTS, WRAPPED_KEY_LEN};
use super::schedule::{slot_binding, symmetric_slot_aad, symmetric_slot_key};
use crate::ecies::{self, EPHEMERAL_KEY_LEN};
use crate::entropy::Entropy;
use crate::keys::{DataKey, KEY_LEN, KeyEncryptionKey, KeyId};
use crate::{Error, Result, address, aead, labels};

/// Public-key slots are padded with decoys to at least this many.
pub const MIN_ECIES_SLOTS: usize = 4;

/// Number of public-key slots written for `recipients` real public-key recipients: the next
/// power of two, at least [`MIN_ECIES_SLOTS`]. The rest are decoys, so the header reveals
/// only this bucket, not the exact number of grantees.
pub fn ecies_slot_count(recipients: usize) -> usize {
    recipients.next_power_of_two().max(MIN_ECIES_SLOTS)
}

/// Everyone a new envelope is encrypted to: always the patient, plus grantees and holders of
/// symmetric key-encryption keys.
#[derive(Clone)]
pub struct Recipients {
    patient: PublicKey,
    grantees: Vec<PublicKey>,
    symmetric: Vec<(KeyId, KeyEncryptionKey)>,
}

impl Recipients {
    /// Recipients with just the patient. The writer checks that this key belongs to the
    /// context's patient address.
    pub fn new(patient: PublicKey) -> Self {
        Self { patient, grantees: Vec::new(), symmetric: Vec::new() }
    }

    /// Adds a public-key slot for a grantee.
    pub fn with_grantee(mut self, grantee: PublicKey) -> Self {
        self.grantees.push(grantee);
        self
    }

    /// Adds a symmetric slot under `kek`, found by readers through `key_id`.
    pub fn with_symmetric(mut self, key_id: KeyId, kek: KeyEncryptionKey) -> Self {
        self.symmetric.push((key_id, kek));
        self
    }

    /// Slots a header for these recipients will hold, decoys included.
    pub fn slot_count(&self) -> usize {
        ecies_slot_count(1 + self.grantees.len()) + self.symmetric.len()
    }
}

impl fmt::Debug for Recipients {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recipients")
            .field("patient", &address::eth_address(&self.patient))
            .field("grantees", &self.grantees.len())
            .field("symmetric", &self.symmetric.iter().map(|(id, _)| id).collect::<Vec<_>>())
            .finish()
    }
}

/// The key a reader opens an envelope with.
#[derive(Clone, Copy)]
pub enum DecryptionKey<'a> {
    /// A secp256k1 secret key: every public-key slot is tried.
    Secp256k1(&'a SecretKey),
    /// A key-encryption key: the symmetric slots with this id are tried.
    Symmetric {
        /// Id of the key-encryption key.
        key_id: KeyId,
        /// The key-encryption key.
        kek: &'a KeyEncryptionKey,
    },
    /// The record's data key itself (already unwrapped earlier); slots are skipped.
    DataKey(&'a DataKey),
}

impl fmt::Debug for DecryptionKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecryptionKey::Secp256k1(_) => f.write_str("DecryptionKey::Secp256k1([redacted])"),
            DecryptionKey::Symmetric { key_id, .. } => {
                write!(f, "DecryptionKey::Symmetric({key_id:?}, [redacted])")
            }
            DecryptionKey::DataKey(_) => f.write_str("DecryptionKey::DataKey([redacted])"),
        }
    }
}

/// Wraps `data_key` for every recipient, adding decoy public-key slots.
///
/// Order: patient, grantees, decoys, symmetric slots. Decoys are a real ephemeral public key
/// followed by random bytes: without a matching secret key they cannot be told from a slot
/// wrapped to someone else.
pub(crate) fn build(
    data_key: &DataKey,
    context: &RecordContext,
    recipients: &Recipients,
    entropy: &mut dyn Entropy,
) -> Result<Vec<KeySlot>> {
    if address::eth_address(&recipients.patient) != context.patient {
        return Err(Error::PatientKeyMismatch);
    }
    let real = 1 + recipients.grantees.len();
    let ecies_slots = ecies_slot_count(real);
    if ecies_slots + recipients.symmetric.len() > MAX_SLOTS {
        return Err(Error::TooManyRecipients {
            ecies: real,
            symmetric: recipients.symmetric.len(),
        });
    }
    let binding = slot_binding(context);
    let mut slots = Vec::with_capacity(ecies_slots + recipients.symmetric.len());

    for recipient in std::iter::once(&recipients.patient).chain(&recipients.grantees) {
        let ephemeral = entropy.ephemeral_secret()?;
        let wrapped = ecies::wrap_with_ephemeral(
            &ephemeral,
            recipient,
            labels::ECIES_SLOT_PURPOSE,
            &binding,
            data_key.as_bytes(),
        )?;
        let wrapped = wrapped.try_into().map_err(|_| Error::TooLarge)?;
        slots.push(KeySlot::Ecies { wrapped });
    }
    for _ in real..ecies_slots {
        let ephemeral = entropy.ephemeral_secret()?;
        let mut wrapped = [0u8; ECIES_SLOT_LEN];
        wrapped[..EPHEMERAL_KEY_LEN].copy_from_slice(&ecies::compressed(&ephemeral.public_key()));
        wrapped[EPHEMERAL_KEY_LEN..].copy_from_slice(&entropy.decoy_body()?);
        slots.push(KeySlot::Ecies { wrapped });
    }
    for (key_id, kek) in &recipients.symmetric {
        let salt = entropy.slot_salt()?;
        let key = symmetric_slot_key(kek, &salt, key_id);
        let aad = symmetric_slot_aad(&binding, key_id);
        let wrapped: [u8; WRAPPED_KEY_LEN] =
            aead::seal(&key, &aad, data_key.as_bytes())?.try_into().map_err(|_| Error::TooLarge)?;
        slots.push(KeySlot::Symmetric { key_id: *key_id, salt, wrapped });
    }
    Ok(slots)
}

/// Recovers the data key from the first slot `key` opens.
pub(crate) fn open(
    slots: &[KeySlot],
    context: &RecordContext,
    key: DecryptionKey<'_>,
) -> Result<DataKey> {
    let binding = slot_binding(context);
    let found = match key {
        DecryptionKey::DataKey(data_key) => return Ok(data_key.clone()),
        DecryptionKey::Secp256k1(secret) => slots.iter().find_map(|slot| match slot {
            KeySlot::Ecies { wrapped } => {
                ecies::unwrap(secret, labels::ECIES_SLOT_PURPOSE, &binding, wrapped).ok()
            }
            KeySlot::Symmetric { .. } => None,
        }),
        DecryptionKey::Symmetric { key_id, kek } => slots.iter().find_map(|slot| match slot {
            KeySlot::Symmetric { key_id: id, salt, wrapped } if *id == key_id => {
                let wrap_key = symmetric_slot_key(kek, salt, id);
                aead::open(&wrap_key, &symmetric_slot_aad(&binding, id), wrapped)
            }
            _ => None,
        }),
    };
    let plain = found.ok_or(Error::NoKeyForRecipient)?;
    let bytes: [u8; KEY_LEN] = plain[..].try_into().map_err(|_| Error::NoKeyForRecipient)?;
    Ok(DataKey::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_buckets() {
        let counts: Vec<usize> = (1..=9).map(ecies_slot_count).collect();
        assert_eq!(counts, [4, 4, 4, 4, 8, 8, 8, 8, 16]);
        assert_eq!(ecies_slot_count(33), 64);
    }

    #[test]
    fn debug_redacts_keys() {
        let sk = SecretKey::from_bytes(&[4u8; 32].into()).unwrap();
        let kek = KeyEncryptionKey::from_bytes([0x77; 32]);
        let key = DecryptionKey::Symmetric { key_id: KeyId([1; 16]), kek: &kek };
        assert!(format!("{key:?}").contains("[redacted]"));
        assert!(format!("{:?}", DecryptionKey::Secp256k1(&sk)).contains("[redacted]"));
        let r = Recipients::new(sk.public_key()).with_symmetric(KeyId([1; 16]), kek.clone());
        assert!(!format!("{r:?}").contains("77, 77"));
    }
}
