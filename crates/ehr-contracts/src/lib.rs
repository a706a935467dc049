#![doc = include_str!("../README.md")]

pub mod bindings;
mod connect;
mod deploy;
mod deployment;
pub mod eip712;
mod error;
mod evm_build;
mod evm_probe;
mod replacement;
mod revert;
mod revert_guardian;
pub mod sender_lock;
pub mod tx;
mod types;

pub use connect::{DEFAULT_RPC_TIMEOUT, read_provider, rpc_timeout, signing_provider};
pub use deploy::{DeployOptions, choose_build, deploy};
pub use deployment::{DEPLOYMENT_FORMAT, Deployment};
pub use error::{Error, Result};
pub use evm_build::{Contract, EvmBuild};
pub use evm_probe::{EvmSupport, probe_evm};
pub use replacement::{MIN_BUMP_PERCENT, Replacement, bumped, send_replacing};
pub use revert::RevertReason;
pub use types::{
    ClaimStatus, DecisionCode, OrgKind, Purpose, ReasonCode, Role, Scope, category_bytes32,
};
