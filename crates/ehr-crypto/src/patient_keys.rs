//! A patient's key hierarchy: one master secret, a key per epoch, per-category index and data
//! keys, and the key material a grant hands to a grantee.
//!
//! ```text
//! K_p    = HKDF-SHA256(ikm = wallet signature r‖s‖v [65], salt = patient address [20],
//!                      info = "ehrkit/v1/master-secret")
//! K_e    = HKDF-SHA256(ikm = K_p, salt = empty, info = "ehrkit/v1/epoch" ‖ be64(e))
//! K_idx  = HKDF-SHA256(ikm = K_e, salt = empty, info = "ehrkit/v1/index" ‖ category[32])
//! K_data = HKDF-SHA256(ikm = K_e, salt = empty, info = "ehrkit/v1/data" ‖ category[32])
//! key id = HMAC-SHA256(K_data, "ehrkit/v1/key-id" ‖ record_id[16])[..16]
//! K_cat  = HKDF-SHA256(ikm = K_p, salt = empty, info = "ehrkit/v2/category-naming-key")
//! id(c)  = HMAC-SHA256(K_cat, "ehrkit/v2/category-id" ‖ name[32])[..16] ‖ 0^16
//! ```
//!
//! Every key is 32 bytes. `category[32]` above is the category's opaque id `id(c)`, the only
//! form of a category that goes on chain (records, grant scopes, tombstones): the name
//! (`lab`, `mental-health`, left-aligned in 32 bytes as `name[32]`) never leaves the client
//! unencrypted. The id depends on the patient (`K_cat`) but not on the epoch, because the
//! index compares a grant's scope value with a record's category across epochs. It is 16
//! bytes of HMAC followed by 16 zero bytes: 128 bits make collisions between one patient's
//! categories negligible, and the zero half keeps `addRecord`'s calldata within its gas budget
//! (a non-zero calldata byte costs 12 gas more than a zero one).
//! `K_data` is the key-encryption key of the record's symmetric envelope slot, found through
//! the key id; the id is derived per record so an IPFS node cannot link envelopes of one
//! category or epoch by their slot ids.
//!
//! The master secret is derived from a deterministic wallet signature so that a patient with
//! nothing but a browser wallet can re-derive everything; which message is signed is the
//! record index client's business (`ehr-index`), this module only turns the signature into
//! `K_p`.
//!
//! Epochs exist for revocation: the consent registry advances a patient's epoch on every
//! revocation, and records written afterwards use the new epoch's keys, which the revoked
//! grantee never receives.
//!
//! # Grant key material (`wrappedKeys`)
//!
//! One *item* of wrapped grant keys:
//!
//! ```text
//! item      = version[1] = 0x02 ‖ kind[1] ‖ ECIES(grantee public key, purpose "ehrkit/v1/grant-keys",
//!                                                 aad, plaintext)
//! aad       = patient[20] ‖ grantee[20] ‖ be64(epoch) ‖ scopeId[32]
//! scopeId   = keccak256(abi.encode(uint8 kind, bytes32 value))       (as the consent registry)
//! plaintext = kind 0 (All):      K_e ‖ K_cat               [64]
//!             kind 1 (Category): K_idx ‖ K_data ‖ name[32] [96]   of the scope's category
//!             kind 2 (Record):   the record's DataKey      [32]
//! ```
//!
//! A Category scope's value is the category's opaque id; the item carries the name, so the
//! grantee can map the name it writes and searches by to the id (it cannot compute ids
//! itself). An All item carries `K_cat`, so the grantee computes the id of any name.
//!
//! The ECIES wrap is [`crate::ecies`], so an item is `2 + 33 + len(plaintext) + 16` bytes: 115
//! for All, 147 for Category, 83 for Record. Its length follows from its kind byte, so several
//! items can be concatenated without framing. The aad binds the keys to the patient, the
//! grantee, the epoch and the exact scope: an item cannot be replayed for another grantee,
//! another epoch (a revoked grantee's old keys stay old) or a wider scope.

use std::fmt;

use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use k256::{PublicKey, SecretKey};
use sha2::Sha256;
use sha3::{Digest, Keccak256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::envelope::RecordId;
use crate::keys::{DataKey, KEY_LEN, KeyEncryptionKey, KeyId};
use crate::{Error, Result, ecies, labels};

/// Length of the wallet signature the master secret is derived from: `r ‖ s ‖ v`.
pub const SIGNATURE_LEN: usize = 65;

/// The version byte that starts every item of wrapped grant keys (2: All items carry the
/// category naming key, Category items the category's name).
pub const GRANT_KEYS_VERSION: u8 = 2;

/// How many leading bytes of a category id are HMAC output; the rest of its 32 bytes are zero.
pub const CATEGORY_ID_LEN: usize = 16;

/// HKDF-SHA256 with an empty salt, one 32-byte output.
fn hkdf32(ikm: &[u8], salt: &[u8], info: &[&[u8]]) -> [u8; KEY_LEN] {
    let mut out = [0u8; KEY_LEN];
    Hkdf::<Sha256>::new(Some(salt), ikm)
        .expand_multi_info(info, &mut out)
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

macro_rules! secret_key_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; KEY_LEN]);

        impl $name {
            /// Wraps existing key bytes (a test vector, unwrapped grant material).
            pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
                Self(bytes)
            }

            /// The raw key. Handle with care: copies are not zeroized for you.
            pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_key_type!(
    /// `K_p`: the root of a patient's key hierarchy. Zeroized on drop; `Debug` is redacted.
    MasterSecret
);

secret_key_type!(
    /// `K_e`: the key of one epoch, from which every category's keys derive. It is what an
    /// All-scope grant hands over. Zeroized on drop; `Debug` is redacted.
    EpochKey
);

secret_key_type!(
    /// `K_idx`: the key of one (epoch, category) from which keyword keys and search tags
    /// derive. Zeroized on drop; `Debug` is redacted.
    IndexKey
);

secret_key_type!(
    /// `K_cat`: the patient's category naming key, from which every category's opaque on-chain
    /// id derives. Not per epoch (ids must stay equal across epochs); an All grant hands it
    /// over. Zeroized on drop; `Debug` is redacted.
    CategoryNamingKey
);

impl CategoryNamingKey {
    /// The opaque on-chain id of the category whose name is left-aligned in `name`:
    /// `HMAC-SHA256(K_cat, "ehrkit/v2/category-id" ‖ name[32])[..16] ‖ 0^16`.
    pub fn category_id(&self, name: &[u8; 32]) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(labels::CATEGORY_ID);
        mac.update(name);
        let tag = mac.finalize().into_bytes();
        let mut id = [0u8; 32];
        id[..CATEGORY_ID_LEN].copy_from_slice(&tag[..CATEGORY_ID_LEN]);
        id
    }
}

impl MasterSecret {
    /// `K_p` from the patient's 65-byte `r ‖ s ‖ v` signature of the master-secret message.
    ///
    /// The bytes are taken as given: callers canonicalize the signature first (`v` as 27/28,
    /// low `s`) so that every wallet yields the same secret.
    pub fn from_signature(signature: &[u8; SIGNATURE_LEN], patient: &[u8; 20]) -> Self {
        Self(hkdf32(signature, patient, &[labels::MASTER_SECRET]))
    }

    /// `K_e` of `epoch`.
    pub fn epoch_key(&self, epoch: u64) -> EpochKey {
        EpochKey(hkdf32(&self.0, &[], &[labels::EPOCH_KEY, &epoch.to_be_bytes()]))
    }

    /// `K_cat`, the category naming key.
    pub fn category_naming_key(&self) -> CategoryNamingKey {
        CategoryNamingKey(hkdf32(&self.0, &[], &[labels::CATEGORY_NAMING_KEY]))
    }
}

impl EpochKey {
    /// The index and data keys of `category` (its opaque on-chain id).
    pub fn category_keys(&self, category: &[u8; 32]) -> CategoryKeys {
        CategoryKeys {
            index: IndexKey(hkdf32(&self.0, &[], &[labels::INDEX_KEY, category])),
            data: KeyEncryptionKey::from_bytes(hkdf32(&self.0, &[], &[labels::DATA_KEK, category])),
        }
    }
}

/// The two keys of one (epoch, category): `K_idx` for the search index and `K_data` for the
/// records' symmetric envelope slots. What a Category-scope grant hands over.
///
/// Both parts zeroize on drop; `Debug` is redacted.
#[derive(Clone)]
pub struct CategoryKeys {
    index: IndexKey,
    data: KeyEncryptionKey,
}

impl CategoryKeys {
    /// Assembles the keys from their parts (e.g. unwrapped grant material).
    pub fn from_parts(index: IndexKey, data: KeyEncryptionKey) -> Self {
        Self { index, data }
    }

    /// `K_idx`.
    pub fn index_key(&self) -> &IndexKey {
        &self.index
    }

    /// `K_data`, the key-encryption key of the records' symmetric slots.
    pub fn data_key_encryption_key(&self) -> &KeyEncryptionKey {
        &self.data
    }

    /// The public id of the symmetric slot of the record with client id `record_id`.
    pub fn key_id(&self, record_id: &RecordId) -> KeyId {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.data.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(labels::KEY_ID);
        mac.update(&record_id.0);
        let tag = mac.finalize().into_bytes();
        let mut id = [0u8; 16];
        id.copy_from_slice(&tag[..16]);
        KeyId(id)
    }

    /// The symmetric slot of a record: pass it to
    /// [`Recipients::with_symmetric`](crate::Recipients::with_symmetric).
    pub fn record_slot(&self, record_id: &RecordId) -> (KeyId, KeyEncryptionKey) {
        (self.key_id(record_id), self.data.clone())
    }

    fn to_bytes(&self) -> Zeroizing<[u8; 2 * KEY_LEN]> {
        let mut out = Zeroizing::new([0u8; 2 * KEY_LEN]);
        out[..KEY_LEN].copy_from_slice(self.index.as_bytes());
        out[KEY_LEN..].copy_from_slice(self.data.as_bytes());
        out
    }
}

impl fmt::Debug for CategoryKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CategoryKeys([redacted])")
    }
}

/// What a grant covers, as the consent registry's `Scope { kind, value }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GrantScope {
    /// Every record (kind 0, value zero).
    All,
    /// One category, by its opaque on-chain id (kind 1).
    Category([u8; 32]),
    /// One record by its number in the patient's index (kind 2, value `uint256(id)`).
    Record(u64),
}

impl GrantScope {
    /// The scope kind byte: 0 All, 1 Category, 2 Record.
    pub fn kind(&self) -> u8 {
        match self {
            Self::All => 0,
            Self::Category(_) => 1,
            Self::Record(_) => 2,
        }
    }

    /// The scope's `bytes32 value`.
    pub fn value(&self) -> [u8; 32] {
        match self {
            Self::All => [0u8; 32],
            Self::Category(name) => *name,
            Self::Record(id) => {
                let mut value = [0u8; 32];
                value[24..].copy_from_slice(&id.to_be_bytes());
                value
            }
        }
    }

    /// `keccak256(abi.encode(uint8 kind, bytes32 value))`, the consent registry's scope id.
    pub fn scope_id(&self) -> [u8; 32] {
        let mut encoded = [0u8; 64];
        encoded[31] = self.kind();
        encoded[32..].copy_from_slice(&self.value());
        Keccak256::digest(encoded).into()
    }
}

/// Who a wrapped grant-key item is for: part of its ECIES associated data, with the scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrantParties {
    /// The patient giving the grant.
    pub patient: [u8; 20],
    /// The grantee the keys are wrapped to.
    pub grantee: [u8; 20],
    /// The patient's key epoch the grant is made in (bound for Record scopes too, whose data
    /// key does not depend on it).
    pub epoch: u64,
}

impl GrantParties {
    /// The associated data of an item for `scope`: `patient ‖ grantee ‖ be64(epoch) ‖ scopeId`.
    pub fn aad(&self, scope: &GrantScope) -> [u8; 80] {
        let mut aad = [0u8; 80];
        aad[..20].copy_from_slice(&self.patient);
        aad[20..40].copy_from_slice(&self.grantee);
        aad[40..48].copy_from_slice(&self.epoch.to_be_bytes());
        aad[48..].copy_from_slice(&scope.scope_id());
        aad
    }
}

/// The key material a grant hands to its grantee, with the scope it is for.
///
/// Every key zeroizes on drop; `Debug` shows the scope only.
#[derive(Clone)]
pub enum GrantKeys {
    /// All scope: the epoch key (the grantee derives every category's keys) and the category
    /// naming key (it computes every category's id).
    All {
        /// `K_e` of the grant's epoch.
        epoch: EpochKey,
        /// `K_cat`.
        naming: CategoryNamingKey,
    },
    /// Category scope: that category's index and data keys, and its name.
    Category {
        /// The category's opaque on-chain id (the scope's value).
        category: [u8; 32],
        /// Its name, left-aligned in 32 bytes.
        name: [u8; 32],
        /// Its keys in the grant's epoch.
        keys: CategoryKeys,
    },
    /// Record scope: the record's data key.
    Record {
        /// The record's number in the patient's index.
        record: u64,
        /// Its data key.
        key: DataKey,
    },
}

impl GrantKeys {
    /// The scope these keys are for.
    pub fn scope(&self) -> GrantScope {
        match self {
            Self::All { .. } => GrantScope::All,
            Self::Category { category, .. } => GrantScope::Category(*category),
            Self::Record { record, .. } => GrantScope::Record(*record),
        }
    }

    pub(crate) fn plaintext(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(match self {
            Self::All { epoch, naming } => [&epoch.0[..], &naming.0[..]].concat(),
            Self::Category { keys, name, .. } => [&keys.to_bytes()[..], &name[..]].concat(),
            Self::Record { key, .. } => key.as_bytes().to_vec(),
        })
    }
}

impl fmt::Debug for GrantKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GrantKeys({:?}, [redacted])", self.scope())
    }
}

/// The length of one wrapped grant-key item of scope kind `kind`, or `None` for an unknown kind.
pub fn grant_item_len(kind: u8) -> Option<usize> {
    let plaintext = match kind {
        0 => 2 * KEY_LEN,
        1 => 3 * KEY_LEN,
        2 => KEY_LEN,
        _ => return None,
    };
    Some(2 + ecies::OVERHEAD + plaintext)
}

/// Wraps `keys` as one item to the grantee's public key `grantee_key`, bound to `parties`
/// and to the keys' scope.
///
/// `grantee_key` must belong to `parties.grantee` ([`Error::AddressMismatch`] otherwise):
/// check a key read from chain with [`public_key_for_address`](crate::public_key_for_address)
/// first, this is the last line of defence.
pub fn wrap_grant_keys(
    keys: &GrantKeys,
    grantee_key: &PublicKey,
    parties: &GrantParties,
) -> Result<Vec<u8>> {
    let ephemeral = SecretKey::random(&mut rand_core::OsRng);
    wrap_grant_keys_with_ephemeral(keys, grantee_key, parties, &ephemeral)
}

/// [`wrap_grant_keys`] with a caller-chosen ephemeral key, for reproducible test vectors only.
#[doc(hidden)]
pub fn wrap_grant_keys_with_ephemeral(
    keys: &GrantKeys,
    grantee_key: &PublicKey,
    parties: &GrantParties,
    ephemeral: &SecretKey,
) -> Result<Vec<u8>> {
    if crate::eth_address(grantee_key) != parties.grantee {
        return Err(Error::AddressMismatch);
    }
    let scope = keys.scope();
    let aad = parties.aad(&scope);
    let wrapped = ecies::wrap_with_ephemeral(
        ephemeral,
        grantee_key,
        labels::GRANT_KEYS_PURPOSE,
        &aad,
        &keys.plaintext(),
    )?;
    let mut item = Vec::with_capacity(2 + wrapped.len());
    item.extend_from_slice(&[GRANT_KEYS_VERSION, scope.kind()]);
    item.extend_from_slice(&wrapped);
    Ok(item)
}

/// Unwraps one item for `scope` with the grantee's secret key.
///
/// Any malformed item (unknown version, a kind other than `scope`'s, a wrong length) and any
/// authentication failure (wrong key; another patient, grantee, epoch or scope; modified
/// bytes) is [`Error::UnwrapFailed`]; a bad ephemeral point is [`Error::InvalidPublicKey`].
/// Callers that want to report a newer format look at the version byte first.
pub fn unwrap_grant_keys(
    item: &[u8],
    grantee: &SecretKey,
    parties: &GrantParties,
    scope: GrantScope,
) -> Result<GrantKeys> {
    let kind = scope.kind();
    let well_formed = item.len() >= 2
        && item[0] == GRANT_KEYS_VERSION
        && item[1] == kind
        && grant_item_len(kind) == Some(item.len());
    if !well_formed {
        return Err(Error::UnwrapFailed);
    }
    let plain =
        ecies::unwrap(grantee, labels::GRANT_KEYS_PURPOSE, &parties.aad(&scope), &item[2..])?;
    GrantKeys::from_plaintext(scope, &plain)
}

impl GrantKeys {
    /// The keys of `scope` from their plaintext (the layout of an item's, see the module
    /// docs); [`Error::UnwrapFailed`] for a wrong length.
    pub(crate) fn from_plaintext(scope: GrantScope, plain: &[u8]) -> Result<GrantKeys> {
        let expected = grant_item_len(scope.kind()).map(|len| len - 2 - ecies::OVERHEAD);
        if expected != Some(plain.len()) {
            return Err(Error::UnwrapFailed);
        }
        Ok(grant_keys_from_plaintext(scope, plain))
    }
}

fn grant_keys_from_plaintext(scope: GrantScope, plain: &[u8]) -> GrantKeys {
    let key = |bytes: &[u8]| {
        let mut key = [0u8; KEY_LEN];
        key.copy_from_slice(bytes);
        key
    };
    match scope {
        GrantScope::All => GrantKeys::All {
            epoch: EpochKey(key(&plain[..KEY_LEN])),
            naming: CategoryNamingKey(key(&plain[KEY_LEN..])),
        },
        GrantScope::Category(category) => GrantKeys::Category {
            category,
            name: key(&plain[2 * KEY_LEN..]),
            keys: CategoryKeys {
                index: IndexKey(key(&plain[..KEY_LEN])),
                data: KeyEncryptionKey::from_bytes(key(&plain[KEY_LEN..2 * KEY_LEN])),
            },
        },
        GrantScope::Record(record) => {
            GrantKeys::Record { record, key: DataKey::from_bytes(key(plain)) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; 32].into()).unwrap()
    }

    fn lab() -> [u8; 32] {
        let mut c = [0u8; 32];
        c[..3].copy_from_slice(b"lab");
        c
    }

    fn parties(grantee: &SecretKey) -> GrantParties {
        GrantParties {
            patient: [1; 20],
            grantee: crate::eth_address(&grantee.public_key()),
            epoch: 3,
        }
    }

    fn keys_bytes(keys: &GrantKeys) -> Vec<u8> {
        keys.plaintext().to_vec()
    }

    #[test]
    fn every_level_is_separated() {
        let master = MasterSecret::from_signature(&[7; 65], &[1; 20]);
        let other = MasterSecret::from_signature(&[7; 65], &[2; 20]);
        assert_ne!(master.as_bytes(), other.as_bytes());
        assert_ne!(master.epoch_key(0).as_bytes(), master.epoch_key(1).as_bytes());
        let keys = master.epoch_key(0).category_keys(&lab());
        assert_ne!(keys.index_key().as_bytes(), keys.data_key_encryption_key().as_bytes());
        let other_category = master.epoch_key(0).category_keys(&[0x61; 32]);
        assert_ne!(keys.index_key().as_bytes(), other_category.index_key().as_bytes());
        let other_epoch = master.epoch_key(1).category_keys(&lab());
        assert_ne!(keys.index_key().as_bytes(), other_epoch.index_key().as_bytes());
        assert_ne!(keys.key_id(&RecordId([1; 16])), keys.key_id(&RecordId([2; 16])));
    }

    #[test]
    fn category_ids_are_opaque_per_patient_and_leave_half_the_word_zero() {
        let naming = MasterSecret::from_bytes([5; 32]).category_naming_key();
        let other = MasterSecret::from_bytes([6; 32]).category_naming_key();
        let id = naming.category_id(&lab());
        assert_eq!(id, naming.category_id(&lab()), "deterministic");
        assert_ne!(id, other.category_id(&lab()), "per patient");
        assert_ne!(id, naming.category_id(&[0x61; 32]), "per name");
        assert!(id[CATEGORY_ID_LEN..].iter().all(|&b| b == 0));
        assert!(id[..CATEGORY_ID_LEN].iter().any(|&b| b != 0));
        assert!(!id.windows(3).any(|w| w == b"lab"), "the name does not show");
        let epoch_key = MasterSecret::from_bytes([5; 32]).epoch_key(0);
        assert_ne!(naming.as_bytes(), epoch_key.as_bytes(), "naming key is not an epoch key");
        assert_ne!(naming.as_bytes(), MasterSecret::from_bytes([5; 32]).as_bytes());
    }

    #[test]
    fn debug_is_redacted() {
        let master = MasterSecret::from_bytes([0xab; 32]);
        let keys = master.epoch_key(0).category_keys(&lab());
        let grant = GrantKeys::Category { category: lab(), name: lab(), keys: keys.clone() };
        let printed = format!("{master:?} {:?} {keys:?} {grant:?}", master.epoch_key(0));
        assert!(printed.contains("[redacted]"));
        for secret in [master.as_bytes(), keys.index_key().as_bytes()] {
            assert!(!printed.contains(&format!("{:02x}{:02x}", secret[0], secret[1])));
            assert!(!printed.contains(&format!("{}, {}", secret[0], secret[1])));
        }
    }

    #[test]
    fn scope_ids_match_the_consent_registry() {
        // ConsentRegistry._ALL_SCOPE_ID.
        let all = "ad3228b676f7d3cd4284a5443f17f1962b36e491b30a40b2405849e597ba5fb5";
        let id = GrantScope::All.scope_id();
        assert_eq!(id.iter().map(|b| format!("{b:02x}")).collect::<String>(), all);
        assert_eq!(GrantScope::Record(5).value()[31], 5);
        assert_ne!(GrantScope::Record(1).scope_id(), GrantScope::Category([0; 32]).scope_id());
    }

    #[test]
    fn grant_items_round_trip_for_every_kind() {
        let grantee = secret(9);
        let epoch_key = MasterSecret::from_bytes([5; 32]).epoch_key(3);
        let naming = MasterSecret::from_bytes([5; 32]).category_naming_key();
        let cases = [
            GrantKeys::All { epoch: epoch_key.clone(), naming: naming.clone() },
            GrantKeys::Category {
                category: naming.category_id(&lab()),
                name: lab(),
                keys: epoch_key.category_keys(&naming.category_id(&lab())),
            },
            GrantKeys::Record { record: 4, key: DataKey::from_bytes([6; 32]) },
        ];
        for keys in cases {
            let scope = keys.scope();
            let item = wrap_grant_keys(&keys, &grantee.public_key(), &parties(&grantee)).unwrap();
            assert_eq!(Some(item.len()), grant_item_len(scope.kind()));
            assert_eq!(&item[..2], &[2, scope.kind()]);
            let unwrapped = unwrap_grant_keys(&item, &grantee, &parties(&grantee), scope).unwrap();
            assert_eq!(unwrapped.scope(), scope);
            assert_eq!(keys_bytes(&unwrapped), keys_bytes(&keys));
        }
    }

    #[test]
    fn grant_items_are_bound_to_patient_grantee_epoch_and_scope() {
        let grantee = secret(9);
        let category_keys = MasterSecret::from_bytes([5; 32]).epoch_key(3).category_keys(&lab());
        let keys = GrantKeys::Category { category: lab(), name: lab(), keys: category_keys };
        let p = parties(&grantee);
        let scope = GrantScope::Category(lab());
        let item = wrap_grant_keys(&keys, &grantee.public_key(), &p).unwrap();
        let fails = |parties: GrantParties, scope: GrantScope, item: &[u8], key: &SecretKey| {
            matches!(unwrap_grant_keys(item, key, &parties, scope), Err(Error::UnwrapFailed))
        };
        assert!(fails(GrantParties { patient: [9; 20], ..p }, scope, &item, &grantee));
        assert!(fails(GrantParties { grantee: [9; 20], ..p }, scope, &item, &grantee));
        assert!(fails(GrantParties { epoch: 4, ..p }, scope, &item, &grantee));
        assert!(fails(p, GrantScope::Category([0x61; 32]), &item, &grantee));
        assert!(fails(p, GrantScope::All, &item, &grantee));
        assert!(fails(p, scope, &item, &secret(8)));
        let mut other_version = item.clone();
        other_version[0] = 1;
        assert!(fails(p, scope, &other_version, &grantee));
        assert!(fails(p, scope, &item[..item.len() - 1], &grantee));
        let mut flipped = item.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert!(fails(p, scope, &flipped, &grantee));
    }

    #[test]
    fn a_category_grantee_opens_the_records_symmetric_slot() {
        let patient = secret(1);
        let keys = MasterSecret::from_bytes([5; 32]).epoch_key(0).category_keys(&lab());
        let context = crate::RecordContext {
            chain_id: 31337,
            index_contract: [0x5f; 20],
            patient: crate::eth_address(&patient.public_key()),
            record_id: RecordId([7; 16]),
        };
        let (key_id, kek) = keys.record_slot(&context.record_id);
        let recipients = crate::Recipients::new(patient.public_key()).with_symmetric(key_id, kek);
        let envelope =
            crate::seal(b"record", &DataKey::from_bytes([9; 32]), &context, &recipients).unwrap();
        // The grantee re-derives the id and the key from what its grant carried.
        let grantee_keys = CategoryKeys::from_parts(
            IndexKey::from_bytes(*keys.index_key().as_bytes()),
            KeyEncryptionKey::from_bytes(*keys.data_key_encryption_key().as_bytes()),
        );
        let key = crate::DecryptionKey::Symmetric {
            key_id: grantee_keys.key_id(&context.record_id),
            kek: grantee_keys.data_key_encryption_key(),
        };
        assert_eq!(crate::open(&envelope, key, &context).unwrap(), b"record");
    }

    #[test]
    fn keys_are_only_wrapped_to_the_named_grantee() {
        let master = MasterSecret::from_bytes([5; 32]);
        let keys =
            GrantKeys::All { epoch: master.epoch_key(0), naming: master.category_naming_key() };
        let result = wrap_grant_keys(&keys, &secret(8).public_key(), &parties(&secret(9)));
        assert!(matches!(result, Err(Error::AddressMismatch)));
    }

    /// `tests/vectors/index/keys.json`, written by ehr-index's vector generator (which also
    /// derives the master-secret signature); checked here byte for byte from its inputs.
    #[test]
    fn hierarchy_vectors() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/index/keys.json");
        let v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let bytes = |value: &serde_json::Value| hex::decode(&value.as_str().unwrap()[2..]).unwrap();
        let array = |name: &str| v[name].as_array().unwrap().iter().map(bytes).collect::<Vec<_>>();
        let patient: [u8; 20] = bytes(&v["patient"]).try_into().unwrap();
        let signature: [u8; 65] = bytes(&v["signature"]).try_into().unwrap();
        let master = MasterSecret::from_signature(&signature, &patient);
        assert_eq!(master.as_bytes().to_vec(), bytes(&v["masterSecret"]));
        let categories: Vec<[u8; 32]> =
            array("categories").into_iter().map(|c| c.try_into().unwrap()).collect();
        let naming = master.category_naming_key();
        assert_eq!(naming.as_bytes().to_vec(), bytes(&v["categoryNamingKey"]));
        for (name, id) in array("categoryNames").into_iter().zip(&categories) {
            assert_eq!(&naming.category_id(&name.try_into().unwrap()), id);
        }
        let epochs = v["epochs"].as_array().unwrap();
        for (i, epoch) in epochs.iter().enumerate() {
            let epoch_key = master.epoch_key(epoch.as_u64().unwrap());
            assert_eq!(epoch_key.as_bytes().to_vec(), array("epochKeys")[i]);
            for (j, category) in categories.iter().enumerate() {
                let keys = epoch_key.category_keys(category);
                let at = i * categories.len() + j;
                assert_eq!(keys.index_key().as_bytes().to_vec(), array("indexKeys")[at]);
                assert_eq!(
                    keys.data_key_encryption_key().as_bytes().to_vec(),
                    array("dataKeys")[at]
                );
            }
        }
        let first = master.epoch_key(epochs[0].as_u64().unwrap()).category_keys(&categories[0]);
        for (record, key_id) in array("recordIds").into_iter().zip(array("keyIds")) {
            assert_eq!(first.key_id(&RecordId(record.try_into().unwrap())).0.to_vec(), key_id);
        }

        let grantee_key: [u8; 32] = bytes(&v["granteePrivateKey"]).try_into().unwrap();
        let grantee = SecretKey::from_bytes(&grantee_key.into()).unwrap();
        let parties = GrantParties {
            patient,
            grantee: bytes(&v["grantee"]).try_into().unwrap(),
            epoch: v["grantEpoch"].as_u64().unwrap(),
        };
        let kinds = v["grantKinds"].as_array().unwrap();
        for (i, kind) in kinds.iter().enumerate() {
            let value: [u8; 32] = array("grantScopeValues")[i].clone().try_into().unwrap();
            let scope = match kind.as_u64().unwrap() {
                0 => GrantScope::All,
                1 => GrantScope::Category(value),
                _ => GrantScope::Record(u64::from_be_bytes(value[24..].try_into().unwrap())),
            };
            assert_eq!(scope.value(), value);
            assert_eq!(scope.scope_id().to_vec(), array("grantScopeIds")[i]);
            assert_eq!(parties.aad(&scope).to_vec(), array("grantAads")[i]);
            let item = &array("grantItems")[i];
            let keys = unwrap_grant_keys(item, &grantee, &parties, scope).unwrap();
            assert_eq!(keys.plaintext().to_vec(), array("grantPlaintexts")[i]);
            let ephemeral: [u8; 32] = array("grantEphemeralKeys")[i].clone().try_into().unwrap();
            let ephemeral = SecretKey::from_bytes(&ephemeral.into()).unwrap();
            let again =
                wrap_grant_keys_with_ephemeral(&keys, &grantee.public_key(), &parties, &ephemeral)
                    .unwrap();
            assert_eq!(&again, item);
        }
    }
}
