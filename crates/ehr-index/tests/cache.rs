//! The incremental verified-index cache: extending a cached verification gives what a full
//! one gives, a tampered increment is caught, and a state that cannot follow the cached one
//! invalidates it.

use crate::common::{Chain, digest_of};
use alloy::primitives::{Address, B256, Bytes};
use ehr_index::{
    CachePlan, CachedIndex, Category, EntryBody, Error, IndexCache, MasterSecret, Query,
    SearchKeys, extend_verified, match_keywords, verify_chain,
};

const PATIENT: Address = Address::repeat_byte(0xa1);
const DOCTOR: Address = Address::repeat_byte(0xd0);

fn lab() -> Category {
    // An opaque id: 16 bytes, then zeros (the contract never sees a name).
    Category::from_bytes32(alloy::primitives::B256::right_padding_from(&[0x1a; 16]))
}

/// Three records at first (`cut` entries, verified at `cut_block`), then four more entries
/// including a correction of record 2.
fn history() -> (Chain, usize, u64) {
    let mut chain = Chain::new(MasterSecret::from_bytes([9; 32]));
    chain.add(PATIENT, lab(), 0, digest_of("r1"), &["hba1c", "diabetes"]);
    chain.add(DOCTOR, lab(), 0, digest_of("r2"), &["diabetes"]);
    chain.add(PATIENT, lab(), 0, digest_of("r3"), &["knee"]);
    let (cut, cut_block) = (chain.entries.len(), chain.block);
    chain.add(DOCTOR, lab(), 0, digest_of("r4"), &["diabetes", "hba1c"]);
    chain.supersede(2, DOCTOR, lab(), 0, digest_of("r5"), &["diabetes", "corrected"]);
    chain.add(PATIENT, lab(), 1, digest_of("r6"), &["hba1c"]);
    (chain, cut, cut_block)
}

fn ids(index: &ehr_index::VerifiedIndex, keys: &SearchKeys, query: &Query) -> Vec<u64> {
    match_keywords(index, keys, query).records.iter().map(|r| r.record_id).collect()
}

#[test]
fn an_extended_index_is_the_fully_verified_one() {
    let (chain, cut, cut_block) = history();
    let early = IndexStateAt::new(&chain, cut);
    let cached = verify_chain(chain.entries[..cut].to_vec(), &early, cut_block).unwrap();
    let state = chain.state(1);
    let head = chain.block + 3;
    let full = verify_chain(chain.entries.clone(), &state, head).unwrap();
    let extended =
        extend_verified(cached.clone(), chain.entries[cut..].to_vec(), &state, head).unwrap();
    assert_eq!(extended, full);
    let keys = SearchKeys::patient(chain.master.clone());
    for query in [Query::new(["diabetes"]).unwrap(), Query::new(["hba1c", "knee"]).unwrap().any()] {
        assert_eq!(ids(&extended, &keys, &query), ids(&full, &keys, &query));
    }
    assert_eq!(ids(&extended, &keys, &Query::new(["diabetes"]).unwrap()), [1, 4, 5]);
    // Nothing new: the cached index verifies against the same state at a later block.
    let same = extend_verified(cached.clone(), Vec::new(), &early, head).unwrap();
    assert_eq!(same.records, cached.records);
}

#[test]
fn a_tampered_increment_is_caught() {
    let (chain, cut, cut_block) = history();
    let early = IndexStateAt::new(&chain, cut);
    let cached = verify_chain(chain.entries[..cut].to_vec(), &early, cut_block).unwrap();
    let state = chain.state(1);
    let head = chain.block;
    let page = || chain.entries[cut..].to_vec();
    let extend = |entries| extend_verified(cached.clone(), entries, &state, head);

    // The last entry dropped: the counts differ.
    let mut dropped = page();
    dropped.pop();
    assert!(matches!(extend(dropped), Err(Error::CountMismatch { .. })));
    // A record in the middle dropped: ids skip.
    let mut dropped = page();
    dropped.remove(0);
    assert!(extend(dropped).is_err());
    // Tags altered: only the accumulator can tell.
    let mut altered = page();
    if let EntryBody::Record { tags, .. } = &mut altered[0].body {
        let mut bytes = tags.to_vec();
        bytes[0] ^= 1;
        *tags = Bytes::from(bytes);
    }
    assert!(matches!(extend(altered), Err(Error::AccumulatorMismatch { .. })));
    // A digest altered.
    let mut altered = page();
    if let EntryBody::Record { digest, .. } = &mut altered[0].body {
        *digest = B256::repeat_byte(1);
    }
    assert!(matches!(extend(altered), Err(Error::AccumulatorMismatch { .. })));
    // An entry of the already verified range served again.
    let mut replayed = page();
    replayed.insert(0, chain.entries[cut - 1].clone());
    assert!(extend(replayed).is_err());
    // Entries the cache missed before (a node that hid them): the state cannot be reached.
    let skipped = chain.entries[cut + 1..].to_vec();
    assert!(extend(skipped).is_err());
    // A cached index that a lying node produced (it is not the prefix the chain has).
    let mut lied = chain.entries[..cut].to_vec();
    if let EntryBody::Record { tags, .. } = &mut lied[1].body {
        let mut bytes = tags.to_vec();
        bytes[5] ^= 0x40;
        *tags = Bytes::from(bytes);
    }
    let fake_state = IndexStateAt::from_entries(&lied, 3);
    let fake = verify_chain(lied, &fake_state, cut_block).unwrap();
    assert!(matches!(
        extend_verified(fake, page(), &state, head),
        Err(Error::AccumulatorMismatch { .. })
    ));
    // The honest page still extends.
    assert!(extend(page()).is_ok());
}

#[test]
fn plans_follow_the_state() {
    let (chain, cut, cut_block) = history();
    let early = IndexStateAt::new(&chain, cut);
    let cached = verify_chain(chain.entries[..cut].to_vec(), &early, cut_block).unwrap();
    let state = chain.state(0);
    let decide = |state: &ehr_index::IndexState, block| CachePlan::decide(&cached, state, block);

    assert_eq!(decide(&early, cut_block), CachePlan::Reuse);
    assert_eq!(decide(&early, cut_block + 5), CachePlan::Reuse);
    assert_eq!(decide(&state, cut_block + 5), CachePlan::Extend { after: cut_block });
    assert_eq!(decide(&state, cut_block - 1), CachePlan::Older);
    // A state that moved backwards (a reorganization, or a node that lied before).
    let behind = IndexStateAt::new(&chain, cut - 1);
    assert_eq!(decide(&behind, cut_block + 5), CachePlan::Invalidate);
    // Another state at the very block verified.
    assert_eq!(decide(&state, cut_block), CachePlan::Invalidate);
    // The same counts with another accumulator: history rewritten.
    let rewritten = ehr_index::IndexState { accumulator: B256::repeat_byte(7), ..early };
    assert_eq!(decide(&rewritten, cut_block + 5), CachePlan::Invalidate);
}

#[test]
fn the_cache_keeps_the_latest_verification() {
    let (chain, cut, cut_block) = history();
    let early = IndexStateAt::new(&chain, cut);
    let cached = verify_chain(chain.entries[..cut].to_vec(), &early, cut_block).unwrap();
    let full = verify_chain(chain.entries.clone(), &chain.state(0), chain.block).unwrap();
    let cache = IndexCache::new();
    let entry = |index: &ehr_index::VerifiedIndex| CachedIndex {
        index: std::sync::Arc::new(index.clone()),
        block_hash: None,
    };
    cache.insert(PATIENT, entry(&full));
    cache.insert(PATIENT, entry(&cached));
    assert_eq!(cache.get(PATIENT).unwrap().index.at_block, chain.block);
    assert!(cache.take(PATIENT).is_some());
    assert!(cache.get(PATIENT).is_none());
    cache.insert(PATIENT, entry(&cached));
    cache.invalidate(PATIENT);
    assert!(cache.get(PATIENT).is_none());
}

/// The state after the first `n` entries of a chain.
struct IndexStateAt;

impl IndexStateAt {
    #[allow(clippy::new_ret_no_self)]
    fn new(chain: &Chain, n: usize) -> ehr_index::IndexState {
        let records = chain.entries[..n]
            .iter()
            .filter(|e| matches!(e.body, EntryBody::Record { .. }))
            .count() as u64;
        Self::from_entries(&chain.entries[..n], records)
    }

    fn from_entries(entries: &[ehr_index::IndexEntry], records: u64) -> ehr_index::IndexState {
        ehr_index::IndexState {
            accumulator: ehr_index::accumulate(entries),
            records,
            entries: entries.len() as u64,
            epoch: 0,
        }
    }
}

/// A persisted index: the file reproduces the verified index (tombstones included, in chain
/// order); a flipped byte, a truncation or another patient's file is not loaded.
#[test]
fn a_persisted_index_round_trips_and_a_damaged_file_is_not_loaded() {
    let (chain, _, _) = history();
    let full = ehr_index::verify_patient_chain(
        PATIENT,
        chain.entries.clone(),
        &chain.state(0),
        chain.block,
    )
    .unwrap();
    assert_eq!(full.entries(), chain.entries, "entries() is the chain, tombstone included");
    let dir = tempfile::tempdir().unwrap();
    let record_index = Address::repeat_byte(0x1d);
    let entry = CachedIndex {
        index: std::sync::Arc::new(full.clone()),
        block_hash: Some(B256::repeat_byte(7)),
    };
    IndexCache::persistent(dir.path(), record_index).insert(PATIENT, entry);
    let load = || IndexCache::persistent(dir.path(), record_index).take(PATIENT);
    let loaded = load().expect("loaded");
    assert_eq!(*loaded.index, full);
    assert_eq!(loaded.block_hash, Some(B256::repeat_byte(7)));
    // Another deployment's cache does not see it.
    assert!(IndexCache::persistent(dir.path(), Address::repeat_byte(0x1e)).take(PATIENT).is_none());

    let file = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();
    let good = std::fs::read(&file).unwrap();
    // Header, patient, stored accumulator, the last record's tags. (Block numbers, log
    // indexes and timestamps are no more trusted in the file than from the node: only their
    // order is checked.)
    for at in [0, 30, 100, good.len() - 1] {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&file, &bad).unwrap();
        assert!(load().is_none(), "a flipped byte at {at} is caught");
    }
    for len in [0, 9, good.len() - 1] {
        std::fs::write(&file, &good[..len]).unwrap();
        assert!(load().is_none(), "a file cut at {len} is not loaded");
    }
    // The right bytes under another patient's name.
    let other = Address::repeat_byte(0xb2);
    std::fs::write(&file, &good).unwrap();
    let other_name =
        file.to_string_lossy().replace(&format!("{PATIENT:#x}"), &format!("{other:#x}"));
    std::fs::copy(&file, &other_name).unwrap();
    assert!(IndexCache::persistent(dir.path(), record_index).take(other).is_none());
    assert!(load().is_some());
}
