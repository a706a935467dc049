//! Any of the dev chains the node matrix runs on, behind one handle.

use crate::anvil::{AnvilNode, AnvilOptions};
use crate::ganache::GanacheNode;
use crate::geth::GethNode;
use crate::hardhat::HardhatNode;
use crate::process::Lifetime;
use crate::{Result, rpc};
use std::path::Path;
use url::Url;

/// A dev-node implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// Foundry's anvil.
    Anvil,
    /// Hardhat's node (EDR).
    Hardhat,
    /// ganache.
    Ganache,
    /// `geth --dev`.
    Geth,
}

impl NodeKind {
    /// Every kind.
    pub const ALL: [NodeKind; 4] =
        [NodeKind::Anvil, NodeKind::Hardhat, NodeKind::Ganache, NodeKind::Geth];

    /// The implementation's name.
    pub fn name(self) -> &'static str {
        match self {
            NodeKind::Anvil => "anvil",
            NodeKind::Hardhat => "hardhat",
            NodeKind::Ganache => "ganache",
            NodeKind::Geth => "geth",
        }
    }
}

/// A running dev node of some kind. Dropping it stops the process.
#[derive(Debug)]
pub enum ChainNode {
    /// anvil.
    Anvil(AnvilNode),
    /// Hardhat's node.
    Hardhat(HardhatNode),
    /// ganache.
    Ganache(GanacheNode),
    /// `geth --dev`.
    Geth(GethNode),
}

impl ChainNode {
    /// Starts a node of `kind` with its files in `dir`, tied to this process.
    pub async fn start(kind: NodeKind, dir: &Path) -> Result<Self> {
        let lifetime = Lifetime::Tied;
        Ok(match kind {
            NodeKind::Anvil => ChainNode::Anvil(
                AnvilNode::start(dir, AnvilOptions { lifetime, ..Default::default() }).await?,
            ),
            NodeKind::Hardhat => ChainNode::Hardhat(HardhatNode::start(dir, lifetime).await?),
            NodeKind::Ganache => ChainNode::Ganache(GanacheNode::start(dir, lifetime).await?),
            NodeKind::Geth => ChainNode::Geth(GethNode::start(dir, lifetime).await?),
        })
    }

    /// Which implementation this is.
    pub fn kind(&self) -> NodeKind {
        match self {
            ChainNode::Anvil(_) => NodeKind::Anvil,
            ChainNode::Hardhat(_) => NodeKind::Hardhat,
            ChainNode::Ganache(_) => NodeKind::Ganache,
            ChainNode::Geth(_) => NodeKind::Geth,
        }
    }

    /// The JSON-RPC endpoint.
    pub fn rpc_url(&self) -> Url {
        match self {
            ChainNode::Anvil(node) => node.rpc_url(),
            ChainNode::Hardhat(node) => node.rpc_url(),
            ChainNode::Ganache(node) => node.rpc_url(),
            ChainNode::Geth(node) => node.rpc_url(),
        }
    }

    /// Gives `address` `wei` by a real transfer from the node's own funded account (geth
    /// `--dev` has just one, so balance-setting cheat methods would not cover it anyway).
    pub async fn fund(&self, address: &str, wei: u128) -> Result<()> {
        rpc::fund_from_node_account(self.rpc_url().as_str(), address, wei).await
    }
}
