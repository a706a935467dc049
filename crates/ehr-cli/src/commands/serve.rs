//! `ehr serve`: the patient web page and its JSON API (see the `ehr-serve` crate).

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::Render;
use serde::Serialize;
use std::net::SocketAddr;

/// Serve the patient web page and its JSON API; with a signer, also relay signed grants (it pays).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr serve                                   # http://127.0.0.1:8080, read-only API
  ehr serve --account relayer                 # also relays patient-signed grants and pays the gas
  ehr serve --listen 127.0.0.1:0 --json       # any free port; prints {\"url\": …} once listening")]
pub(crate) struct Args {
    /// The address to listen on (loopback by default; the API has no authentication).
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    #[command(flatten)]
    eth: EthArgs,
}

/// Where the server listens.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listening {
    url: String,
    relayer: Option<alloy::primitives::Address>,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    if let Some(problem) = ehr_serve::page_problem() {
        eyre::bail!("{problem}; run scripts/setup, then rebuild ehr");
    }
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback: anyone who reaches it may spend the relay account's gas");
    }
    let session = context.session(&args.eth, Signing::Optional, false).await?;
    let relayer = session.chain().address().ok();
    let (listener, local) = ehr_serve::bind(args.listen).await?;
    context.print(&Listening { url: format!("http://{local}/"), relayer })?;
    ehr_serve::Server::new(session).run(listener).await?;
    Ok(())
}

impl Render for Listening {
    fn render(&self) -> String {
        match self.relayer {
            Some(relayer) => format!("serving {} (relaying as {relayer})", self.url),
            None => format!("serving {} (read-only: no relay account)", self.url),
        }
    }
}
