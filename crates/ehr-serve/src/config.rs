//! What `ehr serve` is told at launch: the origins it answers for, its connection limits and
//! the relay's per-patient quotas.

use alloy::primitives::Address;
use std::time::Duration;

/// How a server is set up (defaults: loopback origins only, the limits below).
#[derive(Debug, Clone, Default)]
pub struct ServeConfig {
    /// The origin the page is reached at besides `http://127.0.0.1:PORT` and
    /// `http://localhost:PORT`, when a reverse proxy serves it (`https://ehr.example.org`).
    pub public_origin: Option<String>,
    /// The RPC URL the page offers a wallet that does not know the chain
    /// (`wallet_addEthereumChain`). Never the server's own RPC URL by default: that one often
    /// carries a provider's API key.
    pub wallet_rpc_url: Option<String>,
    /// Connection and request limits.
    pub limits: Limits,
    /// Who may have grants relayed, and how many.
    pub relay: RelayPolicy,
    /// How long a relayed transaction may go unmined before it is replaced at its nonce with
    /// higher fees, how often, and up to which fee.
    pub replacement: ehr_contracts::Replacement,
}

/// Connection and request limits: what a slow or greedy client can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// A request's headers must arrive within this (also the keep-alive idle limit).
    pub header_timeout: Duration,
    /// A request's body must arrive within this once its headers have.
    pub body_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// The largest request body accepted (a signed grant is about 1 KiB).
    pub max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 64,
            max_body: 16 * 1024,
        }
    }
}

/// The relay's quotas, per patient and window: a patient who registered once cannot make the
/// relay account pay for an unlimited number of grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayPolicy {
    /// The window the quotas count over; it starts with a patient's first relay.
    pub window: Duration,
    /// Relayed transactions per patient per window.
    pub max_relays: u32,
    /// Gas per patient per window (a relayed grant uses about 175,000).
    pub max_gas: u64,
    /// When set, only these patients' grants are relayed.
    pub patients: Option<Vec<Address>>,
}

impl Default for RelayPolicy {
    fn default() -> Self {
        Self {
            window: Duration::from_secs(24 * 60 * 60),
            max_relays: 20,
            max_gas: 4_000_000,
            patients: None,
        }
    }
}
