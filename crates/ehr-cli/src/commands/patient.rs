//! `ehr patient`: patient registration.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use ehr_sdk::roles::{self, Registration};

/// Patient registration.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr patient register --account alice")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: PatientCommand,
}

#[derive(clap::Subcommand, Debug)]
enum PatientCommand {
    /// Register the signer as a patient, with its public key.
    #[command(after_help = "Examples:\n  ehr patient register --account alice\n  ehr patient register --account alice --json")]
    Register {
        #[command(flatten)]
        eth: EthArgs,
    },
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let PatientCommand::Register { eth } = args.command;
    let session = context.session(&eth, Signing::Required, false).await?;
    context.print(&roles::register_patient(&session).await?)
}

impl Render for Registration {
    fn render(&self) -> String {
        Fields::new()
            .add("registered", self.account)
            .add("role", self.role)
            .add("public key", &self.public_key)
            .tx(&self.tx)
            .finish()
    }
}
