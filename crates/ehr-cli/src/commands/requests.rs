//! `ehr requests`: list access requests.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Render, when};
use crate::signer;
use alloy::primitives::Address;
use ehr_contracts::Role;
use ehr_sdk::parse;
use ehr_sdk::requests::{self, AccessRequestInfo, RequestFilter};
use serde::Serialize;

/// List access requests: a patient sees requests to it, a requester its own.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr requests --pending --account alice         # requests waiting for alice (a patient)
  ehr requests --account doctor --json           # the doctor's own requests
  ehr requests --patient 0xPATIENT               # every request to that patient")]
pub(crate) struct Args {
    /// Only requests that can still be answered.
    #[arg(long)]
    pending: bool,
    /// Only requests to this patient [default: the signer if it is a patient].
    #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
    patient: Option<Address>,
    #[command(flatten)]
    eth: EthArgs,
}

/// The requests listed.
#[derive(Serialize)]
struct RequestList {
    requests: Vec<AccessRequestInfo>,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    // Listing needs no key: the signer flags only say who "me" is. Only the patient's own key
    // is unlocked, to decrypt the words requesters wrote to it.
    let me = signer::resolve_address(&args.eth.signer, &context.settings)?;
    let mut eth = args.eth.clone();
    eth.signer = Default::default();
    let session = context.session(&eth, Signing::Optional, false).await?;
    let mut filter = RequestFilter { pending_only: args.pending, ..Default::default() };
    match (args.patient, me) {
        (Some(patient), _) => filter.patient = Some(patient),
        (None, Some(me)) => {
            if ehr_sdk::roles::role_of(&session, me).await? == Role::Patient {
                filter.patient = Some(me);
            } else {
                filter.requester = Some(me);
            }
        }
        (None, None) => return Err(ehr_sdk::Error::NoSigner.into()),
    }
    let session = match (me, filter.patient) {
        (Some(me), Some(patient)) if me == patient => {
            context.session(&args.eth, Signing::Optional, false).await?
        }
        _ => session,
    };
    context.print(&RequestList { requests: requests::list_requests(&session, filter).await? })
}

impl Render for RequestList {
    fn render(&self) -> String {
        if self.requests.is_empty() {
            return "no requests".to_owned();
        }
        self.requests
            .iter()
            .map(|r| {
                format!(
                    "#{} {:<8} {} asks {} for {} ({}, {}) until {}{}\n",
                    r.id,
                    r.status.to_string(),
                    r.requester,
                    r.patient,
                    r.scope,
                    r.purpose,
                    r.reason_code,
                    when(r.expires_at),
                    match (&r.reason, r.has_encrypted_reason) {
                        (Some(text), _) => format!(": {text:?}"),
                        (None, true) => ": [reason encrypted to the patient]".to_owned(),
                        (None, false) => String::new(),
                    }
                )
            })
            .collect()
    }
}
