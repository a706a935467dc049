//! `ehr key`: public key registration, so patients can wrap record keys to an account.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use ehr_sdk::roles;

/// Public keys: register yours so patients can grant you access (doctors need this first).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr key register --account doctor")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(clap::Subcommand, Debug)]
enum KeyCommand {
    /// Register (or replace) the signer's public key.
    #[command(after_help = "Examples:\n  ehr key register --account doctor")]
    Register {
        #[command(flatten)]
        eth: EthArgs,
    },
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let KeyCommand::Register { eth } = args.command;
    let session = context.session(&eth, Signing::Required, false).await?;
    context.print(&roles::register_public_key(&session).await?)
}
