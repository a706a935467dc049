//! `ehr revoke`: the patient revokes a grantee; the key epoch advances and the new epoch's
//! keys go to every grantee that keeps access.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use alloy::primitives::Address;
use ehr_sdk::consent::{self, ReshareOutcome, RevokeOutcome};
use ehr_sdk::parse;

/// Revoke every grant to GRANTEE (patient), then re-share the new key epoch with the rest.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr revoke 0xDOCTOR --account alice
  ehr revoke 0xDOCTOR --account alice --json")]
pub(crate) struct Args {
    /// The grantee to revoke.
    #[arg(value_parser = parse::address)]
    grantee: Address,
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let session = context.session(&args.eth, Signing::Required, false).await?;
    context.print(&consent::revoke(&session, args.grantee).await?)
}

impl Render for RevokeOutcome {
    fn render(&self) -> String {
        let head = Fields::new()
            .add("revoked", self.grantee)
            .add("patient", self.patient)
            .add("new key epoch", self.new_epoch)
            .tx(&self.tx)
            .finish();
        format!("{head}{}", self.reshare.render())
    }
}

impl Render for ReshareOutcome {
    fn render(&self) -> String {
        let mut out = String::new();
        for share in &self.shared {
            let scopes: Vec<String> = share.scopes.iter().map(ToString::to_string).collect();
            out.push_str(&format!(
                "re-shared epoch {} keys with {} ({}) in tx {}\n",
                share.epoch,
                share.grantee,
                scopes.join(", "),
                share.tx.tx_hash
            ));
        }
        for grantee in &self.up_to_date {
            out.push_str(&format!("{grantee} already holds the epoch {} keys\n", self.epoch));
        }
        for failure in &self.failed {
            out.push_str(&format!(
                "could not re-share with {}: {} (run `ehr reshare` to retry)\n",
                failure.grantee, failure.reason
            ));
        }
        for grantee in &self.inactive {
            out.push_str(&format!(
                "not re-shared with {grantee}: no longer an active participant (removed staff or \
                 organization); `ehr revoke {grantee}` ends its old grants\n"
            ));
        }
        if out.is_empty() {
            out.push_str("no other grantee holds an all or category grant: nothing to re-share\n");
        }
        out
    }
}
