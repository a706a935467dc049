//! `ehr export --deidentify`: the patient's records, de-identified under HIPAA Safe Harbor,
//! for research: into a directory, or sealed to a researcher's key; `--open` opens a sealed
//! export as its researcher.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use crate::signer;
use alloy::primitives::Address;
use ehr_sdk::export::{self, ExportReport, Manifest};
use ehr_sdk::parse;
use eyre::eyre;
use serde::Serialize;
use std::path::PathBuf;

/// Export your records de-identified (patient), sealed to a researcher; or open one (researcher).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr export --deidentify --to 0xRESEARCHER -o study-042.sealed --account alice
  ehr export --deidentify -o my-export/ --account alice      # look at what would be shared
  ehr export --open study-042.sealed -o study-042/ --account researcher
  ehr export --deidentify --config lds.json --to 0xRESEARCHER -o lds.sealed   # a limited data set

The patient makes the export: every record, de-identified under HIPAA Safe Harbor (45 CFR
164.514(b)(2)): names, contact details, identifiers, free text, URLs, photos, extensions and
references removed; dates cut to the year; ages over 89 given as 90+; addresses cut to state
and 3-digit ZIP; files shuffled under random names; the manifest names no category, record
number or patient. --to seals it to the researcher's registered key (no grant, no keys of
yours). What it does not guarantee is in docs/security.md.")]
pub(crate) struct Args {
    /// De-identify (the only kind of export).
    #[arg(long, conflicts_with = "open")]
    deidentify: bool,
    /// The patient [default: the signer]; only the patient exports.
    #[arg(value_parser = parse::address, value_name = "PATIENT")]
    patient: Option<Address>,
    /// Seal the export to this researcher's registered public key, as one file.
    #[arg(long, value_parser = parse::address, value_name = "RESEARCHER")]
    to: Option<Address>,
    /// Open a sealed export (as the researcher it was sealed to) into the -o directory.
    #[arg(long, value_name = "FILE")]
    open: Option<PathBuf>,
    /// De-identify by this anonymizer configuration (Microsoft FHIR anonymizer shape) instead
    /// of Safe Harbor: a limited data set, see docs/security.md.
    #[arg(long, value_name = "FILE", conflicts_with = "open")]
    config: Option<PathBuf>,
    /// The directory (new or empty) or, with --to, the sealed file to write.
    #[arg(short, long, value_name = "PATH")]
    output: PathBuf,
    #[command(flatten)]
    eth: EthArgs,
}

/// What `--open` wrote.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Opened {
    directory: PathBuf,
    manifest: Manifest,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    if let Some(file) = &args.open {
        let session = context.session(&args.eth, Signing::Required, false).await?;
        let manifest = export::open_sealed(&session, file, &args.output)?;
        return context.print(&Opened { directory: args.output, manifest });
    }
    if !args.deidentify {
        return Err(eyre!(
            "only de-identified exports are supported: pass --deidentify (identifiable records \
             are fetched one by one with `ehr fetch`)"
        ));
    }
    let me = signer::resolve_address(&args.eth.signer, &context.settings)?;
    let patient = args.patient.or(me).ok_or(ehr_sdk::Error::NoSigner)?;
    let method = match &args.config {
        None => export::Method::SafeHarbor,
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| eyre!("cannot read {}: {e}", path.display()))?;
            export::Method::Configured(ehr_sdk::anonymizer::Anonymizer::parse(&text)?)
        }
    };
    let session = context.session(&args.eth, Signing::Required, true).await?;
    let report = match args.to {
        Some(researcher) => {
            if Some(patient) != me {
                return Err(ehr_sdk::Error::ExportNotPatient {
                    patient,
                    caller: me.unwrap_or_default(),
                }
                .into());
            }
            export::export_sealed_with(&session, researcher, &args.output, &method).await?
        }
        None => export::export_deidentified_with(&session, patient, &args.output, &method).await?,
    };
    context.print(&report)
}

impl Render for ExportReport {
    fn render(&self) -> String {
        let omitted = self.records.iter().filter(|r| r.attachment_omitted).count();
        let removed: usize = self.records.iter().map(|r| r.changes.removed.len()).sum();
        let years: usize = self.records.iter().map(|r| r.changes.shifted.len()).sum();
        let mut fields = Fields::new()
            .add("exported", format!("{} records to {}", self.records.len(), self.output.display()))
            .add("removed", format!("{removed} identifying elements"))
            .add("dates", format!("{years} cut to the year"))
            .add("documents", format!("{omitted} described only (their files are not exported)"));
        if let Some(researcher) = self.sealed_to {
            fields = fields.add("sealed to", researcher);
        }
        let mut out = fields.add("verified at block", self.verified_at_block).finish();
        for record in &self.records {
            out.push_str(&format!(
                "  {}  {:<18} {} removed, {} dates cut to the year\n",
                record.file,
                record.resource_type,
                record.changes.removed.len(),
                record.changes.shifted.len()
            ));
        }
        out
    }
}

impl Render for Opened {
    fn render(&self) -> String {
        Fields::new()
            .add(
                "opened",
                format!("{} records into {}", self.manifest.records.len(), self.directory.display()),
            )
            .finish()
    }
}
