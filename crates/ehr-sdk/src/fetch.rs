//! Fetching a record: record number → its entry in the patient's *verified* index (never a
//! lone log) → the envelope's CID → the blob store (verified block by block) → decrypted with
//! the reader's key → the original FHIR JSON, or for a wrapped file the original file, its
//! SHA-256 checked against the one recorded in its DocumentReference.
//!
//! The chain stores the SHA-256 digest inside the envelope's CID, not the CID: a CID is
//! rebuilt from it by trying the `raw` codec (0x55: envelopes of one chunk, up to 256 KiB)
//! and then `dag-pb` (0x70: larger ones) and asking the store which one it holds
//! (`BlobStore::has`, which never asks other IPFS nodes — the envelope must be in the
//! configured store or its node); see [`locate_envelope`].
//!
//! A file output is written to a temporary file next to it and renamed into place only
//! after the whole envelope verified, so a failed fetch never leaves a half-written file.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256};
use ehr_index::VerifiedRecord;
use ehr_record::{Limits, RecordError, read_frame};
use ehr_store::{BlobStore, Cid, Codec};
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::pipeline::{ExpectedContext, ReaderKey, open_record, plaintext_read_error};
use crate::read_log::{ReadLogReport, ReadLogging, log_reads};
use crate::record_keys::{key_ring, reader_key};
use crate::records::{index_client, session_store};
use crate::session::Session;
use crate::{Error, Result};
use ehr_crypto::read_log::ReadKind;

/// Where a fetched record goes.
pub enum FetchOutput {
    /// A file, replaced atomically.
    File(PathBuf),
    /// Any writer (standard output): it receives only authenticated bytes, but after a
    /// failure part of the record may have been written.
    Writer(Box<dyn Write + Send>),
}

impl std::fmt::Debug for FetchOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
            Self::Writer(_) => f.write_str("Writer"),
        }
    }
}

/// What [`fetch`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FetchReport {
    /// The patient.
    pub patient: Address,
    /// The record's number.
    pub record_id: u64,
    /// Its envelope's CID.
    pub cid: Cid,
    /// Its on-chain digest.
    pub digest: B256,
    /// Its category: the name when the reader's keys map its opaque id, else the id (`#…`).
    pub category: String,
    /// Its key epoch.
    pub epoch: u64,
    /// Who wrote it.
    pub writer: Address,
    /// The block its index entry was verified at.
    pub verified_at_block: u64,
    /// The record that corrects it, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub superseded_by: Option<u64>,
    /// The FHIR resource type.
    pub resource_type: String,
    /// What was written: `application/fhir+json`, or the wrapped file's MIME type.
    pub content_type: String,
    /// The wrapped file's name, if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Bytes written.
    pub bytes: u64,
    /// SHA-256 of the bytes written (for a wrapped file: checked against its record).
    pub sha256: B256,
    /// Where: the file's path, or `-` for a writer.
    pub output: String,
    /// Whether the read went into the patient's audit trail.
    pub read_log: ReadLogReport,
}

/// What the decryption side learned from the record frame.
struct Written {
    resource_type: String,
    content_type: String,
    file_name: Option<String>,
    bytes: u64,
    sha256: B256,
}

/// Fetches record `record_id` of `patient` as the session's account and writes it to
/// `output`. A grantee's read is logged on chain first (see [`crate::read_log`]).
pub async fn fetch(
    session: &Session,
    patient: Address,
    record_id: u64,
    output: FetchOutput,
) -> Result<FetchReport> {
    fetch_with(session, patient, record_id, output, ReadLogging::Log).await
}

/// [`fetch`], choosing whether a grantee's read is logged ([`ReadLogging::Skip`] only where
/// the patient's grant allows it).
pub async fn fetch_with(
    session: &Session,
    patient: Address,
    record_id: u64,
    output: FetchOutput,
    logging: ReadLogging,
) -> Result<FetchReport> {
    let store = session_store(session)?;
    session.require_patient(patient).await?;
    let signer = session.chain().signer()?;
    let client = index_client(session);
    let index = client.verified_index(patient, None).await?;
    let record =
        index.record(record_id).ok_or(Error::UnknownRecord { patient, record: record_id })?;
    let ring = key_ring(session, patient, index.at_block).await?;
    let key = reader_key(&ring, signer, record)?;
    let category = *record.category.as_bytes32();
    let read_log =
        log_reads(session, patient, ReadKind::Fetch, &[(record_id, category)], &[], logging)
            .await?;
    let mut report =
        fetch_verified(session, &**store, patient, record, index.at_block, key, output).await?;
    report.category = ring.keys.describe_category(&record.category);
    report.read_log = read_log;
    Ok(report)
}

/// Fetches `record`, an entry of `patient`'s index verified at block `verified_at_block`,
/// with `key`: locates its envelope by the verified digest, decrypts and checks it, and
/// writes it to `output`. [`fetch`] after the index and key lookups, shared with workflows
/// that fetch many records of one verified index (claim reviews).
pub(crate) async fn fetch_verified(
    session: &Session,
    store: &dyn BlobStore,
    patient: Address,
    record: &VerifiedRecord,
    verified_at_block: u64,
    key: ReaderKey,
    output: FetchOutput,
) -> Result<FetchReport> {
    let record_id = record.record_id;
    let cid = locate_envelope(store, record_id, record.digest).await?;
    let d = session.deployment();
    let expected = ExpectedContext::Patient {
        chain_id: d.chain_id,
        index_contract: d.record_index.0.0,
        patient: patient.0.0,
    };
    let (written, output) = match output {
        FetchOutput::Writer(out) => {
            let (written, _) = open_record(store, cid, key, expected, move |plaintext| {
                write_record(plaintext, out)
            })
            .await?;
            (written, "-".to_owned())
        }
        FetchOutput::File(path) => {
            let partial = PartialFile::create(&path)?;
            let file = partial.file()?;
            let opened = open_record(store, cid, key, expected, move |plaintext| {
                let out = BufWriter::new(file);
                write_record(plaintext, out)
            })
            .await;
            let (written, _) = opened?;
            partial.commit()?;
            (written, path.display().to_string())
        }
    };
    Ok(FetchReport {
        patient,
        record_id,
        cid,
        digest: record.digest,
        category: record.category.to_string(),
        epoch: record.epoch,
        writer: record.writer,
        verified_at_block,
        superseded_by: record.superseded_by,
        resource_type: written.resource_type,
        content_type: written.content_type,
        file_name: written.file_name,
        bytes: written.bytes,
        sha256: written.sha256,
        output,
        // `fetch` fills in its own log; the other caller reviews claims.
        read_log: ReadLogReport::ClaimReview,
    })
}

/// The CID whose digest the chain recorded, in whichever codec the store holds.
///
/// A `raw` CID names a one-block envelope, whose bytes start with the envelope magic; a
/// `dag-pb` CID names the root node of a larger one. kubo keys blocks by their multihash
/// alone, so it "has" the raw CID of a dag-pb root too: the raw candidate is only taken when
/// its bytes are an envelope's (a dag-pb node starts with a protobuf tag, never the magic).
pub async fn locate_envelope(store: &dyn BlobStore, record_id: u64, digest: B256) -> Result<Cid> {
    let raw = Cid::new(Codec::Raw, digest.0);
    if store.has(raw).await? {
        let mut blocks = store.get(raw).await?;
        if let Some(first) = blocks.next().await
            && first?.starts_with(&ehr_crypto::envelope::MAGIC)
        {
            return Ok(raw);
        }
    }
    let dag = Cid::new(Codec::DagPb, digest.0);
    if store.has(dag).await? {
        return Ok(dag);
    }
    Err(Error::EnvelopeNotFound { record_id, digest })
}

/// Unframes the plaintext and writes the record's content: the FHIR JSON, or the wrapped
/// file's bytes (checked against their recorded size and SHA-256 as they stream).
fn write_record(plaintext: &mut dyn Read, mut out: impl Write) -> Result<Written> {
    let (record, mut attachment) =
        read_frame(plaintext, &Limits::default()).map_err(frame_error)?;
    let mut hasher = Sha256::new();
    let write_error = |source| Error::Io { context: "writing the record", source };
    let (content_type, file_name, bytes) = match record.attachment() {
        None => {
            out.write_all(record.json()).map_err(write_error)?;
            hasher.update(record.json());
            ("application/fhir+json".to_owned(), None, record.json().len() as u64)
        }
        Some(info) => {
            let mut buf = vec![0u8; 1 << 20];
            let mut bytes = 0u64;
            loop {
                let n = attachment.read(&mut buf).map_err(attachment_error)?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n]).map_err(write_error)?;
                hasher.update(&buf[..n]);
                bytes += n as u64;
            }
            (info.content_type.clone(), info.title.clone(), bytes)
        }
    };
    out.flush().map_err(write_error)?;
    Ok(Written {
        resource_type: record.resource_type().as_str().to_owned(),
        content_type,
        file_name,
        bytes,
        sha256: B256::from(<[u8; 32]>::from(hasher.finalize())),
    })
}

/// A frame error whose cause was a chunk failing authentication is a crypto error.
pub(crate) fn frame_error(error: RecordError) -> Error {
    match error {
        RecordError::Io(e) => plaintext_read_error(e),
        other => Error::Record(other),
    }
}

/// An attachment read error: a size or SHA-256 mismatch, or the envelope failing.
fn attachment_error(error: io::Error) -> Error {
    if error.get_ref().is_some_and(|inner| inner.is::<RecordError>()) {
        return Error::Record(error.into());
    }
    plaintext_read_error(error)
}

/// A temporary file next to the destination, renamed onto it on success and removed
/// otherwise.
struct PartialFile {
    tmp: PathBuf,
    dest: PathBuf,
    committed: bool,
}

impl PartialFile {
    fn create(dest: &Path) -> Result<Self> {
        let dir = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        let name = dest.file_name().map_or_else(|| "record".into(), |n| n.to_string_lossy());
        let suffix = rand_core::RngCore::next_u64(&mut rand_core::OsRng);
        let tmp = dir.join(format!(".{name}.{suffix:016x}.partial"));
        File::create(&tmp)
            .map_err(|source| Error::Io { context: "creating the output file", source })?;
        Ok(Self { tmp, dest: dest.to_path_buf(), committed: false })
    }

    /// The temporary file, opened for writing.
    fn file(&self) -> Result<File> {
        fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.tmp)
            .map_err(|source| Error::Io { context: "opening the output file", source })
    }

    fn commit(mut self) -> Result<()> {
        let io = |source| Error::Io { context: "finishing the output file", source };
        File::open(&self.tmp).and_then(|f| f.sync_all()).map_err(io)?;
        fs::rename(&self.tmp, &self.dest).map_err(io)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
