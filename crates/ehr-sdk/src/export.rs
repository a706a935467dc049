//! The research export, made by the patient: every live record, de-identified under HIPAA
//! Safe Harbor ([`crate::safe_harbor`]), in shuffled order under random file names, with a
//! manifest that names no category, record number, digest or patient. Written to a directory
//! for the patient's own look ([`export_deidentified`]), or sealed to a researcher's
//! registered public key as one file ([`export_sealed`]) that only that researcher opens
//! ([`open_sealed`]). The researcher needs no grant and never holds a key of the patient.
//!
//! What this guarantees and what it does not is in docs/security.md ("The research export").

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use ehr_record::{Limits, read_frame};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::fetch::{frame_error, locate_envelope};
use crate::pipeline::{ExpectedContext, open_record};
use crate::record_keys::{key_ring, reader_key};
use crate::records::{index_client, session_store};
use crate::session::Session;
use crate::{Error, Result};

/// The manifest format this module writes (2: Safe Harbor, shuffled, no categories).
pub const MANIFEST_FORMAT: u32 = 2;
/// ECIES purpose label of a sealed export.
const SEALED_PURPOSE: &str = "ehrkit/v2/research-export";

/// What was done to one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deidentified {
    /// FHIR paths of removed or redacted elements.
    pub removed: Vec<String>,
    /// FHIR paths of dates cut to their year.
    pub shifted: Vec<String>,
}

/// One exported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedRecord {
    /// The file's name: random, so names say nothing of record order.
    pub file: String,
    /// The FHIR resource type.
    pub resource_type: String,
    /// What was removed and cut to the year.
    #[serde(flatten)]
    pub changes: Deidentified,
    /// Whether a wrapped file's bytes were left out (they are never exported).
    pub attachment_omitted: bool,
}

/// The manifest: the method and the files, in shuffled order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// How the export was de-identified, in words.
    pub method: Vec<String>,
    /// The files.
    pub records: Vec<ExportedRecord>,
}

/// A sealed export's contents.
#[derive(Serialize, Deserialize)]
struct Archive {
    manifest: Manifest,
    files: Vec<(String, Value)>,
}

/// What an export did (for the caller; not written to the export).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportReport {
    /// The directory or sealed file written.
    pub output: PathBuf,
    /// The researcher it is sealed to, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealed_to: Option<Address>,
    /// The files, in the export's (shuffled) order.
    pub records: Vec<ExportedRecord>,
    /// The block the patient's index was verified at.
    pub verified_at_block: u64,
}

const METHOD: [&str; 6] = [
    "HIPAA Safe Harbor, 45 CFR 164.514(b)(2): every element is treated by its R4 type",
    "removed: HumanName, ContactPoint, Identifier, Attachment, Narrative, Annotation, \
     Extension, Meta, Signature, Location.position, ids, every string and markdown element but \
     Coding.display and Quantity.unit, every uri but code systems, url, canonical, oid, uuid, \
     base64Binary, instant, time",
    "dates and dateTimes reduced to the year; ages over 89 given as 90 or more; birth dates \
     over 89 years ago removed",
    "addresses keep state and country; ZIP codes their first 3 digits (000 for areas of \
     20,000 people or fewer)",
    "references redacted to display \"redacted\"; wrapped files' bytes never exported",
    "files shuffled under random names; no record numbers, categories, digests or the \
     patient's address",
];

/// How an export is de-identified.
#[derive(Debug, Clone, Default)]
pub enum Method {
    /// HIPAA Safe Harbor ([`crate::safe_harbor`]): the default.
    #[default]
    SafeHarbor,
    /// A research project's anonymizer configuration, for a limited data set
    /// ([`crate::anonymizer`]): not Safe Harbor, and the manifest says so.
    Configured(crate::anonymizer::Anonymizer),
}

/// The de-identified files of the session patient's live records, shuffled.
async fn build(
    session: &Session,
    method: &Method,
) -> Result<(Manifest, Vec<(String, Value)>, u64)> {
    let store = session_store(session)?;
    let patient = session.chain().address()?;
    session.require_patient(patient).await?;
    let signer = session.chain().signer()?;
    let client = index_client(session);
    let index = client.verified_index(patient, None).await?;
    let ring = key_ring(session, patient, index.at_block).await?;
    let (_, now) = session.chain().now().await?;
    let year: i32 = crate::time::rfc3339(now)[..4].parse().unwrap_or(1970);
    let d = session.deployment();
    let expected = ExpectedContext::Patient {
        chain_id: d.chain_id,
        index_contract: d.record_index.0.0,
        patient: patient.0.0,
    };
    let mut files = Vec::new();
    let mut records = Vec::new();
    for record in index.live_records() {
        let key = reader_key(&ring, signer, record)?;
        let cid = locate_envelope(&**store, record.record_id, record.digest).await?;
        let ((json, resource_type, attachment_omitted), _) =
            open_record(&**store, cid, key, expected, read_json).await?;
        let mut resource: Value = serde_json::from_slice(&json)
            .map_err(|e| Error::Io { context: "reading a record's JSON", source: e.into() })?;
        let changes = match method {
            Method::SafeHarbor => crate::safe_harbor::deidentify(&mut resource, year),
            Method::Configured(rules) => rules.apply(&mut resource),
        };
        let file = format!("{:016x}.json", OsRng.next_u64());
        records.push(ExportedRecord {
            file: file.clone(),
            resource_type,
            changes,
            attachment_omitted,
        });
        files.push((file, resource));
    }
    // Fisher–Yates with the OS RNG: the order says nothing of the records' order on chain.
    for i in (1..files.len()).rev() {
        let j = (OsRng.next_u64() % (i as u64 + 1)) as usize;
        files.swap(i, j);
        records.swap(i, j);
    }
    let method = match method {
        Method::SafeHarbor => METHOD.iter().map(|m| (*m).to_owned()).collect(),
        Method::Configured(_) => vec![
            "a limited data set under the research project's anonymizer configuration: NOT \
             Safe Harbor; dates, towns and ZIP codes may remain (a data use agreement governs it)"
                .to_owned(),
            "files shuffled under random names; no record numbers, categories or digests"
                .to_owned(),
        ],
    };
    let manifest = Manifest { format: MANIFEST_FORMAT, method, records };
    Ok((manifest, files, index.at_block))
}

/// Exports the session patient's records de-identified into `dir` (new or empty):
/// shuffled files under random names and `manifest.json`. Only the patient exports
/// ([`Error::ExportNotPatient`] for `patient` other than the session's account).
pub async fn export_deidentified(
    session: &Session,
    patient: Address,
    dir: &Path,
) -> Result<ExportReport> {
    export_deidentified_with(session, patient, dir, &Method::SafeHarbor).await
}

/// [`export_deidentified`] by `method`.
pub async fn export_deidentified_with(
    session: &Session,
    patient: Address,
    dir: &Path,
    method: &Method,
) -> Result<ExportReport> {
    require_own(session, patient)?;
    prepare_dir(dir)?;
    let (manifest, files, at_block) = build(session, method).await?;
    write_dir(dir, &manifest, &files)?;
    Ok(ExportReport {
        output: dir.to_path_buf(),
        sealed_to: None,
        records: manifest.records,
        verified_at_block: at_block,
    })
}

/// Exports the session patient's records de-identified as one file sealed (ECIES) to
/// `researcher`'s registered public key; [`open_sealed`] opens it as that researcher.
pub async fn export_sealed(
    session: &Session,
    researcher: Address,
    file: &Path,
) -> Result<ExportReport> {
    export_sealed_with(session, researcher, file, &Method::SafeHarbor).await
}

/// [`export_sealed`] by `method`.
pub async fn export_sealed_with(
    session: &Session,
    researcher: Address,
    file: &Path,
    method: &Method,
) -> Result<ExportReport> {
    let raw = crate::roles::registered_public_key(session, researcher).await?;
    let key = ehr_crypto::public_key_for_address(&raw, &researcher.0.0)?;
    let (manifest, files, at_block) = build(session, method).await?;
    let archive = Archive { manifest, files };
    let plain = serde_json::to_vec(&archive).expect("JSON values serialize");
    let aad = sealed_aad(session.deployment().chain_id, researcher);
    let sealed = ehr_crypto::ecies::wrap(&key, SEALED_PURPOSE, &aad, &plain)?;
    write_file(file, &sealed)?;
    Ok(ExportReport {
        output: file.to_path_buf(),
        sealed_to: Some(researcher),
        records: archive.manifest.records,
        verified_at_block: at_block,
    })
}

/// Opens an export sealed to the session's account into `dir` (new or empty).
pub fn open_sealed(session: &Session, file: &Path, dir: &Path) -> Result<Manifest> {
    let me = session.chain().address()?;
    let secret = crate::keys::signer_secret_key(session)?;
    let sealed = fs::read(file)
        .map_err(|source| Error::Io { context: "reading the sealed export", source })?;
    let plain = ehr_crypto::ecies::unwrap(
        &secret,
        SEALED_PURPOSE,
        &sealed_aad(session.deployment().chain_id, me),
        &sealed,
    )?;
    let archive: Archive = serde_json::from_slice(&plain)
        .map_err(|e| Error::Io { context: "reading the sealed export", source: e.into() })?;
    prepare_dir(dir)?;
    write_dir(dir, &archive.manifest, &archive.files)?;
    Ok(archive.manifest)
}

/// `be64(chain_id) ‖ researcher`: a sealed export opens only for its researcher, on its chain.
fn sealed_aad(chain_id: u64, researcher: Address) -> Vec<u8> {
    let mut aad = chain_id.to_be_bytes().to_vec();
    aad.extend_from_slice(researcher.as_slice());
    aad
}

fn require_own(session: &Session, patient: Address) -> Result<()> {
    let caller = session.chain().address()?;
    if caller != patient {
        return Err(Error::ExportNotPatient { patient, caller });
    }
    Ok(())
}

fn write_dir(dir: &Path, manifest: &Manifest, files: &[(String, Value)]) -> Result<()> {
    for (name, resource) in files {
        let text = serde_json::to_vec_pretty(resource).expect("JSON values serialize");
        write_file(&dir.join(name), &text)?;
    }
    let text = serde_json::to_vec_pretty(manifest).expect("the manifest serializes");
    write_file(&dir.join("manifest.json"), &text)
}

/// Reads a record frame's JSON; a wrapped file's bytes are left unread (and so not exported;
/// the pipeline still verifies them).
fn read_json(plaintext: &mut dyn Read) -> Result<(Vec<u8>, String, bool)> {
    let (record, _attachment) = read_frame(plaintext, &Limits::default()).map_err(frame_error)?;
    let omitted = record.attachment().is_some();
    let resource_type = record.resource_type().as_str().to_owned();
    Ok((record.into_json(), resource_type, omitted))
}

fn prepare_dir(dir: &Path) -> Result<()> {
    let io = |source| Error::Io { context: "creating the export directory", source };
    if dir.exists() {
        if fs::read_dir(dir).map_err(io)?.next().is_some() {
            return Err(Error::ExportDirNotEmpty { path: dir.to_path_buf() });
        }
    } else {
        fs::create_dir_all(dir).map_err(io)?;
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |source| Error::Io { context: "writing the export", source };
    let mut file = fs::File::create(path).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    file.sync_all().map_err(io)
}
