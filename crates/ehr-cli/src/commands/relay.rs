//! `ehr relay`: submit grants a patient signed, from any account (which pays the gas).

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use ehr_sdk::relay::{self, SignedGrant};
use eyre::WrapErr;
use std::io::Read;
use std::path::PathBuf;

/// Submit patient-signed grants: how a doctor (or a relay) puts a grant on chain and pays.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr relay submit grant.json --account doctor
  ehr grant 0xDOCTOR --scope all --signature-only --account alice | ehr relay submit - --account doctor")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: RelayCommand,
}

#[derive(clap::Subcommand, Debug)]
enum RelayCommand {
    /// Submit a signed grant (the JSON `ehr grant --signature-only` prints).
    #[command(after_help = "Examples:\n  ehr relay submit grant.json --account doctor\n  cat grant.json | ehr relay submit - --account doctor")]
    Submit {
        /// The signed grant's file, or - for stdin.
        file: PathBuf,
        #[command(flatten)]
        eth: EthArgs,
    },
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let RelayCommand::Submit { file, eth } = args.command;
    let text = if file.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).wrap_err("cannot read the signed grant from stdin")?;
        text
    } else {
        std::fs::read_to_string(&file)
            .wrap_err_with(|| format!("cannot read the signed grant {}", file.display()))?
    };
    let signed = SignedGrant::from_json(&text)?;
    let session = context.session(&eth, Signing::Required, false).await?;
    context.print(&relay::submit_signed_grant(&session, &signed).await?)
}
