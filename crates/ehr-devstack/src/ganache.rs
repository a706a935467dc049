//! ganache, from npm `ganache` (7.9: the EVM up to shanghai).

use crate::Result;
use crate::dev_node;
use crate::process::{Lifetime, ServiceProcess};
use crate::tools::{Tool, find_tool};
use std::path::Path;
use std::process::Command;
use url::Url;

/// The chain id ganache runs here (its default).
pub const GANACHE_CHAIN_ID: u64 = 1337;

/// A running ganache. Dropping it stops the process.
#[derive(Debug)]
pub struct GanacheNode {
    process: ServiceProcess,
    port: u16,
}

impl GanacheNode {
    /// Starts ganache with deterministic accounts and an in-memory chain, and waits until it
    /// answers.
    pub async fn start(dir: &Path, lifetime: Lifetime) -> Result<Self> {
        let bin = find_tool(Tool::Ganache)?;
        let started = dev_node::start(
            "ganache",
            &dir.join("ganache.log"),
            GANACHE_CHAIN_ID,
            lifetime,
            |port| {
                let mut command = Command::new(&bin);
                command
                    .args(["--server.host", "127.0.0.1", "--server.port", &port.to_string()])
                    .args(["--chain.chainId", &GANACHE_CHAIN_ID.to_string()])
                    .args(["--wallet.deterministic", "--logging.quiet"]);
                Ok(command)
            },
        )
        .await?;
        Ok(Self { process: started.process, port: started.port })
    }

    /// The JSON-RPC endpoint.
    pub fn rpc_url(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}", self.port)).expect("a loopback URL is valid")
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }
}
