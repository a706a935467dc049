//! De-identified research export: the records a research-purpose grant covers (or, for the
//! patient, all of its records) are fetched, stripped of FHIR direct identifiers, their dates
//! shifted, and written to a directory with a `manifest.json` saying what was removed.
//!
//! ## What is removed
//!
//! Everywhere in a resource, including `contained` resources and Bundle entries:
//!
//! - elements that are or hold direct identifiers: `name`, `telecom`, `address`, `photo`,
//!   `contact`, `identifier` and every `…Identifier` (`masterIdentifier`, `groupIdentifier`),
//!   `link`;
//! - free text that usually repeats them: the narrative `text` (an object with a `div`; a
//!   CodeableConcept's `text` string is clinical and stays), `note` (annotations),
//!   `description`, `comment`;
//! - every `extension` and `modifierExtension` (they can carry anything: birth place,
//!   mother's maiden name, a file's hash), and primitive extensions (`_birthDate`, …);
//! - resource-level `id` and `meta`; Bundle `entry.fullUrl`, `entry.request`,
//!   `entry.response` (URLs with resource ids);
//! - in every Reference, `reference`, `identifier` and `display`, replaced by
//!   `"display": "redacted"` (its `type` stays);
//! - in every Attachment, `url`, `data`, `title` and `hash` — the attachment's bytes (a PDF,
//!   an image) are never exported: binary content cannot be checked for identifiers.
//!
//! ## Dates
//!
//! Every `date`, `dateTime` and `instant` — elements named `date…`, `…Date`, `…DateTime`,
//! `…Instant`, `issued`, `authoredOn`, `recorded`, `created`, `creation`, `lastUpdated`,
//! `timestamp`, `when`, `event`, and Period `start`/`end` — is moved by one random whole
//! number of days (1 to 365, earlier or later), the same for the whole export, so intervals
//! between events are kept. The offset is not written anywhere. Partial dates keep their
//! precision (`2024-03` stays a month).
//!
//! ## What is kept, and not checked
//!
//! Codes, quantities, `gender`, `valueString` and other coded or clinical content. Free text
//! that is clinical content (a CodeableConcept's `text`, a Coding's `display`, `valueString`)
//! is kept as written: whoever writes records must not put identifiers there. Ages over 89
//! are not generalized, and the output is not re-validated as FHIR (a redacted Reference, for
//! one, no longer points anywhere).
//!
//! The manifest lists, per exported file, the FHIR paths removed and shifted — paths, never
//! values — and carries no record number, digest or patient address, which would link the
//! export back to the chain.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use ehr_contracts::{Purpose, Scope};
use ehr_record::{Limits, read_frame};
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::dates::shift_fhir_date;
use crate::fetch::{frame_error, locate_envelope};
use crate::pipeline::{ExpectedContext, open_record};
use crate::record_keys::{key_ring, reader_key};
use crate::records::{index_client, session_store};
use crate::session::Session;
use crate::{Error, Result};

/// The manifest format this module writes.
pub const MANIFEST_FORMAT: u32 = 1;

/// What was done to one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deidentified {
    /// FHIR paths of removed or redacted elements.
    pub removed: Vec<String>,
    /// FHIR paths of shifted dates.
    pub shifted: Vec<String>,
}

/// Strips direct identifiers from a FHIR resource (or Bundle) in place and shifts its dates
/// by `shift_days` (see the module documentation for exactly what).
pub fn deidentify(resource: &mut Value, shift_days: i64) -> Deidentified {
    let mut done = Deidentified::default();
    let root = resource.get("resourceType").and_then(Value::as_str).unwrap_or("Resource");
    let root = root.to_owned();
    walk(resource, &root, shift_days, &mut done);
    done
}

/// Elements removed wherever they appear.
const REMOVED: [&str; 11] = [
    "name",
    "telecom",
    "address",
    "photo",
    "contact",
    "identifier",
    "link",
    "note",
    "description",
    "comment",
    "extension",
];

/// Date elements by exact name (besides the `date…`, `…Date`, `…DateTime`, `…Instant` forms).
const DATE_ELEMENTS: [&str; 11] = [
    "issued",
    "authoredOn",
    "recorded",
    "created",
    "creation",
    "lastUpdated",
    "timestamp",
    "when",
    "event",
    "start",
    "end",
];

fn is_removed(key: &str) -> bool {
    REMOVED.contains(&key)
        || key == "modifierExtension"
        || key.ends_with("Identifier")
        || key.starts_with('_')
}

fn is_date_element(key: &str) -> bool {
    DATE_ELEMENTS.contains(&key)
        || key.starts_with("date")
        || key.ends_with("Date")
        || key.ends_with("DateTime")
        || key.ends_with("Instant")
}

/// Whether an object is a FHIR Reference: only Reference's elements, and at least one of
/// those that point somewhere.
fn is_reference(object: &Map<String, Value>) -> bool {
    const ELEMENTS: [&str; 6] = ["id", "extension", "reference", "type", "identifier", "display"];
    object.keys().all(|k| ELEMENTS.contains(&k.as_str()))
        && ["reference", "identifier", "display"].iter().any(|k| object.contains_key(*k))
}

fn walk(value: &mut Value, path: &str, shift_days: i64, done: &mut Deidentified) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item, &format!("{path}[{i}]"), shift_days, done);
            }
        }
        Value::Object(object) => walk_object(object, path, shift_days, done),
        _ => {}
    }
}

fn walk_object(
    object: &mut Map<String, Value>,
    path: &str,
    shift_days: i64,
    done: &mut Deidentified,
) {
    if is_reference(object) {
        for key in ["reference", "identifier", "display", "extension"] {
            remove(object, path, key, done);
        }
        object.insert("display".into(), json!("redacted"));
        return;
    }
    if object.contains_key("resourceType") {
        for key in ["id", "meta"] {
            remove(object, path, key, done);
        }
        if object.get("text").is_some_and(Value::is_object) {
            remove(object, path, "text", done);
        }
    }
    if object.contains_key("contentType") {
        for key in ["url", "data", "title", "hash"] {
            remove(object, path, key, done);
        }
    }
    if object.contains_key("resource") {
        for key in ["fullUrl", "request", "response"] {
            remove(object, path, key, done);
        }
    }
    let keys: Vec<String> = object.keys().cloned().collect();
    for key in keys {
        if is_removed(&key) {
            remove(object, path, &key, done);
            continue;
        }
        let child = format!("{path}.{key}");
        let value = object.get_mut(&key).expect("the key was just listed");
        if is_date_element(&key) && shift_dates(value, shift_days) {
            done.shifted.push(child);
            continue;
        }
        walk(value, &child, shift_days, done);
    }
}

fn remove(object: &mut Map<String, Value>, path: &str, key: &str, done: &mut Deidentified) {
    if object.remove(key).is_some() {
        done.removed.push(format!("{path}.{key}"));
    }
}

/// Shifts a date string, or an array of them; whether anything was a date.
fn shift_dates(value: &mut Value, shift_days: i64) -> bool {
    match value {
        Value::String(text) => match shift_fhir_date(text, shift_days) {
            Some(shifted) => {
                *text = shifted;
                true
            }
            None => false,
        },
        Value::Array(items) => {
            let mut any = false;
            for item in items {
                any |= shift_dates(item, shift_days);
            }
            any
        }
        _ => false,
    }
}

/// A random non-zero shift of 1 to 365 days, earlier or later.
pub fn random_shift_days() -> i64 {
    let r = OsRng.next_u64();
    let days = 1 + (r % 365) as i64;
    if r & (1 << 63) == 0 { days } else { -days }
}

/// One exported file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedRecord {
    /// The file's name in the export directory.
    pub file: String,
    /// The FHIR resource type.
    pub resource_type: String,
    /// The category.
    pub category: String,
    /// What was removed and shifted.
    #[serde(flatten)]
    pub changes: Deidentified,
    /// Whether a wrapped file's bytes were left out (only its description is exported).
    pub attachment_omitted: bool,
}

/// The manifest written next to the files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// How the export was de-identified, in words.
    pub method: Vec<&'static str>,
    /// The files.
    pub records: Vec<ExportedRecord>,
}

/// What [`export_deidentified`] did (for the caller; not written to the export).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportReport {
    /// The export directory.
    pub directory: PathBuf,
    /// The manifest's path.
    pub manifest: PathBuf,
    /// The files written.
    pub records: Vec<ExportedRecord>,
    /// Live records of the patient that no research grant of the caller covers.
    pub not_covered: usize,
    /// The block the patient's index was verified at.
    pub verified_at_block: u64,
}

const METHOD: [&str; 6] = [
    "direct identifiers removed: name, telecom, address, photo, contact, identifier and \
     *Identifier elements, link",
    "free text removed: narrative text, note, description, comment",
    "extensions, modifier extensions, resource ids and meta removed; Bundle entry URLs removed",
    "references redacted to display \"redacted\"; attachment url, data, title and hash removed; \
     attachment bytes never exported",
    "all dates shifted by one random whole number of days (1 to 365, either way) for the whole \
     export; the offset is not recorded; intervals are preserved",
    "kept as written: codes, quantities, gender, clinical free text (CodeableConcept.text, \
     Coding.display, valueString)",
];

/// Exports `patient`'s records de-identified into `dir` (new or empty), as the session's
/// account: all live records for the patient itself; otherwise the live records its active,
/// unexpired research-purpose grants cover ([`Error::NoResearchGrant`] without one).
pub async fn export_deidentified(
    session: &Session,
    patient: Address,
    dir: &Path,
) -> Result<ExportReport> {
    let store = session_store(session)?;
    session.require_patient(patient).await?;
    let signer = session.chain().signer()?;
    let me = signer.address();
    let scopes = if me == patient {
        vec![Scope::All]
    } else {
        let scopes: Vec<Scope> = crate::consent::active_grants(session, patient)
            .await?
            .into_iter()
            .filter(|g| g.grantee == me && g.purpose == Purpose::Research)
            .map(|g| g.scope)
            .collect();
        if scopes.is_empty() {
            return Err(Error::NoResearchGrant { patient, caller: me });
        }
        scopes
    };
    prepare_dir(dir)?;
    let client = index_client(session);
    let index = client.verified_index(patient, None).await?;
    let ring = key_ring(session, patient, index.at_block).await?;
    let covers = |record: &ehr_index::VerifiedRecord| {
        scopes.iter().any(|scope| match scope {
            Scope::All => true,
            Scope::Category(category) => category == record.category.as_bytes32(),
            Scope::Record(id) => *id == record.record_id,
        })
    };
    let d = session.deployment();
    let expected = ExpectedContext::Patient {
        chain_id: d.chain_id,
        index_contract: d.record_index.0.0,
        patient: patient.0.0,
    };
    let shift_days = random_shift_days();
    let mut records = Vec::new();
    let mut not_covered = 0;
    for record in index.live_records() {
        if !covers(record) {
            not_covered += 1;
            continue;
        }
        let key = reader_key(&ring, signer, record)?;
        let cid = locate_envelope(&**store, record.record_id, record.digest).await?;
        let ((json, resource_type, attachment_omitted), _) =
            open_record(&**store, cid, key, expected, read_json).await?;
        let mut resource: Value = serde_json::from_slice(&json)
            .map_err(|e| Error::Io { context: "reading a record's JSON", source: e.into() })?;
        let changes = deidentify(&mut resource, shift_days);
        let file = format!("record-{:04}.json", records.len() + 1);
        let text = serde_json::to_vec_pretty(&resource).expect("JSON values serialize");
        write_file(&dir.join(&file), &text)?;
        records.push(ExportedRecord {
            file,
            resource_type,
            category: ring.keys.describe_category(&record.category),
            changes,
            attachment_omitted,
        });
    }
    let manifest =
        Manifest { format: MANIFEST_FORMAT, method: METHOD.to_vec(), records: records.clone() };
    let manifest_path = dir.join("manifest.json");
    let text = serde_json::to_vec_pretty(&manifest).expect("the manifest serializes");
    write_file(&manifest_path, &text)?;
    Ok(ExportReport {
        directory: dir.to_path_buf(),
        manifest: manifest_path,
        records,
        not_covered,
        verified_at_block: index.at_block,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_removed_and_dates_shifted_consistently() {
        let mut patient = json!({
            "resourceType": "Patient",
            "id": "p-123",
            "meta": {"lastUpdated": "2024-01-01T00:00:00Z"},
            "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Jane Doe</div>"},
            "identifier": [{"system": "urn:mrn", "value": "MRN-998877"}],
            "name": [{"family": "Doe", "given": ["Jane"]}],
            "telecom": [{"system": "phone", "value": "+1 555 0100"}],
            "gender": "female",
            "birthDate": "1961-07-14",
            "_birthDate": {"extension": [{"url": "http://example.org/time", "valueTime": "08:00:00"}]},
            "address": [{"line": ["12 Elm Street"], "city": "Springfield"}],
            "generalPractitioner": [{"reference": "Practitioner/dr-smith", "display": "Dr. Smith"}]
        });
        let done = deidentify(&mut patient, 10);
        let text = patient.to_string();
        for secret in ["Jane", "Doe", "555", "Elm", "MRN", "p-123", "Smith", "Springfield"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(patient["birthDate"], "1961-07-24");
        assert_eq!(patient["gender"], "female");
        assert_eq!(patient["generalPractitioner"][0], json!({"display": "redacted"}));
        for path in
            ["Patient.name", "Patient.telecom", "Patient.id", "Patient.text", "Patient._birthDate"]
        {
            assert!(done.removed.contains(&path.to_owned()), "{path} in {:?}", done.removed);
        }
        assert_eq!(done.shifted, ["Patient.birthDate"]);

        let mut observation = json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": "HbA1c"},
            "subject": {"reference": "Patient/p-123", "display": "Jane Doe"},
            "effectiveDateTime": "2024-12-25T09:30:00+01:00",
            "issued": "2024-12-26T10:00:00Z",
            "note": [{"text": "Called Jane at +1 555 0100"}],
            "valueQuantity": {"value": 7.1, "unit": "%"}
        });
        let done = deidentify(&mut observation, 10);
        assert_eq!(observation["effectiveDateTime"], "2025-01-04T09:30:00+01:00");
        assert_eq!(observation["issued"], "2025-01-05T10:00:00Z");
        assert_eq!(observation["code"]["text"], "HbA1c", "clinical text stays");
        assert!(!observation.to_string().contains("Jane"));
        assert!(done.removed.contains(&"Observation.subject.reference".to_owned()));
        assert!(done.removed.contains(&"Observation.note".to_owned()));
    }

    #[test]
    fn bundles_contained_resources_and_attachments_are_covered() {
        let mut bundle = json!({
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{
                "fullUrl": "urn:uuid:6b1d7d4e-7c3a-4c9e-9a57-0a7e9f7c2f10",
                "resource": {
                    "resourceType": "DocumentReference",
                    "status": "current",
                    "masterIdentifier": {"value": "DOC-1"},
                    "contained": [{"resourceType": "Patient", "name": [{"text": "John Roe"}]}],
                    "content": [{"attachment": {
                        "contentType": "application/pdf",
                        "title": "john-roe-discharge.pdf",
                        "creation": "2023-02",
                        "extension": [{"url": "https://ehrkit.dev/sha256", "valueBase64Binary": "AAAA"}]
                    }}]
                }
            }]
        });
        let done = deidentify(&mut bundle, -31);
        let text = bundle.to_string();
        for secret in ["John", "Roe", "DOC-1", "urn:uuid", "AAAA"] {
            assert!(!text.contains(secret), "{secret} left in {text}");
        }
        assert_eq!(
            bundle["entry"][0]["resource"]["content"][0]["attachment"]["creation"],
            "2023-01"
        );
        assert!(done.removed.contains(&"Bundle.entry[0].fullUrl".to_owned()), "{:?}", done.removed);
        assert!(
            done.shifted
                .contains(&"Bundle.entry[0].resource.content[0].attachment.creation".to_owned())
        );
    }

    #[test]
    fn shifts_are_never_zero() {
        for _ in 0..1000 {
            let days = random_shift_days();
            assert!(days != 0 && days.abs() <= 365);
        }
    }
}
