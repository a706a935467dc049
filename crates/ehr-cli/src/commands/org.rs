//! `ehr org`: organizations (system admin).

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use alloy::primitives::Address;
use ehr_contracts::OrgKind;
use ehr_sdk::parse;
use ehr_sdk::roles::{self, OrganizationChange};

/// Add or remove organizations (hospitals, insurers, labs); the system admin signs.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr org add 0xHOSPITAL --kind hospital --name \"General Hospital\" --account admin
  ehr org remove 0xHOSPITAL --account admin")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: OrgCommand,
}

#[derive(clap::Subcommand, Debug)]
enum OrgCommand {
    /// Add an organization, identified by its admin account.
    #[command(after_help = "Examples:\n  ehr org add 0xHOSPITAL --kind hospital --name \"General Hospital\"\n  ehr org add 0xLAB --kind lab --name \"City Lab\" --json")]
    Add {
        /// The organization's admin account.
        #[arg(value_parser = parse::address)]
        org: Address,
        /// hospital, insurer or lab.
        #[arg(long, value_parser = parse::org_kind)]
        kind: OrgKind,
        /// Its display name (1 to 64 bytes).
        #[arg(long)]
        name: String,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Remove an organization; its staff stop being active.
    #[command(after_help = "Examples:\n  ehr org remove 0xHOSPITAL")]
    Remove {
        /// The organization's admin account.
        #[arg(value_parser = parse::address)]
        org: Address,
        #[command(flatten)]
        eth: EthArgs,
    },
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    match args.command {
        OrgCommand::Add { org, kind, name, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            context.print(&roles::add_organization(&session, org, kind, &name).await?)
        }
        OrgCommand::Remove { org, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            context.print(&roles::remove_organization(&session, org).await?)
        }
    }
}

impl Render for OrganizationChange {
    fn render(&self) -> String {
        let mut fields = Fields::new()
            .add(if self.active { "added organization" } else { "removed organization" }, self.org);
        if let Some(kind) = self.kind {
            fields = fields.add("kind", kind);
        }
        if let Some(name) = &self.name {
            fields = fields.add("name", name);
        }
        fields.tx(&self.tx).finish()
    }
}
