//! `ehr fetch`: a record, verified and decrypted, to a file or standard output.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use alloy::primitives::Address;
use ehr_sdk::fetch::{self, FetchOutput, FetchReport};
use ehr_sdk::parse;
use ehr_sdk::read_log::ReadLogging;
use eyre::eyre;
use std::path::PathBuf;

/// Fetch a record by its number: verified on chain and in the store, then decrypted.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr fetch 3 --patient 0xPATIENT -o hba1c.json
  ehr fetch 7 --patient 0xPATIENT -o knee.dcm      # a wrapped file comes back as the file itself
  ehr fetch 3 --patient 0xPATIENT | jq .code        # to standard output

Record numbers are per patient (see `ehr search`). A FHIR record is written as its JSON; a
wrapped document as the original file, its SHA-256 checked. A file is written in full or not
at all. A grantee's fetch is logged on chain first (one transaction; only the patient can see
which record), so it appears in the patient's `ehr audit`.")]
pub(crate) struct Args {
    /// The record's number in the patient's index.
    #[arg(value_name = "RECORD_ID", value_parser = clap::value_parser!(u64).range(1..))]
    record_id: u64,
    /// The patient.
    #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
    patient: Address,
    /// Write to FILE (replaced atomically) instead of standard output.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Do not log this read in the patient's audit trail; refused unless the patient's grant
    /// covering the record allows it (`ehr unlogged-reads`).
    #[arg(long)]
    no_log: bool,
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let logging = if args.no_log { ReadLogging::Skip } else { ReadLogging::Log };
    let session = context.session(&args.eth, Signing::Required, true).await?;
    match args.output {
        Some(path) => {
            if path.is_dir() {
                return Err(eyre!("{} is a directory: name the output file", path.display()));
            }
            let report =
                fetch::fetch_with(
                &session,
                args.patient,
                args.record_id,
                FetchOutput::File(path),
                logging,
            )
            .await?;
            context.print(&report)
        }
        None => {
            let out = FetchOutput::Writer(Box::new(std::io::stdout()));
            let report =
                fetch::fetch_with(&session, args.patient, args.record_id, out, logging).await?;
            // The record went to stdout; what it was goes to the log.
            tracing::info!(
                record = report.record_id,
                bytes = report.bytes,
                sha256 = %report.sha256,
                verified_at_block = report.verified_at_block,
                "fetched"
            );
            Ok(())
        }
    }
}

impl Render for FetchReport {
    fn render(&self) -> String {
        let mut fields = Fields::new()
            .add("record", self.record_id)
            .add("patient", self.patient)
            .add("category", &self.category)
            .add("resource", &self.resource_type)
            .add("content type", &self.content_type);
        if let Some(name) = &self.file_name {
            fields = fields.add("file name", name);
        }
        if let Some(by) = self.superseded_by {
            fields = fields.add("superseded by", by);
        }
        fields
            .add("written", format!("{} bytes to {}", self.bytes, self.output))
            .add("sha256", self.sha256)
            .add("cid", self.cid)
            .add("written by", self.writer)
            .add("verified at block", self.verified_at_block)
            .add("read log", crate::output::read_log(&self.read_log))
            .finish()
    }
}
