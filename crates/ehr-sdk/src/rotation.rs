//! Access that ends: the patient's key epoch rotates when someone may hold its keys without
//! a grant in force.
//!
//! Expiry ends writing at once (the contract checks it), but reading is a matter of keys: a
//! grantee keeps the keys of every epoch it was given, and records written later in the same
//! epoch open with them. So the epoch must move on whenever
//! - an All or Category grant has expired while its grantee holds the current epoch's keys
//!   (granted in this epoch, or re-shared to it), or
//! - the patient signed a grant (for a relay, or to hand over) that can no longer reach the
//!   chain — its deadline passed or its nonce was used otherwise — yet its key material may
//!   be in someone's hands with no audit entry and nothing to revoke.
//!
//! [`maintain`] checks both and rotates (`rotateEpoch`, then re-shares the new epoch with the
//! grantees whose grants are in force). The SDK runs it before the patient grants, signs a
//! grant or writes a record, so "on the patient's next action" nothing new is written under
//! keys that should be dead; `ehr rotate` runs it on demand. Signed grants are remembered in
//! the session's pending-grants directory ([`Session::with_pending_grants_dir`]); one file
//! each, written atomically, so concurrent processes never lose one.

use crate::consent::{ReshareOutcome, reshare_epoch_keys, stored_grants};
use crate::relay::SignedGrant;
use crate::serde_text::display;
use crate::session::{Session, TxInfo, event_in};
use crate::{Error, Result};
use alloy::primitives::{Address, B256, U256, keccak256};
use ehr_contracts::bindings::ConsentRegistry::{EpochRotated, KeysRotated};
use ehr_contracts::{Scope, tx};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// A grant the patient signed and did not send itself, as remembered until it settles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PendingGrant {
    /// The grantee.
    pub grantee: Address,
    /// The epoch whose keys it carries.
    pub epoch: u64,
    /// The signature's nonce.
    pub nonce: U256,
    /// The signature's deadline (unix time).
    pub deadline: U256,
    /// keccak256 of its wrapped key material: how it is recognized on chain.
    pub keys_hash: B256,
}

/// Why the epoch rotates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum RotationReason {
    /// A grant expired while its grantee held the current epoch's keys.
    #[serde(rename_all = "camelCase")]
    ExpiredGrant {
        /// The grantee.
        grantee: Address,
        /// The expired grant's scope.
        #[serde(serialize_with = "display")]
        scope: Scope,
        /// When it expired.
        expiry: u64,
    },
    /// A signed grant can no longer be submitted, but its key material is out.
    #[serde(rename_all = "camelCase")]
    UnsubmittedSignature {
        /// The grantee it was for.
        grantee: Address,
        /// Its deadline.
        deadline: U256,
    },
    /// The patient asked for it.
    Requested,
    /// The patient moved to a new key generation (a new master secret).
    #[serde(rename_all = "camelCase")]
    NewKeyGeneration {
        /// The generation now current.
        generation: u64,
    },
}

/// What [`check`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationCheck {
    /// The patient's current epoch.
    pub epoch: u64,
    /// Why the epoch must rotate (empty: it need not).
    pub reasons: Vec<RotationReason>,
    /// Signed grants that may still be submitted (they rotate away once they cannot).
    pub pending: Vec<PendingGrant>,
    /// Remembered signed grants that are settled (on chain, or of an earlier epoch), or that
    /// are settled by the rotation the reasons ask for: forgotten once it is done.
    #[serde(skip)]
    settled: Vec<B256>,
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotateOutcome {
    /// The patient.
    pub patient: Address,
    /// The epoch after the rotation.
    pub new_epoch: u64,
    /// Why it rotated.
    pub reasons: Vec<RotationReason>,
    /// The `rotateEpoch` transaction.
    pub tx: TxInfo,
    /// The new epoch's keys handed to the grantees whose grants are in force.
    pub reshare: ReshareOutcome,
}

/// Remembers a grant the signing patient signed without sending, so that it is rotated away
/// if it never reaches the chain. Does nothing when the session keeps no pending grants.
pub fn remember_signed(session: &Session, signed: &SignedGrant) -> Result<()> {
    let Some(dir) = session.pending_grants_dir() else { return Ok(()) };
    let pending = PendingGrant {
        grantee: signed.grant.grantee,
        epoch: signed.grant.epoch,
        nonce: signed.nonce,
        deadline: signed.deadline,
        keys_hash: keccak256(&signed.grant.wrapped_keys),
    };
    let text = serde_json::to_vec_pretty(&pending).expect("a pending grant always serializes");
    crate::atomic_file::write(dir, &file_name(&pending.keys_hash), &text)
        .map_err(|source| Error::PendingGrants { path: dir.to_path_buf(), source })
}

/// Whether the signing patient's epoch must rotate, and what is still pending.
pub async fn check(session: &Session) -> Result<RotationCheck> {
    let patient = session.chain().address()?;
    let consent = session.consent();
    let (head, now) = session.chain().now().await?;
    let epoch = tx::call("read the key epoch", consent.epochOf(patient)).await?;
    let stored: Vec<StoredScope> = stored_grants(session, patient)
        .await?
        .into_iter()
        .map(|g| StoredScope {
            grantee: g.grant.grantee,
            scope: g.grant.scope,
            expiry: g.grant.expiry,
            expired: g.expired,
        })
        .collect();
    let remembered = match session.pending_grants_dir() {
        Some(dir) => read_pending(dir)?,
        None => Vec::new(),
    };
    let nonce = if remembered.is_empty() {
        U256::ZERO
    } else {
        tx::call("read the patient's nonce", consent.nonces(patient)).await?
    };
    // Verified key events, read once per grantee the rule asks about.
    let client = session.index_client();
    let mut key_events: HashMap<Address, Vec<(u64, B256)>> = HashMap::new();
    for grantee in grantees_asked(epoch, &stored, &remembered) {
        let events = client.key_events(patient, grantee, head).await?;
        key_events.insert(
            grantee,
            events.iter().map(|e| (e.epoch, keccak256(&e.wrapped_keys))).collect(),
        );
    }
    Ok(decide(&RuleInputs { epoch, now, nonce, stored, remembered, key_events }))
}

/// A grant the registry stores, as the rotation rule sees it.
#[derive(Debug, Clone)]
struct StoredScope {
    grantee: Address,
    scope: Scope,
    expiry: u64,
    expired: bool,
}

/// What the rotation rule decides from: the patient's epoch, the chain's time and the
/// patient's nonce, its stored grants, its remembered signed grants, and per grantee asked
/// about its key events (epoch, keccak256 of the key material).
struct RuleInputs {
    epoch: u64,
    now: u64,
    nonce: U256,
    stored: Vec<StoredScope>,
    remembered: Vec<PendingGrant>,
    key_events: HashMap<Address, Vec<(u64, B256)>>,
}

/// The grantees whose key events [`decide`] looks at.
fn grantees_asked(epoch: u64, stored: &[StoredScope], remembered: &[PendingGrant]) -> Vec<Address> {
    let mut out: Vec<Address> = Vec::new();
    let expired = stored.iter().filter(|g| g.expired && !matches!(g.scope, Scope::Record(_)));
    let pending = remembered.iter().filter(|g| g.epoch >= epoch);
    for grantee in expired.map(|g| g.grantee).chain(pending.map(|g| g.grantee)) {
        if !out.contains(&grantee) {
            out.push(grantee);
        }
    }
    out
}

/// The rotation rule, in one place (the page's `web/rotation.js` applies the same one;
/// `tests/vectors/rotation/cases.json` checks both): the epoch must rotate when an All or
/// Category grant has expired while its grantee holds the current epoch's keys, or when a
/// remembered signed grant can no longer reach the chain (deadline passed, nonce used) and its
/// key material never appeared there.
fn decide(inputs: &RuleInputs) -> RotationCheck {
    let RuleInputs { epoch, now, nonce, stored, remembered, key_events } = inputs;
    let events_of = |grantee: &Address| key_events.get(grantee).map(Vec::as_slice).unwrap_or(&[]);
    let mut reasons = Vec::new();
    for grant in stored {
        if !grant.expired || matches!(grant.scope, Scope::Record(_)) {
            continue;
        }
        if reasons.iter().any(|r| matches!(r, RotationReason::ExpiredGrant { grantee, .. } if *grantee == grant.grantee)) {
            continue;
        }
        if events_of(&grant.grantee).iter().any(|(e, _)| e == epoch) {
            reasons.push(RotationReason::ExpiredGrant {
                grantee: grant.grantee,
                scope: grant.scope,
                expiry: grant.expiry,
            });
        }
    }
    let mut pending = Vec::new();
    let mut settled = Vec::new();
    for grant in remembered {
        if grant.epoch < *epoch {
            settled.push(grant.keys_hash);
            continue;
        }
        if events_of(&grant.grantee).iter().any(|(_, hash)| *hash == grant.keys_hash) {
            settled.push(grant.keys_hash);
        } else if grant.deadline < U256::from(*now) || *nonce > grant.nonce {
            settled.push(grant.keys_hash);
            reasons.push(RotationReason::UnsubmittedSignature {
                grantee: grant.grantee,
                deadline: grant.deadline,
            });
        } else {
            pending.push(grant.clone());
        }
    }
    RotationCheck { epoch: *epoch, reasons, pending, settled }
}

/// Advances the signing patient's epoch and re-shares it with every grantee whose All or
/// Category grant is in force (expired grantees get nothing: the contract refuses them too).
pub async fn rotate(session: &Session, reasons: Vec<RotationReason>) -> Result<RotateOutcome> {
    let patient = session.chain().address()?;
    session.require_patient(patient).await?;
    let receipt =
        tx::send("rotate the key epoch", session.consent_as_signer()?.rotateEpoch()).await?;
    let event: EpochRotated =
        event_in(&receipt, session.deployment().consent_registry, "rotate the key epoch")?;
    let reshare = reshare_epoch_keys(session).await?;
    Ok(RotateOutcome {
        patient,
        new_epoch: event.newEpoch,
        reasons,
        tx: TxInfo::of(&receipt),
        reshare,
    })
}

/// Moves the signing patient to its next key generation: a new master secret (a new
/// signature, a new recovery secret) whose key-check value goes on chain with a new epoch
/// (`rotateKeys`), then re-shares that epoch. For a patient that never set up generations,
/// the epoch rotates and generation 1 starts there (`setupKeys`). Records already written
/// keep opening with the old generation's keys, which the patient still derives.
pub async fn rotate_keys(session: &Session) -> Result<RotateOutcome> {
    let patient = session.chain().address()?;
    session.require_patient(patient).await?;
    let consent = session.consent_as_signer()?;
    let state = tx::call("read the key generation", session.consent().keysOf(patient)).await?;
    let generation = state.generation + 1;
    let check = crate::keys::key_check_of(session, generation).await?;
    let (receipt, new_epoch) = if state.generation == 0 {
        // Nobody holds the new epoch's keys until the re-share below, so generation 1 may
        // start there.
        tx::send("rotate the key epoch", consent.rotateEpoch()).await?;
        let setup = tx::send("set up key generation 1", consent.setupKeys(check.into())).await?;
        (setup, state.epoch + 1)
    } else {
        let receipt = tx::send("rotate the keys", consent.rotateKeys(check.into())).await?;
        let event: KeysRotated =
            event_in(&receipt, session.deployment().consent_registry, "rotate the keys")?;
        (receipt, event.epoch)
    };
    let reshare = reshare_epoch_keys(session).await?;
    Ok(RotateOutcome {
        patient,
        new_epoch,
        reasons: vec![RotationReason::NewKeyGeneration { generation }],
        tx: TxInfo::of(&receipt),
        reshare,
    })
}

/// [`check`], then [`rotate`] if anything asks for it (else re-splits an emergency kit left
/// behind the epoch, see [`crate::guardians::kit_is_stale`]); forgets the signed grants that
/// are settled. `None` when no rotation was needed.
pub async fn maintain(session: &Session) -> Result<Option<RotateOutcome>> {
    let found = check(session).await?;
    let outcome =
        if found.reasons.is_empty() { None } else { Some(rotate(session, found.reasons).await?) };
    // A rotation re-splits the emergency kit itself. Without one, a kit may still be behind the
    // epoch when the page rotated or revoked (it cannot split kits): catch it up here, at the
    // patient's next action through the SDK. A failure does not stop that action; the next
    // one tries again.
    if outcome.is_none() && crate::guardians::kit_is_stale(session).await? {
        match crate::guardians::resplit(session).await {
            Ok(Some(kit)) => {
                tracing::info!(kit_id = kit.kit_id, epoch = kit.epoch, "re-split the emergency kit")
            }
            Ok(None) => {}
            Err(e) => tracing::warn!("the emergency kit could not be re-split: {e}"),
        }
    }
    if let Some(dir) = session.pending_grants_dir() {
        for hash in &found.settled {
            crate::atomic_file::remove(dir, &file_name(hash))
                .map_err(|source| Error::PendingGrants { path: dir.to_path_buf(), source })?;
        }
    }
    Ok(outcome)
}

fn file_name(keys_hash: &B256) -> String {
    format!("{keys_hash:x}.json")
}

/// Every remembered signed grant in `dir` (none if it does not exist yet).
fn read_pending(dir: &Path) -> Result<Vec<PendingGrant>> {
    let io = |source| Error::PendingGrants { path: dir.to_path_buf(), source };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let path = entry.map_err(io)?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('.') || !name.ends_with(".json") {
            continue;
        }
        let text = std::fs::read(&path).map_err(io)?;
        let grant: PendingGrant = serde_json::from_slice(&text).map_err(|e| {
            Error::PendingGrantInvalid { path: path.clone(), reason: e.to_string() }
        })?;
        out.push(grant);
    }
    out.sort_by_key(|g| g.keys_hash);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn address(v: &Value) -> Address {
        v.as_str().unwrap().parse().unwrap()
    }
    fn hash(v: &Value) -> B256 {
        v.as_str().unwrap().parse().unwrap()
    }
    fn number(v: &Value) -> u64 {
        v.as_u64().unwrap()
    }

    /// The cases the page's rule is checked on too (tests/web/rotation.test.mjs).
    #[test]
    fn the_rule_decides_the_shared_cases() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/rotation/cases.json");
        let cases: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        for case in cases["cases"].as_array().unwrap() {
            let name = case["name"].as_str().unwrap();
            let stored: Vec<StoredScope> = case["grants"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| StoredScope {
                    grantee: address(&g["grantee"]),
                    scope: match number(&g["scopeKind"]) {
                        0 => Scope::All,
                        1 => Scope::Category(hash(&g["scopeValue"])),
                        _ => Scope::Record(U256::from_be_bytes(hash(&g["scopeValue"]).0).to()),
                    },
                    expiry: number(&g["expiry"]),
                    expired: g["expired"].as_bool().unwrap(),
                })
                .collect();
            let remembered: Vec<PendingGrant> = case["pending"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| PendingGrant {
                    grantee: address(&p["grantee"]),
                    epoch: number(&p["epoch"]),
                    nonce: U256::from(number(&p["nonce"])),
                    deadline: U256::from(number(&p["deadline"])),
                    keys_hash: hash(&p["keysHash"]),
                })
                .collect();
            let key_events = case["keyEvents"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(grantee, events)| {
                    let events = events
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|e| (number(&e["epoch"]), hash(&e["keysHash"])))
                        .collect();
                    (grantee.parse().unwrap(), events)
                })
                .collect();
            let epoch = number(&case["epoch"]);
            let asked = grantees_asked(epoch, &stored, &remembered);
            let inputs = RuleInputs {
                epoch,
                now: number(&case["now"]),
                nonce: U256::from(number(&case["nonce"])),
                stored,
                remembered,
                key_events,
            };
            let found = decide(&inputs);
            let expect = &case["expect"];
            let reasons: Vec<Value> = found
                .reasons
                .iter()
                .map(|r| match r {
                    RotationReason::ExpiredGrant { grantee, expiry, .. } => serde_json::json!({
                        "reason": "expired-grant", "grantee": format!("{grantee:#x}"), "expiry": expiry
                    }),
                    RotationReason::UnsubmittedSignature { grantee, deadline } => serde_json::json!({
                        "reason": "unsubmitted-signature", "grantee": format!("{grantee:#x}"), "deadline": deadline.to::<u64>()
                    }),
                    other => panic!("{name}: {other:?}"),
                })
                .collect();
            assert_eq!(Value::from(reasons), expect["reasons"], "{name}: reasons");
            let hashes =
                |v: &[B256]| Value::from(v.iter().map(|h| h.to_string()).collect::<Vec<_>>());
            assert_eq!(hashes(&found.settled), expect["settled"], "{name}: settled");
            let still: Vec<B256> = found.pending.iter().map(|p| p.keys_hash).collect();
            assert_eq!(hashes(&still), expect["pending"], "{name}: pending");
            let asked: Vec<String> = asked.iter().map(|a| format!("{a:#x}")).collect();
            assert_eq!(Value::from(asked), expect["asked"], "{name}: grantees asked");
        }
    }
}
