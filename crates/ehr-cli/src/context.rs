//! What every command gets: the resolved settings and the output mode, and the one way to
//! open a chain connection or a session from the chain flags.

use crate::cli::EthArgs;
use crate::config::Settings;
use crate::output::{Render, format};
use crate::signer;
use ehr_sdk::{Chain, Session, SessionConfig};
use ehr_store::StoreUrl;
use serde::Serialize;

/// Whether a command signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    /// It sends transactions or signs messages: a signer is required.
    Required,
    /// It only reads (a signer given anyway is used for "my" defaults).
    Optional,
}

pub(crate) struct Context {
    pub(crate) settings: Settings,
    json: bool,
}

impl Context {
    pub(crate) fn new(settings: Settings, json: bool) -> Self {
        Self { settings, json }
    }

    /// Prints a command's result on stdout, as JSON or text.
    pub(crate) fn print<T: Serialize + Render>(&self, value: &T) -> eyre::Result<()> {
        use std::io::Write;
        let text = format(value, self.json)?;
        match writeln!(std::io::stdout().lock(), "{text}") {
            // `ehr … | head` closing the pipe early is not a failure of ours.
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            result => Ok(result?),
        }
    }

    /// Connects to the RPC node, unlocking the signer when `signing` requires one.
    pub(crate) async fn chain(&self, args: &EthArgs, signing: Signing) -> eyre::Result<Chain> {
        let signer = signer::resolve(&args.signer, &self.settings)?;
        if signing == Signing::Required && signer.is_none() {
            return Err(ehr_sdk::Error::NoSigner.into());
        }
        let (rpc_url, source) = self.settings.rpc_url(args);
        tracing::info!(%rpc_url, ?source, "rpc");
        Ok(Chain::connect(rpc_url, signer).await?)
    }

    /// Opens a session: deployment verified against the chain, store opened when `store`.
    pub(crate) async fn session(
        &self,
        args: &EthArgs,
        signing: Signing,
        store: bool,
    ) -> eyre::Result<Session> {
        let signer = signer::resolve(&args.signer, &self.settings)?;
        if signing == Signing::Required && signer.is_none() {
            return Err(ehr_sdk::Error::NoSigner.into());
        }
        let (rpc_url, rpc_source) = self.settings.rpc_url(args);
        let (deployment, deployment_source) = self.settings.deployment(args);
        tracing::info!(%rpc_url, ?rpc_source, deployment = %deployment.display(), ?deployment_source, "session");
        let store = if store {
            let (setting, source) = self.settings.store(args);
            tracing::info!(store = %setting, ?source, "store");
            Some(setting.parse::<StoreUrl>()?)
        } else {
            None
        };
        let session = Session::open(SessionConfig { rpc_url, deployment, signer, store }).await?;
        // Verified indexes persist between commands: a one-shot `ehr search` starts warm.
        // Grants signed without being sent are remembered, so one never submitted is rotated away.
        let data = self.settings.data_dir();
        Ok(session
            .with_index_cache_dir(&data.join("cache").join("index"))
            .with_pending_grants_dir(&data.join("pending-grants")))
    }
}
