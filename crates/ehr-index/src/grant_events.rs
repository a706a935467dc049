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
use alloy::rpc::types::{Filter, Log};
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

impl<P: Provider> IndexClient<P> {
    /// Reads every `AccessGranted` and `EpochKeysShared` event from `patient` to the holder of
    /// `grantee` up to block `to_block`, and unwraps their keys with `grantee`.
    ///
    /// Keys of earlier epochs are kept after a revocation: they only open records written
    /// before it, which the grantee could read then.
    pub async fn grantee_keys(
        &self,
        patient: Address,
        grantee: &SecretKey,
        to_block: u64,
    ) -> Result<GranteeKeys> {
        let consent = self.consent_registry().ok_or(Error::NoConsentRegistry)?;
        let grantee_address = Address::from(ehr_crypto::eth_address(&grantee.public_key()));
        let filter = Filter::new()
            .address(consent)
            .event_signature(vec![AccessGranted::SIGNATURE_HASH, EpochKeysShared::SIGNATURE_HASH])
            .topic1(patient.into_word())
            .topic2(grantee_address.into_word());
        let logs =
            fetch_logs(self.provider(), &filter, self.start_block(), to_block, self.options())
                .await?;
        let logs: Vec<Log> =
            logs.into_iter().filter(|log| log.address() == consent && !log.removed).collect();
        self.check_key_chain(patient, grantee_address, &logs, to_block).await?;
        let mut keys = SearchKeys::new();
        let mut unreadable = Vec::new();
        let mut known_scopes: Vec<GrantScope> = Vec::new();
        for log in &logs {
            let block = log.block_number.unwrap_or_default();
            if let Ok(event) = log.log_decode::<AccessGranted>() {
                let event = event.inner.data;
                let scope = match ehr_contracts::Scope::from_sol(&event.scope) {
                    Ok(scope) => crate::grant::grant_scope(&scope),
                    Err(error) => {
                        let error = Error::Contract(error);
                        unreadable.push(UnreadableGrant { block, epoch: event.epoch, error });
                        continue;
                    }
                };
                if !known_scopes.contains(&scope) {
                    known_scopes.push(scope);
                }
                match unwrap_grant(&event.wrappedKeys, grantee, patient, event.epoch, scope) {
                    Ok(material) => keys.insert(event.epoch, material),
                    Err(error) => {
                        unreadable.push(UnreadableGrant { block, epoch: event.epoch, error })
                    }
                }
            } else if let Ok(event) = log.log_decode::<EpochKeysShared>() {
                let event = event.inner.data;
                let shared = unwrap_epoch_share(
                    &event.wrappedKeys,
                    grantee,
                    patient,
                    event.epoch,
                    &known_scopes,
                );
                match shared {
                    Ok(materials) => {
                        for material in materials {
                            keys.insert(event.epoch, material);
                        }
                    }
                    Err(error) => {
                        unreadable.push(UnreadableGrant { block, epoch: event.epoch, error })
                    }
                }
            }
        }
        Ok(GranteeKeys { keys, unreadable })
    }

    /// Folds the pair's key events into the chain the registry keeps and compares the result
    /// with `keyChainOf(patient, grantee)` at `to_block`.
    async fn check_key_chain(
        &self,
        patient: Address,
        grantee: Address,
        logs: &[Log],
        to_block: u64,
    ) -> Result<()> {
        let consent = self.consent_registry().ok_or(Error::NoConsentRegistry)?;
        let mut head = B256::ZERO;
        for log in logs {
            let link = if let Ok(event) = log.log_decode::<AccessGranted>() {
                let event = event.inner.data;
                (event.epoch, event.scopeId, keccak256(&event.wrappedKeys))
            } else if let Ok(event) = log.log_decode::<EpochKeysShared>() {
                let event = event.inner.data;
                (event.epoch, B256::ZERO, keccak256(&event.wrappedKeys))
            } else {
                return Err(Error::UnexpectedLog {
                    reason: "a consent event that does not decode",
                });
            };
            head = key_chain_link(head, link.0, link.1, link.2);
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
        Ok(())
    }
}

/// One step of the registry's key-material chain: `keccak256(abi.encode(head, epoch, scopeId,
/// keysHash))` with its low byte cleared (the registry keeps a count there).
pub fn key_chain_link(head: B256, epoch: u64, scope_id: B256, keys_hash: B256) -> B256 {
    let mut link = keccak256((head, epoch, scope_id, keys_hash).abi_encode());
    link.0[31] = 0;
    link
}
