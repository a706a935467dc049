//! `ehr reshare`: hand the current epoch's keys to remaining grantees (what `revoke` does
//! after revoking; run it alone to finish an interrupted revocation).

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use ehr_sdk::consent;

/// Share the current key epoch with every grantee that keeps access but lacks its keys.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr reshare --account alice      # after `ehr revoke` reported a failed re-share")]
pub(crate) struct Args {
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let session = context.session(&args.eth, Signing::Required, false).await?;
    context.print(&consent::reshare_epoch_keys(&session).await?)
}
