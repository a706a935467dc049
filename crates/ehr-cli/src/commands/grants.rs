//! `ehr grants`: the grants a patient has given that the registry still stores.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{FhirJson, Render, when};
use crate::signer;
use alloy::primitives::Address;
use ehr_sdk::consent::{self, StoredGrant};
use ehr_sdk::parse;
use serde::Serialize;

/// List the grants a patient gave, expired-but-stored ones included (they can still be revoked).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr grants --account alice             # alice's grants
  ehr grants --patient 0xPATIENT --json
  ehr grants --account alice --fhir      # as a FHIR R4 Bundle of Consent

An expired grant no longer lets its grantee write, and `ehr rotate` (run by itself before your
next grant or upload) makes sure it opens nothing written afterwards; `ehr revoke` removes it.")]
pub(crate) struct Args {
    /// The patient [default: the signer].
    #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
    patient: Option<Address>,
    /// Print them as a FHIR R4 Bundle of Consent resources (docs/fhir.md).
    #[arg(long)]
    fhir: bool,
    #[command(flatten)]
    eth: EthArgs,
}

#[derive(Serialize)]
struct GrantList {
    patient: Address,
    grants: Vec<StoredGrant>,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let me = signer::resolve_address(&args.eth.signer, &context.settings)?;
    let patient = args.patient.or(me).ok_or(ehr_sdk::Error::NoSigner)?;
    let mut eth = args.eth.clone();
    // The patient's own key names its categories in the FHIR output; nothing else needs it.
    if !(args.fhir && me == Some(patient)) {
        eth.signer = Default::default();
    }
    let session = context.session(&eth, Signing::Optional, false).await?;
    if args.fhir {
        let bundle = ehr_sdk::fhir_audit::grants_as_fhir(&session, patient).await?;
        return context.print(&FhirJson(bundle));
    }
    context.print(&GrantList { patient, grants: consent::stored_grants(&session, patient).await? })
}

impl Render for GrantList {
    fn render(&self) -> String {
        if self.grants.is_empty() {
            return format!("{} has no stored grants", self.patient);
        }
        self.grants
            .iter()
            .map(|g| {
                let status = if g.expired { "expired" } else { "active" };
                let reads = if g.unlogged_reads { ", reads not logged" } else { "" };
                format!(
                    "{status:<8} {} {} ({}) until {}, epoch {}{reads}\n",
                    g.grant.grantee,
                    g.grant.scope,
                    g.grant.purpose,
                    when(g.grant.expiry),
                    g.grant.epoch
                )
            })
            .collect()
    }
}
