//! A grantee's keys, read from the consent registry's events and unwrapped.

use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::ConsentRegistry::{AccessGranted, EpochKeysShared};
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
        let mut keys = SearchKeys::new();
        let mut unreadable = Vec::new();
        let mut known_scopes: Vec<GrantScope> = Vec::new();
        for log in &logs {
            let block = log.block_number.unwrap_or_default();
            if log.address() != consent || log.removed {
                continue;
            }
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
}
