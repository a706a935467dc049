//! Grant key material: building a grant's `wrappedKeys` (patient side) and unwrapping it
//! (grantee side).
//!
//! The byte format of one item is `ehr_crypto::patient_keys`'s: `version 0x02 ‖ kind ‖
//! ECIES(purpose "ehrkit/v1/grant-keys", aad = patient ‖ grantee ‖ be64(epoch) ‖ scopeId,
//! keys)`; a Category scope's value is the category's opaque id, and its item carries the
//! name. An `AccessGranted` event carries exactly one item, for its own scope. An
//! `EpochKeysShared` event (the patient handing a still-trusted grantee the keys of a new
//! epoch) carries one item per All or Category scope the grantee holds, concatenated: an
//! item's length follows from its kind byte (115 bytes for All, 147 for Category), and as the
//! event does not say which scope an item is for, the grantee tries the scopes of its own
//! grants — the aad authenticates the right one. Record grants need no new item: a record's
//! data key does not depend on the epoch.

use alloy::primitives::{Address, Bytes};
use ehr_crypto::patient_keys::{
    GRANT_KEYS_VERSION, grant_item_len, unwrap_grant_keys, wrap_grant_keys,
};
use ehr_crypto::{CategoryNamingKey, GrantKeys, GrantParties, GrantScope, MasterSecret, SecretKey};

use crate::category::category_name_bytes;
use crate::{Error, Result};

/// What a grant covers, as the patient names it: a category by name. The chain sees the
/// category's opaque id instead ([`NamedScope::resolve`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NamedScope {
    /// Every record.
    All,
    /// One category, by name.
    Category(String),
    /// One record, by its number in the patient's index.
    Record(u64),
}

impl NamedScope {
    /// The scope as the contracts hold it: a category becomes its id under the patient's
    /// naming key.
    pub fn resolve(&self, naming: &CategoryNamingKey) -> Result<GrantScope> {
        Ok(match self {
            Self::All => GrantScope::All,
            Self::Category(name) => {
                GrantScope::Category(naming.category_id(&category_name_bytes(name)?))
            }
            Self::Record(id) => GrantScope::Record(*id),
        })
    }
}

impl std::fmt::Display for NamedScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Category(name) => write!(f, "category:{name}"),
            Self::Record(id) => write!(f, "record:{id}"),
        }
    }
}

/// The consent registry's scope as the key hierarchy names it.
pub fn grant_scope(scope: &ehr_contracts::Scope) -> GrantScope {
    match scope {
        ehr_contracts::Scope::All => GrantScope::All,
        ehr_contracts::Scope::Category(value) => GrantScope::Category(value.0),
        ehr_contracts::Scope::Record(id) => GrantScope::Record(*id),
    }
}

/// The keys an All or Category grant of `epoch` hands over, derived from the patient's
/// master secret of that epoch and its category naming key (which does not change with key
/// generations: see `SearchKeys::patient_generations`): All carries the epoch key and the
/// naming key, Category its keys, its id and its name. A Record grant hands over the record's data key, which only the envelope holds:
/// build `GrantKeys::Record` from it ([`Error::RecordScopeNeedsDataKey`] here).
pub fn grant_keys(
    master: &MasterSecret,
    naming: &CategoryNamingKey,
    epoch: u64,
    scope: &NamedScope,
) -> Result<GrantKeys> {
    let epoch_key = master.epoch_key(epoch);
    match scope {
        NamedScope::All => Ok(GrantKeys::All { epoch: epoch_key, naming: naming.clone() }),
        NamedScope::Category(name) => {
            let name = category_name_bytes(name)?;
            let category = naming.category_id(&name);
            Ok(GrantKeys::Category { category, name, keys: epoch_key.category_keys(&category) })
        }
        NamedScope::Record(record) => Err(Error::RecordScopeNeedsDataKey { record: *record }),
    }
}

/// The grantee's public key as the role registry stores it (64 bytes `X ‖ Y`), checked
/// against its address.
fn grantee_key(raw_public_key: &[u8], grantee: Address) -> Result<ehr_crypto::PublicKey> {
    Ok(ehr_crypto::public_key_for_address(raw_public_key, &grantee.0.0)?)
}

/// `wrappedKeys` for a grant (or an approved request): `keys` wrapped to the grantee, whose
/// registered 64-byte public key is checked against `grantee` first.
pub fn wrap_grant(
    keys: &GrantKeys,
    patient: Address,
    grantee: Address,
    grantee_public_key: &[u8],
    epoch: u64,
) -> Result<Bytes> {
    let public_key = grantee_key(grantee_public_key, grantee)?;
    let parties = GrantParties { patient: patient.0.0, grantee: grantee.0.0, epoch };
    Ok(wrap_grant_keys(keys, &public_key, &parties)?.into())
}

/// `wrappedKeys` for `shareEpochKeys`: the keys of `epoch` for each of the grantee's All and
/// Category `scopes` (Record scopes are skipped: their keys do not change with the epoch).
pub fn wrap_epoch_share(
    master: &MasterSecret,
    naming: &CategoryNamingKey,
    patient: Address,
    grantee: Address,
    grantee_public_key: &[u8],
    epoch: u64,
    scopes: &[NamedScope],
) -> Result<Bytes> {
    let public_key = grantee_key(grantee_public_key, grantee)?;
    let parties = GrantParties { patient: patient.0.0, grantee: grantee.0.0, epoch };
    let mut out = Vec::new();
    for scope in scopes.iter().filter(|s| !matches!(s, NamedScope::Record(_))) {
        let keys = grant_keys(master, naming, epoch, scope)?;
        out.extend(wrap_grant_keys(&keys, &public_key, &parties)?);
    }
    if out.is_empty() {
        return Err(Error::NothingToShare);
    }
    Ok(out.into())
}

/// Splits `wrappedKeys` into items, checking versions and lengths.
pub fn split_items(wrapped: &[u8]) -> Result<Vec<&[u8]>> {
    let mut items = Vec::new();
    let mut rest = wrapped;
    while !rest.is_empty() {
        let (&version, &kind) = match rest {
            [version, kind, ..] => (version, kind),
            _ => return Err(Error::MalformedGrantKeys { len: wrapped.len() }),
        };
        if version != GRANT_KEYS_VERSION {
            return Err(Error::UnsupportedGrantKeysVersion(version));
        }
        let len = grant_item_len(kind).ok_or(Error::UnknownGrantKind(kind))?;
        if rest.len() < len {
            return Err(Error::MalformedGrantKeys { len: wrapped.len() });
        }
        let (item, tail) = rest.split_at(len);
        items.push(item);
        rest = tail;
    }
    if items.is_empty() {
        return Err(Error::MalformedGrantKeys { len: 0 });
    }
    Ok(items)
}

/// Unwraps an `AccessGranted` event's `wrappedKeys` (one item for the event's `scope`) with the
/// grantee's secret key.
pub fn unwrap_grant(
    wrapped: &[u8],
    grantee: &SecretKey,
    patient: Address,
    epoch: u64,
    scope: GrantScope,
) -> Result<GrantKeys> {
    let items = split_items(wrapped)?;
    let [item] = items.as_slice() else {
        return Err(Error::MalformedGrantKeys { len: wrapped.len() });
    };
    if item[1] != scope.kind() {
        return Err(Error::GrantKindMismatch { expected: scope.kind(), found: item[1] });
    }
    Ok(unwrap_grant_keys(item, grantee, &parties(grantee, patient, epoch), scope)?)
}

/// Unwraps an `EpochKeysShared` event's `wrappedKeys`: each item is tried against the scopes
/// of the grantee's grants (`known_scopes`). Fails if any item opens under none of them.
pub fn unwrap_epoch_share(
    wrapped: &[u8],
    grantee: &SecretKey,
    patient: Address,
    epoch: u64,
    known_scopes: &[GrantScope],
) -> Result<Vec<GrantKeys>> {
    let parties = parties(grantee, patient, epoch);
    split_items(wrapped)?
        .into_iter()
        .map(|item| {
            known_scopes
                .iter()
                .filter(|scope| scope.kind() == item[1])
                .find_map(|scope| unwrap_grant_keys(item, grantee, &parties, *scope).ok())
                .ok_or(Error::NoScopeOpensSharedKeys { epoch })
        })
        .collect()
}

fn parties(grantee: &SecretKey, patient: Address, epoch: u64) -> GrantParties {
    GrantParties {
        patient: patient.0.0,
        grantee: ehr_crypto::eth_address(&grantee.public_key()),
        epoch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ehr_crypto::{DataKey, raw_public_key};

    fn secret(byte: u8) -> SecretKey {
        SecretKey::from_bytes(&[byte; 32].into()).unwrap()
    }

    fn address(key: &SecretKey) -> Address {
        Address::from(ehr_crypto::eth_address(&key.public_key()))
    }

    fn bytes(keys: &GrantKeys) -> Vec<u8> {
        match keys {
            GrantKeys::All { epoch, naming } => [&epoch.as_bytes()[..], naming.as_bytes()].concat(),
            GrantKeys::Category { keys, name, .. } => {
                [&keys.index_key().as_bytes()[..], keys.data_key_encryption_key().as_bytes(), name]
                    .concat()
            }
            GrantKeys::Record { key, .. } => key.as_bytes().to_vec(),
        }
    }

    #[test]
    fn grants_round_trip_for_each_scope() {
        let master = MasterSecret::from_bytes([3; 32]);
        let (patient, doctor) = (secret(1), secret(2));
        let raw = raw_public_key(&doctor.public_key());
        let lab = NamedScope::Category("lab".into());
        let record = GrantKeys::Record { record: 5, key: DataKey::from_bytes([8; 32]) };
        for keys in [
            grant_keys(&master, &master.category_naming_key(), 2, &NamedScope::All).unwrap(),
            grant_keys(&master, &master.category_naming_key(), 2, &lab).unwrap(),
            record,
        ] {
            let wrapped = wrap_grant(&keys, address(&patient), address(&doctor), &raw, 2).unwrap();
            let back = unwrap_grant(&wrapped, &doctor, address(&patient), 2, keys.scope()).unwrap();
            assert_eq!(bytes(&back), bytes(&keys));
            // Another epoch, patient or grantee key does not open it.
            assert!(unwrap_grant(&wrapped, &doctor, address(&patient), 3, keys.scope()).is_err());
            assert!(unwrap_grant(&wrapped, &doctor, address(&doctor), 2, keys.scope()).is_err());
            assert!(
                unwrap_grant(&wrapped, &secret(4), address(&patient), 2, keys.scope()).is_err()
            );
        }
        assert!(matches!(
            grant_keys(&master, &master.category_naming_key(), 0, &NamedScope::Record(1)),
            Err(Error::RecordScopeNeedsDataKey { record: 1 })
        ));
        assert!(matches!(
            grant_keys(
                &master,
                &master.category_naming_key(),
                0,
                &NamedScope::Category("a b".into())
            ),
            Err(Error::InvalidCategory(_))
        ));
    }

    #[test]
    fn a_key_that_is_not_the_grantees_is_refused() {
        let keys = {
            let m = MasterSecret::from_bytes([3; 32]);
            grant_keys(&m, &m.category_naming_key(), 0, &NamedScope::All)
        }
        .unwrap();
        let raw = raw_public_key(&secret(9).public_key());
        let result = wrap_grant(&keys, Address::ZERO, address(&secret(2)), &raw, 0);
        assert!(matches!(result, Err(Error::Crypto(ehr_crypto::Error::AddressMismatch))));
    }

    #[test]
    fn epoch_shares_carry_one_item_per_scope_and_unwrap_by_trial() {
        let master = MasterSecret::from_bytes([3; 32]);
        let (patient, doctor) = (secret(1), secret(2));
        let raw = raw_public_key(&doctor.public_key());
        let named_lab = NamedScope::Category("lab".into());
        let named_imaging = NamedScope::Category("imaging".into());
        let lab = named_lab.resolve(&master.category_naming_key()).unwrap();
        let imaging = named_imaging.resolve(&master.category_naming_key()).unwrap();
        let scopes = [named_lab.clone(), NamedScope::Record(4), named_imaging];
        let wrapped = wrap_epoch_share(
            &master,
            &master.category_naming_key(),
            address(&patient),
            address(&doctor),
            &raw,
            1,
            &scopes,
        )
        .unwrap();
        assert_eq!(wrapped.len(), 2 * 147);
        let known = [GrantScope::All, imaging, GrantScope::Record(4), lab];
        let keys = unwrap_epoch_share(&wrapped, &doctor, address(&patient), 1, &known).unwrap();
        let scopes: Vec<GrantScope> = keys.iter().map(GrantKeys::scope).collect();
        assert_eq!(scopes, [lab, imaging]);
        assert_eq!(
            bytes(&keys[0]),
            bytes(&grant_keys(&master, &master.category_naming_key(), 1, &named_lab).unwrap())
        );
        assert!(matches!(
            unwrap_epoch_share(&wrapped, &doctor, address(&patient), 1, &[imaging]),
            Err(Error::NoScopeOpensSharedKeys { epoch: 1 })
        ));
        assert!(matches!(
            wrap_epoch_share(
                &master,
                &master.category_naming_key(),
                address(&patient),
                address(&doctor),
                &raw,
                1,
                &[]
            ),
            Err(Error::NothingToShare)
        ));
    }

    #[test]
    fn malformed_material_gets_specific_errors() {
        let master = MasterSecret::from_bytes([3; 32]);
        let (patient, doctor) = (secret(1), secret(2));
        let raw = raw_public_key(&doctor.public_key());
        let keys = grant_keys(&master, &master.category_naming_key(), 0, &NamedScope::All).unwrap();
        let wrapped =
            wrap_grant(&keys, address(&patient), address(&doctor), &raw, 0).unwrap().to_vec();
        let mut v1 = wrapped.clone();
        v1[0] = 1;
        assert!(matches!(split_items(&v1), Err(Error::UnsupportedGrantKeysVersion(1))));
        let mut kind9 = wrapped.clone();
        kind9[1] = 9;
        assert!(matches!(split_items(&kind9), Err(Error::UnknownGrantKind(9))));
        assert!(matches!(
            split_items(&wrapped[..wrapped.len() - 1]),
            Err(Error::MalformedGrantKeys { .. })
        ));
        assert!(matches!(split_items(&[]), Err(Error::MalformedGrantKeys { len: 0 })));
        let lab = GrantScope::Category([1; 32]);
        assert!(matches!(
            unwrap_grant(&wrapped, &doctor, address(&patient), 0, lab),
            Err(Error::GrantKindMismatch { expected: 1, found: 0 })
        ));
        let twice = [wrapped.clone(), wrapped].concat();
        assert!(matches!(
            unwrap_grant(&twice, &doctor, address(&patient), 0, GrantScope::All),
            Err(Error::MalformedGrantKeys { .. })
        ));
    }
}
