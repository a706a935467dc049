//! `ehr void-signatures`: the patient voids every grant, revocation or approval it signed and
//! nobody has submitted yet.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use ehr_sdk::relay::{self, VoidedNonce};

/// Void the grants, revocations and approvals you signed that nobody has submitted (patient).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr void-signatures --account alice
  ehr void-signatures --account alice --json

A signed grant (`ehr grant --signature-only`, or one the page signed) is valid until its
deadline for whoever holds it. This advances your signature nonce on chain, which every
signature you made and nobody submitted carries, so none of them can be submitted any more;
sign again for the ones you still want. It is in your audit trail.")]
pub(crate) struct Args {
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let session = context.session(&args.eth, Signing::Required, false).await?;
    context.print(&relay::invalidate_nonce(&session).await?)
}

impl Render for VoidedNonce {
    fn render(&self) -> String {
        Fields::new()
            .add("voided nonce", self.nonce)
            .add("effect", "signatures made with it and not submitted can no longer be submitted")
            .tx(&self.tx)
            .finish()
    }
}
