//! `ehr upload`: encrypt a record into the store and add it to the patient's index; or finish
//! interrupted uploads from the journal (`--resume`).

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use crate::signer;
use alloy::primitives::Address;
use ehr_record::Category;
use ehr_sdk::journal::Journal;
use ehr_sdk::parse;
use ehr_sdk::records::{
    self, Progress, RecordSource, ResumeOutcome, ResumeReport, UploadProgress, UploadReport,
    UploadRequest, UploadStage,
};
use eyre::eyre;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files smaller than this upload without a progress bar.
const PROGRESS_BAR_MIN: u64 = 8 << 20;

/// Encrypt a record and add it to a patient's index (the patient, or a doctor it granted).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr upload hba1c.json --fhir --patient 0xPATIENT --keywords hba1c,diabetes
  ehr upload knee.dcm --patient 0xPATIENT --category imaging --keywords knee,mri
  cat report.pdf | ehr upload - --patient 0xPATIENT --category lab --keywords report
  ehr upload --resume                 # finish uploads an interruption left unindexed

A FHIR R4 resource or Bundle (--fhir) is validated and stored as is; any other file is
wrapped in a DocumentReference and streamed, never held in memory. Without --category the
category comes from the record (Observation laboratory → lab, Condition → diagnosis, …).
Every upload is journaled in <data dir>/uploads before it is indexed.")]
pub(crate) struct Args {
    /// The record: a file, or - for standard input.
    #[arg(value_name = "FILE|-", required_unless_present = "resume")]
    file: Option<PathBuf>,
    /// The patient the record belongs to [default: the signer].
    #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
    patient: Option<Address>,
    /// Its category: lab, imaging, prescription, diagnosis, note, vitals, demographics, or
    /// another lowercase name [default: derived from the record].
    #[arg(long, value_parser = parse_category, value_name = "CATEGORY")]
    category: Option<Category>,
    /// Keywords to find it by, comma-separated (at most 64).
    #[arg(long, value_delimiter = ',', value_name = "K1,K2")]
    keywords: Vec<String>,
    /// The file is FHIR R4 JSON (a resource or a Bundle) rather than a document to wrap.
    #[arg(long)]
    fhir: bool,
    /// The MIME type of a wrapped file [default: detected from its bytes and name].
    #[arg(long, value_name = "TYPE", conflicts_with = "fhir")]
    content_type: Option<String>,
    /// Upload even if the journal shows this content was uploaded for the patient before.
    #[arg(long)]
    allow_duplicate: bool,
    /// Finish the journal's interrupted uploads instead of uploading a file.
    #[arg(long, conflicts_with_all = ["file", "patient", "category", "keywords", "fhir", "content_type", "allow_duplicate"])]
    resume: bool,
    #[command(flatten)]
    eth: EthArgs,
}

fn parse_category(input: &str) -> Result<Category, String> {
    input.parse::<Category>().map_err(|e| e.to_string())
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let journal = Journal::new(context.settings.data_dir());
    if args.resume {
        let session = context.session(&args.eth, Signing::Required, true).await?;
        return context.print(&records::resume(&session, &journal).await?);
    }
    if let Some(bad) = args.keywords.iter().position(|k| k.trim().is_empty()) {
        return Err(eyre!(
            "keyword {} of --keywords is empty: separate keywords with single commas",
            bad + 1
        ));
    }
    let file = args.file.clone().ok_or_else(|| eyre!("name a FILE to upload, or - for stdin"))?;
    let patient = match args.patient {
        Some(patient) => patient,
        None => signer::resolve_address(&args.eth.signer, &context.settings)?
            .ok_or(ehr_sdk::Error::NoSigner)?,
    };
    let spool = Spool::new(context.settings.data_dir());
    let (source, size) = source(&file, &args, &spool)?;
    let session = context.session(&args.eth, Signing::Required, true).await?;
    let mut request = UploadRequest::new(patient, source)
        .keywords(args.keywords.iter().map(|k| k.trim().to_owned()))
        .allow_duplicate(args.allow_duplicate);
    if let Some(category) = args.category {
        request = request.category(category);
    }
    let bar = progress_bar(size);
    if let Some(bar) = &bar {
        request = request.progress(progress_callback(bar.clone()));
    }
    let result = records::upload(&session, &journal, request).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(report) => context.print(&report),
        Err(ehr_sdk::Error::Duplicate { patient, record_id }) => Err(eyre!(
            "this content was already uploaded for patient {patient}{}; pass --allow-duplicate to \
             upload it again",
            record_id.map(|id| format!(" as record {id}")).unwrap_or_default()
        )),
        Err(e @ ehr_sdk::Error::NotIndexed { .. }) => Err(eyre!("{e} (`ehr upload --resume`)")),
        Err(e) => Err(e.into()),
    }
}

/// What to upload, and its size when known (for the progress bar).
fn source(file: &Path, args: &Args, spool: &Spool) -> eyre::Result<(RecordSource, Option<u64>)> {
    let stdin = file == Path::new("-");
    if args.fhir {
        if stdin {
            let mut json = Vec::new();
            // One byte over the limit is enough for the validator to refuse it.
            std::io::stdin()
                .lock()
                .take(ehr_record::Limits::default().max_json_bytes + 1)
                .read_to_end(&mut json)?;
            return Ok((RecordSource::FhirJson(json), None));
        }
        return Ok((RecordSource::FhirFile(checked_file(file)?), None));
    }
    let path = if stdin { spool.fill_from_stdin()? } else { checked_file(file)? };
    let size = std::fs::metadata(&path).ok().map(|m| m.len());
    Ok((RecordSource::File { path, content_type: args.content_type.clone() }, size))
}

fn checked_file(path: &Path) -> eyre::Result<PathBuf> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(path.to_path_buf()),
        Ok(_) => Err(eyre!("{} is not a file", path.display())),
        Err(e) => Err(eyre!("cannot read {}: {e}", path.display())),
    }
}

/// A document read from standard input is spooled to a file first: it is read twice (hashed,
/// then encrypted). The file is removed when the upload ends.
struct Spool {
    path: PathBuf,
}

impl Spool {
    fn new(data_dir: &Path) -> Self {
        let name = format!(
            "stdin-{}-{}",
            std::process::id(),
            std::time::UNIX_EPOCH.elapsed().map_or(0, |d| d.as_nanos())
        );
        Self { path: data_dir.join("tmp").join(name) }
    }

    fn fill_from_stdin(&self) -> eyre::Result<PathBuf> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = std::fs::File::create(&self.path)?;
        std::io::copy(&mut std::io::stdin().lock(), &mut file)?;
        file.sync_all()?;
        Ok(self.path.clone())
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A byte progress bar on stderr for large files on a terminal.
fn progress_bar(size: Option<u64>) -> Option<ProgressBar> {
    let size = size?;
    if size < PROGRESS_BAR_MIN || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(size);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg:>10} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .expect("the template is valid")
        .progress_chars("=> "),
    );
    Some(bar)
}

fn progress_callback(bar: ProgressBar) -> Progress {
    Arc::new(move |p: UploadProgress| {
        let message = match p.stage {
            UploadStage::Reading => "hashing",
            UploadStage::Encrypting => "encrypting",
            UploadStage::Indexing => "indexing",
        };
        bar.set_message(message);
        if let Some(total) = p.total {
            bar.set_length(total);
        }
        if p.stage == UploadStage::Indexing {
            bar.set_position(bar.length().unwrap_or(0));
        } else {
            bar.set_position(p.done);
        }
    })
}

impl Render for UploadReport {
    fn render(&self) -> String {
        let mut fields = Fields::new()
            .add("record", self.record_id)
            .add("patient", self.patient)
            .add("category", &self.category)
            .add("resource", &self.resource_type);
        if let Some(content_type) = &self.content_type {
            fields = fields.add("content type", content_type);
        }
        fields
            .add("cid", self.cid)
            .add(
                "size",
                format!("{} bytes ({} encrypted)", self.plaintext_bytes, self.envelope_bytes),
            )
            .add("key epoch", self.epoch)
            .tx(&self.tx)
            .finish()
    }
}

impl Render for ResumeReport {
    fn render(&self) -> String {
        if self.entries.is_empty() {
            return "nothing to resume: every journaled upload is indexed".to_owned();
        }
        let mut out = format!(
            "{} indexed, {} need a re-upload, {} still pending\n",
            self.indexed(),
            self.needs_reupload(),
            self.still_pending()
        );
        for entry in &self.entries {
            let what = match &entry.outcome {
                ResumeOutcome::AlreadyIndexed { record_id } => {
                    format!("already indexed as record {record_id}")
                }
                ResumeOutcome::Indexed { record_id, tx } => {
                    format!("indexed as record {record_id} (tx {})", tx.tx_hash)
                }
                ResumeOutcome::NeedsReupload { reason } => format!("NEEDS RE-UPLOAD: {reason}"),
                ResumeOutcome::Failed { reason } => format!("failed, still pending: {reason}"),
                ResumeOutcome::OtherWriter { writer } => {
                    format!("pending for {writer}, who stored it and must index it")
                }
            };
            out.push_str(&format!(
                "{} ({}, patient {}): {what}\n",
                entry.cid, entry.category, entry.patient
            ));
        }
        out
    }
}
