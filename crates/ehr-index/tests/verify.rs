//! The verifier against an index built as the contract builds it: an honest list verifies,
//! and every kind of tampering is caught.

use crate::common::{Chain, digest_of};
use alloy::primitives::{Address, B256, Bytes};
use ehr_index::{
    Anomaly, Category, EntryBody, Error, IndexEntry, LogPosition, MasterSecret, verify_chain,
    verify_patient_chain,
};
use proptest::prelude::*;

fn lab() -> Category {
    // An opaque id: 16 bytes, then zeros (the contract never sees a name).
    Category::from_bytes32(alloy::primitives::B256::right_padding_from(&[0x1a; 16]))
}

fn imaging() -> Category {
    Category::from_bytes32(alloy::primitives::B256::right_padding_from(&[0x2b; 16]))
}

const PATIENT: Address = Address::repeat_byte(0xa1);
const DOCTOR: Address = Address::repeat_byte(0xd0);

/// Six records and one correction, by two writers, in two categories.
fn sample() -> Chain {
    let mut chain = Chain::new(MasterSecret::from_bytes([7; 32]));
    chain.add(PATIENT, lab(), 0, digest_of("r1"), &["hba1c", "diabète"]);
    chain.add(DOCTOR, lab(), 0, digest_of("r2"), &["blood pressure"]);
    chain.add(PATIENT, imaging(), 0, digest_of("r3"), &["x-ray", "knee"]);
    chain.supersede(2, DOCTOR, lab(), 0, digest_of("r4"), &["blood pressure", "corrected"]);
    chain.add(DOCTOR, lab(), 0, digest_of("r5"), &[]);
    chain.add(PATIENT, imaging(), 0, digest_of("r6"), &["mri"]);
    chain
}

#[test]
fn an_honest_list_verifies() {
    let chain = sample();
    let index = verify_chain(chain.entries.clone(), &chain.state(0), chain.block).unwrap();
    assert_eq!(index.records.len(), 6);
    assert_eq!(index.at_block, chain.block);
    assert!(index.records.iter().enumerate().all(|(i, r)| r.record_id == i as u64 + 1));
    assert_eq!(index.record(2).unwrap().superseded_by, Some(4));
    let live: Vec<u64> = index.live_records().map(|r| r.record_id).collect();
    assert_eq!(live, [1, 3, 4, 5, 6]);
    assert!(index.anomalies.is_empty());
    // Later blocks without new entries verify too; earlier ones do not.
    assert!(verify_chain(chain.entries.clone(), &chain.state(0), chain.block + 100).is_ok());
    assert!(matches!(
        verify_chain(chain.entries.clone(), &chain.state(0), chain.block - 1),
        Err(Error::EntryAfterBlock { .. })
    ));
}

#[test]
fn an_empty_index_verifies() {
    let chain = Chain::new(MasterSecret::from_bytes([7; 32]));
    let index = verify_chain(Vec::new(), &chain.state(0), 5).unwrap();
    assert!(index.records.is_empty());
}

#[test]
fn specific_errors_name_what_is_wrong() {
    let chain = sample();
    let state = chain.state(0);
    let at = chain.block;
    let without = |i: usize| {
        let mut e = chain.entries.clone();
        e.remove(i);
        e
    };
    // The last entry missing: only the counts can tell.
    assert!(matches!(
        verify_chain(without(6), &state, at),
        Err(Error::CountMismatch { expected: 7, found: 6 })
    ));
    // A record in the middle missing: ids skip.
    assert!(matches!(
        verify_chain(without(1), &state, at),
        Err(Error::NonConsecutiveRecordId { expected: 2, found: 3, .. })
    ));
    // The superseding record missing.
    assert!(matches!(
        verify_chain(without(4), &state, at),
        Err(Error::TombstoneNotFollowed { record_id: 2, .. })
    ));
    // The tombstone missing: the record it named is live again, and the chain breaks.
    assert!(matches!(
        verify_chain(without(3), &state, at),
        Err(Error::CountMismatch { .. } | Error::AccumulatorMismatch { .. })
    ));
    // Duplicated.
    let mut duplicated = chain.entries.clone();
    duplicated.insert(2, duplicated[1].clone());
    assert!(matches!(verify_chain(duplicated, &state, at), Err(Error::DuplicateEntry { .. })));
    // Reordered: contents swapped, or a position moved back.
    let mut swapped = chain.entries.clone();
    swapped.swap(0, 1);
    assert!(matches!(
        verify_chain(swapped, &state, at),
        Err(Error::NonConsecutiveRecordId { expected: 1, found: 2, .. })
    ));
    let mut moved = chain.entries.clone();
    moved[2].position = LogPosition { block: moved[0].position.block, log_index: 1 };
    assert!(matches!(verify_chain(moved, &state, at), Err(Error::OutOfOrder { .. })));
    // Altered.
    let mut altered = chain.entries.clone();
    altered[2].writer = DOCTOR;
    assert!(matches!(
        verify_chain(altered, &state, at),
        Err(Error::AccumulatorMismatch { at_block }) if at_block == at
    ));
    // A tombstone naming a future record.
    let mut forward = chain.entries.clone();
    forward[3].record_id = 9;
    assert!(matches!(
        verify_chain(forward, &state, at),
        Err(Error::UnknownSupersededRecord { record_id: 9, .. })
    ));
    // A malformed tag list.
    let mut bad_tags = chain.entries.clone();
    if let EntryBody::Record { tags, .. } = &mut bad_tags[0].body {
        *tags = Bytes::from(vec![0u8; 17]);
    }
    assert!(matches!(
        verify_chain(bad_tags, &state, at),
        Err(Error::InvalidRecordTags { record_id: 1, len: 17 })
    ));
}

#[test]
fn a_tombstone_of_another_category_is_ignored_and_reported() {
    let mut chain = Chain::new(MasterSecret::from_bytes([7; 32]));
    chain.add(DOCTOR, imaging(), 0, digest_of("scan"), &["mri"]);
    // Its writer, now allowed lab only, "corrects" the imaging record with a lab record: the
    // contract accepts it.
    chain.supersede(1, DOCTOR, lab(), 0, digest_of("hidden"), &["x"]);
    let index = verify_chain(chain.entries.clone(), &chain.state(0), chain.block).unwrap();
    assert_eq!(index.record(1).unwrap().superseded_by, None);
    assert_eq!(index.live_records().count(), 2);
    assert_eq!(
        index.anomalies,
        [Anomaly::TombstoneCategoryMismatch {
            record_id: 1,
            superseded_by: 2,
            tombstone_category: lab(),
            record_category: imaging(),
        }]
    );
}

#[test]
fn a_second_correction_of_the_same_record_keeps_the_first_and_is_reported() {
    let mut chain = Chain::new(MasterSecret::from_bytes([7; 32]));
    chain.add(PATIENT, lab(), 0, digest_of("a"), &["x"]);
    chain.supersede(1, PATIENT, lab(), 0, digest_of("b"), &["x"]);
    chain.supersede(1, PATIENT, lab(), 0, digest_of("c"), &["x"]);
    let index = verify_chain(chain.entries.clone(), &chain.state(0), chain.block).unwrap();
    assert_eq!(index.record(1).unwrap().superseded_by, Some(2));
    assert_eq!(index.anomalies, [Anomaly::SupersededAgain { record_id: 1, superseded_by: 3 }]);
    assert_eq!(index.live_records().map(|r| r.record_id).collect::<Vec<_>>(), [2, 3]);
}

/// A random honest chain: `ops[i]` = (writer is doctor, supersede an earlier record?, keyword count).
fn chain_from(ops: &[(bool, Option<u8>, u8)]) -> Chain {
    let mut chain = Chain::new(MasterSecret::from_bytes([3; 32]));
    for (i, (doctor, supersede, words)) in ops.iter().enumerate() {
        let writer = if *doctor { DOCTOR } else { PATIENT };
        let words: Vec<String> = (0..*words).map(|w| format!("word {w}")).collect();
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let digest = digest_of(&format!("record {i}"));
        match supersede {
            Some(target) if chain.records > 0 => {
                let target = u64::from(*target) % chain.records + 1;
                chain.supersede(target, writer, lab(), 0, digest, &words);
            }
            _ => {
                chain.add(writer, lab(), 0, digest, &words);
            }
        }
    }
    chain
}

fn ops() -> impl Strategy<Value = Vec<(bool, Option<u8>, u8)>> {
    proptest::collection::vec(
        (any::<bool>(), proptest::option::weighted(0.25, any::<u8>()), 0u8..12),
        1..8,
    )
}

/// Every way to change one field of one entry.
fn flips(entry: &IndexEntry) -> Vec<IndexEntry> {
    let mut out = Vec::new();
    let mut push = |f: &dyn Fn(&mut IndexEntry)| {
        let mut e = entry.clone();
        f(&mut e);
        out.push(e);
    };
    push(&|e| e.record_id ^= 1);
    push(&|e| e.writer.0[19] ^= 1);
    push(&|e| e.category.0[31] ^= 1);
    push(&|e| e.epoch ^= 1);
    match &entry.body {
        EntryBody::Record { digest, tags } => {
            let (digest, tags) = (*digest, tags.clone());
            push(&|e| {
                let mut d = digest;
                d.0[0] ^= 1;
                e.body = EntryBody::Record { digest: d, tags: tags.clone() };
            });
            for at in [0, tags.len() / 2, tags.len() - 1] {
                push(&|e| {
                    let mut t = tags.to_vec();
                    t[at] ^= 0x80;
                    e.body = EntryBody::Record { digest, tags: t.into() };
                });
            }
            push(&|e| e.body = EntryBody::Tombstone { superseded_by: e.record_id + 1 });
        }
        EntryBody::Tombstone { superseded_by } => {
            let superseded_by = *superseded_by;
            push(&|e| e.body = EntryBody::Tombstone { superseded_by: superseded_by + 1 });
            push(&|e| e.body = EntryBody::Tombstone { superseded_by: superseded_by - 1 });
            push(&|e| {
                e.body = EntryBody::Record {
                    digest: B256::from(alloy::primitives::U256::from(superseded_by)),
                    tags: Bytes::new(),
                }
            });
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn honest_chains_verify(ops in ops()) {
        let chain = chain_from(&ops);
        prop_assert!(verify_chain(chain.entries.clone(), &chain.state(0), chain.block).is_ok());
    }

    #[test]
    fn every_single_omission_is_caught(ops in ops()) {
        let chain = chain_from(&ops);
        for i in 0..chain.entries.len() {
            let mut entries = chain.entries.clone();
            entries.remove(i);
            prop_assert!(verify_chain(entries, &chain.state(0), chain.block).is_err(), "omitting {}", i);
        }
    }

    #[test]
    fn every_swap_is_caught(ops in ops()) {
        let chain = chain_from(&ops);
        let n = chain.entries.len();
        for i in 0..n {
            for j in i + 1..n {
                // Whole entries (positions travel with them) and contents only.
                let mut entries = chain.entries.clone();
                entries.swap(i, j);
                prop_assert!(verify_chain(entries.clone(), &chain.state(0), chain.block).is_err());
                let (pi, pj) = (entries[i].position, entries[j].position);
                entries[i].position = pj;
                entries[j].position = pi;
                prop_assert!(verify_chain(entries, &chain.state(0), chain.block).is_err());
            }
        }
    }

    #[test]
    fn every_duplication_is_caught(ops in ops()) {
        let chain = chain_from(&ops);
        for i in 0..chain.entries.len() {
            for at in [i, i + 1] {
                let mut entries = chain.entries.clone();
                entries.insert(at, chain.entries[i].clone());
                prop_assert!(verify_chain(entries, &chain.state(0), chain.block).is_err());
            }
        }
    }

    #[test]
    fn every_forged_insertion_is_caught(ops in ops(), words in 0u8..10) {
        let chain = chain_from(&ops);
        for at in 0..=chain.entries.len() {
            // A well-formed record with the next id, in a block of its own before the entry it
            // is inserted ahead of, with ids renumbered after it as a forger would.
            let mut entries = chain.entries.clone();
            let block = entries.get(at).map_or(chain.block + 1, |e| e.position.block);
            let id = entries[..at].iter().filter(|e| e.kind() == 0).count() as u64 + 1;
            let mut forger = Chain::new(MasterSecret::from_bytes([3; 32]));
            forger.records = id - 1;
            let word_list: Vec<String> = (0..words).map(|w| format!("w{w}")).collect();
            let word_list: Vec<&str> = word_list.iter().map(String::as_str).collect();
            forger.add(DOCTOR, lab(), 0, digest_of("forged"), &word_list);
            let mut forged = forger.entries.pop().unwrap();
            forged.position = LogPosition { block: block.saturating_sub(1), log_index: 99 };
            for later in &mut entries[at..] {
                if later.kind() == 0 { later.record_id += 1 }
                if let EntryBody::Tombstone { superseded_by } = &mut later.body { *superseded_by += 1 }
            }
            entries.insert(at, forged);
            prop_assert!(verify_chain(entries, &chain.state(0), chain.block + 1).is_err(), "insert at {}", at);
        }
    }

    #[test]
    fn every_field_flip_is_caught(ops in ops()) {
        let chain = chain_from(&ops);
        for i in 0..chain.entries.len() {
            for flipped in flips(&chain.entries[i]) {
                let mut entries = chain.entries.clone();
                entries[i] = flipped;
                prop_assert!(verify_chain(entries, &chain.state(0), chain.block).is_err(), "entry {}", i);
            }
        }
    }

    #[test]
    fn a_wrong_state_is_caught(ops in ops(), which in 0usize..3) {
        let chain = chain_from(&ops);
        let mut state = chain.state(0);
        match which {
            0 => state.accumulator.0[5] ^= 1,
            1 => state.records += 1,
            _ => state.entries -= 1,
        }
        prop_assert!(verify_chain(chain.entries.clone(), &state, chain.block).is_err());
    }
}

/// A writer allowed a category could hide every other writer's records of it with
/// `supersede` (the contract keeps no per-record writer). A tombstone counts only when the
/// superseded record's writer or the patient wrote it; others are reported.
#[test]
fn a_tombstone_by_another_writer_is_ignored_and_reported() {
    const OTHER: Address = Address::repeat_byte(0x0e);
    let mut chain = Chain::new(MasterSecret::from_bytes([7; 32]));
    chain.add(DOCTOR, lab(), 0, digest_of("result"), &["hba1c"]);
    chain.supersede(1, OTHER, lab(), 0, digest_of("hidden"), &["x"]);
    chain.add(DOCTOR, lab(), 0, digest_of("second"), &["hba1c"]);
    chain.supersede(3, PATIENT, lab(), 0, digest_of("patient's correction"), &["hba1c"]);
    let state = chain.state(0);
    let index = verify_patient_chain(PATIENT, chain.entries.clone(), &state, chain.block).unwrap();
    assert_eq!(index.record(1).unwrap().superseded_by, None, "the other writer's is ignored");
    assert_eq!(index.record(3).unwrap().superseded_by, Some(4), "the patient's counts");
    assert_eq!(
        index.anomalies,
        [Anomaly::TombstoneByOtherWriter {
            record_id: 1,
            superseded_by: 2,
            tombstone_writer: OTHER,
            record_writer: DOCTOR,
        }]
    );
    // Not knowing the patient, only a record's own writer's tombstones count.
    let unknown = verify_chain(chain.entries.clone(), &state, chain.block).unwrap();
    assert_eq!(unknown.record(3).unwrap().superseded_by, None);
    assert_eq!(unknown.anomalies.len(), 2);
}
