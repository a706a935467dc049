//! `ehr dev`: the local development stack.

use crate::cli::EthArgs;
use crate::context::Context;
use crate::output::{Fields, Render};
use alloy::primitives::Address;
use ehr_sdk::devnet::{
    self, DownOutcome, Funded, StackStatus, StoreChoice, UpOptions, UpOutcome,
};
use ehr_sdk::parse;

/// Run a local chain (anvil) and store for development; it keeps running after `ehr` exits.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr dev up                 # anvil + the store the stack had (new: embedded, local:.ehr/blobs)
  ehr dev up --kubo          # anvil + a real kubo IPFS node as the store
  ehr dev status --json
  ehr dev fund 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266 --eth 10
  ehr dev down               # stops both; `ehr dev up` resumes the same chain")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: DevCommand,
}

#[derive(clap::Subcommand, Debug)]
enum DevCommand {
    /// Start anvil (state persisted in .ehr/dev) and the store, detached.
    #[command(after_help = "Examples:\n  ehr dev up\n  ehr dev up --kubo --state-interval 2\n  ehr dev up --embedded   # switch a kubo stack back to the embedded store\n\nThe stack keeps the store it had (a stack started with --kubo starts kubo again);\nswitching is explicit, and said, since the other store's records are not readable\nthrough the new one.")]
    Up {
        /// Start a kubo IPFS node and use it as the store.
        #[arg(long, conflicts_with = "embedded")]
        kubo: bool,
        /// Use the embedded store (local:.ehr/blobs), also for a stack that had kubo.
        #[arg(long)]
        embedded: bool,
        /// Seconds between anvil's state dumps (a crash loses at most this much).
        #[arg(long, default_value_t = 5, value_name = "SECONDS")]
        state_interval: u64,
    },
    /// Stop the stack by PID; its state stays for the next `up`.
    #[command(after_help = "Examples:\n  ehr dev down")]
    Down,
    /// Show what is running and answering.
    #[command(after_help = "Examples:\n  ehr dev status\n  ehr dev status --json")]
    Status,
    /// Set an account's ether balance on the dev chain (anvil_setBalance).
    #[command(after_help = "Examples:\n  ehr dev fund 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n  ehr dev fund $(ehr account address alice) --eth 0.5")]
    Fund {
        /// The account.
        #[arg(value_parser = parse::address)]
        address: Address,
        /// The balance to set, in ether.
        #[arg(long, default_value = "100", value_parser = parse::ether, value_name = "ETHER")]
        eth: u128,
        #[command(flatten)]
        eth_args: Box<EthArgs>,
    },
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let dir = context.settings.dev_dir();
    match args.command {
        DevCommand::Up { kubo, embedded, state_interval } => {
            let store = match (kubo, embedded) {
                (true, _) => StoreChoice::Kubo,
                (_, true) => StoreChoice::Embedded,
                _ => StoreChoice::Remembered,
            };
            let outcome = devnet::up(UpOptions {
                dir,
                store,
                local_store: context.settings.local_store(),
                state_interval_secs: state_interval.max(1),
            })
            .await?;
            context.print(&outcome)
        }
        DevCommand::Down => context.print(&devnet::down(&dir)?),
        DevCommand::Status => context.print(&devnet::status(&dir).await?),
        DevCommand::Fund { address, eth, eth_args } => {
            let (rpc_url, _) = context.settings.rpc_url(&eth_args);
            context.print(&devnet::fund(&rpc_url, address, eth).await?)
        }
    }
}

impl Render for UpOutcome {
    fn render(&self) -> String {
        let stack = &self.stack;
        let state = match (self.already_running, self.resumed_chain) {
            (true, _) => "already running",
            (false, true) => "started (chain resumed from its state file)",
            (false, false) => "started (new chain)",
        };
        let mut fields = Fields::new()
            .add("dev stack", state)
            .add("rpc url", &stack.anvil.url)
            .add("chain id", stack.chain_id)
            .add("anvil pid", stack.anvil.pid);
        if let Some(kubo) = &stack.kubo {
            fields = fields.add("kubo api", &kubo.url).add("kubo pid", kubo.pid);
        }
        fields = fields.add("store", &stack.store).add("state file", stack.state_file.display());
        if let Some(from) = &self.switched_from {
            let back = if from.starts_with("kubo:") { "--kubo" } else { "--embedded" };
            fields = fields.add(
                "store switched",
                format!(
                    "from {from}: records stored there are not readable through {} \
                     (they are kept; `ehr dev up {back}` switches back)",
                    stack.store
                ),
            );
        }
        fields.finish()
    }
}

impl Render for DownOutcome {
    fn render(&self) -> String {
        if self.services.is_empty() {
            return "no dev stack here (nothing to stop)".to_owned();
        }
        let mut out = String::new();
        for s in &self.services {
            let what = if s.was_running { "stopped" } else { "was not running" };
            out.push_str(&format!("{} (pid {}) {what}\n", s.service, s.pid));
        }
        if let Some(state) = &self.state_file {
            out.push_str(&format!("chain state kept in {}\n", state.display()));
        }
        out
    }
}

impl Render for StackStatus {
    fn render(&self) -> String {
        if !self.configured {
            return format!("no dev stack in {} (start one with `ehr dev up`)", self.dir.display());
        }
        let mut out = String::new();
        for s in &self.services {
            let state = match (s.running, s.answering) {
                (true, true) => "running, answering".to_owned(),
                (true, false) => "running, not answering".to_owned(),
                (false, true) => "answering (another process)".to_owned(),
                (false, false) => "stopped".to_owned(),
            };
            let block = s.block.map(|b| format!(", block {b}")).unwrap_or_default();
            out.push_str(&format!("{:<6} pid {:<8} {}  {state}{block}\n", s.service, s.pid, s.url));
        }
        if let Some(store) = &self.store {
            out.push_str(&format!("store  {store}\n"));
        }
        out
    }
}

impl Render for Funded {
    fn render(&self) -> String {
        let eth = alloy::primitives::utils::format_ether(self.balance_wei);
        Fields::new().add("account", self.address).add("balance", format!("{eth} ETH")).finish()
    }
}
