//! `ehr unlogged-reads`: the patient lets a grantee read under one grant without logging each
//! read on chain, or takes that back.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use alloy::primitives::Address;
use ehr_sdk::session::TxInfo;
use ehr_sdk::{NamedScope, consent, parse};
use serde::Serialize;

/// Let a grantee read under one of your grants without logging each read (patient).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr unlogged-reads 0xDOCTOR --scope category:lab --account alice         # allow
  ehr unlogged-reads 0xDOCTOR --scope category:lab --off --account alice   # log again

By default every fetch and search of a grantee is logged in your audit trail. With this, its
`--no-log` reads of records the grant covers are not. Replacing or revoking the grant logs
again; emergency access is always logged. `ehr grants` shows which grants allow it. Logging is
kept by honest clients: a grantee holding keys could always read without telling the chain.")]
pub(crate) struct Args {
    /// The grantee.
    #[arg(value_parser = parse::address)]
    grantee: Address,
    /// The grant: all, category:NAME or record:ID (it must be stored and unexpired).
    #[arg(long, value_parser = parse::scope)]
    scope: NamedScope,
    /// Take it back: the grantee's reads are logged again.
    #[arg(long)]
    off: bool,
    #[command(flatten)]
    eth: EthArgs,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Changed {
    grantee: Address,
    scope: String,
    unlogged_reads: bool,
    tx: TxInfo,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let session = context.session(&args.eth, Signing::Required, false).await?;
    let tx = consent::set_unlogged_reads(&session, args.grantee, &args.scope, !args.off).await?;
    context.print(&Changed {
        grantee: args.grantee,
        scope: args.scope.to_string(),
        unlogged_reads: !args.off,
        tx,
    })
}

impl Render for Changed {
    fn render(&self) -> String {
        Fields::new()
            .add("grantee", self.grantee)
            .add("scope", &self.scope)
            .add("reads", if self.unlogged_reads { "not logged (--no-log allowed)" } else { "logged" })
            .add("tx", self.tx.tx_hash)
            .finish()
    }
}
