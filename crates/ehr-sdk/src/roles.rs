//! Who is who: the system admin adds organizations, an organization adds its staff, a patient
//! registers, and any account registers the public key that record keys are wrapped to.

use crate::serde_text::display;
use crate::session::{Session, TxInfo};
use crate::{Error, Result};
use alloy::primitives::{Address, Bytes};
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::{OrgKind, Role, tx};
use serde::Serialize;

/// The 64-byte uncompressed public key (`X ‖ Y`) the role registry stores for `signer`.
pub fn public_key(signer: &PrivateKeySigner) -> Bytes {
    let point = signer.credential().verifying_key().to_encoded_point(false);
    Bytes::copy_from_slice(&point.as_bytes()[1..])
}

/// An organization was added or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganizationChange {
    /// The organization's admin account (its identity).
    pub org: Address,
    /// Its kind, when added.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "opt_display")]
    pub kind: Option<OrgKind>,
    /// Its name, when added.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// True when added, false when removed.
    pub active: bool,
    /// The transaction.
    pub tx: TxInfo,
}

fn opt_display<S: serde::Serializer>(kind: &Option<OrgKind>, s: S) -> Result<S::Ok, S::Error> {
    match kind {
        Some(kind) => display(kind, s),
        None => s.serialize_none(),
    }
}

/// A staff member joined or left the signing organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaffChange {
    /// The organization (the signer).
    pub org: Address,
    /// The staff member.
    pub staff: Address,
    /// True when added, false when removed.
    pub active: bool,
    /// The transaction.
    pub tx: TxInfo,
}

/// An account registered as a patient, or registered its public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Registration {
    /// The account.
    pub account: Address,
    /// Its role afterwards.
    #[serde(serialize_with = "display")]
    pub role: Role,
    /// The 64-byte public key now on chain.
    pub public_key: Bytes,
    /// The transaction.
    pub tx: TxInfo,
}

/// Adds an organization administered by `org` (signer: the system admin).
pub async fn add_organization(
    session: &Session,
    org: Address,
    kind: OrgKind,
    name: &str,
) -> Result<OrganizationChange> {
    let roles = session.roles_as_signer()?;
    let call = roles.addOrganization(org, kind.as_u8(), name.to_owned());
    let receipt = tx::send("add the organization", call).await?;
    Ok(OrganizationChange {
        org,
        kind: Some(kind),
        name: Some(name.to_owned()),
        active: true,
        tx: TxInfo::of(&receipt),
    })
}

/// Removes an organization; its staff stop being active (signer: the system admin).
pub async fn remove_organization(session: &Session, org: Address) -> Result<OrganizationChange> {
    let roles = session.roles_as_signer()?;
    let receipt = tx::send("remove the organization", roles.removeOrganization(org)).await?;
    Ok(OrganizationChange { org, kind: None, name: None, active: false, tx: TxInfo::of(&receipt) })
}

/// Adds `staff` to the signing organization.
pub async fn add_staff(session: &Session, staff: Address) -> Result<StaffChange> {
    let org = session.chain().address()?;
    let receipt =
        tx::send("add the staff member", session.roles_as_signer()?.addStaff(staff)).await?;
    Ok(StaffChange { org, staff, active: true, tx: TxInfo::of(&receipt) })
}

/// Removes `staff` from the signing organization.
pub async fn remove_staff(session: &Session, staff: Address) -> Result<StaffChange> {
    let org = session.chain().address()?;
    let contract = session.roles_as_signer()?;
    let call = contract.removeStaff(staff);
    let receipt = tx::send("remove the staff member", call).await?;
    Ok(StaffChange { org, staff, active: false, tx: TxInfo::of(&receipt) })
}

/// Registers the signer as a patient with its public key.
pub async fn register_patient(session: &Session) -> Result<Registration> {
    let signer = session.chain().signer()?;
    let key = public_key(signer);
    let contract = session.roles_as_signer()?;
    let call = contract.registerPatient(key.clone());
    let receipt = tx::send("register the patient", call).await?;
    // Key generation 1 at once, before anyone holds a key of the patient: its key-check value
    // goes on chain, and every later derivation is checked against it.
    let check = crate::keys::key_check_of(session, 1).await?;
    let consent = session.consent_as_signer()?;
    tx::send("set up the patient's keys", consent.setupKeys(check.into())).await?;
    Ok(Registration {
        account: signer.address(),
        role: Role::Patient,
        public_key: key,
        tx: TxInfo::of(&receipt),
    })
}

/// Registers (or replaces) the signer's public key, so patients can wrap record keys to it.
pub async fn register_public_key(session: &Session) -> Result<Registration> {
    let signer = session.chain().signer()?;
    let key = public_key(signer);
    let contract = session.roles_as_signer()?;
    let call = contract.registerPublicKey(key.clone());
    let receipt = tx::send("register the public key", call).await?;
    let role = role_of(session, signer.address()).await?;
    Ok(Registration { account: signer.address(), role, public_key: key, tx: TxInfo::of(&receipt) })
}

/// The role `account` holds.
pub async fn role_of(session: &Session, account: Address) -> Result<Role> {
    let value = tx::call("read the role", session.roles().roleOf(account)).await?;
    Ok(Role::from_u8(value)?)
}

/// The 64-byte public key `account` registered, checked to belong to it, or
/// [`Error::NoPublicKey`].
pub async fn registered_public_key(session: &Session, account: Address) -> Result<Bytes> {
    let key = tx::call("read the public key", session.roles().publicKeyOf(account)).await?;
    if key.is_empty() {
        return Err(Error::NoPublicKey { account });
    }
    ehr_crypto::public_key_for_address(&key, &account.0.0)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_public_key_hashes_to_the_address() {
        let signer = PrivateKeySigner::random();
        let key = public_key(&signer);
        assert_eq!(key.len(), 64);
        assert_eq!(Address::from_raw_public_key(&key), signer.address());
    }
}
