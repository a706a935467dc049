//! The upload journal: what an upload has stored but maybe not indexed yet, so that an
//! interrupted upload can be finished (`resume`) without losing or double-indexing a record.
//!
//! One JSON file per record in `<data dir>/uploads/`, named by the record's client id, written
//! atomically (temporary file, fsync, rename, directory fsync): an entry is complete or
//! absent after a crash. An entry is written after the envelope is in the store and before the
//! index transaction is sent, and rewritten when that transaction is mined. It holds exactly
//! what indexing needs — patient, CID, digest, category, key epoch, tags — and the SHA-256 of
//! the uploaded content for duplicate detection; never key material (tags are public once
//! indexed and reveal nothing without the keyword keys).
//!
//! Entries are deleted by ehrkit only for uploads the index refused (the writer had no
//! access, the epoch had moved): those never became records. Done entries remember what was
//! uploaded (duplicate detection), and entries that can no longer be indexed stay visible
//! until the user re-uploads the content.

use std::fs;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, B256, Bytes};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The journal format this crate writes and reads.
pub const JOURNAL_FORMAT: u32 = 2;

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryStatus {
    /// Stored, not known to be indexed.
    Pending,
    /// Indexed (`record_id` is set).
    Done,
    /// Cannot be indexed any more (`problem` says why): upload the content again.
    NeedsReupload,
}

/// One uploaded record, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JournalEntry {
    /// [`JOURNAL_FORMAT`].
    pub format: u32,
    /// The record's client id (hex), also the entry's file name.
    pub id: String,
    /// Where.
    pub status: EntryStatus,
    /// The chain.
    pub chain_id: u64,
    /// The record index contract.
    pub record_index: Address,
    /// The patient.
    pub patient: Address,
    /// The account that stored it and must index it (the index binds the writer).
    pub writer: Address,
    /// The envelope's CID.
    pub cid: ehr_store::Cid,
    /// The on-chain digest (the CID's SHA-256 digest).
    pub digest: B256,
    /// The category name (client side only).
    pub category: String,
    /// The category's opaque on-chain id for this patient (what `addRecord` sends).
    pub category_id: B256,
    /// The key epoch whose keys made the envelope's slot and the tags.
    pub epoch: u64,
    /// The tag list, as `addRecord` takes it.
    pub tags: Bytes,
    /// SHA-256 of the uploaded content (the FHIR JSON, or the wrapped file's bytes).
    pub content_sha256: B256,
    /// Plaintext bytes encrypted (the record frame).
    pub plaintext_len: u64,
    /// Envelope bytes stored.
    pub envelope_len: u64,
    /// When the envelope was stored (Unix seconds).
    pub stored_at: u64,
    /// The record's number, once indexed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_id: Option<u64>,
    /// The indexing transaction, once mined (absent if another run found it indexed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_hash: Option<B256>,
    /// Why the entry needs a re-upload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl JournalEntry {
    /// Whether the entry belongs to the deployment (`chain_id`, `record_index`).
    pub fn is_for(&self, chain_id: u64, record_index: Address) -> bool {
        self.chain_id == chain_id && self.record_index == record_index
    }
}

/// The upload journal in one directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    /// The journal under `data_dir` (`<data_dir>/uploads`); created on first write.
    pub fn new(data_dir: &Path) -> Self {
        Self { dir: data_dir.join("uploads") }
    }

    /// The journal's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes (or replaces) an entry atomically.
    pub fn write(&self, entry: &JournalEntry) -> Result<()> {
        let text = serde_json::to_vec_pretty(entry).expect("an entry always serializes");
        crate::atomic_file::write(&self.dir, &format!("{}.json", entry.id), &text)
            .map_err(|source| Error::Journal { path: self.path_of(&entry.id), source })
    }

    /// Removes an entry (durably), for an upload the index refused: it never became a record,
    /// and nothing is left to finish. Removing an absent entry is not an error.
    pub fn remove(&self, id: &str) -> Result<()> {
        crate::atomic_file::remove(&self.dir, &format!("{id}.json"))
            .map_err(|source| Error::Journal { path: self.path_of(id), source })
    }

    /// Reads one entry.
    pub fn read(&self, id: &str) -> Result<JournalEntry> {
        read_entry(&self.path_of(id))
    }

    /// Every entry, oldest first (by the time it was stored, then by id).
    pub fn entries(&self) -> Result<Vec<JournalEntry>> {
        let listing = match fs::read_dir(&self.dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(Error::Journal { path: self.dir.clone(), source }),
        };
        let mut entries = Vec::new();
        for item in listing {
            let item = item.map_err(|source| Error::Journal { path: self.dir.clone(), source })?;
            let path = item.path();
            let name = item.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            entries.push(read_entry(&path)?);
        }
        entries.sort_by(|a, b| (a.stored_at, &a.id).cmp(&(b.stored_at, &b.id)));
        Ok(entries)
    }

    /// The entries of `patient` in the deployment whose content has this SHA-256 and that are
    /// not marked for re-upload (those did not become records).
    pub fn uploads_of(
        &self,
        chain_id: u64,
        record_index: Address,
        patient: Address,
        content_sha256: B256,
    ) -> Result<Vec<JournalEntry>> {
        Ok(self
            .entries()?
            .into_iter()
            .filter(|e| {
                e.is_for(chain_id, record_index)
                    && e.patient == patient
                    && e.content_sha256 == content_sha256
                    && e.status != EntryStatus::NeedsReupload
            })
            .collect())
    }
}

fn read_entry(path: &Path) -> Result<JournalEntry> {
    let text =
        fs::read(path).map_err(|source| Error::Journal { path: path.to_path_buf(), source })?;
    let entry: JournalEntry = serde_json::from_slice(&text).map_err(|e| {
        Error::JournalEntryInvalid { path: path.to_path_buf(), reason: e.to_string() }
    })?;
    if entry.format != JOURNAL_FORMAT {
        return Err(Error::JournalEntryInvalid {
            path: path.to_path_buf(),
            reason: format!("format {} is not supported (expected {JOURNAL_FORMAT})", entry.format),
        });
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, stored_at: u64) -> JournalEntry {
        JournalEntry {
            format: JOURNAL_FORMAT,
            id: id.to_owned(),
            status: EntryStatus::Pending,
            chain_id: 31337,
            record_index: Address::repeat_byte(1),
            patient: Address::repeat_byte(2),
            writer: Address::repeat_byte(3),
            cid: ehr_store::compute_cid(b"envelope"),
            digest: B256::repeat_byte(4),
            category: "lab".into(),
            category_id: B256::right_padding_from(&[6; 16]),
            epoch: 0,
            tags: Bytes::from(vec![7u8; 128]),
            content_sha256: B256::repeat_byte(5),
            plaintext_len: 10,
            envelope_len: 100,
            stored_at,
            record_id: None,
            tx_hash: None,
            problem: None,
        }
    }

    #[test]
    fn entries_round_trip_and_are_replaced_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        assert!(journal.entries().unwrap().is_empty(), "no directory yet: no entries");
        journal.write(&entry("bb", 2)).unwrap();
        journal.write(&entry("aa", 1)).unwrap();
        let mut done = entry("bb", 2);
        done.status = EntryStatus::Done;
        done.record_id = Some(9);
        journal.write(&done).unwrap();
        let ids: Vec<_> = journal.entries().unwrap().into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["aa", "bb"]);
        assert_eq!(journal.read("bb").unwrap(), done);
        let leftovers: Vec<_> = fs::read_dir(journal.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let same = journal
            .uploads_of(
                31337,
                Address::repeat_byte(1),
                Address::repeat_byte(2),
                B256::repeat_byte(5),
            )
            .unwrap();
        assert_eq!(same.len(), 2);
    }

    #[test]
    fn a_damaged_entry_is_reported_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::new(dir.path());
        journal.write(&entry("aa", 1)).unwrap();
        fs::write(journal.dir().join("bb.json"), b"{not json").unwrap();
        assert!(matches!(journal.entries(), Err(Error::JournalEntryInvalid { .. })));
    }
}
