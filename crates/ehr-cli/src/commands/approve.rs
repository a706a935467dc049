//! `ehr approve`: the patient approves a request, creating the grant with key material.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Render, when};
use ehr_contracts::Scope;
use ehr_sdk::parse;
use ehr_sdk::requests::{self, Approval};
use ehr_store::Cid;
use std::time::Duration;

/// Approve an access request (patient): creates the grant and wraps its keys to the requester.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr approve 3 --account alice
  ehr approve 3 --expires 90d --account alice --json
  ehr approve 4 --cid bafy… --account alice     # a request for one record")]
pub(crate) struct Args {
    /// The request id (see `ehr requests`).
    id: u64,
    /// How long the grant lasts: e.g. 30d, 12h (at most 3650d).
    #[arg(long, default_value = "30d", value_parser = parse::duration, value_name = "DURATION")]
    expires: Duration,
    /// For a record-scoped request: the CID of the record's envelope.
    #[arg(long, value_name = "CID")]
    cid: Option<Cid>,
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let session = context.session(&args.eth, Signing::Required, args.cid.is_some()).await?;
    let record_key = match args.cid {
        Some(cid) => {
            let stored = ehr_contracts::tx::call(
                "read the request",
                session.consent().accessRequest(alloy::primitives::U256::from(args.id)),
            )
            .await?;
            let record = match Scope::from_sol(&stored.scope)? {
                Scope::Record(record) => Some(record),
                _ => None,
            };
            super::grant::record_key(&session, record, Some(cid)).await?
        }
        None => None,
    };
    context.print(&requests::approve(&session, args.id, args.expires, record_key).await?)
}

impl Render for Approval {
    fn render(&self) -> String {
        format!(
            "approved request {}: {} has {} access for {} until {}\n{}",
            self.request_id,
            self.grant.grantee,
            self.grant.scope,
            self.grant.purpose,
            when(self.grant.expiry),
            self.grant.render()
        )
    }
}
