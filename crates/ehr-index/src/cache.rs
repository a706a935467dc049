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

use std::collections::HashMap;
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

/// Verified indexes by patient, in memory.
#[derive(Debug, Default)]
pub struct IndexCache {
    patients: Mutex<HashMap<Address, CachedIndex>>,
}

impl IndexCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the patient's entry out (so that extending it needs no copy).
    pub fn take(&self, patient: Address) -> Option<CachedIndex> {
        self.lock().remove(&patient)
    }

    /// The patient's entry, left in place.
    pub fn get(&self, patient: Address) -> Option<CachedIndex> {
        self.lock().get(&patient).cloned()
    }

    /// Stores an index verified for `patient`, unless one verified at a later block is
    /// there already.
    pub fn insert(&self, patient: Address, entry: CachedIndex) {
        let mut patients = self.lock();
        let keep_old =
            patients.get(&patient).is_some_and(|old| old.index.at_block > entry.index.at_block);
        if !keep_old {
            patients.insert(patient, entry);
        }
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
        // A panic while holding the lock leaves a consistent map: every operation is one
        // map call.
        self.patients.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
