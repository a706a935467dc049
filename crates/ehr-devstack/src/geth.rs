//! go-ethereum's `geth --dev`: a single-node chain with a simulated beacon, built from Go
//! modules by `scripts/setup`.

use crate::dev_node;
use crate::process::{Lifetime, ServiceProcess};
use crate::tools::{Tool, find_tool};
use crate::{Result, ports};
use std::path::Path;
use std::process::Command;
use url::Url;

/// The chain id of `geth --dev` (fixed: it has no flag for it).
pub const GETH_DEV_CHAIN_ID: u64 = 1337;

/// A running `geth --dev`. Dropping it stops the process.
#[derive(Debug)]
pub struct GethNode {
    process: ServiceProcess,
    port: u16,
}

impl GethNode {
    /// Starts `geth --dev` with its data directory in `dir/geth`, mining a block whenever a
    /// transaction arrives (`--dev.period 0`), RPC over HTTP only, no peers, and waits until
    /// it answers.
    pub async fn start(dir: &Path, lifetime: Lifetime) -> Result<Self> {
        let bin = find_tool(Tool::Geth)?;
        let datadir = dir.join("geth");
        let started =
            dev_node::start("geth", &dir.join("geth.log"), GETH_DEV_CHAIN_ID, lifetime, |port| {
                let mut command = Command::new(&bin);
                command
                    .args(["--dev", "--dev.period", "0", "--datadir"])
                    .arg(&datadir)
                    .args(["--http", "--http.addr", "127.0.0.1", "--http.port", &port.to_string()])
                    .args(["--http.api", "eth,net,web3,debug"])
                    // Several gethes may run at once: no fixed p2p or engine-API port.
                    .args(["--port", "0", "--nodiscover", "--maxpeers", "0", "--ipcdisable"])
                    .args(["--authrpc.port", &ports::free_loopback_port()?.to_string()]);
                Ok(command)
            })
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
