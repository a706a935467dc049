//! Deploying ehrkit's contracts to any EVM chain, in the newest build its EVM runs.

use crate::bindings::{
    ClaimRegistry, ConsentRegistry, GuardianRegistry, RecordIndex, RoleRegistry,
};
use crate::deployment::{DEPLOYMENT_FORMAT, Deployment};
use crate::evm_build::{Contract, EvmBuild};
use crate::evm_probe::probe_evm;
use crate::{Error, Result, sender_lock, tx};
use alloy::contract::RawCallBuilder;
use alloy::primitives::{Address, aliases::U48};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use alloy::sol_types::SolConstructor;

const ACTION: &str = "deploy the contracts";

/// Choices made at deployment.
#[derive(Debug, Clone, Copy)]
pub struct DeployOptions {
    /// The first system admin (adds and removes organizations).
    pub admin: Address,
    /// Seconds a new admin must wait before accepting a transfer of the admin role (OpenZeppelin
    /// `AccessControlDefaultAdminRules`); 0 on development chains, days in production.
    pub admin_transfer_delay: u64,
    /// The build to deploy; `None` probes the node ([`probe_evm`]) and takes the newest it
    /// runs. A build the node does not run is refused either way.
    pub evm: Option<EvmBuild>,
}

/// Deploys `RecordIndex`, `RoleRegistry`, `GuardianRegistry` and `ConsentRegistry` from the
/// provider's default signer, wires the index to the registries (whose hooks keep its
/// write-rule mirror) and the guardian registry to the consent registry (which asks it before
/// every break-glass opening), deploys `ClaimRegistry` on top, and returns the deployment (not
/// yet saved).
///
/// The index is deployed first because both registries report to it from their first
/// transaction on; until `wire` runs, the registries' state changes revert, so a half-finished
/// deployment cannot be used by accident. The guardian registry comes before the consent
/// registry, which takes its address; until it is wired, break-glass openings revert.
pub async fn deploy<P: Provider>(provider: &P, options: DeployOptions) -> Result<Deployment> {
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| Error::Rpc { action: "read the chain id", source: Box::new(e) })?;
    let build = choose_build(provider, options.evm).await?;
    tracing::info!(evm_build = %build, chain_id, "deploying");

    let receipt = create(provider, build, Contract::RecordIndex, Vec::new()).await?;
    let record_index = address_of("RecordIndex", &receipt)?;
    let first_block = receipt.block_number.unwrap_or_default();
    let deployer = receipt.from;

    let args = RoleRegistry::constructorCall {
        initialAdminDelay: U48::from(options.admin_transfer_delay),
        initialAdmin: options.admin,
        hooks_: record_index,
    };
    let receipt = create(provider, build, Contract::RoleRegistry, args.abi_encode()).await?;
    let role_registry = address_of("RoleRegistry", &receipt)?;

    let args = GuardianRegistry::constructorCall { roles_: role_registry };
    let receipt = create(provider, build, Contract::GuardianRegistry, args.abi_encode()).await?;
    let guardian_registry = address_of("GuardianRegistry", &receipt)?;

    let args = ConsentRegistry::constructorCall {
        roles_: role_registry,
        hooks_: record_index,
        policy_: guardian_registry,
    };
    let receipt = create(provider, build, Contract::ConsentRegistry, args.abi_encode()).await?;
    let consent_registry = address_of("ConsentRegistry", &receipt)?;

    let index = RecordIndex::new(record_index, provider);
    tx::send("wire the record index", index.wire(role_registry, consent_registry)).await?;
    let guardians = GuardianRegistry::new(guardian_registry, provider);
    tx::send("wire the guardian registry", guardians.wire(consent_registry)).await?;

    let args = ClaimRegistry::constructorCall {
        roles_: role_registry,
        consent_: consent_registry,
        index_: record_index,
    };
    let receipt = create(provider, build, Contract::ClaimRegistry, args.abi_encode()).await?;
    let claim_registry = address_of("ClaimRegistry", &receipt)?;

    Ok(Deployment {
        format: DEPLOYMENT_FORMAT,
        chain_id,
        evm_build: build,
        deployer,
        deployed_at_block: first_block,
        role_registry,
        consent_registry,
        record_index,
        claim_registry,
        guardian_registry: Some(guardian_registry),
    })
}

/// The build to deploy: the one asked for if the node runs it, else the newest it runs.
pub async fn choose_build<P: Provider>(provider: &P, asked: Option<EvmBuild>) -> Result<EvmBuild> {
    let support = match (probe_evm(provider).await, asked) {
        // A node that cannot be probed is taken at its word when the build was chosen.
        (Err(Error::EvmProbe { reason }), Some(build)) => {
            tracing::warn!(%build, "deploying a build the node's EVM could not be probed for: {reason}");
            return Ok(build);
        }
        (support, _) => support?,
    };
    let answers = || {
        support
            .answers
            .iter()
            .map(|(fork, answer)| format!("{fork}: {answer}"))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match (asked, support.newest) {
        (Some(build), _) if support.runs(build) => Ok(build),
        (Some(build), newest) => Err(Error::EvmUnsupported {
            build,
            newest: newest.map_or("none of ehrkit's builds".to_owned(), |b| b.to_string()),
            answers: answers(),
        }),
        (None, Some(newest)) => Ok(newest),
        (None, None) => Err(Error::EvmUnsupported {
            build: EvmBuild::Shanghai,
            newest: "none of ehrkit's builds".to_owned(),
            answers: answers(),
        }),
    }
}

/// Sends the creation transaction of `contract` in `build` with ABI-encoded constructor
/// arguments `args` and waits for its receipt.
async fn create<P: Provider>(
    provider: &P,
    build: EvmBuild,
    contract: Contract,
    args: Vec<u8>,
) -> Result<TransactionReceipt> {
    let code = [build.creation_code(contract), &args[..]].concat();
    let builder = RawCallBuilder::new_raw_deploy(provider, code.into());
    let sent = sender_lock::hold_during(builder.send()).await;
    created(contract.name(), sent).await
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
