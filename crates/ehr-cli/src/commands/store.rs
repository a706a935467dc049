//! `ehr store`: where a patient's records are stored, and restoring their replication.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::Render;
use alloy::primitives::Address;
use ehr_sdk::parse;
use ehr_sdk::storage::{self, RepairReport, StorageStatus};
use ehr_store::Holding;
use eyre::eyre;

/// The blob store: which nodes hold a patient's records, and re-pinning under-replicated ones.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr store status 0xPATIENT --store 'replicated:kubo:http://10.0.0.1:5001,kubo:http://10.0.0.2:5001,kubo:http://10.0.0.3:5001?factor=2'
  ehr store repair 0xPATIENT

The records are those of the patient's index verified against the chain; no key is needed.")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: StoreCommand,
}

#[derive(clap::Subcommand, Debug)]
enum StoreCommand {
    /// Every record's CID and which nodes hold and pin it; under-replicated ones listed.
    #[command(after_help = "\
Examples:
  ehr store status 0xPATIENT
  ehr store status 0xPATIENT --json | jq '.underReplicated'

A record is under-replicated when fewer nodes pin it than the store's factor (1 for a store
that is one node).")]
    Status {
        /// The patient.
        #[arg(value_parser = parse::address, value_name = "PATIENT")]
        patient: Address,
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Pin under-replicated records on nodes that lack them until the factor holds again.
    #[command(after_help = "\
Examples:
  ehr store repair 0xPATIENT
  ehr store repair 0xPATIENT --json

Nodes fetch the envelopes from the nodes that hold them. Running it again does nothing once
every record meets the factor. Fails (exit 1) naming the records that still do not.")]
    Repair {
        /// The patient.
        #[arg(value_parser = parse::address, value_name = "PATIENT")]
        patient: Address,
        #[command(flatten)]
        eth: EthArgs,
    },
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    match args.command {
        StoreCommand::Status { patient, eth } => {
            let session = context.session(&eth, Signing::Optional, true).await?;
            context.print(&storage::status(&session, patient).await?)
        }
        StoreCommand::Repair { patient, eth } => {
            let session = context.session(&eth, Signing::Optional, true).await?;
            let report = storage::repair(&session, patient).await?;
            if report.still_under_replicated.is_empty() {
                return context.print(&report);
            }
            // A failure is one error line (no report on stdout): the records left and why.
            let left = &report.still_under_replicated;
            let done = report.repaired.len() - left.len();
            let why = report
                .repaired
                .iter()
                .find(|r| r.record_id == left[0])
                .and_then(|r| r.failures.last())
                .map(|f| format!("; record {}: {}: {}", left[0], f.node, f.reason))
                .unwrap_or_default();
            Err(eyre!(
                "{} record{} still pinned on fewer than {} nodes ({}), {done} repaired{why}",
                left.len(),
                plural(left.len()),
                report.factor,
                list(left),
            ))
        }
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

impl Render for StorageStatus {
    fn render(&self) -> String {
        let mut out = format!(
            "{} record{} of {}, verified at block {}; factor {}\n",
            self.records.len(),
            plural(self.records.len()),
            self.patient,
            self.verified_at_block,
            self.factor
        );
        for record in &self.records {
            let cid = record.cid.map_or_else(|| "(not found)".to_owned(), |c| c.to_string());
            out.push_str(&format!(
                "  record {:>4}  {cid}  pinned on {}/{}\n",
                record.record_id, record.pinned, self.factor
            ));
            for node in &record.nodes {
                let state = match &node.holding {
                    Holding::Pinned => "pinned".to_owned(),
                    Holding::Held => "held, not pinned".to_owned(),
                    Holding::Absent => "absent".to_owned(),
                    Holding::Unreachable { reason } => format!("unreachable: {reason}"),
                };
                out.push_str(&format!("      {}  {state}\n", node.node));
            }
            if let Some(error) = &record.error {
                out.push_str(&format!("      {error}\n"));
            }
        }
        match self.under_replicated.len() {
            0 => out.push_str("every record is pinned on enough nodes\n"),
            n => out.push_str(&format!(
                "{n} under-replicated record{}: {}\n",
                plural(n),
                list(&self.under_replicated)
            )),
        }
        out
    }
}

impl Render for RepairReport {
    fn render(&self) -> String {
        let mut out = format!(
            "{} record{} of {} checked (verified at block {}); factor {}\n",
            self.records,
            plural(self.records),
            self.patient,
            self.verified_at_block,
            self.factor
        );
        if self.repaired.is_empty() {
            out.push_str("nothing to do: every record is pinned on enough nodes\n");
        }
        for record in &self.repaired {
            let onto = if record.pinned_on.is_empty() {
                "pinned nowhere new".to_owned()
            } else {
                format!("pinned on {}", record.pinned_on.join(", "))
            };
            out.push_str(&format!(
                "  record {:>4}  {}/{} -> {}/{}  {onto}\n",
                record.record_id, record.before, self.factor, record.after, self.factor
            ));
            for failure in &record.failures {
                out.push_str(&format!("      {}: {}\n", failure.node, failure.reason));
            }
        }
        if !self.still_under_replicated.is_empty() {
            out.push_str(&format!(
                "still under-replicated: {}\n",
                list(&self.still_under_replicated)
            ));
        }
        out
    }
}

fn list(ids: &[u64]) -> String {
    ids.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
}
