//! The incremental verified-index cache.
//!
//! After a patient's index was verified at block `B`, its verified records and the state they
//! reproduce are kept in memory. A later search at block `B' ≥ B` still reads `stateOf` at
//! `B'`, and then:
//!
//! - if the state is the cached one (same accumulator, entry and record counts), the cached
//!   records are the contract's records at `B'` (the accumulator is a hash chain over every
//!   entry): nothing is fetched;
//! - if the state has more entries, only the logs of blocks `B+1..=B'` are fetched, folded
//!   into the cached accumulator by a resumed [`Verifier`](crate::Verifier), and the result
//!   must equal the state at `B'` exactly as in a full verification;
//! - anything else (fewer entries or records than cached: a state that moved backwards; a
//!   different state at the same block; block `B` no longer on the chain: a reorganization;
//!   an extension that does not verify: a node lying now or before, a gap) throws the entry
//!   away, and the search does the full fetch and verification.
//!
//! A search at a block before the cached one does a full verification and leaves the cache
//! alone.
//!
//! [`IndexCache::persistent`] also keeps each patient's index in a file, loaded (and verified
//! again) when the patient is not in memory: a one-shot process starts warm, and a file that
//! was tampered with only costs the full fetch ([`crate::cache_file`]).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use alloy::primitives::{Address, B256};

use crate::verify::{IndexState, VerifiedIndex};

/// One patient's verified index and the hash of the block it was verified at.
#[derive(Debug, Clone)]
pub struct CachedIndex {
    /// The verified index (`index.at_block` is `B`).
    pub index: Arc<VerifiedIndex>,
    /// The hash of block `B`, when known (a later search checks it is still canonical).
    pub block_hash: Option<B256>,
}

/// What a search at block `block` may do with a cached index, given the state read there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePlan {
    /// The state is the cached one: use the cached records.
    Reuse,
    /// The state has more entries: fetch blocks `after + 1..=block` and extend.
    Extend {
        /// The cached block `B`.
        after: u64,
    },
    /// The cache cannot be right any more (state moved backwards, or changed at the same
    /// block): throw it away and verify in full.
    Invalidate,
    /// The search is for a block before the cached one: verify in full, keep the cache.
    Older,
}

impl CachePlan {
    /// Decides what to do with `cached` for a search whose state at `block` is `state`.
    pub fn decide(cached: &VerifiedIndex, state: &IndexState, block: u64) -> Self {
        let old = &cached.state;
        if block < cached.at_block {
            return Self::Older;
        }
        if state.entries < old.entries || state.records < old.records {
            return Self::Invalidate;
        }
        let same_entries = state.entries == old.entries
            && state.records == old.records
            && state.accumulator == old.accumulator;
        if block == cached.at_block {
            return if same_entries && state == old { Self::Reuse } else { Self::Invalidate };
        }
        if same_entries {
            Self::Reuse
        } else if state.entries == old.entries {
            // Same count, another accumulator: history was rewritten.
            Self::Invalidate
        } else {
            Self::Extend { after: cached.at_block }
        }
    }
}

/// How many entries an index may grow by before its cache file is written again (see
/// [`IndexCache::insert_extension`]).
pub const REWRITE_AFTER: u64 = 64;

/// Verified indexes by patient, in memory, and on disk when given a directory.
#[derive(Debug, Default)]
pub struct IndexCache {
    patients: Mutex<HashMap<Address, CachedIndex>>,
    disk: Option<Disk>,
}

/// Where a persistent cache keeps its files ([`crate::cache_file`]), and the state each
/// patient's file holds (so an unchanged index is not written again).
#[derive(Debug)]
struct Disk {
    dir: PathBuf,
    record_index: Address,
    written: Mutex<HashMap<Address, IndexState>>,
}

impl IndexCache {
    /// An empty cache, in memory only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A cache that also keeps each patient's verified index in a file under `dir`, so a new
    /// process starts from it; what it loads is verified again and then checked against the
    /// chain like any cached index (see [`crate::cache_file`]). One directory per chain: the
    /// files are named by the record index contract and the patient.
    pub fn persistent(dir: impl Into<PathBuf>, record_index: Address) -> Self {
        Self {
            patients: Mutex::default(),
            disk: Some(Disk { dir: dir.into(), record_index, written: Mutex::default() }),
        }
    }

    /// Takes the patient's entry out (so that extending it needs no copy); from disk when it
    /// is not in memory.
    pub fn take(&self, patient: Address) -> Option<CachedIndex> {
        if let Some(entry) = self.lock().remove(&patient) {
            return Some(entry);
        }
        let disk = self.disk.as_ref()?;
        let loaded = crate::cache_file::load(&disk.dir, disk.record_index, patient)?;
        lock(&disk.written).insert(patient, loaded.index.state);
        Some(loaded)
    }

    /// The patient's entry, left in place.
    pub fn get(&self, patient: Address) -> Option<CachedIndex> {
        self.lock().get(&patient).cloned()
    }

    /// Stores an index verified for `patient`, unless one verified at a later block is
    /// there already; a persistent cache writes its file.
    pub fn insert(&self, patient: Address, entry: CachedIndex) {
        self.store(patient, entry, 0);
    }

    /// [`IndexCache::insert`] for an index that extends (or equals) the one this cache gave
    /// out for `patient`: the file, a verified prefix of it, is rewritten only once
    /// [`REWRITE_AFTER`] entries were added since it was written. Until then a new process
    /// starts from the older file and fetches the few newer entries — cheaper than writing
    /// the whole index after every record.
    pub fn insert_extension(&self, patient: Address, entry: CachedIndex) {
        self.store(patient, entry, REWRITE_AFTER);
    }

    fn store(&self, patient: Address, entry: CachedIndex, slack: u64) {
        let mut patients = self.lock();
        let keep_old =
            patients.get(&patient).is_some_and(|old| old.index.at_block > entry.index.at_block);
        if keep_old {
            return;
        }
        if let Some(disk) = &self.disk {
            let state = entry.index.state;
            let fresh_enough = lock(&disk.written).get(&patient).is_some_and(|written| {
                // Same state: the file already holds these entries (its older block is
                // harmless, the next search checks the state at its own block anyway).
                *written == state
                    || (state.entries >= written.entries && state.entries - written.entries < slack)
            });
            if !fresh_enough {
                match crate::cache_file::save(&disk.dir, disk.record_index, patient, &entry) {
                    Ok(()) => {
                        lock(&disk.written).insert(patient, state);
                    }
                    Err(e) => tracing::debug!(%patient, "index cache not written: {e}"),
                }
            }
        }
        patients.insert(patient, entry);
    }

    /// Forgets the patient's entry.
    pub fn invalidate(&self, patient: Address) {
        self.lock().remove(&patient);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Address, CachedIndex>> {
        lock(&self.patients)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves a consistent map: every operation is one map call.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
