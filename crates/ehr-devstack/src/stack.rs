//! The whole local stack: anvil, and kubo when asked for, in one directory.

use crate::anvil::{AnvilNode, AnvilOptions};
use crate::kubo::{KuboNode, KuboOptions};
use crate::{Error, Result};
use std::path::{Path, PathBuf};
use tempfile::TempDir;

/// What to start.
#[derive(Debug, Clone, Default)]
pub struct StackOptions {
    /// Directory for state files, repositories and logs; `None` uses a temporary directory
    /// that is removed when the stack is dropped.
    pub dir: Option<PathBuf>,
    /// anvil's options.
    pub anvil: AnvilOptions,
    /// Whether to start kubo too.
    pub kubo: bool,
    /// kubo's options (used when `kubo` is true).
    pub kubo_options: KuboOptions,
}

/// A running local stack. Dropping it stops kubo, then anvil, then removes a temporary
/// directory.
#[derive(Debug)]
pub struct DevStack {
    // Field order is drop order: the processes stop before their directory goes away.
    kubo: Option<KuboNode>,
    anvil: AnvilNode,
    dir: PathBuf,
    _temp: Option<TempDir>,
}

impl DevStack {
    /// Starts anvil and (optionally) kubo concurrently and waits until both answer.
    pub async fn start(options: StackOptions) -> Result<Self> {
        let (temp, dir) = match options.dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir)
                    .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
                (None, dir)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("ehr-devstack-")
                    .tempdir()
                    .map_err(|e| Error::io("creating a temporary directory", e))?;
                let dir = temp.path().to_path_buf();
                (Some(temp), dir)
            }
        };
        let anvil = AnvilNode::start(&dir, options.anvil);
        let (anvil, kubo) = if options.kubo {
            let kubo = KuboNode::start(&dir, options.kubo_options);
            let (anvil, kubo) = tokio::join!(anvil, kubo);
            (anvil?, Some(kubo?))
        } else {
            (anvil.await?, None)
        };
        Ok(Self { kubo, anvil, dir, _temp: temp })
    }

    /// The chain.
    pub fn anvil(&self) -> &AnvilNode {
        &self.anvil
    }

    /// The chain, mutably (to restart or kill it).
    pub fn anvil_mut(&mut self) -> &mut AnvilNode {
        &mut self.anvil
    }

    /// The IPFS node, when one was started.
    pub fn kubo(&self) -> Option<&KuboNode> {
        self.kubo.as_ref()
    }

    /// The IPFS node, mutably (to kill it).
    pub fn kubo_mut(&mut self) -> Option<&mut KuboNode> {
        self.kubo.as_mut()
    }

    /// The stack's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
