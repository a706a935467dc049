//! Deploying ehrkit's contracts to any EVM chain.

use crate::bindings::{ConsentRegistry, RoleRegistry};
use crate::deployment::{DEPLOYMENT_FORMAT, Deployment};
use crate::{Error, Result, tx};
use alloy::primitives::{Address, aliases::U48};
use alloy::providers::Provider;

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

/// Deploys `RoleRegistry` and `ConsentRegistry` from the provider's default signer and returns
/// the deployment (not yet saved).
pub async fn deploy<P: Provider>(provider: &P, options: DeployOptions) -> Result<Deployment> {
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| Error::Rpc { action: "read the chain id", source: Box::new(e) })?;
    let delay = U48::from(options.admin_transfer_delay);
    let sent = RoleRegistry::deploy_builder(provider, delay, options.admin).send().await;
    let receipt = tx::confirm(ACTION, sent.map_err(|e| Error::from_contract(ACTION, e))?).await?;
    let role_registry =
        receipt.contract_address.ok_or(Error::NotDeployed { contract: "RoleRegistry" })?;
    let first_block = receipt.block_number.unwrap_or_default();
    let deployer = receipt.from;
    let sent = ConsentRegistry::deploy_builder(provider, role_registry).send().await;
    let receipt = tx::confirm(ACTION, sent.map_err(|e| Error::from_contract(ACTION, e))?).await?;
    let consent_registry =
        receipt.contract_address.ok_or(Error::NotDeployed { contract: "ConsentRegistry" })?;
    Ok(Deployment {
        format: DEPLOYMENT_FORMAT,
        chain_id,
        deployer,
        deployed_at_block: first_block,
        role_registry,
        consent_registry,
    })
}
