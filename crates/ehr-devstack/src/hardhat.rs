//! Hardhat's node (EDR, the Rust EVM Hardhat runs on), from npm `hardhat`.
//!
//! `hardhat node` insists on a local installation: run from a directory that cannot
//! `require("hardhat")`, it stops with HH12. The node gets its own project directory with a
//! config naming the chain id and a `node_modules` link to the installation the binary
//! belongs to.

use crate::dev_node;
use crate::process::{Lifetime, ServiceProcess};
use crate::tools::{Tool, find_tool};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use url::Url;

/// Hardhat's default chain id.
pub const HARDHAT_CHAIN_ID: u64 = 31337;

/// A running `hardhat node`. Dropping it stops the process.
#[derive(Debug)]
pub struct HardhatNode {
    process: ServiceProcess,
    port: u16,
}

impl HardhatNode {
    /// Starts `hardhat node` in `dir/hardhat` and waits until it answers.
    pub async fn start(dir: &Path, lifetime: Lifetime) -> Result<Self> {
        let bin = find_tool(Tool::Hardhat)?;
        let project = dir.join("hardhat");
        std::fs::create_dir_all(&project)
            .map_err(|e| Error::io(format!("creating {}", project.display()), e))?;
        let config = format!(
            "// Written by ehr-devstack.\nmodule.exports = {{ networks: {{ hardhat: {{ chainId: {HARDHAT_CHAIN_ID} }} }} }};\n"
        );
        let io = |e| Error::io(format!("writing the Hardhat project in {}", project.display()), e);
        std::fs::write(project.join("hardhat.config.js"), config).map_err(io)?;
        let link = project.join("node_modules");
        if !link.exists() {
            std::os::unix::fs::symlink(installation(&bin)?, &link).map_err(io)?;
        }
        let started = dev_node::start(
            "hardhat",
            &dir.join("hardhat.log"),
            HARDHAT_CHAIN_ID,
            lifetime,
            |port| {
                let mut command = Command::new(&bin);
                command
                    .current_dir(&project)
                    .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
                    .args(["node", "--hostname", "127.0.0.1", "--port", &port.to_string()]);
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

/// The `node_modules` directory holding the `hardhat` package `bin` starts
/// (`node_modules/.bin/hardhat` → `node_modules/hardhat/internal/cli/bootstrap.js`).
fn installation(bin: &Path) -> Result<PathBuf> {
    let real = std::fs::canonicalize(bin)
        .map_err(|e| Error::io(format!("resolving {}", bin.display()), e))?;
    real.ancestors()
        .find(|dir| dir.file_name().is_some_and(|n| n == "node_modules"))
        .map(Path::to_path_buf)
        .ok_or_else(|| {
            Error::io(
                format!("{} is not inside a node_modules directory", real.display()),
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })
}
