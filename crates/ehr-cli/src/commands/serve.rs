//! `ehr serve`: the patient web page and its JSON API (see the `ehr-serve` crate).

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::Render;
use ehr_serve::{Limits, RelayPolicy, ServeConfig};
use alloy::primitives::Address;
use ehr_sdk::parse;
use serde::Serialize;
use std::net::SocketAddr;
use std::time::Duration;

/// Serve the patient web page and its JSON API; with a signer, also relay signed grants (it pays).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr serve                                   # http://127.0.0.1:8080, read-only API
  ehr serve --account relayer                 # also relays patient-signed grants and pays the gas
  ehr serve --listen 127.0.0.1:0 --json       # any free port; prints {\"url\": …} once listening
  ehr serve --account relayer --relay-patient 0x70997970C51812dc3A010C7d01b50e0d17dc79C8 --relay-max 5
  ehr serve --public-origin https://ehr.example.org   # behind a reverse proxy at that origin")]
pub(crate) struct Args {
    /// The address to listen on (loopback by default). Only requests naming this address (or
    /// localhost, or --public-origin) in Host and Origin are answered.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    listen: SocketAddr,
    /// The origin the page is also reached at, through a reverse proxy.
    #[arg(long, value_name = "URL")]
    public_origin: Option<String>,
    /// An RPC URL the page may offer a wallet that does not know the chain (it is shown to
    /// every visitor: never one with an API key in it).
    #[arg(long, value_name = "URL")]
    wallet_rpc_url: Option<String>,
    /// Relayed transactions per patient per --relay-window.
    #[arg(long, default_value_t = RelayPolicy::default().max_relays, value_name = "N")]
    relay_max: u32,
    /// Gas the relay pays per patient per --relay-window (a relayed grant uses ~175,000).
    #[arg(long, default_value_t = RelayPolicy::default().max_gas, value_name = "GAS")]
    relay_gas: u64,
    /// The window the relay quotas count over, from a patient's first relay in it.
    #[arg(long, default_value = "1d", value_parser = parse::duration, value_name = "DURATION")]
    relay_window: Duration,
    /// Relay only for this patient (repeat for more); without it, for every patient.
    #[arg(long = "relay-patient", value_parser = parse::address, value_name = "ADDRESS")]
    relay_patients: Vec<Address>,
    /// Connections served at once (more wait).
    #[arg(long, default_value_t = Limits::default().max_connections, value_name = "N")]
    max_connections: usize,
    /// Seconds a client has to send a request's headers, and then its body.
    #[arg(long, default_value_t = Limits::default().header_timeout.as_secs(), value_name = "SECONDS")]
    request_timeout: u64,
    #[command(flatten)]
    eth: EthArgs,
}

/// Where the server listens.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listening {
    url: String,
    origins: Vec<String>,
    relayer: Option<alloy::primitives::Address>,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    if let Some(problem) = ehr_serve::page_problem() {
        eyre::bail!("{problem}; run scripts/setup, then rebuild ehr");
    }
    if !args.listen.ip().is_loopback() {
        tracing::warn!(listen = %args.listen, "listening beyond loopback: anyone who reaches it may spend the relay account's gas");
    }
    // The store serves record headers to the page (Record grants open their data key there).
    let session = context.session(&args.eth, Signing::Optional, true).await?;
    let relayer = session.chain().address().ok();
    let timeout = Duration::from_secs(args.request_timeout);
    let config = ServeConfig {
        public_origin: args.public_origin,
        wallet_rpc_url: args.wallet_rpc_url,
        limits: Limits {
            header_timeout: timeout,
            body_timeout: timeout,
            max_connections: args.max_connections,
            ..Limits::default()
        },
        relay: RelayPolicy {
            window: args.relay_window,
            max_relays: args.relay_max,
            max_gas: args.relay_gas,
            patients: (!args.relay_patients.is_empty()).then_some(args.relay_patients),
        },
        replacement: ehr_contracts::Replacement::default(),
    };
    if timeout.is_zero() {
        eyre::bail!("--request-timeout must be at least 1 second");
    }
    let (listener, local) = ehr_serve::bind(args.listen).await?;
    let server = ehr_serve::Server::new(session, local, config)?;
    let origins = server.origins().to_vec();
    let url = format!("{}/", origins[0]);
    context.print(&Listening { url, origins, relayer })?;
    server.run(listener).await?;
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
