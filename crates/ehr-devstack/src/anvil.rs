//! A real anvil chain on a loopback port.

use crate::process::{Lifetime, ServiceProcess};
use crate::readiness::{probe_client, wait_until_ready};
use crate::tools::{Tool, find_tool};
use crate::{Error, Result, ports};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;
use url::Url;

/// The chain id of local development chains.
pub const DEV_CHAIN_ID: u64 = 31337;

/// How to start anvil.
#[derive(Debug, Clone)]
pub struct AnvilOptions {
    /// Chain id (default 31337).
    pub chain_id: u64,
    /// Port on 127.0.0.1; `None` picks a free one.
    pub port: Option<u16>,
    /// Directory for the state file and the log; `None` uses the stack's directory.
    pub dir: Option<PathBuf>,
    /// Also dump the state every this many seconds, not only on a clean stop, so a killed
    /// anvil loses at most that much.
    pub state_interval_secs: Option<u64>,
    /// Whether anvil dies with the starting process.
    pub lifetime: Lifetime,
    /// Suppress anvil's per-transaction log lines (benchmarks write many).
    pub silent: bool,
}

impl Default for AnvilOptions {
    fn default() -> Self {
        Self {
            chain_id: DEV_CHAIN_ID,
            port: None,
            dir: None,
            state_interval_secs: None,
            lifetime: Lifetime::Tied,
            silent: false,
        }
    }
}

/// A running anvil. Dropping it stops the process (unless it was detached).
#[derive(Debug)]
pub struct AnvilNode {
    process: ServiceProcess,
    bin: PathBuf,
    port: u16,
    state_path: PathBuf,
    options: AnvilOptions,
}

impl AnvilNode {
    /// Starts anvil in `dir` (state file `anvil-state.json`, log `anvil.log`) and waits until it
    /// answers `eth_chainId` with the configured chain id.
    pub async fn start(dir: &Path, options: AnvilOptions) -> Result<Self> {
        let bin = find_tool(Tool::Anvil)?;
        let dir = options.dir.clone().unwrap_or_else(|| dir.to_path_buf());
        std::fs::create_dir_all(&dir)
            .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        let state_path = dir.join("anvil-state.json");
        // A fixed port is the caller's promise; a picked one may be taken by a racing
        // process before anvil binds it, so that case gets a few tries.
        let attempts = if options.port.is_some() { 1 } else { 3 };
        let mut last_error = None;
        for _ in 0..attempts {
            let port = match options.port {
                Some(port) => port,
                None => ports::free_loopback_port()?,
            };
            match Self::start_on(&bin, &dir, &state_path, port, options.clone()).await {
                Ok(node) => return Ok(node),
                Err(e @ Error::ExitedEarly { .. }) => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("at least one attempt ran"))
    }

    async fn start_on(
        bin: &Path,
        dir: &Path,
        state_path: &Path,
        port: u16,
        options: AnvilOptions,
    ) -> Result<Self> {
        let mut command = Command::new(bin);
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", &options.chain_id.to_string()])
            .arg("--state")
            .arg(state_path);
        if let Some(secs) = options.state_interval_secs {
            command.args(["--state-interval", &secs.to_string()]);
        }
        if options.silent {
            command.arg("--silent");
        }
        let mut process =
            ServiceProcess::spawn("anvil", command, &dir.join("anvil.log"), options.lifetime)?;
        let url = format!("http://127.0.0.1:{port}");
        let client = probe_client();
        let chain_id = wait_until_ready(&mut process, &url, || rpc_chain_id(&client, &url)).await?;
        if chain_id != options.chain_id {
            return Err(Error::NotReady {
                service: "anvil",
                url,
                seconds: 0,
                log_tail: format!("answered chain id {chain_id}, expected {}", options.chain_id),
            });
        }
        Ok(Self {
            process,
            bin: bin.to_path_buf(),
            port,
            state_path: state_path.to_path_buf(),
            options,
        })
    }

    /// The JSON-RPC endpoint, `http://127.0.0.1:PORT`.
    pub fn rpc_url(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}", self.port)).expect("a loopback URL is valid")
    }

    /// The port anvil listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The chain id.
    pub fn chain_id(&self) -> u64 {
        self.options.chain_id
    }

    /// The file anvil loads its chain from and dumps it to.
    pub fn state_path(&self) -> &Path {
        &self.state_path
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// Stops anvil cleanly (it dumps its state) and starts it again on the same port from the
    /// same state file.
    pub async fn restart(&mut self) -> Result<()> {
        self.process.stop()?;
        let dir =
            self.state_path.parent().expect("the state file is inside a directory").to_path_buf();
        let restarted =
            Self::start_on(&self.bin, &dir, &self.state_path, self.port, self.options.clone())
                .await?;
        *self = restarted;
        Ok(())
    }

    /// Kills anvil with SIGKILL, as a crash would: no state dump.
    pub fn kill(&mut self) -> Result<()> {
        // SAFETY: kill(2) with our child's pid.
        unsafe { libc::kill(self.process.pid() as libc::pid_t, libc::SIGKILL) };
        self.process.stop()
    }

    /// Stops anvil cleanly (it dumps its state).
    pub fn stop(mut self) -> Result<()> {
        self.process.stop()
    }

    /// Leaves anvil running after this handle is dropped; returns its PID.
    pub fn detach(self) -> u32 {
        self.process.detach()
    }

    /// Sets an account's balance (anvil's `anvil_setBalance`), to fund test accounts.
    pub async fn set_balance(&self, address: &str, wei: u128) -> Result<()> {
        let client = probe_client();
        let url = self.rpc_url().to_string();
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance",
                          "params": [address, format!("0x{wei:x}")]});
        let answer: Value = client
            .post(&url)
            .json(&body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| Error::io("anvil_setBalance", std::io::Error::other(e)))?
            .json()
            .await
            .map_err(|e| Error::io("anvil_setBalance answer", std::io::Error::other(e)))?;
        if let Some(error) = answer.get("error") {
            return Err(Error::io("anvil_setBalance", std::io::Error::other(error.to_string())));
        }
        Ok(())
    }
}

async fn rpc_chain_id(client: &reqwest::Client, url: &str) -> Option<u64> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []});
    let answer: Value = client.post(url).json(&body).send().await.ok()?.json().await.ok()?;
    let hex = answer.get("result")?.as_str()?.strip_prefix("0x")?;
    u64::from_str_radix(hex, 16).ok()
}
