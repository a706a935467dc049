//! The local development stack behind `ehr dev`: anvil (and kubo when asked) started detached,
//! so they keep running after the command exits, described in a stack file (`stack.json`)
//! that later commands read for the RPC and store URLs, and stopped by PID.
//!
//! anvil keeps its chain in a state file it loads on start and dumps every few seconds and on
//! a clean stop, so `down` then `up` resumes the same chain (same contracts, same accounts).
//! Before a PID from the stack file is signalled, `/proc` must show it is still the program
//! that was started: a PID reused by an unrelated process is never touched.

use crate::session::rpc_error;
use crate::{Error, Result};
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use ehr_devstack::{AnvilNode, AnvilOptions, KuboNode, KuboOptions, Lifetime};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use url::Url;

/// The stack file's name inside the dev directory.
pub const STACK_FILE: &str = "stack.json";
/// The version of the stack file format.
pub const STACK_FORMAT: u32 = 1;

/// One started service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceInfo {
    /// Its process id.
    pub pid: u32,
    /// Where it answers (anvil: JSON-RPC; kubo: the RPC API base).
    pub url: Url,
    /// Its log file.
    pub log: PathBuf,
}

/// What `ehr dev up` started, as saved in the stack file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackFile {
    /// [`STACK_FORMAT`].
    pub format: u32,
    /// The chain id.
    pub chain_id: u64,
    /// anvil.
    pub anvil: ServiceInfo,
    /// anvil's state file.
    pub state_file: PathBuf,
    /// kubo, when started.
    pub kubo: Option<ServiceInfo>,
    /// The store setting to use with this stack (`local:…` or `kubo:…`).
    pub store: String,
}

impl StackFile {
    /// Reads `dir/stack.json`; `Ok(None)` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(STACK_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::StackFile { path, reason: e.to_string() }),
        };
        let file: Self = serde_json::from_str(&text)
            .map_err(|e| Error::StackFile { path: path.clone(), reason: e.to_string() })?;
        if file.format != STACK_FORMAT {
            return Err(Error::StackFile {
                path,
                reason: format!(
                    "format {} is not supported (expected {STACK_FORMAT})",
                    file.format
                ),
            });
        }
        Ok(Some(file))
    }

    /// Writes `dir/stack.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let path = dir.join(STACK_FILE);
        let tmp = dir.join(format!(".{STACK_FILE}.tmp-{}", std::process::id()));
        let text = serde_json::to_string_pretty(self).expect("a stack file always serializes");
        std::fs::write(&tmp, text + "\n")
            .and_then(|()| std::fs::rename(&tmp, &path))
            .map_err(|e| Error::StackFile { path, reason: e.to_string() })
    }
}

/// Which store the stack serves records from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreChoice {
    /// The one the stack had last time (the embedded store for a new stack): records stay
    /// readable across `down`/`up`.
    #[default]
    Remembered,
    /// A kubo node (started with the stack; its repository persists in the dev directory).
    Kubo,
    /// The embedded store.
    Embedded,
}

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct UpOptions {
    /// The dev directory (`.ehr/dev`): stack file, anvil state, logs, kubo repository.
    pub dir: PathBuf,
    /// The store; switching away from the one the stack had is explicit and reported.
    pub store: StoreChoice,
    /// The store setting without kubo (`local:.ehr/blobs`).
    pub local_store: String,
    /// Seconds between anvil state dumps.
    pub state_interval_secs: u64,
}

/// What `up` found or did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpOutcome {
    /// True when the stack was already running and nothing was started.
    pub already_running: bool,
    /// True when anvil loaded an existing chain from its state file.
    pub resumed_chain: bool,
    /// The stack.
    pub stack: StackFile,
    /// When the store differs from the one the stack had before: that one's setting. Its
    /// records are not readable through the new store (they stay where they are).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub switched_from: Option<String>,
}

/// Whether `pid` is a live (not zombie) process whose command line mentions `program`.
fn is_our_process(pid: u32, program: &str) -> bool {
    let alive = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| !stat.rsplit(')').next().unwrap_or("").trim_start().starts_with('Z'))
        .unwrap_or(false);
    alive
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .map(|cmd| String::from_utf8_lossy(&cmd).contains(program))
            .unwrap_or(false)
}

async fn answers_chain_id(url: &Url) -> Option<u64> {
    ehr_contracts::read_provider(url.clone()).get_chain_id().await.ok()
}

/// Whether `port` on loopback is free to bind (anvil started detached cannot report a bind
/// failure quickly, so a taken port is avoided up front).
fn port_is_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Starts the stack detached, resuming the chain from its state file when there is one;
/// does nothing when it is already running and answering.
pub async fn up(options: UpOptions) -> Result<UpOutcome> {
    std::fs::create_dir_all(&options.dir)
        .map_err(|e| Error::StackFile { path: options.dir.clone(), reason: e.to_string() })?;
    let previous = StackFile::load(&options.dir)?;
    let had_kubo = previous.as_ref().map(|stack| stack.kubo.is_some());
    let kubo = match options.store {
        StoreChoice::Kubo => true,
        StoreChoice::Embedded => false,
        StoreChoice::Remembered => had_kubo.unwrap_or(false),
    };
    let switched_from = previous
        .as_ref()
        .filter(|stack| stack.kubo.is_some() != kubo)
        .map(|stack| stack.store.clone());
    if let Some(stack) = &previous {
        let anvil_up = is_our_process(stack.anvil.pid, "anvil")
            && answers_chain_id(&stack.anvil.url).await.is_some();
        let kubo_up = stack.kubo.as_ref().is_some_and(|k| is_our_process(k.pid, "ipfs"));
        if anvil_up && switched_from.is_none() && kubo_up == kubo {
            return Ok(UpOutcome {
                already_running: true,
                resumed_chain: true,
                stack: stack.clone(),
                switched_from: None,
            });
        }
        // Something is missing, or the store changes: stop what is left and start afresh
        // (the chain resumes from its state file).
        stop_services(stack)?;
    }
    let state_file = options.dir.join("anvil-state.json");
    let resumed_chain = state_file.exists();
    // Keep the previous port when possible, so a URL someone copied keeps working.
    let port = previous.as_ref().and_then(|s| s.anvil.url.port()).filter(|p| port_is_free(*p));
    let anvil = AnvilNode::start(
        &options.dir,
        AnvilOptions {
            port,
            dir: Some(options.dir.clone()),
            state_interval_secs: Some(options.state_interval_secs),
            lifetime: Lifetime::Detached,
            ..Default::default()
        },
    )
    .await?;
    let anvil_info =
        ServiceInfo { pid: anvil.pid(), url: anvil.rpc_url(), log: anvil.log_path().to_path_buf() };
    let chain_id = anvil.chain_id();
    let state_file = anvil.state_path().to_path_buf();
    anvil.detach();
    let (kubo, store) = if kubo {
        let started = KuboNode::start(
            &options.dir,
            KuboOptions { lifetime: Lifetime::Detached, ..Default::default() },
        )
        .await;
        let node = match started {
            Ok(node) => node,
            Err(e) => {
                // Leave nothing half-started behind.
                let _ = ehr_devstack::stop_pid(anvil_info.pid);
                return Err(e.into());
            }
        };
        let info =
            ServiceInfo { pid: node.pid(), url: node.api_url(), log: options.dir.join("kubo.log") };
        let store = format!("kubo:{}", node.api_url().as_str().trim_end_matches('/'));
        node.detach();
        (Some(info), store)
    } else {
        (None, options.local_store.clone())
    };
    let stack =
        StackFile { format: STACK_FORMAT, chain_id, anvil: anvil_info, state_file, kubo, store };
    stack.save(&options.dir)?;
    Ok(UpOutcome { already_running: false, resumed_chain, stack, switched_from })
}

/// A service `down` stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Stopped {
    /// `anvil` or `kubo`.
    pub service: &'static str,
    /// Its PID.
    pub pid: u32,
    /// False when it was no longer running.
    pub was_running: bool,
}

/// What `down` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownOutcome {
    /// Each service of the stack file.
    pub services: Vec<Stopped>,
    /// The chain's state file, kept for the next `up`.
    pub state_file: Option<PathBuf>,
}

fn stop_services(stack: &StackFile) -> Result<Vec<Stopped>> {
    let mut services = Vec::new();
    let mut targets = vec![("anvil", stack.anvil.pid)];
    if let Some(kubo) = &stack.kubo {
        targets.insert(0, ("kubo", kubo.pid));
    }
    for (service, pid) in targets {
        let program = if service == "kubo" { "ipfs" } else { "anvil" };
        let was_running = is_our_process(pid, program);
        if was_running {
            // SIGTERM first (anvil dumps its state, kubo closes its repository), then SIGKILL.
            ehr_devstack::stop_pid(pid)?;
        }
        services.push(Stopped { service, pid, was_running });
    }
    Ok(services)
}

/// Stops the stack by PID and keeps its state, so `up` resumes the same chain.
pub fn down(dir: &Path) -> Result<DownOutcome> {
    let Some(stack) = StackFile::load(dir)? else {
        return Ok(DownOutcome { services: Vec::new(), state_file: None });
    };
    let services = stop_services(&stack)?;
    Ok(DownOutcome { services, state_file: Some(stack.state_file) })
}

/// One service's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// `anvil` or `kubo`.
    pub service: &'static str,
    /// Its PID.
    pub pid: u32,
    /// Where it should answer.
    pub url: Url,
    /// Whether the process exists.
    pub running: bool,
    /// Whether it answered just now.
    pub answering: bool,
    /// anvil: the latest block number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block: Option<u64>,
}

/// The stack's health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackStatus {
    /// The dev directory.
    pub dir: PathBuf,
    /// False when `ehr dev up` never ran here.
    pub configured: bool,
    /// The chain id, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain_id: Option<u64>,
    /// The store setting, when configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub store: Option<String>,
    /// Each service.
    pub services: Vec<ServiceStatus>,
}

/// What is running and answering.
pub async fn status(dir: &Path) -> Result<StackStatus> {
    let Some(stack) = StackFile::load(dir)? else {
        return Ok(StackStatus {
            dir: dir.to_path_buf(),
            configured: false,
            chain_id: None,
            store: None,
            services: Vec::new(),
        });
    };
    let provider = ehr_contracts::read_provider(stack.anvil.url.clone());
    let block = provider.get_block_number().await.ok();
    let mut services = vec![ServiceStatus {
        service: "anvil",
        pid: stack.anvil.pid,
        url: stack.anvil.url.clone(),
        running: is_our_process(stack.anvil.pid, "anvil"),
        answering: block.is_some(),
        block,
    }];
    if let Some(kubo) = &stack.kubo {
        let answering = reqwest::Client::new()
            .post(format!("{}/api/v0/version", kubo.url.as_str().trim_end_matches('/')))
            .timeout(std::time::Duration::from_secs(2))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success());
        services.push(ServiceStatus {
            service: "kubo",
            pid: kubo.pid,
            url: kubo.url.clone(),
            running: is_our_process(kubo.pid, "ipfs"),
            answering,
            block: None,
        });
    }
    Ok(StackStatus {
        dir: dir.to_path_buf(),
        configured: true,
        chain_id: Some(stack.chain_id),
        store: Some(stack.store),
        services,
    })
}

/// A funded account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Funded {
    /// The account.
    pub address: Address,
    /// Its balance now, in wei (as a decimal string: it may exceed what JSON numbers hold).
    #[serde(serialize_with = "crate::serde_text::display")]
    pub balance_wei: U256,
}

/// Sets `address`'s balance to `wei` with anvil's `anvil_setBalance` (dev chains only).
pub async fn fund(rpc_url: &Url, address: Address, wei: u128) -> Result<Funded> {
    let provider = ehr_contracts::read_provider(rpc_url.clone());
    let result: std::result::Result<serde_json::Value, _> =
        provider.raw_request("anvil_setBalance".into(), (address, U256::from(wei))).await;
    match result {
        Ok(_) => {}
        Err(alloy::transports::RpcError::ErrorResp(payload)) => {
            return Err(Error::NotADevChain {
                action: "funding an account",
                reason: payload.message.to_string(),
            });
        }
        Err(e) => return Err(rpc_error(rpc_url, "set the balance", e)),
    }
    let balance = provider
        .get_balance(address)
        .await
        .map_err(|e| rpc_error(rpc_url, "read the balance", e))?;
    Ok(Funded { address, balance_wei: balance })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_files_round_trip_and_a_missing_one_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(StackFile::load(dir.path()).unwrap(), None);
        let stack = StackFile {
            format: STACK_FORMAT,
            chain_id: 31337,
            anvil: ServiceInfo {
                pid: 1,
                url: "http://127.0.0.1:8545".parse().unwrap(),
                log: "anvil.log".into(),
            },
            state_file: "anvil-state.json".into(),
            kubo: None,
            store: "local:.ehr/blobs".into(),
        };
        stack.save(dir.path()).unwrap();
        assert_eq!(StackFile::load(dir.path()).unwrap(), Some(stack));
        std::fs::write(dir.path().join(STACK_FILE), "{").unwrap();
        assert!(matches!(StackFile::load(dir.path()), Err(Error::StackFile { .. })));
    }

    #[test]
    fn only_live_processes_running_the_program_count_as_ours() {
        let me = std::process::id();
        assert!(!is_our_process(me, "definitely-not-this-program-name"));
        assert!(!is_our_process(u32::MAX, "anvil"));
    }
}
