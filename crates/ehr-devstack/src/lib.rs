#![doc = include_str!("../README.md")]

mod anvil;
mod chain_node;
mod dev_node;
mod error;
mod ganache;
mod geth;
mod hardhat;
mod kubo;
mod ports;
mod process;
mod readiness;
mod rpc;
mod stack;
mod tools;

pub use anvil::{AnvilNode, AnvilOptions, DEV_CHAIN_ID};
pub use chain_node::{ChainNode, NodeKind};
pub use error::{Error, Result};
pub use ganache::{GANACHE_CHAIN_ID, GanacheNode};
pub use geth::{GETH_DEV_CHAIN_ID, GethNode};
pub use hardhat::{HARDHAT_CHAIN_ID, HardhatNode};
pub use kubo::{KuboNode, KuboOptions};
pub use process::{Lifetime, ServiceProcess, stop_pid};
pub use stack::{DevStack, StackOptions};
pub use tools::{Tool, find_tool};
