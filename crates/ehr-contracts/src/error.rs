//! The one error type of this crate.

use crate::revert::RevertReason;
use alloy::primitives::{Address, TxHash};
use alloy::rpc::types::TransactionReceipt;
use std::path::PathBuf;

/// Everything that can go wrong talking to ehrkit's contracts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The contract rejected the call; the reason is its decoded custom error.
    #[error("{action} was rejected: {reason}")]
    Reverted {
        /// What was being done, e.g. `grant access`.
        action: &'static str,
        /// The decoded revert.
        reason: RevertReason,
    },
    /// The transaction was mined and reverted, and replaying it gave the reason: the state or
    /// the time changed between gas estimation and mining (a grant expired, say).
    #[error("{action} was rejected when mined (transaction {tx}, block {block}): {reason}")]
    RevertedWhenMined {
        /// What was being done.
        action: &'static str,
        /// The transaction.
        tx: TxHash,
        /// The block it was mined in.
        block: u64,
        /// The decoded revert.
        reason: Box<RevertReason>,
    },
    /// The transaction was mined but reverted, and replaying it did not say why.
    #[error("{action}: transaction {tx} was mined but reverted{}", if *out_of_gas {
        format!(" out of gas (it used all {} gas of its limit)", receipt.gas_used)
    } else { String::new() })]
    MinedButReverted {
        /// What was being done.
        action: &'static str,
        /// The transaction.
        tx: TxHash,
        /// Whether it used all its gas.
        out_of_gas: bool,
        /// Its receipt.
        receipt: Box<TransactionReceipt>,
    },
    /// The transaction was sent but not mined in time (it may still be mined later).
    #[error("{action}: transaction {tx} was sent but not mined within {} s; check it later before resending", waited.as_secs())]
    NotMined {
        /// What was being done.
        action: &'static str,
        /// The transaction.
        tx: TxHash,
        /// How long we waited.
        waited: std::time::Duration,
    },
    /// A transaction and its replacements at the same nonce, each with higher fees, were not
    /// mined ([`crate::send_replacing`]).
    #[error("{action}: the transaction at nonce {nonce} was not mined within {} s, nor any of its {} replacement(s) with higher fees; the node may have dropped it, or fees are above the cap: check the account's pending transactions ({}) before sending again", waited.as_secs(), txs.len() - 1, txs.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", "))]
    NotMinedAfterReplacement {
        /// What was being done.
        action: &'static str,
        /// The nonce every version was sent at.
        nonce: u64,
        /// Every version sent, the first first.
        txs: Vec<TxHash>,
        /// How long it waited in all.
        waited: std::time::Duration,
    },
    /// The node refused the transaction because the signing account cannot pay for its gas.
    #[error("{action}: the signing account has too little ether to pay for the gas ({message})")]
    InsufficientFunds {
        /// What was being done.
        action: &'static str,
        /// The node's words.
        message: String,
    },
    /// The RPC node could not be reached or answered with an error that is not a revert.
    #[error("{action}: the RPC call failed: {source}")]
    Rpc {
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The node's EVM does not run the build asked for (or any build).
    #[error(
        "the node does not run the {build} build of the contracts (newest it runs: {newest}; probes: {answers})"
    )]
    EvmUnsupported {
        /// The build asked for (shanghai when none was: the oldest).
        build: crate::EvmBuild,
        /// The newest build the node runs, in words.
        newest: String,
        /// Each probe's answer.
        answers: String,
    },
    /// The node refused an `eth_call` of code every EVM runs, so its EVM version cannot be
    /// probed; choose the build with `--evm`.
    #[error(
        "the node's EVM version cannot be probed: it refused an eth_call of code every EVM runs ({reason}); choose the build with --evm"
    )]
    EvmProbe {
        /// The node's answer.
        reason: String,
    },
    /// A deployment transaction did not create a contract.
    #[error("deploying {contract} created no contract")]
    NotDeployed {
        /// Which contract.
        contract: &'static str,
    },
    /// The deployment file is for another chain than the RPC serves.
    #[error(
        "the deployment file is for chain {file_chain_id} but the RPC serves chain {rpc_chain_id}; use the right --rpc-url or deployment file"
    )]
    WrongChain {
        /// Chain id recorded in the deployment file.
        file_chain_id: u64,
        /// Chain id the RPC reports.
        rpc_chain_id: u64,
    },
    /// A contract named in the deployment file has no code on the chain.
    #[error(
        "no {contract} contract at {address} on chain {chain_id}; was the chain reset? deploy again"
    )]
    NoCode {
        /// Which contract.
        contract: &'static str,
        /// Where the deployment file says it is.
        address: Address,
        /// The chain.
        chain_id: u64,
    },
    /// The deployment predates the guardian registry (deployment format 2 or 3).
    #[error(
        "the deployment on chain {chain_id} has no guardian registry (it was made before guardians existed); deploy this version's contracts again to use guardians and break-glass policy"
    )]
    NoGuardianRegistry {
        /// The chain.
        chain_id: u64,
    },
    /// The deployment file could not be read or written.
    #[error("deployment file {path}: {source}")]
    DeploymentIo {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The deployment file is not valid.
    #[error("deployment file {path} is not valid: {reason}")]
    DeploymentInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Signing an EIP-712 message failed.
    #[error("signing failed: {0}")]
    Signing(#[from] alloy::signers::Error),
    /// The contract's EIP-712 domain is not the one ehrkit signs for.
    #[error("unexpected EIP-712 domain at {contract}: {reason}")]
    UnexpectedDomain {
        /// The contract asked.
        contract: Address,
        /// What was unexpected.
        reason: String,
    },
    /// A contract returned an enum value this version does not know.
    #[error("the contract returned {value} for {name}, which this version of ehrkit does not know")]
    UnknownEnumValue {
        /// The enum.
        name: &'static str,
        /// The value.
        value: u8,
    },
    /// A category name is not 1 to 31 bytes of printable ASCII.
    #[error("invalid category {0:?}: use 1 to 31 printable ASCII characters, e.g. lab or imaging")]
    InvalidCategory(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Classifies a contract call error: a revert becomes [`Error::Reverted`] with the decoded
    /// custom error; anything else is an RPC failure.
    pub fn from_contract(action: &'static str, error: alloy::contract::Error) -> Self {
        if let Some(data) = error.as_revert_data() {
            return Self::Reverted { action, reason: RevertReason::decode(&data) };
        }
        if let alloy::contract::Error::TransportError(alloy::transports::RpcError::ErrorResp(
            payload,
        )) = &error
        {
            // geth, anvil, Hardhat and ganache all say "insufficient funds" (any case).
            if payload.message.to_lowercase().contains("insufficient funds") {
                return Self::InsufficientFunds { action, message: payload.message.to_string() };
            }
        }
        Self::Rpc { action, source: Box::new(error) }
    }

    /// The decoded revert, when the contract rejected the call.
    pub fn revert_reason(&self) -> Option<&RevertReason> {
        match self {
            Self::Reverted { reason, .. } => Some(reason),
            Self::RevertedWhenMined { reason, .. } => Some(reason),
            _ => None,
        }
    }
}
