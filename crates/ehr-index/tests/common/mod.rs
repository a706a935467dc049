//! Shared fixtures: a patient's index built in memory exactly as the contract would.

#![allow(dead_code, unreachable_pub)]

use alloy::primitives::{Address, B256};
use ehr_index::{
    Category, EntryBody, IndexEntry, IndexKey, IndexState, Keyword, LogPosition, MasterSecret,
    TagList, accumulate,
};
use rand_core::{CryptoRng, RngCore};
use sha2::{Digest, Sha256};

/// A deterministic byte stream (SHA-256 in counter mode) for reproducible dummies.
pub struct TestRng {
    seed: [u8; 32],
    counter: u64,
}

impl TestRng {
    pub fn new(label: &str) -> Self {
        Self { seed: Sha256::digest(label.as_bytes()).into(), counter: 0 }
    }
}

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_be_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_be_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(32) {
            let block = Sha256::new()
                .chain_update(self.seed)
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            self.counter += 1;
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for TestRng {}

pub fn digest_of(label: &str) -> B256 {
    B256::from(<[u8; 32]>::from(Sha256::digest(label.as_bytes())))
}

pub fn keywords(words: &[&str]) -> Vec<Keyword> {
    words.iter().map(|w| Keyword::new(w).unwrap()).collect()
}

/// A patient's index as the contract builds it: every entry, and the state after them.
pub struct Chain {
    pub master: MasterSecret,
    pub entries: Vec<IndexEntry>,
    pub records: u64,
    pub block: u64,
    pub rng: TestRng,
}

impl Chain {
    pub fn new(master: MasterSecret) -> Self {
        Self { master, entries: Vec::new(), records: 0, block: 10, rng: TestRng::new("chain") }
    }

    pub fn index_key(&self, epoch: u64, category: &Category) -> IndexKey {
        self.master.epoch_key(epoch).category_keys(category.as_bytes32()).index_key().clone()
    }

    fn record_entry(
        &mut self,
        log_index: u64,
        writer: Address,
        category: Category,
        epoch: u64,
        digest: B256,
        words: &[&str],
    ) -> IndexEntry {
        self.records += 1;
        let key = self.index_key(epoch, &category);
        let tags = TagList::build_with_rng(&key, &digest, &keywords(words), &mut self.rng).unwrap();
        IndexEntry {
            position: LogPosition { block: self.block, log_index },
            block_hash: None,
            block_timestamp: Some(1_700_000_000 + self.block * 12),
            record_id: self.records,
            writer,
            category: *category.as_bytes32(),
            epoch,
            body: EntryBody::Record { digest, tags: tags.to_bytes() },
        }
    }

    /// `addRecord` in a new block; returns the record id.
    pub fn add(
        &mut self,
        writer: Address,
        category: Category,
        epoch: u64,
        digest: B256,
        words: &[&str],
    ) -> u64 {
        self.block += 1;
        let entry = self.record_entry(0, writer, category, epoch, digest, words);
        self.entries.push(entry);
        self.records
    }

    /// `supersede` in a new block: a tombstone of `category` for `record_id`, then the new record.
    pub fn supersede(
        &mut self,
        record_id: u64,
        writer: Address,
        category: Category,
        epoch: u64,
        digest: B256,
        words: &[&str],
    ) -> u64 {
        self.block += 1;
        self.entries.push(IndexEntry {
            position: LogPosition { block: self.block, log_index: 0 },
            block_hash: None,
            block_timestamp: Some(1_700_000_000 + self.block * 12),
            record_id,
            writer,
            category: *category.as_bytes32(),
            epoch,
            body: EntryBody::Tombstone { superseded_by: self.records + 1 },
        });
        let entry = self.record_entry(1, writer, category, epoch, digest, words);
        self.entries.push(entry);
        self.records
    }

    pub fn state(&self, epoch: u64) -> IndexState {
        IndexState {
            accumulator: accumulate(&self.entries),
            records: self.records,
            entries: self.entries.len() as u64,
            epoch,
        }
    }
}
