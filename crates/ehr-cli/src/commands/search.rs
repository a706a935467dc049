//! `ehr search`: a patient's records matching keywords, verified against the chain.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::Render;
use alloy::primitives::Address;
use ehr_sdk::read_log::ReadLogging;
use ehr_sdk::search::{self, SearchReport, SearchRequest};
use ehr_sdk::{parse, time};
use eyre::eyre;

/// Search a patient's records by keyword with your keys (the patient's, or your grants').
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr search 0xPATIENT hba1c diabetes                 # records with both keywords
  ehr search 0xPATIENT knee mri --any --category imaging
  ehr search 0xPATIENT hba1c --since 2025-01-01 --until 2025-03-31 --json

Matching happens locally: the RPC node learns neither the keywords nor the matches. The whole
index is checked against the contract's accumulator at one block, which the output names. A
grantee's search is logged on chain before the hits are shown (one transaction; its keywords
and hits are sealed to the patient, who sees them in `ehr audit`).")]
pub(crate) struct Args {
    /// The patient whose records to search.
    #[arg(value_parser = parse::address, value_name = "PATIENT")]
    patient: Address,
    /// Keywords (case and accents as typed do not matter beyond Unicode normalization).
    #[arg(value_name = "KEYWORD", required = true, num_args = 1..)]
    keywords: Vec<String>,
    /// Match records with any of the keywords (default: all of them).
    #[arg(long)]
    any: bool,
    /// Only records of this category.
    #[arg(long, value_name = "CATEGORY")]
    category: Option<String>,
    /// Only records written at or after this time (UTC): YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]Z or
    /// unix seconds.
    #[arg(long, value_parser = time::date, value_name = "DATE")]
    since: Option<u64>,
    /// Only records written at or before this time; a bare date includes its whole day.
    #[arg(long, value_parser = until, value_name = "DATE")]
    until: Option<u64>,
    /// Verify at this block instead of the latest.
    #[arg(long, value_name = "BLOCK")]
    at_block: Option<u64>,
    /// Do not log this search in the patient's audit trail; refused unless the patient's
    /// grants covering every hit allow it (`ehr unlogged-reads`).
    #[arg(long)]
    no_log: bool,
    #[command(flatten)]
    eth: EthArgs,
}

/// `--until 2025-03-31` means up to the end of that day.
fn until(input: &str) -> Result<u64, parse::ParseError> {
    let start = time::date(input)?;
    let bare_date = input.trim().len() == 10 && input.trim().as_bytes()[4] == b'-';
    Ok(if bare_date { start + 86_399 } else { start })
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    if let Some(bad) = args.keywords.iter().position(|k| k.trim().is_empty()) {
        return Err(eyre!("keyword {} is empty", bad + 1));
    }
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since > until
    {
        return Err(eyre!("--since is after --until: nothing can match"));
    }
    let session = context.session(&args.eth, Signing::Required, false).await?;
    let request = SearchRequest {
        keywords: args.keywords,
        any: args.any,
        category: args.category,
        since: args.since,
        until: args.until,
        at_block: args.at_block,
        logging: if args.no_log { ReadLogging::Skip } else { ReadLogging::Log },
    };
    context.print(&search::search(&session, args.patient, &request).await?)
}

impl Render for SearchReport {
    fn render(&self) -> String {
        let mut out = format!(
            "{} record{} of {} found, verified at block {}\n",
            self.hits.len(),
            if self.hits.len() == 1 { "" } else { "s" },
            self.patient,
            self.verified_at_block
        );
        if self.not_readable > 0 {
            out.push_str(&format!(
                "{} of {} records searched are not readable with your keys (no grant for their category or epoch)\n",
                self.not_readable, self.records_scanned
            ));
        }
        for hit in &self.hits {
            out.push_str(&format!(
                "  record {:>4}  {:<12}  {}  block {:>6}  by {}\n",
                hit.record_id,
                hit.category,
                time::format_timestamp(hit.timestamp),
                hit.block,
                hit.writer
            ));
        }
        for anomaly in &self.anomalies {
            out.push_str(&format!("note: {anomaly}\n"));
        }
        out.push_str(&format!("read log: {}\n", crate::output::read_log(&self.read_log)));
        out
    }
}
