//! Uploading records, by the patient or by a doctor it granted: validate → the patient's key
//! epoch and the keys of (epoch, category) → encrypt while streaming into the blob store →
//! journal → index. Also batched uploads ([`upload_many`]) and finishing interrupted ones
//! ([`resume`]).
//!
//! The envelope gets two key slots: ECIES to the patient's registered public key (checked
//! against its address), and a symmetric slot under `K_data` of (epoch, category), so anyone
//! given that category (or All) for the epoch opens it. Tags are built with `K_idx` over the
//! envelope's on-chain digest (the SHA-256 digest inside its CID).
//!
//! Order matters for crash safety: the envelope is in the store before the journal entry is
//! written, and the entry is on disk before the index transaction is sent. An interruption at
//! any point leaves either nothing indexed and nothing journaled (an unreferenced blob), or a
//! pending entry that [`resume`] finishes — checking the chain first, so a transaction that
//! was mined before the crash is not sent twice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, B256};
use alloy::rpc::types::{BlockOverrides, TransactionReceipt};
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::{IRecordIndex, RecordIndex};
use ehr_contracts::tx;
use ehr_crypto::{DataKey, PublicKey, Recipients, RecordContext, RecordId};
use ehr_index::{IndexClient, Keyword, MAX_KEYWORDS, TagList, record_digest};
use ehr_record::{Record, RecordInput};
use ehr_store::BlobStore;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::journal::{EntryStatus, JOURNAL_FORMAT, Journal, JournalEntry};
use crate::pipeline::store_record;
use crate::record_keys::{KeyRing, category_id, key_ring, writer_keys};
use crate::session::{Session, TxInfo};
use crate::time::unix_now;
use crate::{Error, Result};

/// Most records `addRecords` takes in one transaction (the contract's limit).
pub const MAX_BATCH: usize = 256;

/// How many records [`upload_many`] prepares (validates, encrypts, stores and journals, each
/// fsynced) at once.
const PREPARE_CONCURRENCY: usize = 16;

/// What a record is made from.
pub enum RecordSource {
    /// FHIR R4 JSON in memory (a resource or a Bundle).
    FhirJson(Vec<u8>),
    /// A FHIR R4 JSON file (at most 16 MiB).
    FhirFile(PathBuf),
    /// Any file (PDF, DICOM, image, …), wrapped in a DocumentReference. Streamed, never held
    /// in memory: read once to hash it, once more to encrypt it.
    File {
        /// The file.
        path: PathBuf,
        /// Its MIME type; when `None`, detected from its bytes, and a file whose bytes
        /// contradict its name (`.json` that is not JSON) is refused
        /// ([`crate::content::file_source`]).
        content_type: Option<String>,
    },
    /// File content already in memory, wrapped in a DocumentReference.
    Bytes {
        /// The file name (its extension helps type detection; it becomes the title).
        file_name: String,
        /// Its MIME type; detected when `None`.
        content_type: Option<String>,
        /// The content.
        bytes: Vec<u8>,
    },
}

impl fmt::Debug for RecordSource {
    /// The kind and size only: the content is health data.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FhirJson(json) => write!(f, "FhirJson({} bytes)", json.len()),
            Self::FhirFile(_) => f.write_str("FhirFile"),
            Self::File { content_type, .. } => write!(f, "File({content_type:?})"),
            Self::Bytes { bytes, content_type, .. } => {
                write!(f, "Bytes({} bytes, {content_type:?})", bytes.len())
            }
        }
    }
}

/// Which part of an upload a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UploadStage {
    /// Reading a file once to hash and describe it.
    Reading,
    /// Encrypting it into the store.
    Encrypting,
    /// Waiting for the index transaction.
    Indexing,
}

/// A progress report: `done` of `total` bytes (of the stage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadProgress {
    /// The stage.
    pub stage: UploadStage,
    /// Bytes processed so far.
    pub done: u64,
    /// Bytes to process, when known.
    pub total: Option<u64>,
}

/// A progress callback; called from worker threads, at most every MiB.
pub type Progress = Arc<dyn Fn(UploadProgress) + Send + Sync>;

/// One record to upload.
pub struct UploadRequest {
    /// The patient the record belongs to.
    pub patient: Address,
    /// The record.
    pub source: RecordSource,
    /// Its category; derived from the record when `None` (see `ehr_record`).
    pub category: Option<ehr_record::Category>,
    /// Keywords to find it by (at most 64 distinct; may be empty).
    pub keywords: Vec<String>,
    /// Upload even if the journal shows the same content was uploaded for the patient.
    pub allow_duplicate: bool,
    /// Called as the upload advances.
    pub progress: Option<Progress>,
}

impl fmt::Debug for UploadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadRequest")
            .field("patient", &self.patient)
            .field("source", &self.source)
            .field("category", &self.category)
            .field("keywords", &self.keywords.len())
            .field("allow_duplicate", &self.allow_duplicate)
            .finish_non_exhaustive()
    }
}

impl UploadRequest {
    /// An upload of `source` for `patient`, category derived, no keywords.
    pub fn new(patient: Address, source: RecordSource) -> Self {
        Self {
            patient,
            source,
            category: None,
            keywords: Vec::new(),
            allow_duplicate: false,
            progress: None,
        }
    }

    /// Sets the category.
    pub fn category(mut self, category: ehr_record::Category) -> Self {
        self.category = Some(category);
        self
    }

    /// Sets the keywords.
    pub fn keywords<I: IntoIterator<Item = S>, S: Into<String>>(mut self, keywords: I) -> Self {
        self.keywords = keywords.into_iter().map(Into::into).collect();
        self
    }

    /// Uploads even a duplicate of earlier content.
    pub fn allow_duplicate(mut self, allow: bool) -> Self {
        self.allow_duplicate = allow;
        self
    }

    /// Reports progress to `progress`.
    pub fn progress(mut self, progress: Progress) -> Self {
        self.progress = Some(progress);
        self
    }
}

/// A record stored and journaled, not indexed yet.
#[derive(Debug, Clone)]
pub struct PendingUpload {
    /// Its journal entry (status pending).
    pub entry: JournalEntry,
    /// The FHIR resource type.
    pub resource_type: String,
    /// For a wrapped file: its MIME type.
    pub content_type: Option<String>,
}

/// What [`upload`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadReport {
    /// The patient.
    pub patient: Address,
    /// The record's number in the patient's index.
    pub record_id: u64,
    /// The envelope's CID.
    pub cid: ehr_store::Cid,
    /// The on-chain digest.
    pub digest: B256,
    /// The category.
    pub category: String,
    /// The key epoch it was written in.
    pub epoch: u64,
    /// The FHIR resource type (DocumentReference for a wrapped file).
    pub resource_type: String,
    /// For a wrapped file: its MIME type.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// SHA-256 of the uploaded content.
    pub content_sha256: B256,
    /// Plaintext bytes encrypted (the record frame: JSON and file).
    pub plaintext_bytes: u64,
    /// Envelope bytes stored (padded).
    pub envelope_bytes: u64,
    /// The index transaction.
    pub tx: TxInfo,
    /// The journal entry's id.
    pub journal_id: String,
}

/// The store of a session, or [`Error::NoStore`].
pub(crate) fn session_store(session: &Session) -> Result<&Arc<dyn BlobStore>> {
    session.store().ok_or(Error::NoStore)
}

/// The index client of a session (one per session, shared: [`Session::index_client`]).
pub(crate) fn index_client(session: &Session) -> &IndexClient<alloy::providers::DynProvider> {
    session.index_client()
}

/// How far ahead of this machine's clock the write permission is checked: the time an upload
/// may take from the check to its transaction being mined, for the usual record.
pub const WRITE_MARGIN: std::time::Duration = std::time::Duration::from_secs(15);

fn write_deadline() -> u64 {
    unix_now() + WRITE_MARGIN.as_secs()
}

/// `canWrite` as the index would answer it at unix time `at`: the call runs on the latest
/// state with the block's time overridden. A node that does not take block overrides is
/// asked at its latest block instead (the transaction's own revert then has the last word).
async fn can_write_at(
    session: &Session,
    patient: Address,
    writer: Address,
    category: &ehr_index::Category,
    at: u64,
) -> Result<bool> {
    let index = session.index();
    let call = index.canWrite(patient, writer, *category.as_bytes32());
    let overrides = BlockOverrides { time: Some(at), ..Default::default() };
    match call.call().with_block_overrides(overrides).await {
        Ok(allowed) => Ok(allowed),
        Err(e) if e.as_revert_data().is_some() => {
            Err(ehr_contracts::Error::from_contract("check the write permission", e).into())
        }
        Err(e) => {
            tracing::debug!("the node refused block overrides ({e}); checking at its latest block");
            Ok(tx::call("check the write permission", call).await?)
        }
    }
}

/// Uploads one record: stores it ([`store_and_journal`]) and indexes it ([`index_pending`]).
///
/// If indexing fails after the envelope was stored, the error is [`Error::NotIndexed`] and
/// the journal keeps the entry for [`resume`] — unless the index refused the record for good
/// (the writer lost its access, the key epoch moved): then nothing of it is kept (the envelope
/// is unpinned, the journal entry removed) and the error is [`Error::UploadRefused`].
pub async fn upload(
    session: &Session,
    journal: &Journal,
    request: UploadRequest,
) -> Result<UploadReport> {
    let progress = request.progress.clone();
    let pending = store_and_journal(session, journal, request).await?;
    if let Some(progress) = &progress {
        progress(UploadProgress { stage: UploadStage::Indexing, done: 0, total: None });
    }
    let entry = pending.entry.clone();
    match index_pending(session, journal, pending).await {
        Ok(report) => Ok(report),
        Err(source) if refused_for_good(&source) => {
            Err(withdraw(session, journal, &[entry], source).await)
        }
        Err(source) => Err(Error::NotIndexed { cid: entry.cid, source: Box::new(source) }),
    }
}

/// Whether an indexing failure is the index's final answer: the contract refused the writer
/// or the epoch (retrying cannot help), as opposed to a failure on the way (node, network).
fn refused_for_good(error: &Error) -> bool {
    matches!(error, Error::NotAuthorized { .. })
        || error.revert_reason().is_some_and(|reason| {
            matches!(reason.error_name(), "IndexNotAuthorized" | "IndexWrongEpoch")
        })
}

/// Takes back what a refused upload left: unpins its envelopes (the store may collect them)
/// and removes their journal entries, so the refusal leaves nothing behind. What cannot be
/// taken back is said in the error.
async fn withdraw(
    session: &Session,
    journal: &Journal,
    entries: &[JournalEntry],
    source: Error,
) -> Error {
    let mut left = Vec::new();
    for entry in entries {
        let unpinned = match session_store(session) {
            Ok(store) => store.unpin(entry.cid).await.map_err(Error::from),
            Err(e) => Err(e),
        };
        if let Err(e) = unpinned.and_then(|()| journal.remove(&entry.id)) {
            left.push(format!("{} ({e})", entry.cid));
        }
    }
    Error::UploadRefused {
        records: entries.len(),
        left_behind: (!left.is_empty()).then(|| left.join(", ")),
        source: Box::new(source),
    }
}

/// The first half of [`upload`]: validates the record, checks that the caller may write it,
/// encrypts it into the store and writes a pending journal entry. Nothing is indexed.
pub async fn store_and_journal(
    session: &Session,
    journal: &Journal,
    request: UploadRequest,
) -> Result<PendingUpload> {
    let writer = Writer::open(session, journal, request.patient).await?;
    let UploadRequest { source, category, keywords, allow_duplicate, progress, .. } = request;
    writer.prepare(source, category, &keywords, allow_duplicate, progress).await
}

/// The second half of [`upload`]: sends `addRecord` for a pending entry and marks it done.
pub async fn index_pending(
    session: &Session,
    journal: &Journal,
    pending: PendingUpload,
) -> Result<UploadReport> {
    let PendingUpload { mut entry, resource_type, content_type } = pending;
    let d = session.deployment();
    let index = RecordIndex::new(d.record_index, session.chain().writer()?.clone());
    let category = ehr_index::Category::from_bytes32(entry.category_id);
    // Storing may have taken a while (a large file): ask again before paying for a transaction
    // that would revert.
    if !can_write_at(session, entry.patient, entry.writer, &category, write_deadline()).await? {
        return Err(Error::NotAuthorized {
            patient: entry.patient,
            writer: entry.writer,
            category: entry.category,
        });
    }
    let call = index.addRecord(
        entry.patient,
        entry.digest,
        *category.as_bytes32(),
        entry.epoch,
        entry.tags.clone(),
    );
    let receipt = tx::send("add the record to the index", call).await?;
    let added = added_records(&receipt, d.record_index);
    let record_id = *added.get(&entry.digest).ok_or(Error::MissingEvent {
        action: "add the record to the index",
        event: RecordIndex::RecordAdded::SIGNATURE,
    })?;
    let tx = TxInfo::of(&receipt);
    entry.status = EntryStatus::Done;
    entry.record_id = Some(record_id);
    entry.tx_hash = Some(tx.tx_hash);
    journal.write(&entry)?;
    Ok(UploadReport {
        patient: entry.patient,
        record_id,
        cid: entry.cid,
        digest: entry.digest,
        category: entry.category,
        epoch: entry.epoch,
        resource_type,
        content_type,
        content_sha256: entry.content_sha256,
        plaintext_bytes: entry.plaintext_len,
        envelope_bytes: entry.envelope_len,
        tx,
        journal_id: entry.id,
    })
}

/// Record numbers by digest, from the `RecordAdded` events of a receipt.
fn added_records(receipt: &TransactionReceipt, record_index: Address) -> HashMap<B256, u64> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == record_index)
        .filter_map(|log| RecordIndex::RecordAdded::decode_log_data(log.data()).ok())
        .map(|event| (event.digest, event.recordId))
        .collect()
}

/// What a writer needs once per patient: the patient's key, its epoch, the writer's keys.
struct Writer<'a> {
    session: &'a Session,
    journal: &'a Journal,
    store: Arc<dyn BlobStore>,
    patient: Address,
    patient_key: PublicKey,
    epoch: u64,
    ring: KeyRing,
    /// Categories `canWrite` allowed.
    allowed: Mutex<HashSet<ehr_record::Category>>,
    /// Content being uploaded by this writer and not yet journaled (the journal's duplicate
    /// check cannot see it while records are prepared concurrently).
    claimed: Mutex<HashSet<B256>>,
}

impl<'a> Writer<'a> {
    async fn open(session: &'a Session, journal: &'a Journal, patient: Address) -> Result<Self> {
        let store = Arc::clone(session_store(session)?);
        session.require_patient(patient).await?;
        let signer = session.chain().signer()?;
        if signer.address() == patient {
            // Nothing new under keys that should be dead (an expired grantee's, a withheld
            // signature's): rotate first if needed.
            crate::rotation::maintain(session).await?;
        }
        let raw_key =
            tx::call("read the patient's public key", session.roles().publicKeyOf(patient)).await?;
        let patient_key = ehr_crypto::public_key_for_address(&raw_key, &patient.0.0)?;
        let client = index_client(session);
        let block = client.latest_block().await?;
        let epoch = client.state_at(patient, block).await?.epoch;
        let ring = key_ring(session, patient, block).await?;
        Ok(Self {
            session,
            journal,
            store,
            patient,
            patient_key,
            epoch,
            ring,
            allowed: Mutex::new(HashSet::new()),
            claimed: Mutex::new(HashSet::new()),
        })
    }

    /// Fails unless the writer may write `category` for the patient now — before anything is
    /// stored. "Now" is this machine's clock plus [`WRITE_MARGIN`], not the latest block: on an
    /// idle chain that block is old, and a grant that expired since still looks valid there,
    /// while the transaction will run in a new block with the real time.
    async fn check_allowed(&self, category: ehr_record::Category) -> Result<()> {
        // A writer that cannot even compute the category's id holds no grant for it.
        let not_authorized = || Error::NotAuthorized {
            patient: self.patient,
            writer: self.ring.holder,
            category: category.as_str().to_owned(),
        };
        let id = match category_id(&self.ring, category) {
            Err(Error::Index(ehr_index::Error::UnknownCategoryName(_))) => {
                return Err(not_authorized());
            }
            other => other?,
        };
        if lock(&self.allowed).contains(&category) {
            return Ok(());
        }
        let writer = self.ring.holder;
        if !can_write_at(self.session, self.patient, writer, &id, write_deadline()).await? {
            return Err(not_authorized());
        }
        lock(&self.allowed).insert(category);
        Ok(())
    }

    async fn prepare(
        &self,
        source: RecordSource,
        category: Option<ehr_record::Category>,
        keywords: &[String],
        allow_duplicate: bool,
        progress: Option<Progress>,
    ) -> Result<PendingUpload> {
        let keywords = parse_keywords(keywords)?;
        let validated = {
            let progress = progress.clone();
            tokio::task::spawn_blocking(move || validate(source, category, progress.as_ref()))
                .await
                .expect("validation does not panic")?
        };
        let record_category = validated.record.category();
        self.check_allowed(record_category).await?;
        let category = category_id(&self.ring, record_category)?;
        let chain_id = self.session.chain().chain_id();
        let record_index = self.session.deployment().record_index;
        if !allow_duplicate {
            let earlier = self.journal.uploads_of(
                chain_id,
                record_index,
                self.patient,
                validated.content_sha256,
            )?;
            if let Some(first) = earlier.first() {
                let record_id = earlier.iter().find_map(|e| e.record_id).or(first.record_id);
                return Err(Error::Duplicate { patient: self.patient, record_id });
            }
            // The same content earlier in this batch, still being prepared.
            if !lock(&self.claimed).insert(validated.content_sha256) {
                return Err(Error::Duplicate { patient: self.patient, record_id: None });
            }
        }
        let keys = writer_keys(&self.ring, self.epoch, &category)?;

        let record_id = RecordId::random()?;
        let context = RecordContext {
            chain_id,
            index_contract: record_index.0.0,
            patient: self.patient.0.0,
            record_id,
        };
        let (key_id, kek) = keys.record_slot(&record_id);
        let recipients = Recipients::new(self.patient_key).with_symmetric(key_id, kek);
        let frame_len = validated.frame_len();
        let resource_type = validated.record.resource_type().as_str().to_owned();
        let content_type = validated.record.attachment().map(|a| a.content_type.clone());
        let content_sha256 = validated.content_sha256;
        let framed = validated.framed()?;
        let plaintext = Counting::new(framed, UploadStage::Encrypting, Some(frame_len), progress);
        let stored =
            store_record(&*self.store, plaintext, DataKey::generate()?, context, recipients)
                .await?;
        let digest = record_digest(&stored.cid);
        let tags = TagList::build(keys.index_key(), &digest, &keywords)?;
        let entry = JournalEntry {
            format: JOURNAL_FORMAT,
            id: hex::encode(record_id.0),
            status: EntryStatus::Pending,
            chain_id,
            record_index,
            patient: self.patient,
            writer: self.ring.holder,
            cid: stored.cid,
            digest,
            category: record_category.as_str().to_owned(),
            category_id: *category.as_bytes32(),
            epoch: self.epoch,
            tags: tags.to_bytes(),
            content_sha256,
            plaintext_len: stored.plaintext_len,
            envelope_len: stored.envelope_len,
            stored_at: unix_now(),
            record_id: None,
            tx_hash: None,
            problem: None,
        };
        // fsyncs: off the async worker, so that concurrent preparations overlap.
        write_journal(self.journal, &entry).await?;
        Ok(PendingUpload { entry, resource_type, content_type })
    }
}

/// Locks a mutex whose data stays consistent whatever panicked while it was held.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Writes a journal entry (atomically, fsynced: [`Journal::write`]) on the blocking pool.
async fn write_journal(journal: &Journal, entry: &JournalEntry) -> Result<()> {
    let (journal, entry) = (journal.clone(), entry.clone());
    tokio::task::spawn_blocking(move || journal.write(&entry))
        .await
        .expect("writing a journal entry does not panic")
}

/// Normalizes keywords, refusing empty ones and more than 64 distinct.
fn parse_keywords(keywords: &[String]) -> Result<Vec<Keyword>> {
    let parsed: Vec<Keyword> =
        keywords.iter().map(|w| Keyword::new(w)).collect::<Result<_, _>>()?;
    let distinct: HashSet<&str> = parsed.iter().map(Keyword::as_str).collect();
    if distinct.len() > MAX_KEYWORDS {
        return Err(ehr_index::Error::TooManyKeywords { count: distinct.len() }.into());
    }
    Ok(parsed)
}

/// A validated record and where its attachment bytes come from.
struct Validated {
    record: Record,
    body: Body,
    content_sha256: B256,
}

enum Body {
    None,
    File(PathBuf),
    Bytes(Vec<u8>),
}

impl Validated {
    fn frame_len(&self) -> u64 {
        52 + self.record.json().len() as u64 + self.record.attachment().map_or(0, |a| a.size)
    }

    /// The record frame, reading the attachment again (checked against its SHA-256).
    fn framed(self) -> Result<Box<dyn Read + Send>> {
        let Validated { record, body, .. } = self;
        Ok(match body {
            Body::None => Box::new(record.framed(io::empty())),
            Body::Bytes(bytes) => Box::new(record.framed(io::Cursor::new(bytes))),
            Body::File(path) => {
                let file = File::open(&path)
                    .map_err(|source| Error::Io { context: "opening the file again", source })?;
                Box::new(record.framed(BufReader::with_capacity(1 << 20, file)))
            }
        })
    }
}

fn validate(
    source: RecordSource,
    category: Option<ehr_record::Category>,
    progress: Option<&Progress>,
) -> Result<Validated> {
    let sha256_of = |json: &[u8]| B256::from(<[u8; 32]>::from(Sha256::digest(json)));
    match source {
        RecordSource::FhirJson(json) => {
            let record = with_category(RecordInput::from_fhir_json(&json), category)
                .validate()
                .map_err(|first| every_problem(&json, first))?;
            let content_sha256 = sha256_of(record.json());
            Ok(Validated { record, body: Body::None, content_sha256 })
        }
        RecordSource::FhirFile(path) => {
            let file = File::open(&path)
                .map_err(|source| Error::Io { context: "opening the FHIR file", source })?;
            let len = file.metadata().ok().map(|m| m.len());
            let record = with_category(RecordInput::from_fhir_reader(file, len), category)
                .validate()
                .map_err(|first| match std::fs::read(&path) {
                    Ok(json) => every_problem(&json, first),
                    Err(_) => first.into(),
                })?;
            let content_sha256 = sha256_of(record.json());
            Ok(Validated { record, body: Body::None, content_sha256 })
        }
        RecordSource::File { path, content_type } => {
            let file = File::open(&path)
                .map_err(|source| Error::Io { context: "opening the file", source })?;
            let len = file.metadata().ok().map(|m| m.len());
            let reader = Counting::new(
                BufReader::with_capacity(1 << 20, file),
                UploadStage::Reading,
                len,
                progress.cloned(),
            );
            let name = file_name(&path);
            let content_type = match content_type {
                Some(content_type) => content_type,
                None => crate::content::document_type(&path)?,
            };
            let input = RecordInput::wrap_file(&name, Some(&content_type), reader, len);
            let record = with_category(input, category).validate()?;
            let content_sha256 = attachment_sha256(&record);
            Ok(Validated { record, body: Body::File(path), content_sha256 })
        }
        RecordSource::Bytes { file_name, content_type, bytes } => {
            let input = RecordInput::wrap_bytes(&file_name, content_type.as_deref(), &bytes);
            let record = with_category(input, category).validate()?;
            let content_sha256 = attachment_sha256(&record);
            Ok(Validated { record, body: Body::Bytes(bytes), content_sha256 })
        }
    }
}

/// A refused FHIR document's every problem ([`Error::InvalidFhir`]), not only the first;
/// `first` itself when it is not about the content (size, category).
fn every_problem(json: &[u8], first: ehr_record::RecordError) -> Error {
    if json.len() as u64 > ehr_record::Limits::default().max_json_bytes {
        return first.into();
    }
    let report = ehr_record::validate_fhir_json(json);
    if report.errors.len() > 1 || report.truncated {
        Error::InvalidFhir { problems: report.errors, truncated: report.truncated }
    } else {
        first.into()
    }
}

fn with_category(
    input: RecordInput<'_>,
    category: Option<ehr_record::Category>,
) -> RecordInput<'_> {
    match category {
        Some(category) => input.with_category(category),
        None => input,
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned())
}

fn attachment_sha256(record: &Record) -> B256 {
    B256::from(record.attachment().expect("a wrapped file has an attachment").sha256)
}

/// Counts bytes read through it and reports them, at most every MiB and at the end.
struct Counting<R> {
    inner: R,
    stage: UploadStage,
    done: u64,
    reported: u64,
    total: Option<u64>,
    progress: Option<Progress>,
}

impl<R> Counting<R> {
    fn new(inner: R, stage: UploadStage, total: Option<u64>, progress: Option<Progress>) -> Self {
        Self { inner, stage, done: 0, reported: 0, total, progress }
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.done += n as u64;
        if let Some(progress) = &self.progress
            && (self.done - self.reported >= 1 << 20 || (n == 0 && self.done != self.reported))
        {
            self.reported = self.done;
            progress(UploadProgress { stage: self.stage, done: self.done, total: self.total });
        }
        Ok(n)
    }
}

/// One record of a batch (the patient is the batch's).
pub struct BatchItem {
    /// The record.
    pub source: RecordSource,
    /// Its category; derived when `None`.
    pub category: Option<ehr_record::Category>,
    /// Its keywords.
    pub keywords: Vec<String>,
}

/// How [`upload_many`] batches.
#[derive(Clone)]
pub struct BatchOptions {
    /// Most records per `addRecords` transaction (1 to [`MAX_BATCH`]).
    pub batch_size: usize,
    /// Upload content the journal has seen for the patient.
    pub allow_duplicate: bool,
    /// Told after each record is stored and after each batch is indexed.
    pub progress: Option<BatchProgress>,
}

/// A batch progress callback: (records stored, records indexed), of all the batch's records.
pub type BatchProgress = Arc<dyn Fn(usize, usize) + Send + Sync>;

impl Default for BatchOptions {
    fn default() -> Self {
        Self { batch_size: 64, allow_duplicate: false, progress: None }
    }
}

impl fmt::Debug for BatchOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchOptions")
            .field("batch_size", &self.batch_size)
            .field("allow_duplicate", &self.allow_duplicate)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

/// One record of a batch, indexed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchRecord {
    /// The record's number.
    pub record_id: u64,
    /// The envelope's CID.
    pub cid: ehr_store::Cid,
    /// The category.
    pub category: String,
    /// Plaintext bytes.
    pub plaintext_bytes: u64,
    /// Envelope bytes.
    pub envelope_bytes: u64,
}

/// What [`upload_many`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchReport {
    /// The patient.
    pub patient: Address,
    /// The key epoch of every record.
    pub epoch: u64,
    /// The records, in input order.
    pub records: Vec<BatchRecord>,
    /// The `addRecords` transactions.
    pub transactions: Vec<TxInfo>,
}

/// Uploads many records of one patient: each is encrypted into the store while the records
/// before it are being indexed, in `addRecords` batches of up to `options.batch_size` (every
/// record found ready when a transaction is sent goes into it). Every record is journaled
/// before its batch is sent, so an interruption loses nothing ([`resume`]).
pub async fn upload_many(
    session: &Session,
    journal: &Journal,
    patient: Address,
    items: Vec<BatchItem>,
    options: BatchOptions,
) -> Result<BatchReport> {
    let batch_size = options.batch_size.clamp(1, MAX_BATCH);
    let writer = Writer::open(session, journal, patient).await?;
    let epoch = writer.epoch;
    let (tx, mut rx) = mpsc::channel::<PendingUpload>(batch_size * 2);
    // Every record stored and journaled by this call, and the ones indexed: if the index
    // refuses a batch for good, the rest are taken back (see `upload`).
    let stored: Mutex<Vec<JournalEntry>> = Mutex::new(Vec::new());
    let indexed: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let (indexed_ref, stored_ref, options) = (&indexed, &stored, &options);
    let produce = async {
        // Up to PREPARE_CONCURRENCY records are validated, encrypted, stored (fsynced) and
        // journaled (fsynced) at once; they reach the indexing side in input order. After a
        // failure no new record is started, and those in flight are finished (stored and
        // journaled as pending, for `resume`) but not indexed.
        let failed = AtomicBool::new(false);
        let (writer, failed, stored) = (&writer, &failed, stored_ref);
        let progress = options.progress.as_ref();
        let mut prepared = stream::iter(items)
            .map(|item| async move {
                if failed.load(Ordering::Relaxed) {
                    return None;
                }
                let BatchItem { source, category, keywords } = item;
                let pending = writer
                    .prepare(source, category, &keywords, options.allow_duplicate, None)
                    .await;
                match &pending {
                    Ok(pending) => {
                        let count = {
                            let mut stored = lock(stored);
                            stored.push(pending.entry.clone());
                            stored.len()
                        };
                        if let Some(progress) = progress {
                            progress(count, lock(indexed_ref).len());
                        }
                    }
                    Err(_) => failed.store(true, Ordering::Relaxed),
                }
                Some(pending)
            })
            .buffered(PREPARE_CONCURRENCY);
        let (mut error, mut sending) = (None, true);
        while let Some(pending) = prepared.next().await {
            match pending {
                Some(Ok(pending)) if sending && error.is_none() => {
                    // A send fails when the indexing side failed; its error is reported.
                    sending = tx.send(pending).await.is_ok();
                    failed.fetch_or(!sending, Ordering::Relaxed);
                }
                Some(Err(failure)) if error.is_none() => error = Some(failure),
                _ => {}
            }
        }
        drop(tx);
        error.map_or(Ok(()), Err)
    };
    let consume = async move {
        let mut records = Vec::new();
        let mut transactions = Vec::new();
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first.entry];
            while batch.len() < batch_size {
                match rx.try_recv() {
                    Ok(next) => batch.push(next.entry),
                    Err(_) => break,
                }
            }
            let (tx, ids) = index_batch(session, journal, patient, epoch, &mut batch).await?;
            let count = {
                let mut indexed = lock(indexed_ref);
                indexed.extend(batch.iter().map(|entry| entry.id.clone()));
                indexed.len()
            };
            if let Some(progress) = &options.progress {
                progress(lock(stored_ref).len(), count);
            }
            transactions.push(tx);
            records.extend(batch.iter().zip(ids).map(|(entry, record_id)| BatchRecord {
                record_id,
                cid: entry.cid,
                category: entry.category.clone(),
                plaintext_bytes: entry.plaintext_len,
                envelope_bytes: entry.envelope_len,
            }));
        }
        Ok::<_, Error>((records, transactions))
    };
    let (produced, consumed) = tokio::join!(produce, consume);
    let (records, transactions) = match consumed {
        Ok(consumed) => consumed,
        Err(refusal) if refused_for_good(&refusal) => {
            let indexed = lock(&indexed).clone();
            let mut left = lock(&stored).clone();
            left.retain(|entry| !indexed.contains(&entry.id));
            return Err(withdraw(session, journal, &left, refusal).await);
        }
        Err(other) => return Err(other),
    };
    produced?;
    Ok(BatchReport { patient, epoch, records, transactions })
}

/// Sends one `addRecords` for `entries` (same patient and epoch) and marks them done.
async fn index_batch(
    session: &Session,
    journal: &Journal,
    patient: Address,
    epoch: u64,
    entries: &mut [JournalEntry],
) -> Result<(TxInfo, Vec<u64>)> {
    let d = session.deployment();
    let inputs = entries
        .iter()
        .map(|entry| {
            Ok(IRecordIndex::RecordInput {
                digest: entry.digest,
                category: entry.category_id,
                tags: entry.tags.clone(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let index = RecordIndex::new(d.record_index, session.chain().writer()?.clone());
    let receipt =
        tx::send("add the records to the index", index.addRecords(patient, epoch, inputs)).await?;
    let added = added_records(&receipt, d.record_index);
    let tx = TxInfo::of(&receipt);
    let mut ids = Vec::with_capacity(entries.len());
    for entry in entries.iter_mut() {
        let record_id = *added.get(&entry.digest).ok_or(Error::MissingEvent {
            action: "add the records to the index",
            event: RecordIndex::RecordAdded::SIGNATURE,
        })?;
        entry.status = EntryStatus::Done;
        entry.record_id = Some(record_id);
        entry.tx_hash = Some(tx.tx_hash);
        ids.push(record_id);
    }
    // Marking the entries done: fsynced writes, several at once.
    stream::iter(entries.iter())
        .map(|entry| write_journal(journal, entry))
        .buffer_unordered(PREPARE_CONCURRENCY)
        .try_collect::<()>()
        .await?;
    Ok((tx, ids))
}

/// What happened to one journal entry in [`resume`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum ResumeOutcome {
    /// It was on chain already (its transaction was mined before the interruption).
    #[serde(rename_all = "camelCase")]
    AlreadyIndexed {
        /// Its record number.
        record_id: u64,
    },
    /// Indexed now.
    #[serde(rename_all = "camelCase")]
    Indexed {
        /// Its record number.
        record_id: u64,
        /// The transaction.
        tx: TxInfo,
    },
    /// It cannot be indexed any more: the content must be uploaded again.
    NeedsReupload {
        /// Why.
        reason: String,
    },
    /// Indexing failed this time; the entry stays pending.
    Failed {
        /// Why.
        reason: String,
    },
    /// Another account stored it and must index it (the index records the writer).
    #[serde(rename_all = "camelCase")]
    OtherWriter {
        /// That account.
        writer: Address,
    },
}

/// One journal entry's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumedEntry {
    /// The journal entry's id.
    pub id: String,
    /// The patient.
    pub patient: Address,
    /// The envelope's CID.
    pub cid: ehr_store::Cid,
    /// The category.
    pub category: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: ResumeOutcome,
}

/// What [`resume`] did, entry by entry (entries already done are not listed).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeReport {
    /// Every pending or needs-re-upload entry of this deployment.
    pub entries: Vec<ResumedEntry>,
}

impl ResumeReport {
    /// Entries now on chain (found or indexed).
    pub fn indexed(&self) -> usize {
        self.count(|o| {
            matches!(o, ResumeOutcome::AlreadyIndexed { .. } | ResumeOutcome::Indexed { .. })
        })
    }

    /// Entries that need their content uploaded again.
    pub fn needs_reupload(&self) -> usize {
        self.count(|o| matches!(o, ResumeOutcome::NeedsReupload { .. }))
    }

    /// Entries still pending (failed this time, or another writer's).
    pub fn still_pending(&self) -> usize {
        self.count(|o| {
            matches!(o, ResumeOutcome::Failed { .. } | ResumeOutcome::OtherWriter { .. })
        })
    }

    fn count(&self, pick: impl Fn(&ResumeOutcome) -> bool) -> usize {
        self.entries.iter().filter(|e| pick(&e.outcome)).count()
    }
}

/// Finishes interrupted uploads of this deployment: for each pending journal entry, first
/// looks for its digest in the patient's verified index (so a record whose transaction was
/// mined before the interruption is not indexed twice), then indexes the rest in batches.
///
/// An entry whose key epoch is no longer the patient's (a revocation happened in between)
/// cannot be indexed — the contract refuses old epochs, and re-tagging or re-encrypting needs
/// keys and plaintext the journal deliberately does not keep — and neither can one whose
/// envelope the store lost. Such entries are marked and reported as needing a re-upload,
/// every time, never dropped.
pub async fn resume(session: &Session, journal: &Journal) -> Result<ResumeReport> {
    let d = session.deployment();
    let me = session.chain().address()?;
    let store = session_store(session)?;
    let client = index_client(session);
    let mut by_patient: BTreeMap<Address, Vec<JournalEntry>> = BTreeMap::new();
    let mut done: BTreeMap<Address, Vec<JournalEntry>> = BTreeMap::new();
    let mut report = ResumeReport::default();
    for entry in journal.entries()? {
        if !entry.is_for(d.chain_id, d.record_index) {
            continue;
        }
        match entry.status {
            EntryStatus::Done if entry.writer == me => {
                done.entry(entry.patient).or_default().push(entry);
            }
            EntryStatus::Done => {}
            EntryStatus::NeedsReupload => {
                let reason = entry.problem.clone().unwrap_or_else(|| "unknown".into());
                report.entries.push(resumed(&entry, ResumeOutcome::NeedsReupload { reason }));
            }
            EntryStatus::Pending if entry.writer != me => {
                let writer = entry.writer;
                report.entries.push(resumed(&entry, ResumeOutcome::OtherWriter { writer }));
            }
            EntryStatus::Pending => by_patient.entry(entry.patient).or_default().push(entry),
        }
    }
    // Entries marked done whose record the chain no longer counts (a node restarted from an
    // older state, a reorg): they go back through the lookup below, which finds them indexed
    // or indexes them again, instead of being lost behind their "done" mark.
    for (patient, entries) in done {
        let records =
            tx::call("read the record count", session.index().stateOf(patient)).await?.records;
        let lost = entries.into_iter().filter(|e| e.record_id.is_some_and(|id| id > records));
        by_patient.entry(patient).or_default().extend(lost);
    }
    by_patient.retain(|_, entries| !entries.is_empty());
    for (patient, entries) in by_patient {
        let index = client.verified_index(patient, None).await?;
        let on_chain: HashMap<B256, u64> =
            index.records.iter().map(|r| (r.digest, r.record_id)).collect();
        let epoch = index.state.epoch;
        let mut to_index: BTreeMap<u64, Vec<JournalEntry>> = BTreeMap::new();
        for mut entry in entries {
            if let Some(&record_id) = on_chain.get(&entry.digest) {
                entry.status = EntryStatus::Done;
                entry.record_id = Some(record_id);
                journal.write(&entry)?;
                report.entries.push(resumed(&entry, ResumeOutcome::AlreadyIndexed { record_id }));
                continue;
            }
            let problem = if entry.epoch != epoch {
                Some(format!(
                    "the patient's key epoch moved from {} to {epoch} (a revocation) before it \
                     was indexed; upload the content again",
                    entry.epoch
                ))
            } else if !store.has(entry.cid).await? {
                Some("the store no longer holds its envelope; upload the content again".to_owned())
            } else {
                None
            };
            match problem {
                Some(reason) => {
                    entry.status = EntryStatus::NeedsReupload;
                    entry.problem = Some(reason.clone());
                    journal.write(&entry)?;
                    report.entries.push(resumed(&entry, ResumeOutcome::NeedsReupload { reason }));
                }
                None => to_index.entry(entry.epoch).or_default().push(entry),
            }
        }
        for (epoch, entries) in to_index {
            for chunk in entries.chunks(MAX_BATCH) {
                let mut batch = chunk.to_vec();
                match index_batch(session, journal, patient, epoch, &mut batch).await {
                    Ok((tx, ids)) => {
                        for (entry, record_id) in batch.iter().zip(ids) {
                            let outcome = ResumeOutcome::Indexed { record_id, tx };
                            report.entries.push(resumed(entry, outcome));
                        }
                    }
                    Err(error) => {
                        for entry in &batch {
                            let reason = error.to_string();
                            report.entries.push(resumed(entry, ResumeOutcome::Failed { reason }));
                        }
                    }
                }
            }
        }
    }
    Ok(report)
}

fn resumed(entry: &JournalEntry, outcome: ResumeOutcome) -> ResumedEntry {
    ResumedEntry {
        id: entry.id.clone(),
        patient: entry.patient,
        cid: entry.cid,
        category: entry.category.clone(),
        outcome,
    }
}
