//! The patient's side of consent: granting access with wrapped key material, revoking it, and
//! handing the keys of the new epoch to every grantee that keeps access after a revocation.

use crate::keys::{contract_scope, named_scope, patient_keys, scope_keys, wrap_for_grantee};
use crate::logs::fetch_logs;
use crate::parse::{MAX_DURATION, duration_within};
use crate::serde_text::{display, display_list};
use crate::session::{Session, TxInfo, event_in};
use crate::{Error, Result};
use alloy::primitives::{Address, B256, U256};
use alloy::rpc::types::{Filter, TransactionReceipt};
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::ConsentRegistry::{AccessGranted, AccessRevoked, EpochKeysShared};
use ehr_contracts::bindings::IConsentRegistry::GrantRequest;
use ehr_contracts::{Purpose, Scope, tx};
use ehr_crypto::DataKey;
use ehr_index::grant::{NamedScope, wrap_epoch_share};
use serde::Serialize;
use std::time::Duration;

/// What a patient grants.
#[derive(Debug, Clone)]
pub struct GrantSpec {
    /// Who receives access.
    pub grantee: Address,
    /// What it covers, a category by name (the chain sees its opaque id).
    pub scope: NamedScope,
    /// Why.
    pub purpose: Purpose,
    /// How long from now it lasts (at most 3650 days).
    pub duration: Duration,
    /// For a record scope: the record's data key ([`crate::keys::record_data_key`]).
    pub record_key: Option<DataKey>,
}

/// A scope as reports show it: `category:NAME` when the name is known here, else the
/// category's opaque id (`category:#…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownScope {
    /// The scope as the chain holds it.
    pub scope: Scope,
    /// The category's name, when known.
    pub category: Option<String>,
}

impl std::fmt::Display for ShownScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.scope, &self.category) {
            (Scope::Category(_), Some(name)) => write!(f, "category:{name}"),
            (scope, _) => scope.fmt(f),
        }
    }
}

impl Serialize for ShownScope {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A grant as the chain recorded it (`AccessGranted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantRecord {
    /// The patient.
    pub patient: Address,
    /// The grantee.
    pub grantee: Address,
    /// What it covers (a category by name when the caller named it).
    pub scope: ShownScope,
    /// Why.
    #[serde(serialize_with = "display")]
    pub purpose: Purpose,
    /// Unix time it ends.
    pub expiry: u64,
    /// The patient's key epoch it was made in.
    pub epoch: u64,
    /// Who sent the transaction (the patient, or a relayer).
    pub submitter: Address,
    /// The transaction.
    pub tx: TxInfo,
}

impl GrantRecord {
    /// The `AccessGranted` event in `receipt`.
    pub(crate) fn from_receipt(
        session: &Session,
        receipt: &TransactionReceipt,
        action: &'static str,
    ) -> Result<Self> {
        let event: AccessGranted =
            event_in(receipt, session.deployment().consent_registry, action)?;
        Ok(Self {
            patient: event.patient,
            grantee: event.grantee,
            scope: ShownScope { scope: Scope::from_sol(&event.scope)?, category: None },
            purpose: Purpose::from_u8(event.purpose)?,
            expiry: event.expiry,
            epoch: event.epoch,
            submitter: event.submitter,
            tx: TxInfo::of(receipt),
        })
    }
}

/// Builds the grant the signer (the patient) gives: current epoch, expiry counted from now
/// ([`crate::session::Chain::now`]), and the scope's keys wrapped to the grantee's registered public key.
pub async fn prepare_grant(session: &Session, spec: GrantSpec) -> Result<GrantRequest> {
    let patient = session.chain().address()?;
    duration_within("a grant's duration", spec.duration, Duration::from_secs(1), MAX_DURATION)?;
    session.require_patient(patient).await?;
    let epoch = tx::call("read the key epoch", session.consent().epochOf(patient)).await?;
    let (_, now) = session.chain().now().await?;
    let patient_keys = patient_keys(session).await?;
    let keys = scope_keys(&patient_keys, &spec.scope, epoch, spec.record_key)?;
    let wrapped_keys = wrap_for_grantee(session, &keys, patient, spec.grantee, epoch).await?;
    Ok(GrantRequest {
        patient,
        grantee: spec.grantee,
        scope: contract_scope(keys.scope()).to_sol(),
        purpose: spec.purpose.as_u8(),
        expiry: now + spec.duration.as_secs(),
        epoch,
        wrappedKeys: wrapped_keys,
    })
}

/// Grants access as the signing patient, paying the gas itself.
pub async fn grant(session: &Session, spec: GrantSpec) -> Result<GrantRecord> {
    crate::rotation::maintain(session).await?;
    let category = match &spec.scope {
        NamedScope::Category(name) => Some(name.clone()),
        _ => None,
    };
    let request = prepare_grant(session, spec).await?;
    let receipt = tx::send("grant access", session.consent_as_signer()?.grant(request)).await?;
    let mut record = GrantRecord::from_receipt(session, &receipt, "grant access")?;
    record.scope.category = category;
    Ok(record)
}

/// A grant that is in force now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActiveGrant {
    /// The grantee.
    pub grantee: Address,
    /// What it covers.
    #[serde(serialize_with = "display")]
    pub scope: Scope,
    /// Why.
    #[serde(serialize_with = "display")]
    pub purpose: Purpose,
    /// Unix time it ends.
    pub expiry: u64,
    /// The epoch it was made in.
    pub epoch: u64,
}

/// A grant the registry still stores: in force, or expired but not revoked (the patient can
/// still revoke it, and until the epoch rotates its grantee holds the epoch's keys).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StoredGrant {
    /// The grant.
    #[serde(flatten)]
    pub grant: ActiveGrant,
    /// Whether its expiry has passed.
    pub expired: bool,
    /// Whether the patient lets the grantee read under it without logging each read
    /// (`ehr unlogged-reads`; see [`crate::read_log`]).
    pub unlogged_reads: bool,
}

/// Every unexpired, unrevoked grant `patient` has given ([`stored_grants`] without the
/// expired ones).
pub async fn active_grants(session: &Session, patient: Address) -> Result<Vec<ActiveGrant>> {
    let stored = stored_grants(session, patient).await?;
    Ok(stored.into_iter().filter(|g| !g.expired).map(|g| g.grant).collect())
}

/// Every grant `patient` has given that is still stored, expired ones included, found through
/// its `AccessGranted` events and confirmed with `grantOf` (which forgets revoked and replaced
/// grants).
pub async fn stored_grants(session: &Session, patient: Address) -> Result<Vec<StoredGrant>> {
    let consent = session.consent();
    let filter = Filter::new()
        .address(session.deployment().consent_registry)
        .event_signature(AccessGranted::SIGNATURE_HASH)
        .topic1(patient.into_word());
    let (head, now) = session.chain().now().await?;
    let logs =
        fetch_logs(session.chain(), &filter, session.deployment().deployed_at_block, head).await?;
    let mut seen: Vec<(Address, Scope)> = Vec::new();
    let mut grants = Vec::new();
    for log in &logs {
        let Ok(event) = log.log_decode::<AccessGranted>() else { continue };
        let event = event.inner.data;
        let Ok(scope) = Scope::from_sol(&event.scope) else { continue };
        if seen.contains(&(event.grantee, scope)) {
            continue;
        }
        seen.push((event.grantee, scope));
        let info =
            tx::call("read a grant", consent.grantOf(patient, event.grantee, scope.to_sol()))
                .await?;
        // A stored grant has a non-zero expiry; `grantOf` is all zeros otherwise.
        if info.expiry == 0 {
            continue;
        }
        let unlogged_reads = tx::call(
            "read a grant's read logging",
            consent.unloggedReadsAllowed(patient, event.grantee, scope.to_sol()),
        )
        .await?;
        grants.push(StoredGrant {
            grant: ActiveGrant {
                grantee: event.grantee,
                scope,
                purpose: Purpose::from_u8(info.purpose)?,
                expiry: info.expiry,
                epoch: info.epoch,
            },
            expired: !(info.active && info.expiry > now),
            unlogged_reads,
        });
    }
    Ok(grants)
}

/// The keys of a new epoch handed to one grantee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EpochShare {
    /// The grantee.
    pub grantee: Address,
    /// The epoch whose keys were shared.
    pub epoch: u64,
    /// The All and Category scopes the keys are for.
    #[serde(serialize_with = "display_list")]
    pub scopes: Vec<Scope>,
    /// The transaction.
    pub tx: TxInfo,
}

/// A grantee the keys could not be shared with (the revocation itself stands).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShareFailure {
    /// The grantee.
    pub grantee: Address,
    /// Why.
    pub reason: String,
}

/// What re-sharing the current epoch's keys did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReshareOutcome {
    /// The patient's current epoch.
    pub epoch: u64,
    /// Grantees that received the epoch's keys now.
    pub shared: Vec<EpochShare>,
    /// Grantees that already hold them (granted in this epoch, or shared before).
    pub up_to_date: Vec<Address>,
    /// Grantees the keys could not be shared with.
    pub failed: Vec<ShareFailure>,
    /// Grantees left out because they are no longer active participants (a staff member the
    /// organization removed, a removed organization): their grants stay until revoked, but
    /// they get no new epoch's keys (the contract refuses them too).
    pub inactive: Vec<Address>,
    /// The emergency kit re-split for the new epoch, when the patient has guardians.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emergency_kit: Option<crate::guardians::KitPublished>,
    /// Why re-splitting the emergency kit failed (the re-share itself stands; run
    /// `ehr reshare` again).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emergency_kit_failed: Option<String>,
}

/// Hands the keys of the signer's current epoch to every grantee that still holds an All or
/// Category grant and does not have them yet, and re-splits the emergency kit for it
/// ([`crate::guardians::resplit`]). Safe to run again: grantees already served are
/// skipped, so an interrupted run can simply be repeated.
pub async fn reshare_epoch_keys(session: &Session) -> Result<ReshareOutcome> {
    let patient = session.chain().address()?;
    let epoch = tx::call("read the key epoch", session.consent().epochOf(patient)).await?;
    let grants = active_grants(session, patient).await?;
    let already_shared = shared_in_epoch(session, patient, epoch).await?;
    let mut grantees: Vec<(Address, Vec<Scope>)> = Vec::new();
    let mut up_to_date = Vec::new();
    for grant in grants.iter().filter(|g| !matches!(g.scope, Scope::Record(_))) {
        let stale = grant.epoch < epoch && !already_shared.contains(&grant.grantee);
        match grantees.iter_mut().find(|(g, _)| *g == grant.grantee) {
            Some((_, scopes)) if stale => scopes.push(grant.scope),
            Some(_) => {}
            None if stale => grantees.push((grant.grantee, vec![grant.scope])),
            None => {
                if !up_to_date.contains(&grant.grantee) {
                    up_to_date.push(grant.grantee);
                }
            }
        }
    }
    up_to_date.retain(|g| !grantees.iter().any(|(stale, _)| stale == g));
    let mut inactive = Vec::new();
    let roles = session.roles();
    for (grantee, _) in &grantees {
        if !tx::call("check the grantee's role", roles.isActiveParticipant(*grantee)).await? {
            inactive.push(*grantee);
        }
    }
    grantees.retain(|(grantee, _)| !inactive.contains(grantee));
    let mut outcome = ReshareOutcome {
        epoch,
        shared: Vec::new(),
        up_to_date,
        failed: Vec::new(),
        inactive,
        emergency_kit: None,
        emergency_kit_failed: None,
    };
    // The guardians' kit follows the epoch like the grantees' keys do.
    match crate::guardians::resplit(session).await {
        Ok(kit) => outcome.emergency_kit = kit,
        Err(e) => outcome.emergency_kit_failed = Some(e.to_string()),
    }
    if grantees.is_empty() {
        return Ok(outcome);
    }
    let patient_keys = patient_keys(session).await?;
    let (master, naming) = (patient_keys.current(), patient_keys.naming_key());
    let names = patient_keys.search_keys();
    for (grantee, scopes) in grantees {
        let result = async {
            let public_key = crate::roles::registered_public_key(session, grantee).await?;
            // A Category item carries the name: recover it from the id on chain.
            let grant_scopes = scopes
                .iter()
                .map(|scope| named_scope(&names, scope))
                .collect::<Result<Vec<_>>>()?;
            let wrapped = wrap_epoch_share(
                master,
                &naming,
                patient,
                grantee,
                &public_key,
                epoch,
                &grant_scopes,
            )?;
            let contract = session.consent_as_signer()?;
            let call = contract.shareEpochKeys(grantee, wrapped);
            let receipt = tx::send("share the new epoch's keys", call).await?;
            Ok::<_, Error>(TxInfo::of(&receipt))
        }
        .await;
        match result {
            Ok(tx) => outcome.shared.push(EpochShare { grantee, epoch, scopes, tx }),
            Err(e) => outcome.failed.push(ShareFailure { grantee, reason: e.to_string() }),
        }
    }
    Ok(outcome)
}

/// Grantees that already received `epoch`'s keys through `EpochKeysShared`.
async fn shared_in_epoch(session: &Session, patient: Address, epoch: u64) -> Result<Vec<Address>> {
    let filter = Filter::new()
        .address(session.deployment().consent_registry)
        .event_signature(EpochKeysShared::SIGNATURE_HASH)
        .topic1(patient.into_word())
        .topic3(B256::from(U256::from(epoch)));
    let (head, _) = session.chain().head().await?;
    let logs =
        fetch_logs(session.chain(), &filter, session.deployment().deployed_at_block, head).await?;
    Ok(logs
        .iter()
        .filter_map(|log| log.log_decode::<EpochKeysShared>().ok())
        .map(|event| event.inner.data.grantee)
        .collect())
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RevokeOutcome {
    /// The patient.
    pub patient: Address,
    /// The grantee whose grants were all revoked.
    pub grantee: Address,
    /// The patient's key epoch after the revocation.
    pub new_epoch: u64,
    /// The transaction.
    pub tx: TxInfo,
    /// The new epoch's keys handed to the grantees that keep access.
    pub reshare: ReshareOutcome,
}

/// Revokes every grant the signing patient gave `grantee` (the key epoch advances), then
/// re-shares the new epoch's keys with every remaining All/Category grantee.
pub async fn revoke(session: &Session, grantee: Address) -> Result<RevokeOutcome> {
    let patient = session.chain().address()?;
    session.require_patient(patient).await?;
    let receipt = tx::send("revoke access", session.consent_as_signer()?.revoke(grantee)).await?;
    let event: AccessRevoked =
        event_in(&receipt, session.deployment().consent_registry, "revoke access")?;
    let reshare = reshare_epoch_keys(session).await?;
    Ok(RevokeOutcome {
        patient,
        grantee,
        new_epoch: event.newEpoch,
        tx: TxInfo::of(&receipt),
        reshare,
    })
}

/// Lets `grantee` read the records the session patient's grant of `scope` covers without
/// logging each read (`allowed`), or takes that back. The grant must be stored and
/// unexpired; replacing or revoking it clears the flag.
pub async fn set_unlogged_reads(
    session: &Session,
    grantee: Address,
    scope: &NamedScope,
    allowed: bool,
) -> Result<TxInfo> {
    let patient = session.chain().address()?;
    let scope = crate::requests::on_chain_scope(session, patient, scope).await?;
    let consent = session.consent_as_signer()?;
    let receipt =
        tx::send("set unlogged reads", consent.setUnloggedReads(grantee, scope.to_sol(), allowed))
            .await?;
    Ok(TxInfo::of(&receipt))
}
