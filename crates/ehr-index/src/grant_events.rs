//! A grantee's keys, read from the consent registry's events, checked against the
//! registry's commitment to them, and unwrapped.
//!
//! The events come from an RPC node that may invent, drop or alter logs. The registry keeps,
//! per (patient, grantee), the head of a hash chain over every piece of key material it handed
//! out (`keyChainOf`); the events are folded into the same chain here and compared with the
//! head read by `eth_call` at the same block. Only when they agree is any key used: a forged
//! `AccessGranted` would otherwise make an honest doctor encrypt and tag records under keys
//! the forger chose.

use alloy::eips::BlockId;
use alloy::primitives::{Address, B256, keccak256};
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::{SolEvent, SolValue};
use ehr_contracts::bindings::ConsentRegistry::{self, AccessGranted, EpochKeysShared};
use ehr_contracts::tx;
use ehr_crypto::{GrantScope, SecretKey};

use crate::grant::{unwrap_epoch_share, unwrap_grant};
use crate::logs::fetch_logs;
use crate::search::IndexClient;
use crate::search_keys::SearchKeys;
use crate::{Error, Result};

/// A grant event whose keys could not be used.
#[derive(Debug)]
pub struct UnreadableGrant {
    /// The event's block.
    pub block: u64,
    /// The epoch it was for.
    pub epoch: u64,
    /// Why.
    pub error: Error,
}

/// What a grantee's grant events gave it.
#[derive(Debug)]
pub struct GranteeKeys {
    /// The keys, per epoch.
    pub keys: SearchKeys,
    /// Grant events whose key material did not unwrap (wrapped to another key, malformed).
    pub unreadable: Vec<UnreadableGrant>,
}

/// One piece of key material the consent registry handed a grantee, from a verified event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    /// The event's block.
    pub block: u64,
    /// The epoch the keys are for.
    pub epoch: u64,
    /// The grant's scope (`AccessGranted`), or `None` for keys re-shared for a new epoch
    /// (`EpochKeysShared`, which covers the grantee's All and Category scopes).
    pub scope: Option<ehr_contracts::Scope>,
    /// The grant's expiry (`AccessGranted` only).
    pub expiry: Option<u64>,
    /// The wrapped key material, exactly as the registry emitted it.
    pub wrapped_keys: alloy::primitives::Bytes,
}

impl<P: Provider> IndexClient<P> {
    /// Every `AccessGranted` and `EpochKeysShared` event from `patient` to `grantee` up to
    /// block `to_block`, in chain order, checked against the registry's `keyChainOf`
    /// commitment at that block: [`Error::KeyMaterialMismatch`] if the node's events do not
    /// reproduce it (one invented, altered, dropped or reordered event is enough).
    pub async fn key_events(
        &self,
        patient: Address,
        grantee: Address,
        to_block: u64,
    ) -> Result<Vec<KeyEvent>> {
        let consent = self.consent_registry().ok_or(Error::NoConsentRegistry)?;
        let filter = Filter::new()
            .address(consent)
            .event_signature(vec![AccessGranted::SIGNATURE_HASH, EpochKeysShared::SIGNATURE_HASH])
            .topic1(patient.into_word())
            .topic2(grantee.into_word());
        let logs =
            fetch_logs(self.provider(), &filter, self.start_block(), to_block, self.options())
                .await?;
        let mut head = B256::ZERO;
        let mut events = Vec::new();
        for log in logs.iter().filter(|log| log.address() == consent && !log.removed) {
            let block = log.block_number.unwrap_or_default();
            let event = if let Ok(event) = log.log_decode::<AccessGranted>() {
                let event = event.inner.data;
                head =
                    key_chain_link(head, event.epoch, event.scopeId, keccak256(&event.wrappedKeys));
                KeyEvent {
                    block,
                    epoch: event.epoch,
                    // A scope the registry could not have stored fails the chain check below
                    // or is reported when its keys are unwrapped.
                    scope: ehr_contracts::Scope::from_sol(&event.scope).ok(),
                    expiry: Some(event.expiry),
                    wrapped_keys: event.wrappedKeys,
                }
            } else if let Ok(event) = log.log_decode::<EpochKeysShared>() {
                let event = event.inner.data;
                head = key_chain_link(head, event.epoch, B256::ZERO, keccak256(&event.wrappedKeys));
                KeyEvent {
                    block,
                    epoch: event.epoch,
                    scope: None,
                    expiry: None,
                    wrapped_keys: event.wrappedKeys,
                }
            } else {
                return Err(Error::UnexpectedLog {
                    reason: "a consent event that does not decode",
                });
            };
            events.push(event);
        }
        let contract = ConsentRegistry::new(consent, self.provider());
        let expected = tx::call(
            "read the key-material commitment",
            contract.keyChainOf(patient, grantee).block(BlockId::number(to_block)),
        )
        .await?;
        if head != expected {
            return Err(Error::KeyMaterialMismatch { patient, grantee, at_block: to_block });
        }
        Ok(events)
    }

    /// The keys `patient` handed the holder of `grantee` up to block `to_block`
    /// ([`IndexClient::key_events`], so only key material the registry committed to),
    /// unwrapped with `grantee`.
    ///
    /// Keys of earlier epochs are kept after a revocation: they only open records written
    /// before it, which the grantee could read then.
    pub async fn grantee_keys(
        &self,
        patient: Address,
        grantee: &SecretKey,
        to_block: u64,
    ) -> Result<GranteeKeys> {
        let grantee_address = Address::from(ehr_crypto::eth_address(&grantee.public_key()));
        let events = self.key_events(patient, grantee_address, to_block).await?;
        let mut keys = SearchKeys::new();
        let mut unreadable = Vec::new();
        let mut known_scopes: Vec<GrantScope> = Vec::new();
        for event in events {
            let (block, epoch) = (event.block, event.epoch);
            let unwrapped = match (event.expiry, event.scope) {
                (Some(_), None) => {
                    Err(Error::UnexpectedLog { reason: "a grant of an invalid scope" })
                }
                (Some(_), Some(scope)) => {
                    let scope = crate::grant::grant_scope(&scope);
                    if !known_scopes.contains(&scope) {
                        known_scopes.push(scope);
                    }
                    unwrap_grant(&event.wrapped_keys, grantee, patient, epoch, scope)
                        .map(|m| vec![m])
                }
                (None, _) => {
                    unwrap_epoch_share(&event.wrapped_keys, grantee, patient, epoch, &known_scopes)
                }
            };
            match unwrapped {
                Ok(materials) => {
                    for material in materials {
                        keys.insert(epoch, material);
                    }
                }
                Err(error) => unreadable.push(UnreadableGrant { block, epoch, error }),
            }
        }
        Ok(GranteeKeys { keys, unreadable })
    }
}

/// One step of the registry's key-material chain: `keccak256(abi.encode(head, epoch, scopeId,
/// keysHash))` with its low byte cleared (the registry keeps a count there).
pub fn key_chain_link(head: B256, epoch: u64, scope_id: B256, keys_hash: B256) -> B256 {
    let mut link = keccak256((head, epoch, scope_id, keys_hash).abi_encode());
    link.0[31] = 0;
    link
}
