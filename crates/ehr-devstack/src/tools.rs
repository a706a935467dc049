//! Finding the binaries that `scripts/setup` installs (anvil, ipfs, and the other dev nodes).

use crate::{Error, Result};
use std::path::{Path, PathBuf};

/// A binary the local stack needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// Foundry's anvil.
    Anvil,
    /// kubo's `ipfs`.
    Ipfs,
    /// npm `hardhat` (its node runs on EDR).
    Hardhat,
    /// npm `ganache`.
    Ganache,
    /// go-ethereum's `geth`.
    Geth,
}

impl Tool {
    /// The executable's file name.
    pub fn binary_name(self) -> &'static str {
        match self {
            Tool::Anvil => "anvil",
            Tool::Ipfs => "ipfs",
            Tool::Hardhat => "hardhat",
            Tool::Ganache => "ganache",
            Tool::Geth => "geth",
        }
    }

    /// The environment variable that names the binary explicitly.
    pub fn env_var(self) -> &'static str {
        match self {
            Tool::Anvil => "EHR_ANVIL_BIN",
            Tool::Ipfs => "EHR_IPFS_BIN",
            Tool::Hardhat => "EHR_HARDHAT_BIN",
            Tool::Ganache => "EHR_GANACHE_BIN",
            Tool::Geth => "EHR_GETH_BIN",
        }
    }
}

/// Finds `tool`: the path in its environment variable, then `.tools/bin/` in the current
/// directory or any parent (the project checkout), then `EHR_TOOLS_DIR/bin`, then `PATH`.
pub fn find_tool(tool: Tool) -> Result<PathBuf> {
    let name = tool.binary_name();
    let mut searched = Vec::new();
    if let Some(explicit) = std::env::var_os(tool.env_var()) {
        let path = PathBuf::from(explicit);
        if is_executable(&path) {
            return Ok(path);
        }
        searched.push(format!("{}={}", tool.env_var(), path.display()));
    }
    let mut roots: Vec<PathBuf> = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.extend(cwd.ancestors().map(Path::to_path_buf));
    }
    // Tests run with the crate directory as cwd; the checkout root is above it either way.
    roots.extend(Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().map(Path::to_path_buf));
    let mut candidates: Vec<PathBuf> =
        roots.iter().map(|r| r.join(".tools/bin").join(name)).collect();
    if let Some(dir) = std::env::var_os("EHR_TOOLS_DIR") {
        candidates.insert(0, PathBuf::from(dir).join("bin").join(name));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join(name)));
    }
    for candidate in candidates {
        if is_executable(&candidate) {
            return Ok(candidate);
        }
        if !searched.iter().any(|s| s == &candidate.display().to_string()) {
            searched.push(candidate.display().to_string());
        }
    }
    // Keep the message readable: the first few places say where it should have been.
    searched.truncate(4);
    searched.push("PATH".to_owned());
    Err(Error::ToolNotFound { tool: name, searched: searched.join(", "), env_var: tool.env_var() })
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}
