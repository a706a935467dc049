//! `ehr export --deidentify`: a patient's records, stripped of direct identifiers, for
//! research.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use alloy::primitives::Address;
use ehr_sdk::export::{self, ExportReport};
use ehr_sdk::parse;
use eyre::eyre;
use std::path::PathBuf;

/// Export a patient's records de-identified (research grant holders, or the patient).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr export --deidentify 0xPATIENT -o study-042/
  ehr export --deidentify 0xPATIENT -o out/ --json

Needs an active research-purpose grant from the patient (its scope decides which records),
or the patient's own account. Names, contact details, addresses, identifiers, free-text
notes, narratives, extensions and references are removed; all dates move by one random
offset per export (intervals kept); wrapped documents export their description only.
DIR/manifest.json lists what was removed from each file, by path, never by value.")]
pub(crate) struct Args {
    /// Remove direct identifiers and shift dates (the only kind of export).
    #[arg(long)]
    deidentify: bool,
    /// The patient.
    #[arg(value_parser = parse::address, value_name = "PATIENT")]
    patient: Address,
    /// The directory to write (new or empty).
    #[arg(short, long, value_name = "DIR")]
    output: PathBuf,
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    if !args.deidentify {
        return Err(eyre!(
            "only de-identified exports are supported: pass --deidentify (identifiable records \
             are fetched one by one with `ehr fetch`)"
        ));
    }
    let session = context.session(&args.eth, Signing::Required, true).await?;
    context.print(&export::export_deidentified(&session, args.patient, &args.output).await?)
}

impl Render for ExportReport {
    fn render(&self) -> String {
        let omitted = self.records.iter().filter(|r| r.attachment_omitted).count();
        let removed: usize = self.records.iter().map(|r| r.changes.removed.len()).sum();
        let shifted: usize = self.records.iter().map(|r| r.changes.shifted.len()).sum();
        let mut out = Fields::new()
            .add(
                "exported",
                format!("{} records to {}", self.records.len(), self.directory.display()),
            )
            .add("removed", format!("{removed} identifying elements"))
            .add("dates shifted", shifted)
            .add("documents", format!("{omitted} described only (their files are not exported)"))
            .add(
                "not covered",
                format!("{} records outside your research grants", self.not_covered),
            )
            .add("verified at block", self.verified_at_block)
            .add("manifest", self.manifest.display())
            .finish();
        for record in &self.records {
            out.push_str(&format!(
                "  {}  {:<18} {:<12} {} removed, {} dates shifted\n",
                record.file,
                record.resource_type,
                record.category,
                record.changes.removed.len(),
                record.changes.shifted.len()
            ));
        }
        out
    }
}
