//! `ehr audit`: a patient's trail from chain events.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{FhirJson, Render};
use crate::signer;
use alloy::primitives::Address;
use ehr_sdk::audit::{self, Timeline};
use ehr_sdk::{parse, time};

/// A patient's audit trail: grants, revocations, requests, records, reads, emergencies.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr audit 0xPATIENT
  ehr audit 0xPATIENT --since 2025-03-01 --json
  ehr audit --account alice            # your own trail
  ehr audit --account alice --fhir     # as a FHIR R4 Bundle of AuditEvent

Reads are in it: every fetch and search of a grantee is logged on chain, and your own trail
opens what was read (\"0xDOCTOR fetched record 7\"); others see only who read and when.")]
pub(crate) struct Args {
    /// The patient [default: the signer].
    #[arg(value_parser = parse::address)]
    patient: Option<Address>,
    /// Only events at or after this time (UTC): YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z or unix seconds.
    #[arg(long, value_parser = time::date, value_name = "DATE")]
    since: Option<u64>,
    /// Print the trail as a FHIR R4 Bundle of AuditEvent resources (docs/fhir.md).
    #[arg(long)]
    fhir: bool,
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let me = signer::resolve_address(&args.eth.signer, &context.settings)?;
    let patient = match args.patient {
        Some(patient) => patient,
        None => me.ok_or(ehr_sdk::Error::NoSigner)?,
    };
    // Reading needs no key; the patient's own key is unlocked to show its category names and
    // decrypt the reasons written to it.
    let mut eth = args.eth.clone();
    if me != Some(patient) {
        eth.signer = Default::default();
    }
    let session = context.session(&eth, Signing::Optional, false).await?;
    if args.fhir {
        let bundle = ehr_sdk::fhir_audit::audit_as_fhir(&session, patient, args.since).await?;
        return context.print(&FhirJson(bundle));
    }
    context.print(&audit::audit(&session, patient, args.since).await?)
}

impl Render for Timeline {
    fn render(&self) -> String {
        let mut out = format!(
            "audit trail of {} ({} events, up to block {})\n",
            self.patient,
            self.entries.len(),
            self.to_block
        );
        for e in &self.entries {
            out.push_str(&format!(
                "{}  block {:>6}  {}\n",
                time::format_timestamp(e.timestamp),
                e.block,
                e.summary
            ));
        }
        out
    }
}
