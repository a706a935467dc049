//! A verified index on disk, so that a new process (a one-shot `ehr search`) starts warm.
//!
//! The file holds what verifying needs — every entry of the patient's index (records and
//! tombstones), the state they were verified against, its block and block hash — and nothing
//! is believed on loading: the entries are folded through the accumulator again and must
//! reproduce the stored state, and then [`crate::IndexClient`] treats the result exactly like
//! its in-memory cache, comparing it with `stateOf` read from the chain at the search's block
//! (reused only when the on-chain accumulator is the stored one, extended only when the new
//! entries carry it to the on-chain one). The accumulator is a hash chain, so a file someone
//! edited, truncated or swapped can only fail one of these checks and cost a full fetch —
//! never add, drop or alter a record. Files are written to a temporary name and renamed, so
//! concurrent processes each leave a whole file (the last one wins).
//!
//! Layout (integers big-endian): magic `EHRIDXC1`; record index (20 bytes); patient (20);
//! block (u64); block hash (flag byte + 32); accumulator (32), records, entries, epoch (u64
//! each); entry count (u64); then per entry: block, log index (u64); block hash (flag + 32);
//! timestamp (flag + u64); record id (u64); writer (20); category (32); epoch (u64); kind (0
//! record: digest (32), tags length (u32), tags; 1 tombstone: superseded-by (u64)).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use alloy::primitives::{Address, B256, Bytes};

use crate::accumulator::{EntryBody, IndexEntry, LogPosition};
use crate::cache::CachedIndex;
use crate::verify::{IndexState, verify_patient_chain};

const MAGIC: &[u8; 8] = b"EHRIDXC1";

/// The file of `patient`'s index of `record_index` under `dir`.
pub(crate) fn path(dir: &Path, record_index: Address, patient: Address) -> PathBuf {
    dir.join(format!("{record_index:#x}-{patient:#x}.idx"))
}

/// Writes `cached` for `patient` (atomically: temporary file, rename).
pub(crate) fn save(
    dir: &Path,
    record_index: Address,
    patient: Address,
    cached: &CachedIndex,
) -> std::io::Result<()> {
    let index = &cached.index;
    let entries = index.entries();
    let mut out = Vec::with_capacity(128 + entries.len() * 200);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(record_index.as_slice());
    out.extend_from_slice(patient.as_slice());
    out.extend_from_slice(&index.at_block.to_be_bytes());
    put_hash(&mut out, cached.block_hash);
    out.extend_from_slice(index.state.accumulator.as_slice());
    for n in [index.state.records, index.state.entries, index.state.epoch, entries.len() as u64] {
        out.extend_from_slice(&n.to_be_bytes());
    }
    for entry in &entries {
        out.extend_from_slice(&entry.position.block.to_be_bytes());
        out.extend_from_slice(&entry.position.log_index.to_be_bytes());
        put_hash(&mut out, entry.block_hash);
        match entry.block_timestamp {
            Some(t) => {
                out.push(1);
                out.extend_from_slice(&t.to_be_bytes());
            }
            None => out.push(0),
        }
        out.extend_from_slice(&entry.record_id.to_be_bytes());
        out.extend_from_slice(entry.writer.as_slice());
        out.extend_from_slice(entry.category.as_slice());
        out.extend_from_slice(&entry.epoch.to_be_bytes());
        match &entry.body {
            EntryBody::Record { digest, tags } => {
                out.push(0);
                out.extend_from_slice(digest.as_slice());
                out.extend_from_slice(&(tags.len() as u32).to_be_bytes());
                out.extend_from_slice(tags);
            }
            EntryBody::Tombstone { superseded_by } => {
                out.push(1);
                out.extend_from_slice(&superseded_by.to_be_bytes());
            }
        }
    }
    fs::create_dir_all(dir)?;
    let target = path(dir, record_index, patient);
    let tmp = dir.join(format!(".{}.tmp-{}", patient, std::process::id()));
    let written = fs::File::create(&tmp).and_then(|mut f| f.write_all(&out));
    match written.and_then(|()| fs::rename(&tmp, &target)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Reads `patient`'s file and verifies its entries against the state stored with them;
/// `None` when there is no file or it does not hold up (the caller then fetches in full).
pub(crate) fn load(dir: &Path, record_index: Address, patient: Address) -> Option<CachedIndex> {
    let bytes = fs::read(path(dir, record_index, patient)).ok()?;
    let (state, at_block, block_hash, entries) = match parse(&bytes, record_index, patient) {
        Some(parsed) => parsed,
        None => {
            tracing::debug!(%patient, "the index cache file is unreadable; ignoring it");
            return None;
        }
    };
    match verify_patient_chain(patient, entries, &state, at_block) {
        Ok(index) => Some(CachedIndex { index: Arc::new(index), block_hash }),
        Err(e) => {
            tracing::debug!(%patient, "the index cache file does not verify ({e}); ignoring it");
            None
        }
    }
}

type Parsed = (IndexState, u64, Option<B256>, Vec<IndexEntry>);

fn parse(bytes: &[u8], record_index: Address, patient: Address) -> Option<Parsed> {
    let mut r = Reader(bytes);
    if r.take(8)? != MAGIC || r.address()? != record_index || r.address()? != patient {
        return None;
    }
    let at_block = r.u64()?;
    let block_hash = r.hash()?;
    let accumulator = r.b256()?;
    let (records, entries, epoch, count) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
    let state = IndexState { accumulator, records, entries, epoch };
    // Each entry takes at least 95 bytes (a tombstone): a count the file cannot hold is
    // refused before anything is allocated for it.
    if count > (r.0.len() / 95) as u64 {
        return None;
    }
    let mut list = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let position = LogPosition { block: r.u64()?, log_index: r.u64()? };
        let entry_hash = r.hash()?;
        let block_timestamp = match r.u8()? {
            0 => None,
            1 => Some(r.u64()?),
            _ => return None,
        };
        let record_id = r.u64()?;
        let writer = r.address()?;
        let category = r.b256()?;
        let epoch = r.u64()?;
        let body = match r.u8()? {
            0 => {
                let digest = r.b256()?;
                let len = u32::from_be_bytes(r.take(4)?.try_into().ok()?) as usize;
                EntryBody::Record { digest, tags: Bytes::copy_from_slice(r.take(len)?) }
            }
            1 => EntryBody::Tombstone { superseded_by: r.u64()? },
            _ => return None,
        };
        list.push(IndexEntry {
            position,
            block_hash: entry_hash,
            block_timestamp,
            record_id,
            writer,
            category,
            epoch,
            body,
        });
    }
    r.0.is_empty().then_some((state, at_block, block_hash, list))
}

fn put_hash(out: &mut Vec<u8>, hash: Option<B256>) {
    match hash {
        Some(hash) => {
            out.push(1);
            out.extend_from_slice(hash.as_slice());
        }
        None => out.push(0),
    }
}

/// A cursor over the file's bytes; every read is bounds-checked (`None` past the end).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn address(&mut self) -> Option<Address> {
        Some(Address::from_slice(self.take(20)?))
    }

    fn b256(&mut self) -> Option<B256> {
        Some(B256::from_slice(self.take(32)?))
    }

    fn hash(&mut self) -> Option<Option<B256>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.b256()?)),
            _ => None,
        }
    }
}
