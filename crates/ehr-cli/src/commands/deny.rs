//! `ehr deny`: the patient denies a request.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use ehr_sdk::requests::{self, Denial};

/// Deny an access request (patient).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr deny 3 --account alice")]
pub(crate) struct Args {
    /// The request id (see `ehr requests`).
    id: u64,
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let session = context.session(&args.eth, Signing::Required, false).await?;
    context.print(&requests::deny(&session, args.id).await?)
}

impl Render for Denial {
    fn render(&self) -> String {
        Fields::new()
            .add("denied request", self.request_id)
            .add("requester", self.requester)
            .add("patient", self.patient)
            .tx(&self.tx)
            .finish()
    }
}
