//! The record frame: one byte stream holding a record's JSON and its attachment bytes, for
//! the pipeline to encrypt as a whole without holding either in memory.
//!
//! Layout (all integers big-endian):
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 8 | magic `EHRKREC` + format version `0x01` |
//! | 8 | 32 | category, as [`Category::as_bytes32`] |
//! | 40 | 4 | `J`: length of the JSON (u32) |
//! | 44 | 8 | `B`: length of the attachment bytes (u64; 0 for FHIR input) |
//! | 52 | `J` | the record's FHIR JSON |
//! | 52 + `J` | `B` | the attachment's raw bytes |
//!
//! and nothing after. When `B > 0` the JSON is a DocumentReference whose single attachment
//! has `size = B` and the ehrkit SHA-256 extension; both ends check the bytes against it.

use std::io::{self, ErrorKind, Read};

use sha2::{Digest, Sha256};

use crate::Category;
use crate::document::attachment_of;
use crate::error::RecordError;
use crate::record::{
    AttachmentInfo, Limits, MAX_ATTACHMENT_SIZE, Record, check_declared, validate_json,
};

/// The first 8 bytes of a frame: `EHRKREC` and the format version 1.
pub const FRAME_MAGIC: [u8; 8] = *b"EHRKREC\x01";

/// Length of the fixed part before the JSON.
const PREFIX_LEN: usize = 8 + 32 + 4 + 8;

impl Record {
    /// The record as a frame: a reader yielding the prefix, the JSON, then `attachment`'s
    /// bytes (pass [`io::empty()`] for a record without attachment).
    ///
    /// The attachment is streamed, not buffered, and checked on the way: if it is shorter or
    /// longer than recorded, or its SHA-256 differs (the file changed since it was wrapped),
    /// the final `read` fails with an [`io::Error`] that converts back into
    /// [`RecordError::AttachmentMismatch`].
    pub fn framed<R: Read>(&self, attachment: R) -> FramedReader<R> {
        let body_len = self.attachment.as_ref().map_or(0, |a| a.size);
        let json_len = u32::try_from(self.json.len()).unwrap_or(u32::MAX);
        let mut head = Vec::with_capacity(PREFIX_LEN + self.json.len());
        head.extend_from_slice(&FRAME_MAGIC);
        head.extend_from_slice(&self.category.as_bytes32());
        head.extend_from_slice(&json_len.to_be_bytes());
        head.extend_from_slice(&body_len.to_be_bytes());
        head.extend_from_slice(&self.json);
        FramedReader {
            head,
            pos: 0,
            body: CheckedBody::new(
                attachment,
                body_len,
                self.attachment.as_ref().map(|a| a.sha256),
            ),
        }
    }
}

/// Reader over a record frame; see [`Record::framed`].
pub struct FramedReader<R> {
    head: Vec<u8>,
    pos: usize,
    body: CheckedBody<R>,
}

impl<R: Read> Read for FramedReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.head.len() {
            let n = out.len().min(self.head.len() - self.pos);
            out[..n].copy_from_slice(&self.head[self.pos..self.pos + n]);
            self.pos += n;
            return Ok(n);
        }
        self.body.read(out)
    }
}

/// Reads a frame's prefix and JSON (validating the record), and returns the record with a
/// reader over its attachment bytes. The reader yields exactly the recorded number of bytes
/// and fails (with an error converting into [`RecordError::AttachmentMismatch`]) if they do
/// not match the recorded SHA-256 or the stream does not end right after them.
pub fn read_frame<R: Read>(
    mut reader: R,
    limits: &Limits,
) -> Result<(Record, AttachmentReader<R>), RecordError> {
    let mut prefix = [0u8; PREFIX_LEN];
    reader.read_exact(&mut prefix).map_err(truncated)?;
    if prefix[..7] != FRAME_MAGIC[..7] {
        return Err(RecordError::InvalidFrame { reason: "it does not start with EHRKREC" });
    }
    if prefix[7] != FRAME_MAGIC[7] {
        return Err(RecordError::InvalidFrame {
            reason: "its format version is not 1 (written by a newer ehrkit?)",
        });
    }
    let mut category = [0u8; 32];
    category.copy_from_slice(&prefix[8..40]);
    let category = Category::from_bytes32(&category)?;
    let json_len = u64::from(u32::from_be_bytes([prefix[40], prefix[41], prefix[42], prefix[43]]));
    let mut body_len = [0u8; 8];
    body_len.copy_from_slice(&prefix[44..52]);
    let body_len = u64::from_be_bytes(body_len);
    check_declared(Some(json_len), limits.max_json_bytes, "max_json_bytes")?;
    check_declared(
        Some(body_len),
        limits.max_file_bytes.min(MAX_ATTACHMENT_SIZE),
        "max_file_bytes",
    )?;

    let mut json = vec![0u8; usize::try_from(json_len).unwrap_or(usize::MAX)];
    reader.read_exact(&mut json).map_err(truncated)?;
    let (resource_type, category, summary, node) = validate_json(&json, Some(category))?;
    let attachment: Option<AttachmentInfo> = attachment_of(&node)?;
    if attachment.as_ref().map_or(0, |a| a.size) != body_len {
        return Err(RecordError::InvalidFrame {
            reason: "the attachment length differs from the size in the DocumentReference",
        });
    }
    let expected = attachment.as_ref().map(|a| a.sha256);
    let record = Record { resource_type, category, json, summary, attachment };
    Ok((record, AttachmentReader { body: CheckedBody::new(reader, body_len, expected) }))
}

/// Reader over a frame's attachment bytes; see [`read_frame`].
pub struct AttachmentReader<R> {
    body: CheckedBody<R>,
}

impl<R> AttachmentReader<R> {
    /// Attachment bytes not read yet.
    pub fn remaining(&self) -> u64 {
        self.body.remaining
    }
}

impl<R: Read> Read for AttachmentReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.body.read(out)
    }
}

/// Passes through exactly `remaining` bytes, hashing them; at the end, checks the hash and
/// that the source has nothing more.
struct CheckedBody<R> {
    inner: R,
    remaining: u64,
    hasher: Sha256,
    expected: Option<[u8; 32]>,
    finished: bool,
}

impl<R> CheckedBody<R> {
    fn new(inner: R, len: u64, expected: Option<[u8; 32]>) -> Self {
        CheckedBody { inner, remaining: len, hasher: Sha256::new(), expected, finished: false }
    }
}

impl<R: Read> CheckedBody<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let mismatch = |reason| RecordError::AttachmentMismatch { reason }.into_io();
        if out.is_empty() || self.finished {
            return Ok(0);
        }
        if self.remaining > 0 {
            let max = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(out.len());
            let n = self.inner.read(&mut out[..max])?;
            if n == 0 {
                return Err(mismatch("the bytes end before the recorded size"));
            }
            self.hasher.update(&out[..n]);
            self.remaining -= n as u64;
            return Ok(n);
        }
        self.finished = true;
        let mut probe = [0u8; 1];
        loop {
            match self.inner.read(&mut probe) {
                Ok(0) => break,
                Ok(_) => return Err(mismatch("there are more bytes than the recorded size")),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if let Some(expected) = self.expected {
            let actual: [u8; 32] = self.hasher.finalize_reset().into();
            if actual != expected {
                return Err(mismatch("the SHA-256 differs from the recorded one"));
            }
        }
        Ok(0)
    }
}

/// An early end of the stream means a truncated frame; other read errors stay I/O errors.
fn truncated(err: io::Error) -> RecordError {
    if err.kind() == ErrorKind::UnexpectedEof {
        RecordError::InvalidFrame { reason: "the stream ends inside the frame" }
    } else {
        RecordError::from(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RecordInput, ResourceType};

    fn wrapped(bytes: &[u8]) -> Record {
        RecordInput::wrap_bytes("scan.pdf", None, bytes).validate().unwrap()
    }

    fn frame_bytes(record: &Record, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        record.framed(body).read_to_end(&mut out).unwrap();
        out
    }

    #[test]
    fn round_trips_a_wrapped_file() {
        let body = b"%PDF-1.7 some content".repeat(1000);
        let record = wrapped(&body);
        let frame = frame_bytes(&record, &body);
        assert_eq!(&frame[..8], &FRAME_MAGIC);
        assert_eq!(frame.len(), PREFIX_LEN + record.json().len() + body.len());

        let (decoded, mut attachment) = read_frame(frame.as_slice(), &Limits::default()).unwrap();
        assert_eq!(decoded, record);
        assert_eq!(attachment.remaining(), body.len() as u64);
        let mut out = Vec::new();
        attachment.read_to_end(&mut out).unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn round_trips_fhir_input() {
        let json = br#"{"resourceType":"Condition","subject":{"reference":"Patient/1"}}"#;
        let record = RecordInput::from_fhir_json(json).validate().unwrap();
        let frame = frame_bytes(&record, b"");
        let (decoded, mut attachment) = read_frame(frame.as_slice(), &Limits::default()).unwrap();
        assert_eq!(decoded.resource_type(), ResourceType::CONDITION);
        assert_eq!(decoded.category(), Category::DIAGNOSIS);
        assert_eq!(decoded.json(), json);
        assert_eq!(attachment.read(&mut [0u8; 16]).unwrap(), 0);
    }

    #[test]
    fn encoder_detects_a_changed_file() {
        let body = b"%PDF-1.7 original".to_vec();
        let record = wrapped(&body);
        let read_all = |b: &[u8]| {
            let mut out = Vec::new();
            record.framed(b).read_to_end(&mut out).map_err(RecordError::from)
        };
        let mut changed = body.clone();
        changed[10] ^= 1;
        let err = read_all(&changed).unwrap_err();
        assert_eq!(err.kind(), "AttachmentMismatch");
        assert!(err.to_string().contains("SHA-256"), "{err}");
        assert_eq!(read_all(&body[..body.len() - 1]).unwrap_err().kind(), "AttachmentMismatch");
        let mut longer = body.clone();
        longer.push(0);
        assert_eq!(read_all(&longer).unwrap_err().kind(), "AttachmentMismatch");
        read_all(&body).unwrap();
    }

    #[test]
    fn decoder_detects_tampering() {
        let body = b"%PDF-1.7 original".to_vec();
        let record = wrapped(&body);
        let frame = frame_bytes(&record, &body);
        let read_body = |f: &[u8]| -> Result<Vec<u8>, RecordError> {
            let (_, mut att) = read_frame(f, &Limits::default())?;
            let mut out = Vec::new();
            att.read_to_end(&mut out)?;
            Ok(out)
        };
        let mut flipped = frame.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(read_body(&flipped).unwrap_err().kind(), "AttachmentMismatch");
        let mut trailing = frame.clone();
        trailing.push(b'x');
        assert_eq!(read_body(&trailing).unwrap_err().kind(), "AttachmentMismatch");
        assert_eq!(read_body(&frame[..frame.len() - 1]).unwrap_err().kind(), "AttachmentMismatch");
        assert_eq!(read_body(&frame).unwrap(), body);
    }

    #[test]
    fn malformed_frames() {
        let record = wrapped(b"%PDF-1.7 x");
        let frame = frame_bytes(&record, b"%PDF-1.7 x");
        let err = |f: &[u8]| read_frame(f, &Limits::default()).map(|_| ()).unwrap_err();

        assert_eq!(err(&frame[..20]).kind(), "InvalidFrame");
        assert_eq!(err(&frame[..PREFIX_LEN + 5]).kind(), "InvalidFrame");
        let mut bad_magic = frame.clone();
        bad_magic[0] = b'X';
        assert_eq!(err(&bad_magic).kind(), "InvalidFrame");
        let mut bad_version = frame.clone();
        bad_version[7] = 2;
        assert!(err(&bad_version).to_string().contains("version"));
        let mut bad_category = frame.clone();
        bad_category[8] = b'L';
        assert_eq!(err(&bad_category).kind(), "InvalidCategory");
        let mut bad_len = frame.clone();
        bad_len[51] ^= 1; // body length no longer matches attachment.size
        assert_eq!(err(&bad_len).kind(), "InvalidFrame");
        let small = Limits { max_json_bytes: 10, ..Limits::default() };
        assert_eq!(
            read_frame(frame.as_slice(), &small).map(|_| ()).unwrap_err().kind(),
            "TooLarge"
        );
    }
}
