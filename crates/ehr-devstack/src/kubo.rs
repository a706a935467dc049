//! A real kubo IPFS node on loopback ports with its own repository: offline by default, or
//! networked on loopback only, so several nodes can exchange blocks over bitswap.

use crate::process::{Lifetime, ServiceProcess};
use crate::readiness::{probe_client, wait_until_ready};
use crate::tools::{Tool, find_tool};
use crate::{Error, Result, ports};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use url::Url;

/// How to start kubo.
#[derive(Debug, Clone, Default)]
pub struct KuboOptions {
    /// Repository directory (`IPFS_PATH`); `None` uses `kubo/` in the stack's directory.
    /// An existing repository is reused, so pins survive a restart.
    pub repo: Option<PathBuf>,
    /// Whether kubo dies with the starting process.
    pub lifetime: Lifetime,
    /// Run with networking (bitswap with peers dialled explicitly through
    /// `/api/v0/swarm/connect`) instead of `--offline`. Still loopback only: the swarm listens
    /// on 127.0.0.1, there are no bootstrap peers, no content routing (`Routing.Type` none:
    /// no DHT, no delegated routers), no mDNS, no relays and no telemetry.
    pub networked: bool,
    /// The RPC API port; `None` picks a free one. A node restarted on its old port keeps the
    /// address that store settings name.
    pub api_port: Option<u16>,
}

/// A running kubo daemon. Dropping it stops the process (unless it was detached).
#[derive(Debug)]
pub struct KuboNode {
    process: ServiceProcess,
    api_port: u16,
    gateway_port: u16,
    repo: PathBuf,
    version: String,
}

impl KuboNode {
    /// Initialises a repository with the `test` profile if there is none, points its API and
    /// gateway at free loopback ports, starts `ipfs daemon` (`--offline` unless
    /// [`KuboOptions::networked`]) and waits until `/api/v0/version` answers.
    pub async fn start(dir: &Path, options: KuboOptions) -> Result<Self> {
        let bin = find_tool(Tool::Ipfs)?;
        let repo = options.repo.clone().unwrap_or_else(|| dir.join("kubo"));
        if !repo.join("config").exists() {
            init_repo(&bin, &repo)?;
        }
        let mut last_error = None;
        for _ in 0..3 {
            let api_port = match options.api_port {
                Some(port) => port,
                None => ports::free_loopback_port()?,
            };
            let gateway_port = ports::free_loopback_port()?;
            if api_port == gateway_port {
                continue;
            }
            set_addresses(&repo, api_port, gateway_port, options.networked)?;
            let mut command = Command::new(&bin);
            // Telemetry would report to a public host once the node is online.
            command.env("IPFS_PATH", &repo).env("IPFS_TELEMETRY", "off").arg("daemon");
            if !options.networked {
                command.arg("--offline");
            }
            let log = repo.parent().unwrap_or(&repo).join("kubo.log");
            let mut process = ServiceProcess::spawn("kubo", command, &log, options.lifetime)?;
            let api = format!("http://127.0.0.1:{api_port}");
            let client = probe_client();
            match wait_until_ready(&mut process, &api, || api_version(&client, &api)).await {
                Ok(version) => {
                    return Ok(Self { process, api_port, gateway_port, repo, version });
                }
                Err(e @ Error::ExitedEarly { .. }) => last_error = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_error.unwrap_or(Error::KuboConfig {
            path: repo.join("config"),
            reason: "could not find two distinct free ports".to_owned(),
        }))
    }

    /// The RPC API base, `http://127.0.0.1:PORT` (endpoints are under `/api/v0/`).
    pub fn api_url(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}", self.api_port)).expect("a loopback URL is valid")
    }

    /// The HTTP gateway, `http://127.0.0.1:PORT`.
    pub fn gateway_url(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}", self.gateway_port))
            .expect("a loopback URL is valid")
    }

    /// The version kubo reported at start-up, e.g. `0.41.0`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The repository (`IPFS_PATH`).
    pub fn repo(&self) -> &Path {
        &self.repo
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Kills kubo with SIGKILL, as a crash would.
    pub fn kill(&mut self) -> Result<()> {
        // SAFETY: kill(2) with our child's pid.
        unsafe { libc::kill(self.process.pid() as libc::pid_t, libc::SIGKILL) };
        self.process.stop()
    }

    /// Stops kubo cleanly.
    pub fn stop(mut self) -> Result<()> {
        self.process.stop()
    }

    /// Leaves kubo running after this handle is dropped; returns its PID.
    pub fn detach(self) -> u32 {
        self.process.detach()
    }
}

fn init_repo(bin: &Path, repo: &Path) -> Result<()> {
    std::fs::create_dir_all(repo)
        .map_err(|e| Error::io(format!("creating {}", repo.display()), e))?;
    let output = Command::new(bin)
        .env("IPFS_PATH", repo)
        .args(["init", "--profile=test"])
        .output()
        .map_err(|source| Error::Spawn { program: bin.to_path_buf(), source })?;
    if !output.status.success() {
        return Err(Error::CommandFailed {
            command: format!("IPFS_PATH={} {} init --profile=test", repo.display(), bin.display()),
            status: output.status,
            output: String::from_utf8_lossy(&[output.stdout, output.stderr].concat()).into_owned(),
        });
    }
    Ok(())
}

/// Rewrites the repository's config so the API and gateway listen on the given loopback
/// ports and the node has no peers to dial (editing the JSON directly is much faster than
/// one `ipfs config` process per key). A networked node also gets everything that could
/// reach past loopback switched off (the `test` profile already disables mDNS, AutoConf,
/// AutoTLS and NAT port mapping).
fn set_addresses(repo: &Path, api_port: u16, gateway_port: u16, networked: bool) -> Result<()> {
    let path = repo.join("config");
    let bad = |reason: String| Error::KuboConfig { path: path.clone(), reason };
    let text = std::fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let mut config: Value =
        serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let addresses = config
        .get_mut("Addresses")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| bad("no Addresses object".to_owned()))?;
    addresses.insert("API".into(), format!("/ip4/127.0.0.1/tcp/{api_port}").into());
    addresses.insert("Gateway".into(), format!("/ip4/127.0.0.1/tcp/{gateway_port}").into());
    addresses.insert("Swarm".into(), Value::Array(vec!["/ip4/127.0.0.1/tcp/0".into()]));
    config["Bootstrap"] = Value::Array(Vec::new());
    if networked {
        // Peers are dialled explicitly; without routing nothing looks for others.
        config["Routing"]["Type"] = "none".into();
        config["Swarm"]["RelayClient"] = serde_json::json!({ "Enabled": false });
        config["Swarm"]["RelayService"] = serde_json::json!({ "Enabled": false });
        config["Discovery"] = serde_json::json!({ "MDNS": { "Enabled": false } });
        config["Plugins"]["Plugins"]["telemetry"]["Config"]["Mode"] = "off".into();
    }
    let text = serde_json::to_string_pretty(&config).map_err(|e| bad(e.to_string()))?;
    std::fs::write(&path, text).map_err(|e| bad(e.to_string()))?;
    Ok(())
}

async fn api_version(client: &reqwest::Client, api: &str) -> Option<String> {
    let answer: Value =
        client.post(format!("{api}/api/v0/version")).send().await.ok()?.json().await.ok()?;
    answer.get("Version")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn configured(networked: bool) -> Value {
        let dir = tempfile::tempdir().unwrap();
        // The parts of a `test`-profile config that matter here, with a public swarm address
        // to see it replaced.
        let config = json!({
            "Addresses": { "Swarm": ["/ip4/0.0.0.0/tcp/4001"], "API": "", "Gateway": "" },
            "Bootstrap": ["/dnsaddr/bootstrap.libp2p.io/p2p/QmNnooDu7bfjPFoTZYxMNLWUQJyrVwtbZg5gBMjTezGAJN"],
            "Routing": { "DelegatedRouters": [] },
            "Swarm": { "RelayClient": {}, "RelayService": {} },
            "Plugins": { "Plugins": null },
        });
        std::fs::write(dir.path().join("config"), config.to_string()).unwrap();
        set_addresses(dir.path(), 5001, 8080, networked).unwrap();
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("config")).unwrap()).unwrap()
    }

    #[test]
    fn every_node_listens_on_loopback_without_bootstrap_peers() {
        for networked in [false, true] {
            let config = configured(networked);
            assert_eq!(config["Addresses"]["API"], "/ip4/127.0.0.1/tcp/5001");
            assert_eq!(config["Addresses"]["Gateway"], "/ip4/127.0.0.1/tcp/8080");
            assert_eq!(config["Addresses"]["Swarm"], json!(["/ip4/127.0.0.1/tcp/0"]));
            assert_eq!(config["Bootstrap"], json!([]));
        }
    }

    #[test]
    fn a_networked_node_has_no_routing_relays_or_telemetry() {
        let config = configured(true);
        assert_eq!(config["Routing"]["Type"], "none");
        assert_eq!(config["Swarm"]["RelayClient"]["Enabled"], false);
        assert_eq!(config["Swarm"]["RelayService"]["Enabled"], false);
        assert_eq!(config["Discovery"]["MDNS"]["Enabled"], false);
        assert_eq!(config["Plugins"]["Plugins"]["telemetry"]["Config"]["Mode"], "off");
        // An offline node's routing is left as the profile has it.
        assert_eq!(configured(false)["Routing"].get("Type"), None);
    }
}
