//! Deploying ehrkit's contracts and saving the deployment file, without ever overwriting a
//! deployment of another chain, and one of the same chain only when asked to.

use crate::session::Chain;
use crate::{Error, Result};
use alloy::primitives::Address;
use ehr_contracts::{DeployOptions, Deployment, EvmBuild};
use serde::Serialize;
use std::path::PathBuf;

/// How to deploy.
#[derive(Debug, Clone)]
pub struct DeployRequest {
    /// Where the deployment file goes.
    pub path: PathBuf,
    /// The first system admin; the signer when `None`.
    pub admin: Option<Address>,
    /// Seconds a new admin waits before accepting the admin role; required except on the
    /// dev chains ([`DEV_CHAIN_IDS`]), where it defaults to 0.
    pub admin_delay: Option<u64>,
    /// Replace an existing deployment file of the same chain.
    pub force: bool,
    /// The contracts' build; `None` deploys the newest the node runs (probed).
    pub evm: Option<EvmBuild>,
}

/// Chain ids of development chains, where the admin delay defaults to 0: anvil's and
/// Hardhat's 31337, and 1337, which `geth --dev` runs (it cannot be changed there) and
/// ganache uses by default.
pub const DEV_CHAIN_IDS: [u64; 2] = [ehr_devstack::DEV_CHAIN_ID, 1337];

/// A finished deployment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployed {
    /// The deployment, as saved.
    pub deployment: Deployment,
    /// The file it was saved to.
    pub path: PathBuf,
    /// The system admin.
    pub admin: Address,
    /// The admin transfer delay in seconds.
    pub admin_delay: u64,
    /// True when an older deployment file of this chain was replaced.
    pub replaced: bool,
}

/// Deploys the contracts from the chain's signer and saves the deployment file.
pub async fn deploy(chain: &Chain, request: DeployRequest) -> Result<Deployed> {
    let signer = chain.signer()?.address();
    let replaced = check_existing(chain, &request)?;
    let admin_delay = match (request.admin_delay, chain.chain_id()) {
        (Some(delay), _) => delay,
        (None, chain_id) if DEV_CHAIN_IDS.contains(&chain_id) => 0,
        (None, chain_id) => {
            return Err(crate::parse::ParseError::new(format!(
                "chain {chain_id} is not a dev chain: choose --admin-delay SECONDS (how long a new admin waits before taking over; days in production)"
            ))
            .into());
        }
    };
    let admin = request.admin.unwrap_or(signer);
    let options = DeployOptions { admin, admin_transfer_delay: admin_delay, evm: request.evm };
    let deployment = ehr_contracts::deploy(chain.writer()?, options).await?;
    deployment.save(&request.path)?;
    Ok(Deployed { deployment, path: request.path, admin, admin_delay, replaced })
}

/// Refuses to replace a deployment of another chain, and one of this chain unless `force`.
/// Returns whether a file will be replaced.
fn check_existing(chain: &Chain, request: &DeployRequest) -> Result<bool> {
    if !request.path.exists() {
        return Ok(false);
    }
    match Deployment::load(&request.path) {
        Ok(existing) if existing.chain_id != chain.chain_id() => {
            Err(Error::DeploymentForOtherChain {
                path: request.path.clone(),
                file_chain_id: existing.chain_id,
                rpc_chain_id: chain.chain_id(),
            })
        }
        Ok(existing) if !request.force => {
            Err(Error::DeploymentExists { path: request.path.clone(), chain_id: existing.chain_id })
        }
        Ok(_) => Ok(true),
        // An unreadable file may be anyone's: only an explicit --force replaces it.
        Err(e) if !request.force => Err(e.into()),
        Err(_) => Ok(true),
    }
}
