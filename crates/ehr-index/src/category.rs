//! Record categories as the contracts store them: an opaque per-patient id, never the name.
//!
//! The id of the category called `name` for one patient is
//! `HMAC-SHA256(K_cat, "ehrkit/v2/category-id" ‖ name[32])[..16] ‖ 0^16`
//! ([`ehr_crypto::CategoryNamingKey::category_id`]); only holders of the patient's naming key
//! (the patient, All grantees) compute it, Category grantees learn the (name, id) pair of
//! their category from the grant ([`crate::SearchKeys`] maps both ways).

use std::fmt;

use alloy::primitives::B256;

use crate::{Error, Result};

/// A record category as the contracts hold it: its opaque 32-byte id (16 bytes of HMAC, then
/// zeros). Names are client-side only: see [`category_name_bytes`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Category(B256);

impl Category {
    /// A category id as read from chain, taken as is (the contract only checks it is non-zero).
    pub fn from_bytes32(value: B256) -> Self {
        Self(value)
    }

    /// The `bytes32` the contracts use.
    pub fn as_bytes32(&self) -> &B256 {
        &self.0
    }
}

/// `name` (1 to 31 printable ASCII bytes) left-aligned in 32 bytes: the input of its id and
/// the form grants carry it in.
pub fn category_name_bytes(name: &str) -> Result<[u8; 32]> {
    ehr_contracts::category_bytes32(name)
        .map(|b| b.0)
        .map_err(|_| Error::InvalidCategory(name.to_owned()))
}

/// The name left-aligned in `bytes`, if it is a well-formed one.
pub(crate) fn name_from_bytes(bytes: &[u8; 32]) -> Option<String> {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(32);
    let name = std::str::from_utf8(&bytes[..end]).ok()?;
    let valid = bytes[end..].iter().all(|b| *b == 0) && category_name_bytes(name).is_ok();
    valid.then(|| name.to_owned())
}

impl fmt::Display for Category {
    /// `#` and the id's hex; the 16 zero bytes of a well-formed id are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let half = ehr_crypto::patient_keys::CATEGORY_ID_LEN;
        let shown =
            if self.0[half..].iter().all(|b| *b == 0) { &self.0[..half] } else { &self.0[..] };
        write!(f, "#{}", alloy::hex::encode(shown))
    }
}

impl fmt::Debug for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Category({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated_and_ids_shown_in_hex() {
        assert_eq!(&category_name_bytes("lab").unwrap()[..4], b"lab\0");
        for bad in ["", "a b", "é", &"x".repeat(32)] {
            assert!(matches!(category_name_bytes(bad), Err(Error::InvalidCategory(_))), "{bad:?}");
        }
        assert!(category_name_bytes(&"x".repeat(31)).is_ok());
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&[0xab; 16]);
        let category = Category::from_bytes32(B256::from(id));
        assert_eq!(category.to_string(), format!("#{}", "ab".repeat(16)));
        assert_eq!(name_from_bytes(&category_name_bytes("lab").unwrap()).as_deref(), Some("lab"));
        assert_eq!(name_from_bytes(&id), None);
    }
}
