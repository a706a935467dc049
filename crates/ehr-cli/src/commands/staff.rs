//! `ehr staff`: an organization's staff (the organization's admin account signs).

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use alloy::primitives::Address;
use ehr_sdk::parse;
use ehr_sdk::roles::{self, StaffChange};

/// Add or remove staff (doctors, technicians, claims reviewers) of the signing organization.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr staff add 0xDOCTOR --account hospital
  ehr staff remove 0xDOCTOR --account hospital")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: StaffCommand,
}

#[derive(clap::Subcommand, Debug)]
enum StaffCommand {
    /// Add a staff member to the signing organization.
    #[command(after_help = "Examples:\n  ehr staff add 0xDOCTOR --account hospital")]
    Add {
        /// The staff member's account.
        #[arg(value_parser = parse::address)]
        staff: Address,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Remove a staff member from the signing organization.
    #[command(after_help = "Examples:\n  ehr staff remove 0xDOCTOR --account hospital")]
    Remove {
        /// The staff member's account.
        #[arg(value_parser = parse::address)]
        staff: Address,
        #[command(flatten)]
        eth: EthArgs,
    },
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let (staff, eth, add) = match args.command {
        StaffCommand::Add { staff, eth } => (staff, eth, true),
        StaffCommand::Remove { staff, eth } => (staff, eth, false),
    };
    let session = context.session(&eth, Signing::Required, false).await?;
    let change = if add {
        roles::add_staff(&session, staff).await?
    } else {
        roles::remove_staff(&session, staff).await?
    };
    context.print(&change)
}

impl Render for StaffChange {
    fn render(&self) -> String {
        Fields::new()
            .add(if self.active { "added staff" } else { "removed staff" }, self.staff)
            .add("organization", self.org)
            .tx(&self.tx)
            .finish()
    }
}
