//! Wrapping a non-FHIR file in a DocumentReference, streaming.
//!
//! The file is read once, in 64 KiB chunks, to hash it (SHA-256), count its bytes and sniff
//! its content type; nothing else is kept. The DocumentReference generated for it is:
//!
//! ```json
//! {
//!   "resourceType": "DocumentReference",
//!   "status": "current",
//!   "category": [{"coding": [{"system": "<CATEGORY_SYSTEM>", "code": "imaging"}]}],
//!   "content": [{"attachment": {
//!     "extension": [{"url": "<SHA256_EXTENSION_URL>", "valueBase64Binary": "<sha-256>"}],
//!     "contentType": "application/dicom",
//!     "size": 1048576,
//!     "title": "ct-head.dcm"
//!   }}]
//! }
//! ```
//!
//! `Attachment.hash` is deliberately absent: in R4 it is defined as the base64 SHA-1 of the
//! data, and putting a SHA-256 there would mislead every FHIR reader. The SHA-256 goes in the
//! extension instead. No `data` or `url` either: the bytes travel next to the JSON.

use std::io::{ErrorKind, Read};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::content_type::{SNIFF_LEN, detect_content_type, is_imaging, is_mime_type};
use crate::error::RecordError;
use crate::json::Node;
use crate::record::{AttachmentInfo, Record, check_declared, validate_json};
use crate::{CATEGORY_SYSTEM, Category, SHA256_EXTENSION_URL};

const CHUNK: usize = 64 * 1024;

/// Reads `reader` to its end (at most `limit` bytes) and builds the DocumentReference record.
pub(crate) fn wrap(
    file_name: &str,
    content_type: Option<&str>,
    mut reader: impl Read,
    declared_size: Option<u64>,
    limit: u64,
    category: Option<Category>,
) -> Result<Record, RecordError> {
    if let Some(ct) = content_type
        && !is_mime_type(ct)
    {
        return Err(RecordError::InvalidFormat {
            path: "DocumentReference.content[0].attachment.contentType".into(),
            datatype: "code",
            expected: "a MIME type (BCP 13) such as application/pdf",
        });
    }
    check_declared(declared_size, limit, "max_file_bytes")?;

    let mut hasher = Sha256::new();
    let mut head = Vec::with_capacity(SNIFF_LEN);
    let mut size: u64 = 0;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        size += n as u64;
        if size > limit {
            return Err(RecordError::TooLarge { size: None, limit, setting: "max_file_bytes" });
        }
        if head.len() < SNIFF_LEN {
            let take = (SNIFF_LEN - head.len()).min(n);
            head.extend_from_slice(&buf[..take]);
        }
        hasher.update(&buf[..n]);
    }
    if size == 0 {
        return Err(RecordError::Empty);
    }

    let title = title_of(file_name);
    let content_type = match content_type {
        Some(ct) => ct.to_owned(),
        None => detect_content_type(file_name, &head).to_owned(),
    };
    let category = category.unwrap_or(if is_imaging(&content_type) {
        Category::IMAGING
    } else {
        Category::NOTE
    });
    let attachment = AttachmentInfo { content_type, size, sha256: hasher.finalize().into(), title };
    let json = document_reference_json(&attachment, category)?;
    // The generated JSON goes through the same validator as any input.
    let (resource_type, category, summary, _) = validate_json(&json, Some(category))?;
    Ok(Record { resource_type, category, json, summary, attachment: Some(attachment) })
}

/// The last path component of `file_name`, without control characters; `None` if empty.
fn title_of(file_name: &str) -> Option<String> {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = base.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    (!clean.is_empty()).then(|| clean.to_owned())
}

#[derive(Serialize)]
struct DocRef<'a> {
    #[serde(rename = "resourceType")]
    resource_type: &'static str,
    status: &'static str,
    category: [Concept<'a>; 1],
    content: [Content<'a>; 1],
}

#[derive(Serialize)]
struct Concept<'a> {
    coding: [Coding<'a>; 1],
}

#[derive(Serialize)]
struct Coding<'a> {
    system: &'static str,
    code: &'a str,
}

#[derive(Serialize)]
struct Content<'a> {
    attachment: Attachment<'a>,
}

#[derive(Serialize)]
struct Attachment<'a> {
    extension: [Extension; 1],
    #[serde(rename = "contentType")]
    content_type: &'a str,
    size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
}

#[derive(Serialize)]
struct Extension {
    url: &'static str,
    #[serde(rename = "valueBase64Binary")]
    value: String,
}

fn document_reference_json(
    attachment: &AttachmentInfo,
    category: Category,
) -> Result<Vec<u8>, RecordError> {
    let doc = DocRef {
        resource_type: "DocumentReference",
        status: "current",
        category: [Concept {
            coding: [Coding { system: CATEGORY_SYSTEM, code: category.as_str() }],
        }],
        content: [Content {
            attachment: Attachment {
                extension: [Extension {
                    url: SHA256_EXTENSION_URL,
                    value: STANDARD.encode(attachment.sha256),
                }],
                content_type: &attachment.content_type,
                size: attachment.size,
                title: attachment.title.as_deref(),
            },
        }],
    };
    serde_json::to_vec(&doc).map_err(|e| RecordError::Io(std::io::Error::other(e)))
}

/// The attachment a DocumentReference carries with the ehrkit SHA-256 extension (as
/// [`wrap`] generates it), or `None` when it has none.
pub(crate) fn attachment_of(node: &Node) -> Result<Option<AttachmentInfo>, RecordError> {
    let invalid = |reason| RecordError::InvalidFrame { reason };
    if node.get("resourceType").and_then(Node::as_str) != Some("DocumentReference") {
        return Ok(None);
    }
    let contents = node.items("content");
    let with_hash: Vec<(&Node, &str)> = contents
        .iter()
        .filter_map(|c| c.get("attachment"))
        .filter_map(|a| {
            a.items("extension")
                .iter()
                .find(|e| e.get("url").and_then(Node::as_str) == Some(SHA256_EXTENSION_URL))
                .map(|e| (a, e.get("valueBase64Binary").and_then(Node::as_str).unwrap_or_default()))
        })
        .collect();
    let (attachment, digest) = match with_hash.as_slice() {
        [] => return Ok(None),
        [one] if contents.len() == 1 => *one,
        _ => {
            return Err(invalid("a framed DocumentReference has exactly one content"));
        }
    };
    let digest: String = digest.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let sha256: [u8; 32] = STANDARD
        .decode(digest)
        .ok()
        .and_then(|d| d.try_into().ok())
        .ok_or(invalid("the attachment-sha256 extension does not hold a base64 SHA-256"))?;
    let size = attachment
        .get("size")
        .and_then(Node::as_u64)
        .ok_or(invalid("the framed attachment does not give its size"))?;
    if attachment.get("data").is_some() || attachment.get("url").is_some() {
        return Err(invalid("a framed attachment has neither inline data nor a url"));
    }
    let text = |key| attachment.get(key).and_then(Node::as_str).map(str::to_owned);
    Ok(Some(AttachmentInfo {
        content_type: text("contentType").unwrap_or_else(|| crate::OCTET_STREAM.to_owned()),
        size,
        sha256,
        title: text("title"),
    }))
}

#[cfg(test)]
mod tests {
    use std::io::{self, Read};

    use super::*;
    use crate::{Limits, RecordInput, ResourceType};

    fn pdf_bytes() -> Vec<u8> {
        let mut v = b"%PDF-1.7\n".to_vec();
        v.extend((0..100_000u32).map(|i| (i % 251) as u8));
        v
    }

    #[test]
    fn wraps_a_pdf() {
        let bytes = pdf_bytes();
        let record = RecordInput::wrap_bytes("/home/alice/scans/lab report.pdf", None, &bytes)
            .validate()
            .unwrap();
        assert_eq!(record.resource_type(), ResourceType::DOCUMENT_REFERENCE);
        assert_eq!(record.category(), Category::NOTE);
        let att = record.attachment().unwrap();
        assert_eq!(att.content_type, "application/pdf");
        assert_eq!(att.size, bytes.len() as u64);
        assert_eq!(att.sha256_hex(), hex::encode(Sha256::digest(&bytes)));
        assert_eq!(att.title.as_deref(), Some("lab report.pdf"), "directories are dropped");
        let json = std::str::from_utf8(record.json()).unwrap();
        assert!(
            json.starts_with(r#"{"resourceType":"DocumentReference","status":"current""#),
            "{json}"
        );
        assert!(json.contains(SHA256_EXTENSION_URL));
        assert!(json.contains(&STANDARD.encode(att.sha256)));
        assert!(!json.contains("\"hash\""), "R4 hash is SHA-1; it must not carry the SHA-256");
        assert!(!json.contains("alice"));
        assert_eq!(record.summary().title, "lab report.pdf");
        // The generated JSON is itself valid FHIR input with the same category.
        let again = RecordInput::from_fhir_json(record.json()).validate().unwrap();
        assert_eq!(again.category(), Category::NOTE);
    }

    #[test]
    fn dicom_is_imaging_and_explicit_values_win() {
        let mut dicom = vec![0u8; 128];
        dicom.extend_from_slice(b"DICM");
        dicom.extend_from_slice(&[1, 2, 3]);
        let record = RecordInput::wrap_bytes("IM0001", None, &dicom).validate().unwrap();
        assert_eq!(record.attachment().unwrap().content_type, "application/dicom");
        assert_eq!(record.category(), Category::IMAGING);

        let record = RecordInput::wrap_bytes("x.bin", Some("text/plain; charset=UTF-8"), b"hi")
            .with_category(Category::new("dental").unwrap())
            .validate()
            .unwrap();
        assert_eq!(record.attachment().unwrap().content_type, "text/plain; charset=UTF-8");
        assert_eq!(record.category().as_str(), "dental");
    }

    #[test]
    fn empty_file_is_refused() {
        assert_eq!(
            RecordInput::wrap_bytes("a.pdf", None, b"").validate().unwrap_err().kind(),
            "Empty"
        );
    }

    #[test]
    fn bad_content_type_is_refused_before_reading() {
        let err = RecordInput::wrap_bytes("a", Some("pdf"), b"x").validate().unwrap_err();
        assert_eq!(err.kind(), "InvalidFormat");
        assert_eq!(err.path(), Some("DocumentReference.content[0].attachment.contentType"));
    }

    /// Yields `len` bytes in small pieces without holding them.
    struct Generated {
        left: u64,
    }
    impl Read for Generated {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = (buf.len() as u64).min(self.left).min(7919) as usize;
            buf[..n].fill(0xAB);
            self.left -= n as u64;
            Ok(n)
        }
    }

    #[test]
    fn streams_and_enforces_the_file_limit() {
        let limits = Limits { max_file_bytes: 1_000_000, ..Limits::default() };
        let ok = RecordInput::wrap_file("big.dcm", None, Generated { left: 1_000_000 }, None)
            .with_limits(limits)
            .validate()
            .unwrap();
        assert_eq!(ok.attachment().unwrap().size, 1_000_000);
        let err = RecordInput::wrap_file("big.dcm", None, Generated { left: 1_000_001 }, None)
            .with_limits(limits)
            .validate()
            .unwrap_err();
        assert!(
            matches!(err, RecordError::TooLarge { size: None, limit: 1_000_000, .. }),
            "{err:?}"
        );
        let err =
            RecordInput::wrap_file("big.dcm", None, Generated { left: 1 }, Some(3_000_000_000))
                .validate()
                .unwrap_err();
        assert!(
            matches!(
                err,
                RecordError::TooLarge { size: Some(3_000_000_000), limit: 2_147_483_647, .. }
            ),
            "R4 cannot describe more than 2^31-1 bytes: {err:?}"
        );
    }

    #[test]
    fn titles_are_cleaned() {
        assert_eq!(title_of("C:\\docs\\x.pdf").as_deref(), Some("x.pdf"));
        assert_eq!(title_of("a/b/"), None);
        assert_eq!(title_of("bad\nname.txt").as_deref(), Some("badname.txt"));
    }
}
