//! `ehr upload`: encrypt records into the store and add them to the patient's index (one file,
//! or many in batched transactions); or finish interrupted uploads from the journal
//! (`--resume`).

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use crate::signer;
use alloy::primitives::Address;
use ehr_record::Category;
use ehr_sdk::journal::Journal;
use ehr_sdk::parse;
use ehr_sdk::content::{self, FileMode};
use ehr_sdk::records::{
    self, BatchItem, BatchOptions, BatchRecord, BatchReport, Progress, RecordSource,
    ResumeOutcome, ResumeReport, UploadProgress, UploadReport, UploadRequest, UploadStage,
};
use eyre::eyre;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Files smaller than this upload without a progress bar.
const PROGRESS_BAR_MIN: u64 = 8 << 20;

/// Encrypt records and add them to a patient's index (the patient, or a doctor it granted).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr upload hba1c.json --patient 0xPATIENT --keywords hba1c,diabetes
  ehr upload knee.dcm --patient 0xPATIENT --category imaging --keywords knee,mri
  ehr upload labs/ --patient 0xPATIENT --keywords 2026   # every file under labs/, batched
  ehr upload a.json b.json c.pdf --patient 0xPATIENT
  ehr upload --from-list files.txt --patient 0xPATIENT   # one path per line
  cat report.pdf | ehr upload - --patient 0xPATIENT --category lab --keywords report
  ehr upload --resume                 # finish uploads an interruption left unindexed

What a file is comes from its bytes: a JSON object with a resourceType is FHIR R4 and is
validated and stored as is; anything else is wrapped in a DocumentReference and streamed,
never held in memory, under the content type its bytes bear out (a .json file that is not
JSON is refused; --as-document stores any file opaque). Without --category the category
comes from the record (Observation laboratory -> lab, Condition -> diagnosis, ...).
Several files (or a directory, or --from-list) go in one process, in batched addRecords
transactions. Every upload is journaled in <data dir>/uploads before it is indexed; the
exit code is 0 only if every record was indexed.")]
pub(crate) struct Args {
    /// The records: files, directories (every file below them), or - for standard input.
    #[arg(value_name = "FILE|DIR|-", required_unless_present_any = ["resume", "from_list"])]
    files: Vec<PathBuf>,
    /// A file listing the records to upload, one path per line (blank lines and lines
    /// starting with # are skipped).
    #[arg(long, value_name = "FILE")]
    from_list: Option<PathBuf>,
    /// The patient the records belong to [default: the signer].
    #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
    patient: Option<Address>,
    /// Their category: lab, imaging, prescription, diagnosis, note, vitals, demographics, or
    /// another lowercase name [default: derived from each record].
    #[arg(long, value_parser = parse_category, value_name = "CATEGORY")]
    category: Option<Category>,
    /// Keywords to find them by, comma-separated (at most 64).
    #[arg(long, value_delimiter = ',', value_name = "K1,K2")]
    keywords: Vec<String>,
    /// Take the files as FHIR R4 JSON whatever their bytes look like [default: detected].
    #[arg(long, conflicts_with = "as_document")]
    fhir: bool,
    /// Store the files as opaque documents, even FHIR JSON or a file whose bytes contradict
    /// its name.
    #[arg(long)]
    as_document: bool,
    /// The MIME type of a wrapped file [default: detected from its bytes].
    #[arg(long, value_name = "TYPE", conflicts_with = "fhir")]
    content_type: Option<String>,
    /// Upload even if the journal shows this content was uploaded for the patient before.
    #[arg(long)]
    allow_duplicate: bool,
    /// Finish the journal's interrupted uploads instead of uploading files.
    #[arg(long, conflicts_with_all = ["files", "from_list", "patient", "category", "keywords", "fhir", "as_document", "content_type", "allow_duplicate"])]
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
        let report = records::resume(&session, &journal).await?;
        context.print(&report)?;
        return resume_outcome(&report);
    }
    if let Some(bad) = args.keywords.iter().position(|k| k.trim().is_empty()) {
        return Err(eyre!(
            "keyword {} of --keywords is empty: separate keywords with single commas",
            bad + 1
        ));
    }
    let patient = match args.patient {
        Some(patient) => patient,
        None => signer::resolve_address(&args.eth.signer, &context.settings)?
            .ok_or(ehr_sdk::Error::NoSigner)?,
    };
    let files = collect_files(&args)?;
    if let [file] = files.as_slice()
        && args.from_list.is_none()
        && !file.is_dir()
    {
        return upload_one(file, patient, &args, context, &journal).await;
    }
    upload_batch(files, patient, &args, context, &journal).await
}

/// Non-zero unless every journaled upload is indexed: what is left is listed above.
fn resume_outcome(report: &ResumeReport) -> eyre::Result<()> {
    let left = report.needs_reupload() + report.still_pending();
    if left == 0 {
        return Ok(());
    }
    Err(eyre!(
        "{left} journaled upload{} not indexed ({} need a re-upload, {} still pending): see \
         the list above",
        if left == 1 { " is" } else { "s are" },
        report.needs_reupload(),
        report.still_pending()
    ))
}

fn mode(args: &Args) -> FileMode {
    if args.fhir {
        FileMode::Fhir
    } else if args.as_document {
        FileMode::Document
    } else {
        FileMode::Auto
    }
}

async fn upload_one(
    file: &Path,
    patient: Address,
    args: &Args,
    context: &Context,
    journal: &Journal,
) -> eyre::Result<()> {
    let spool = Spool::new(context.settings.data_dir());
    let (source, size) = source(file, args, &spool)?;
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
    let result = records::upload(&session, journal, request).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(report) => context.print(&report),
        Err(e) => Err(upload_error(e)),
    }
}

/// The error of a failed upload, with what to do about it where that is not in its text.
fn upload_error(error: ehr_sdk::Error) -> eyre::Report {
    match error {
        ehr_sdk::Error::Duplicate { patient, record_id } => eyre!(
            "this content was already uploaded for patient {patient}{}; pass --allow-duplicate to \
             upload it again",
            record_id.map(|id| format!(" as record {id}")).unwrap_or_default()
        ),
        e @ ehr_sdk::Error::NotIndexed { .. } => eyre!("{e} (`ehr upload --resume`)"),
        e => e.into(),
    }
}

/// Every file named: files as given, directories walked (sorted, hidden entries skipped),
/// and the lines of --from-list.
fn collect_files(args: &Args) -> eyre::Result<Vec<PathBuf>> {
    let mut named = args.files.clone();
    if let Some(list) = &args.from_list {
        let text = std::fs::read_to_string(list)
            .map_err(|e| eyre!("cannot read the list {}: {e}", list.display()))?;
        named.extend(
            text.lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
                .map(PathBuf::from),
        );
    }
    if named.len() > 1 && named.iter().any(|f| f == Path::new("-")) {
        return Err(eyre!("- (standard input) can only be uploaded on its own"));
    }
    let mut files = Vec::new();
    for path in named {
        if path.is_dir() {
            let before = files.len();
            walk(&path, &mut files)?;
            if files.len() == before {
                return Err(eyre!("{} holds no files to upload", path.display()));
            }
        } else {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(eyre!("no files to upload: {} is empty", args.from_list.as_deref().unwrap_or(Path::new("the list")).display()));
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> eyre::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| eyre!("cannot read the directory {}: {e}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

async fn upload_batch(
    files: Vec<PathBuf>,
    patient: Address,
    args: &Args,
    context: &Context,
    journal: &Journal,
) -> eyre::Result<()> {
    // Every file is read and classified before anything is stored: one bad file refuses the
    // whole set, with its name, instead of half a batch going in.
    let keywords: Vec<String> = args.keywords.iter().map(|k| k.trim().to_owned()).collect();
    let mut items = Vec::with_capacity(files.len());
    for file in &files {
        let source = content::file_source(&checked_file(file)?, mode(args), args.content_type.clone())
            .map_err(|e| eyre!("{}: {e}", file.display()))?;
        items.push(BatchItem { source, category: args.category, keywords: keywords.clone() });
    }
    let session = context.session(&args.eth, Signing::Required, true).await?;
    let bar = batch_bar(files.len());
    let options = BatchOptions {
        allow_duplicate: args.allow_duplicate,
        progress: bar.clone().map(|bar| -> ehr_sdk::records::BatchProgress {
            Arc::new(move |stored, indexed| {
                bar.set_message(format!("{stored} stored"));
                bar.set_position(indexed as u64);
            })
        }),
        ..BatchOptions::default()
    };
    let result = records::upload_many(&session, journal, patient, items, options).await;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = result.map_err(|e| match e {
        e @ ehr_sdk::Error::UploadRefused { .. } => e.into(),
        e => eyre!("{} (records stored before the failure are journaled: `ehr upload --resume`)", upload_error(e)),
    })?;
    context.print(&ManyReport::new(report, &files))
}

/// One progress bar for a batch: records indexed of all, on a terminal.
fn batch_bar(total: usize) -> Option<ProgressBar> {
    if total < 2 || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(total as u64);
    bar.set_style(
        ProgressStyle::with_template("[{bar:30}] {pos}/{len} records indexed, {msg} {elapsed}")
            .expect("the template is valid")
            .progress_chars("=> "),
    );
    Some(bar)
}

/// What a multi-file upload did: each file's record.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ManyReport {
    patient: Address,
    epoch: u64,
    records: Vec<FileRecord>,
    transactions: Vec<ehr_sdk::TxInfo>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct FileRecord {
    file: String,
    #[serde(flatten)]
    record: BatchRecord,
}

impl ManyReport {
    fn new(report: BatchReport, files: &[PathBuf]) -> Self {
        let records = report
            .records
            .into_iter()
            .zip(files)
            .map(|(record, file)| FileRecord { file: file.display().to_string(), record })
            .collect();
        Self { patient: report.patient, epoch: report.epoch, records, transactions: report.transactions }
    }
}

impl Render for ManyReport {
    fn render(&self) -> String {
        let mut out = format!(
            "{} records indexed for patient {} (key epoch {}) in {} transaction{}\n",
            self.records.len(),
            self.patient,
            self.epoch,
            self.transactions.len(),
            if self.transactions.len() == 1 { "" } else { "s" }
        );
        for r in &self.records {
            out.push_str(&format!(
                "record {:>5}  {:<12} {}  {}\n",
                r.record.record_id, r.record.category, r.record.cid, r.file
            ));
        }
        for tx in &self.transactions {
            out.push_str(&format!("tx {} (block {})\n", tx.tx_hash, tx.block));
        }
        out
    }
}

/// What to upload, and its size when known (for the progress bar).
fn source(file: &Path, args: &Args, spool: &Spool) -> eyre::Result<(RecordSource, Option<u64>)> {
    if file == Path::new("-") && args.fhir {
        let mut json = Vec::new();
        // One byte over the limit is enough for the validator to refuse it.
        std::io::stdin()
            .lock()
            .take(ehr_record::Limits::default().max_json_bytes + 1)
            .read_to_end(&mut json)?;
        return Ok((RecordSource::FhirJson(json), None));
    }
    let path = if file == Path::new("-") { spool.fill_from_stdin()? } else { checked_file(file)? };
    let size = std::fs::metadata(&path).ok().map(|m| m.len());
    let source = content::file_source(&path, mode(args), args.content_type.clone())?;
    Ok((source, size))
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
