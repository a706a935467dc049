//! Deploying ehrkit's contracts to any EVM chain.

use crate::bindings::{ClaimRegistry, ConsentRegistry, RecordIndex, RoleRegistry};
use crate::deployment::{DEPLOYMENT_FORMAT, Deployment};
use crate::{Error, Result, sender_lock, tx};
use alloy::primitives::{Address, aliases::U48};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;

const ACTION: &str = "deploy the contracts";

/// Choices made at deployment.
#[derive(Debug, Clone, Copy)]
pub struct DeployOptions {
    /// The first system admin (adds and removes organizations).
    pub admin: Address,
    /// Seconds a new admin must wait before accepting a transfer of the admin role (OpenZeppelin
    /// `AccessControlDefaultAdminRules`); 0 on development chains, days in production.
    pub admin_transfer_delay: u64,
}

/// Deploys `RecordIndex`, `RoleRegistry` and `ConsentRegistry` from the provider's default
/// signer, wires the index to the registries (whose hooks keep its write-rule mirror), deploys
/// `ClaimRegistry` on top of the three, and returns the deployment (not yet saved).
///
/// The index is deployed first because both registries report to it from their first
/// transaction on; until `wire` runs, the registries' state changes revert, so a half-finished
/// deployment cannot be used by accident.
pub async fn deploy<P: Provider>(provider: &P, options: DeployOptions) -> Result<Deployment> {
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| Error::Rpc { action: "read the chain id", source: Box::new(e) })?;

    let sent = sender_lock::hold_during(RecordIndex::deploy_builder(provider).send()).await;
    let receipt = created("RecordIndex", sent).await?;
    let record_index = address_of("RecordIndex", &receipt)?;
    let first_block = receipt.block_number.unwrap_or_default();
    let deployer = receipt.from;

    let delay = U48::from(options.admin_transfer_delay);
    let builder = RoleRegistry::deploy_builder(provider, delay, options.admin, record_index);
    let sent = sender_lock::hold_during(builder.send()).await;
    let role_registry = address_of("RoleRegistry", &created("RoleRegistry", sent).await?)?;

    let builder = ConsentRegistry::deploy_builder(provider, role_registry, record_index);
    let sent = sender_lock::hold_during(builder.send()).await;
    let consent_registry = address_of("ConsentRegistry", &created("ConsentRegistry", sent).await?)?;

    let index = RecordIndex::new(record_index, provider);
    tx::send("wire the record index", index.wire(role_registry, consent_registry)).await?;

    let builder =
        ClaimRegistry::deploy_builder(provider, role_registry, consent_registry, record_index);
    let sent = sender_lock::hold_during(builder.send()).await;
    let claim_registry = address_of("ClaimRegistry", &created("ClaimRegistry", sent).await?)?;

    Ok(Deployment {
        format: DEPLOYMENT_FORMAT,
        chain_id,
        deployer,
        deployed_at_block: first_block,
        role_registry,
        consent_registry,
        record_index,
        claim_registry,
    })
}

async fn created(
    contract: &'static str,
    sent: Result<
        alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum>,
        alloy::contract::Error,
    >,
) -> Result<TransactionReceipt> {
    let pending = sent.map_err(|e| Error::from_contract(ACTION, e))?;
    tx::confirm(ACTION, pending).await.map_err(|e| match e {
        Error::MinedButReverted { .. } => Error::NotDeployed { contract },
        other => other,
    })
}

fn address_of(contract: &'static str, receipt: &TransactionReceipt) -> Result<Address> {
    receipt.contract_address.ok_or(Error::NotDeployed { contract })
}
