//! Checking a patient's event list against the contract's state: nothing omitted, reordered,
//! duplicated, inserted or altered.
//!
//! The contract keeps, per patient, a hash chain over every entry ([`crate::accumulator`]) and
//! the entry and record counts. A searcher reads that state at block `B`, fetches the events
//! up to `B` from any node, and recomputes the chain: if the events reproduce the state, they
//! are exactly the entries the contract accepted, in order. The checks run in this order, so
//! the error names the first thing wrong:
//!
//! 1. entries come in (block, log index) order, strictly increasing, none after `B`;
//! 2. record ids run 1, 2, 3, ... without gaps;
//! 3. a tombstone names an existing earlier record and is immediately followed, in the same
//!    block, by its superseding record (the next record id);
//! 4. every tag list is a valid bucket;
//! 5. the entry count, the record count and the accumulator equal the state at `B`.
//!
//! What the accumulator cannot cover is where an entry sits: block numbers, log indexes and
//! timestamps come from the node (only their order is checked). A dishonest node could shift
//! a record in time, not add, drop or change one.
//!
//! Two things the contract cannot check, because it keeps no per-record data: that a
//! tombstone's category (the corrected record's, which the writer must be allowed to write) is
//! the superseded record's, and that its writer wrote the superseded record. A tombstone
//! whose category differs, or whose writer is neither the superseded record's writer nor the
//! patient, is not honoured — the old record stays live — and is reported as an [`Anomaly`];
//! otherwise a writer allowed one category could hide records of another, or hide every other
//! writer's records of its own category. Both writers are in the accumulator, so a node
//! cannot change who wrote what.

use alloy::primitives::{Address, B256};

use crate::accumulator::{EntryBody, IndexEntry, LogPosition};
use crate::category::Category;
use crate::tags::TagList;
use crate::{Error, Result};

/// A patient's index state as `stateOf` returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IndexState {
    /// The accumulator over every entry.
    pub accumulator: B256,
    /// How many records (tombstones not counted).
    pub records: u64,
    /// How many entries (records and tombstones).
    pub entries: u64,
    /// The patient's current key epoch.
    pub epoch: u64,
}

/// Something odd in a verified index that does not make it wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anomaly {
    /// A tombstone's category is not the superseded record's; it was ignored.
    TombstoneCategoryMismatch {
        /// The record the tombstone names.
        record_id: u64,
        /// The record that would have replaced it.
        superseded_by: u64,
        /// The tombstone's category.
        tombstone_category: Category,
        /// The named record's category.
        record_category: Category,
    },
    /// A tombstone was written by neither the superseded record's writer nor the patient; it
    /// was ignored (a writer allowed a category could otherwise hide everyone's records of it).
    TombstoneByOtherWriter {
        /// The record the tombstone names.
        record_id: u64,
        /// The record that would have replaced it.
        superseded_by: u64,
        /// Who wrote the tombstone.
        tombstone_writer: Address,
        /// Who wrote the named record.
        record_writer: Address,
    },
    /// A record was superseded again; the first replacement is the one reported.
    SupersededAgain {
        /// The record.
        record_id: u64,
        /// The later replacement.
        superseded_by: u64,
    },
    /// A record's tags were not sorted (the writer leaked which tags are real).
    UnsortedTags {
        /// The record.
        record_id: u64,
    },
}

/// One record of a verified index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRecord {
    /// The record's number (from 1).
    pub record_id: u64,
    /// The SHA-256 digest of its envelope's CID.
    pub digest: B256,
    /// Its category.
    pub category: Category,
    /// The key epoch it was written in.
    pub epoch: u64,
    /// Who wrote it.
    pub writer: Address,
    /// Its tags, sorted.
    pub tags: TagList,
    /// Where its event is.
    pub position: LogPosition,
    /// Its block's hash, when the node gave it.
    pub block_hash: Option<B256>,
    /// Its block's timestamp, when the node gave it.
    pub block_timestamp: Option<u64>,
    /// The record that replaces it, if a (valid) tombstone says so.
    pub superseded_by: Option<u64>,
}

/// A patient's index, proven complete and untampered at block `at_block`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIndex {
    /// Every record, in order (`records[i].record_id == i + 1`).
    pub records: Vec<VerifiedRecord>,
    /// The state the entries reproduce.
    pub state: IndexState,
    /// The block the state was read at.
    pub at_block: u64,
    /// Oddities that did not fail verification.
    pub anomalies: Vec<Anomaly>,
    /// The tombstone entries, in order: with `records` they are every entry the state's
    /// accumulator covers ([`VerifiedIndex::entries`]).
    pub tombstones: Vec<IndexEntry>,
    /// Whose index it is, when the verifier was told ([`verify_patient_chain`]): the patient's
    /// own tombstones are honoured over any writer's records.
    pub patient: Option<Address>,
}

impl VerifiedIndex {
    /// Every entry of the index in chain order — each record's, and each tombstone just
    /// before the record that supersedes it — so the index can be stored and verified again
    /// from the entries alone (the persisted search cache).
    pub fn entries(&self) -> Vec<IndexEntry> {
        let mut entries = Vec::with_capacity(self.records.len() + self.tombstones.len());
        let mut tombstones = self.tombstones.iter().peekable();
        for record in &self.records {
            while let Some(tombstone) = tombstones.next_if(|t| t.position < record.position) {
                entries.push(tombstone.clone());
            }
            entries.push(IndexEntry {
                position: record.position,
                block_hash: record.block_hash,
                block_timestamp: record.block_timestamp,
                record_id: record.record_id,
                writer: record.writer,
                category: *record.category.as_bytes32(),
                epoch: record.epoch,
                body: EntryBody::Record { digest: record.digest, tags: record.tags.to_bytes() },
            });
        }
        entries.extend(tombstones.cloned());
        entries
    }

    /// The record numbered `record_id`.
    pub fn record(&self, record_id: u64) -> Option<&VerifiedRecord> {
        let index = usize::try_from(record_id.checked_sub(1)?).ok()?;
        self.records.get(index)
    }

    /// The records no valid tombstone supersedes.
    pub fn live_records(&self) -> impl Iterator<Item = &VerifiedRecord> {
        self.records.iter().filter(|r| r.superseded_by.is_none())
    }
}

/// Checks entries one at a time (so a long index need not be held twice), then against the
/// state. See the [module documentation](self) for what is checked.
#[derive(Debug, Default)]
pub struct Verifier {
    accumulator: B256,
    entries: u64,
    last: Option<LogPosition>,
    records: Vec<VerifiedRecord>,
    /// A tombstone waiting for its superseding record: (superseded id, superseded_by, block,
    /// tombstone category, tombstone writer).
    pending: Option<(u64, u64, u64, B256, Address)>,
    anomalies: Vec<Anomaly>,
    tombstones: Vec<IndexEntry>,
    patient: Option<Address>,
    at_block: Option<u64>,
    /// When resumed: the block verified before; entries must come after it.
    after_block: Option<u64>,
}

impl Verifier {
    /// A verifier for an index read up to block `at_block` (entries after it are refused as
    /// they arrive; `None` leaves that check to [`Verifier::finish`]).
    pub fn new(at_block: Option<u64>) -> Self {
        Self { at_block, ..Self::default() }
    }

    /// Verifies `patient`'s index: a tombstone is honoured when the superseded record's writer
    /// or the patient wrote it. Without the patient, only the record's own writer's are.
    pub fn for_patient(mut self, patient: Address) -> Self {
        self.patient = Some(patient);
        self
    }

    /// A verifier that continues from an index verified earlier, so that only the entries
    /// after it need to be fetched and checked (the incremental search cache).
    ///
    /// Its state is the one [`Verifier::finish`] checked against the contract: accumulator and
    /// entry count from `index.state`, the last position from the last record (a verified
    /// index never ends on a tombstone: each is followed by its superseding record). Entries
    /// pushed later must lie after `index.at_block` and, when `at_block` is given, not after it.
    pub fn resume(index: VerifiedIndex, at_block: Option<u64>) -> Self {
        let VerifiedIndex { records, state, at_block: verified_at, anomalies, tombstones, patient } =
            index;
        Self {
            accumulator: state.accumulator,
            entries: state.entries,
            last: records.last().map(|record| record.position),
            records,
            pending: None,
            anomalies,
            tombstones,
            patient,
            at_block,
            after_block: Some(verified_at),
        }
    }

    /// Checks and folds in the next entry.
    pub fn push(&mut self, entry: IndexEntry) -> Result<()> {
        let position = entry.position;
        let block = position.block;
        if let Some(at_block) = self.at_block.filter(|at_block| block > *at_block) {
            return Err(Error::EntryAfterBlock { block, at_block });
        }
        if self.after_block.is_some_and(|after| block <= after) {
            // An entry inside the range already verified: the node lied now or then.
            return Err(Error::OutOfOrder { block, log_index: position.log_index });
        }
        match self.last {
            Some(last) if last == position => {
                return Err(Error::DuplicateEntry { block, log_index: position.log_index });
            }
            Some(last) if last > position => {
                return Err(Error::OutOfOrder { block, log_index: position.log_index });
            }
            _ => {}
        }
        let next_id = self.records.len() as u64 + 1;
        if let Some((superseded, superseded_by, tombstone_block, _, _)) = self.pending {
            let follows = matches!(entry.body, EntryBody::Record { .. })
                && entry.record_id == superseded_by
                && block == tombstone_block;
            if !follows {
                return Err(Error::TombstoneNotFollowed {
                    record_id: superseded,
                    block: tombstone_block,
                });
            }
        }
        match &entry.body {
            EntryBody::Record { digest, tags } => {
                if entry.record_id != next_id {
                    return Err(Error::NonConsecutiveRecordId {
                        expected: next_id,
                        found: entry.record_id,
                        block,
                    });
                }
                let (tags, sorted) = TagList::from_bytes(tags).map_err(|_| {
                    Error::InvalidRecordTags { record_id: entry.record_id, len: tags.len() }
                })?;
                if !sorted {
                    self.anomalies.push(Anomaly::UnsortedTags { record_id: entry.record_id });
                }
                if let Some((superseded, superseded_by, _, category, writer)) = self.pending.take()
                {
                    self.supersede(superseded, superseded_by, category, writer);
                }
                self.records.push(VerifiedRecord {
                    record_id: entry.record_id,
                    digest: *digest,
                    category: Category::from_bytes32(entry.category),
                    epoch: entry.epoch,
                    writer: entry.writer,
                    tags,
                    position,
                    block_hash: entry.block_hash,
                    block_timestamp: entry.block_timestamp,
                    superseded_by: None,
                });
            }
            EntryBody::Tombstone { superseded_by } => {
                if entry.record_id == 0 || entry.record_id >= next_id {
                    return Err(Error::UnknownSupersededRecord {
                        record_id: entry.record_id,
                        block,
                    });
                }
                if *superseded_by != next_id {
                    return Err(Error::TombstoneNotFollowed { record_id: entry.record_id, block });
                }
                self.pending =
                    Some((entry.record_id, *superseded_by, block, entry.category, entry.writer));
            }
        }
        self.accumulator = entry.accumulate(&self.accumulator);
        self.entries += 1;
        self.last = Some(position);
        if matches!(entry.body, EntryBody::Tombstone { .. }) {
            self.tombstones.push(entry);
        }
        Ok(())
    }

    /// Marks `record_id` superseded unless the tombstone's category is not the record's, or
    /// its writer is neither the record's nor the patient.
    fn supersede(
        &mut self,
        record_id: u64,
        superseded_by: u64,
        tombstone_category: B256,
        tombstone_writer: Address,
    ) {
        let patient = self.patient;
        let record = &mut self.records[(record_id - 1) as usize];
        if tombstone_writer != record.writer && Some(tombstone_writer) != patient {
            self.anomalies.push(Anomaly::TombstoneByOtherWriter {
                record_id,
                superseded_by,
                tombstone_writer,
                record_writer: record.writer,
            });
        } else if record.category.as_bytes32() != &tombstone_category {
            self.anomalies.push(Anomaly::TombstoneCategoryMismatch {
                record_id,
                superseded_by,
                tombstone_category: Category::from_bytes32(tombstone_category),
                record_category: record.category,
            });
        } else if record.superseded_by.is_some() {
            self.anomalies.push(Anomaly::SupersededAgain { record_id, superseded_by });
        } else {
            record.superseded_by = Some(superseded_by);
        }
    }

    /// Compares the folded entries with the contract's state read at block `at_block`.
    pub fn finish(self, expected: &IndexState, at_block: u64) -> Result<VerifiedIndex> {
        if let Some(last) = self.last.filter(|last| last.block > at_block) {
            return Err(Error::EntryAfterBlock { block: last.block, at_block });
        }
        if let Some((record_id, _, block, _, _)) = self.pending {
            return Err(Error::TombstoneNotFollowed { record_id, block });
        }
        if self.entries != expected.entries {
            return Err(Error::CountMismatch { expected: expected.entries, found: self.entries });
        }
        let records = self.records.len() as u64;
        if records != expected.records {
            return Err(Error::RecordCountMismatch { expected: expected.records, found: records });
        }
        if self.accumulator != expected.accumulator {
            return Err(Error::AccumulatorMismatch { at_block });
        }
        Ok(VerifiedIndex {
            records: self.records,
            state: *expected,
            at_block,
            anomalies: self.anomalies,
            tombstones: self.tombstones,
            patient: self.patient,
        })
    }
}

/// Extends `index` (verified at `index.at_block`) with the entries of the blocks after it up
/// to `at_block`, and checks the result against the state read at `at_block` exactly as a
/// full verification would: the accumulator is a hash chain, so equality with `expected`
/// proves the cached entries followed by `new_entries` are the contract's entries.
pub fn extend_verified(
    index: VerifiedIndex,
    new_entries: impl IntoIterator<Item = IndexEntry>,
    expected: &IndexState,
    at_block: u64,
) -> Result<VerifiedIndex> {
    if at_block < index.at_block {
        return Err(Error::EntryAfterBlock { block: index.at_block, at_block });
    }
    let mut verifier = Verifier::resume(index, Some(at_block));
    for entry in new_entries {
        verifier.push(entry)?;
    }
    verifier.finish(expected, at_block)
}

/// Verifies `patient`'s whole entry list against the state read at `at_block`
/// ([`Verifier::for_patient`]): what a searcher uses.
pub fn verify_patient_chain(
    patient: Address,
    entries: impl IntoIterator<Item = IndexEntry>,
    expected: &IndexState,
    at_block: u64,
) -> Result<VerifiedIndex> {
    let mut verifier = Verifier::new(Some(at_block)).for_patient(patient);
    for entry in entries {
        verifier.push(entry)?;
    }
    verifier.finish(expected, at_block)
}

/// Verifies a whole entry list against the state read at `at_block` ([`Verifier`]), not
/// knowing whose it is (only a record's own writer's tombstones are honoured).
pub fn verify_chain(
    entries: impl IntoIterator<Item = IndexEntry>,
    expected: &IndexState,
    at_block: u64,
) -> Result<VerifiedIndex> {
    let mut verifier = Verifier::new(Some(at_block));
    for entry in entries {
        verifier.push(entry)?;
    }
    verifier.finish(expected, at_block)
}
