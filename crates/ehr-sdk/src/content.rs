//! What a file to upload is, judged by its bytes: FHIR R4 JSON (validated and stored as a
//! record) or a document (wrapped in a DocumentReference) of a content type its bytes bear
//! out. A name can say `.json` over random bytes; the bytes decide, and a file whose bytes
//! contradict its name is refused rather than stored under a type it does not have.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use ehr_record::{JsonContent, Limits, OCTET_STREAM, SNIFF_LEN, detect_content_type, sniff_json};

use crate::records::RecordSource;
use crate::{Error, Result};

/// How a file is to be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FileMode {
    /// By its bytes: a JSON object with a `resourceType` is FHIR, anything else a document
    /// whose bytes must match what its name says it is.
    #[default]
    Auto,
    /// As FHIR R4 JSON, whatever it looks like (the validator has the last word).
    Fhir,
    /// As an opaque document, even if it is FHIR JSON or its bytes contradict its name (the
    /// content type then comes from its bytes alone).
    Document,
}

/// The record source for the file at `path`, taken as `mode` says. `content_type` (for a
/// document) overrides detection.
pub fn file_source(
    path: &Path,
    mode: FileMode,
    content_type: Option<String>,
) -> Result<RecordSource> {
    if mode == FileMode::Fhir {
        return Ok(RecordSource::FhirFile(path.to_path_buf()));
    }
    let probe = Probe::read(path)?;
    if mode == FileMode::Auto && content_type.is_none() && probe.is_fhir() {
        return Ok(RecordSource::FhirFile(path.to_path_buf()));
    }
    let content_type = match content_type {
        Some(content_type) => content_type,
        None => probe.document_type(&file_name(path), mode == FileMode::Document)?,
    };
    Ok(RecordSource::File { path: path.to_path_buf(), content_type: Some(content_type) })
}

/// The content type of a document at `path` with no type given: see [`file_source`].
pub(crate) fn document_type(path: &Path) -> Result<String> {
    Probe::read(path)?.document_type(&file_name(path), false)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| "file".to_owned(), |n| n.to_string_lossy().into_owned())
}

/// The first bytes of a file, and all of it when it is small enough to be JSON we check.
struct Probe {
    head: Vec<u8>,
    /// The whole file, when it is at most [`Limits::max_json_bytes`].
    whole: Option<Vec<u8>>,
}

impl Probe {
    fn read(path: &Path) -> Result<Self> {
        let io = |source| Error::Io { context: "reading the file to upload", source };
        let limit = Limits::default().max_json_bytes;
        let mut bytes = Vec::new();
        File::open(path).map_err(io)?.take(limit + 1).read_to_end(&mut bytes).map_err(io)?;
        let whole = (bytes.len() as u64 <= limit).then(|| bytes.clone());
        bytes.truncate(SNIFF_LEN);
        Ok(Self { head: bytes, whole })
    }

    /// A JSON object naming a `resourceType`: FHIR JSON (valid or not: the validator says).
    fn is_fhir(&self) -> bool {
        if first_byte(&self.head) != Some(b'{') {
            return false;
        }
        match &self.whole {
            Some(whole) => sniff_json(strip_bom(whole)) == JsonContent::FhirResource,
            // Too large to hold: a JSON object naming its resourceType up front is FHIR, and
            // the validator refuses it with the size limit.
            None => self.head.windows(14).any(|w| w == b"\"resourceType\""),
        }
    }

    /// The content type the bytes bear out: a signature (PDF, DICOM, images) wins; a type
    /// the name implies (`.json`, `.txt`, `.csv`, `.xml`) must match the bytes, else the file
    /// is refused — unless `as_document`, when it is then `application/octet-stream`.
    fn document_type(&self, name: &str, as_document: bool) -> Result<String> {
        let named = detect_content_type(name, &self.head);
        let mismatch = match named {
            "application/json" => self.json_problem(),
            "text/plain" | "text/csv" => self.text_problem(),
            "application/xml" => self.text_problem().or_else(|| {
                (first_byte(&self.head) != Some(b'<')).then(|| "it does not start with '<'".into())
            }),
            _ => None,
        };
        match mismatch {
            None => Ok(named.to_owned()),
            Some(_) if as_document => Ok(OCTET_STREAM.to_owned()),
            Some(reason) => Err(Error::ContentMismatch { file: name.to_owned(), named, reason }),
        }
    }

    fn json_problem(&self) -> Option<String> {
        let Some(whole) = &self.whole else {
            return Some(format!(
                "it is over {} MiB, too large to check as JSON",
                Limits::default().max_json_bytes >> 20
            ));
        };
        let whole = strip_bom(whole);
        (sniff_json(whole) == JsonContent::NotJson).then(|| {
            match serde_json::from_slice::<serde::de::IgnoredAny>(whole) {
                Err(e) => format!("its bytes are not JSON ({e})"),
                Ok(_) => "its bytes are not JSON".to_owned(),
            }
        })
    }

    fn text_problem(&self) -> Option<String> {
        let bytes = self.whole.as_deref().unwrap_or(&self.head);
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            // The cut at the probe's end may split a character: only an error before it counts.
            Err(e) if self.whole.is_none() && e.error_len().is_none() => return None,
            Err(e) => return Some(format!("byte {} is not UTF-8 text", e.valid_up_to())),
        };
        text.contains('\0').then(|| "it holds NUL bytes, which text does not".into())
    }
}

fn strip_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes)
}

fn first_byte(bytes: &[u8]) -> Option<u8> {
    strip_bom(bytes).iter().copied().find(|b| !b.is_ascii_whitespace())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    fn kind(source: RecordSource) -> String {
        match source {
            RecordSource::FhirFile(_) => "fhir".into(),
            RecordSource::File { content_type, .. } => content_type.unwrap(),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_bytes_decide_not_the_name() {
        let dir = tempfile::tempdir().unwrap();
        let random: Vec<u8> =
            (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        let fake = write(&dir, "lab.json", &random);
        let err = file_source(&fake, FileMode::Auto, None).unwrap_err();
        assert!(matches!(err, Error::ContentMismatch { named: "application/json", .. }), "{err}");
        assert!(err.to_string().contains("--as-document"), "{err}");
        // Explicitly a document: stored, but not as JSON.
        assert_eq!(kind(file_source(&fake, FileMode::Document, None).unwrap()), OCTET_STREAM);

        let fhir = br#" {"resourceType": "Observation", "status": "final"}"#;
        assert_eq!(
            kind(file_source(&write(&dir, "obs.txt", fhir), FileMode::Auto, None).unwrap()),
            "fhir"
        );
        assert_eq!(
            kind(file_source(&write(&dir, "obs.json", fhir), FileMode::Document, None).unwrap()),
            "application/json"
        );
        let plain_json = write(&dir, "settings.json", b"{\"a\": [1, 2]}");
        assert_eq!(
            kind(file_source(&plain_json, FileMode::Auto, None).unwrap()),
            "application/json"
        );
        let pdf = write(&dir, "scan.json", b"%PDF-1.7\n...");
        assert_eq!(kind(file_source(&pdf, FileMode::Auto, None).unwrap()), "application/pdf");
        let binary_txt = write(&dir, "notes.txt", b"abc\xff\xfe");
        assert!(matches!(
            file_source(&binary_txt, FileMode::Auto, None),
            Err(Error::ContentMismatch { named: "text/plain", .. })
        ));
        let given = file_source(&fake, FileMode::Auto, Some("application/x-custom".into()));
        assert_eq!(kind(given.unwrap()), "application/x-custom");
    }
}
