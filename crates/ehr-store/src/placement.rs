//! Where a blob is kept: which nodes of a store hold and pin it ([`Placement`]), and what a
//! repair did to bring it back to the store's replication factor ([`Repair`]).

use crate::Cid;
use serde::Serialize;

/// What one node has of a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum Holding {
    /// The node holds the blob and pins it.
    Pinned,
    /// The node holds (at least the root of) the blob but does not pin it: garbage
    /// collection may remove it.
    Held,
    /// The node does not hold the blob.
    Absent,
    /// The node did not answer.
    Unreachable {
        /// Why.
        reason: String,
    },
}

/// One node's [`Holding`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeHolding {
    /// The node: its API URL, or `store` for a store that is one node.
    pub node: String,
    /// What it has.
    #[serde(flatten)]
    pub holding: Holding,
}

/// Which nodes of a store hold and pin a blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Placement {
    /// The blob.
    pub cid: Cid,
    /// How many nodes should pin it (1 for a store that is one node).
    pub factor: usize,
    /// Every node of the store, in the setting's order.
    pub nodes: Vec<NodeHolding>,
}

impl Placement {
    /// How many nodes pin the blob.
    pub fn pinned(&self) -> usize {
        self.nodes.iter().filter(|n| n.holding == Holding::Pinned).count()
    }

    /// Whether fewer nodes pin the blob than the factor asks for.
    pub fn is_under_replicated(&self) -> bool {
        self.pinned() < self.factor
    }
}

/// A node that could not take a blob, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFailure {
    /// The node.
    pub node: String,
    /// What went wrong.
    pub reason: String,
}

/// What a repair of one blob did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Repair {
    /// The blob.
    pub cid: Cid,
    /// The replication factor.
    pub factor: usize,
    /// Nodes that pinned it before.
    pub before: usize,
    /// Nodes this repair pinned it on.
    pub pinned_on: Vec<String>,
    /// Nodes that were tried and failed (or that could not be asked).
    pub failures: Vec<NodeFailure>,
    /// Nodes that pin it now.
    pub after: usize,
}

impl Repair {
    /// Whether the factor holds after the repair.
    pub fn is_complete(&self) -> bool {
        self.after >= self.factor
    }
}
