//! Matching queries against a verified index with the patient's keys and with grantees' keys.

use crate::common::{Chain, digest_of};
use alloy::primitives::Address;
use ehr_index::{
    Category, GrantKeys, Keyword, MasterSecret, Query, SearchKeys, match_keywords, verify_chain,
};
use proptest::prelude::*;

const PATIENT: Address = Address::repeat_byte(0xa1);
const DOCTOR: Address = Address::repeat_byte(0xd0);

fn lab() -> Category {
    SearchKeys::patient(master()).category_id("lab").unwrap()
}

fn imaging() -> Category {
    SearchKeys::patient(master()).category_id("imaging").unwrap()
}

fn master() -> MasterSecret {
    MasterSecret::from_bytes([0x5a; 32])
}

/// Records 1..=6: epochs 0 and 1, two categories, one correction.
fn chain() -> Chain {
    let mut chain = Chain::new(master());
    chain.add(PATIENT, lab(), 0, digest_of("1"), &["HbA1c", "Diabète"]); // 1
    chain.add(DOCTOR, lab(), 0, digest_of("2"), &["blood  pressure", "diabète"]); // 2
    chain.add(PATIENT, imaging(), 0, digest_of("3"), &["knee", "diabète"]); // 3
    chain.supersede(1, PATIENT, lab(), 0, digest_of("4"), &["hba1c", "corrected"]); // 4
    chain.add(PATIENT, lab(), 1, digest_of("5"), &["diabète", "hba1c"]); // 5
    chain.add(DOCTOR, imaging(), 1, digest_of("6"), &["knee"]); // 6
    chain
}

fn ids(keys: &SearchKeys, query: &Query) -> (Vec<u64>, usize, usize) {
    let chain = chain();
    let index = verify_chain(chain.entries.clone(), &chain.state(1), chain.block).unwrap();
    let found = match_keywords(&index, keys, query);
    (found.records.iter().map(|r| r.record_id).collect(), found.scanned, found.not_readable)
}

#[test]
fn the_patient_finds_everything_that_matches() {
    let keys = SearchKeys::patient(master());
    assert_eq!(ids(&keys, &Query::new(["DIABÈTE"]).unwrap()), (vec![2, 3, 5], 5, 0));
    assert_eq!(ids(&keys, &Query::new(["diabète", "hba1c"]).unwrap()), (vec![5], 5, 0));
    assert_eq!(ids(&keys, &Query::new(["diabète", "hba1c"]).unwrap().any()).0, [2, 3, 4, 5]);
    assert_eq!(ids(&keys, &Query::new(["diabète"]).unwrap().category(lab())), (vec![2, 5], 3, 0));
    assert_eq!(ids(&keys, &Query::new(["blood pressure"]).unwrap()).0, [2]);
    // The superseded record 1 never matches, even on its own keywords.
    assert_eq!(ids(&keys, &Query::new(["hba1c"]).unwrap()).0, [4, 5]);
    // No keywords: every live record that passes the filters.
    assert_eq!(ids(&keys, &Query::new::<_, &str>([]).unwrap().category(imaging())).0, [3, 6]);
    assert_eq!(ids(&keys, &Query::new(["absent"]).unwrap()).0, Vec::<u64>::new());
}

#[test]
fn a_grantee_reads_only_what_its_keys_cover() {
    let mut lab0 = SearchKeys::new();
    let keys = master().epoch_key(0).category_keys(lab().as_bytes32());
    let name = ehr_index::category_name_bytes("lab").unwrap();
    lab0.insert(0, GrantKeys::Category { category: lab().as_bytes32().0, name, keys });
    // Epoch-0 lab records only: 2 and 4; records 3, 5, 6 are not readable.
    assert_eq!(ids(&lab0, &Query::new(["diabète"]).unwrap()), (vec![2], 5, 3));
    assert_eq!(ids(&lab0, &Query::new(["hba1c"]).unwrap()), (vec![4], 5, 3));

    let mut all1 = SearchKeys::new();
    all1.insert(
        1,
        GrantKeys::All { epoch: master().epoch_key(1), naming: master().category_naming_key() },
    );
    assert_eq!(ids(&all1, &Query::new(["diabète", "knee"]).unwrap().any()), (vec![5, 6], 5, 3));

    assert_eq!(ids(&SearchKeys::new(), &Query::new(["knee"]).unwrap()), (vec![], 5, 5));
}

#[test]
fn keys_of_another_epoch_or_patient_match_nothing() {
    let chain = chain();
    let index = verify_chain(chain.entries.clone(), &chain.state(1), chain.block).unwrap();
    let record = index.record(2).unwrap();
    let word = Keyword::new("diabète").unwrap();
    let key = |master: &MasterSecret, epoch| {
        word.key(master.epoch_key(epoch).category_keys(lab().as_bytes32()).index_key())
    };
    assert!(record.tags.matches(&key(&master(), 0), &record.digest));
    assert!(!record.tags.matches(&key(&master(), 1), &record.digest));
    assert!(!record.tags.matches(&key(&MasterSecret::from_bytes([1; 32]), 0), &record.digest));
    let other_category =
        word.key(master().epoch_key(0).category_keys(imaging().as_bytes32()).index_key());
    assert!(!record.tags.matches(&other_category, &record.digest));
}

#[test]
fn time_filters_are_inclusive_and_validated() {
    let query = Query::new(["x"]).unwrap().since(10).until(20);
    assert!(query.in_time_range(10) && query.in_time_range(20));
    assert!(!query.in_time_range(9) && !query.in_time_range(21));
    assert!(query.validate().is_ok());
    assert!(Query::new(["x"]).unwrap().since(5).until(4).validate().is_err());
}

proptest! {
    #[test]
    fn no_match_without_the_epoch_key(epoch in 0u64..1000, other in 0u64..1000, word in "[a-z ]{1,20}") {
        prop_assume!(epoch != other && !word.trim().is_empty());
        let keyword = Keyword::new(&word).unwrap();
        let category_keys = |e| master().epoch_key(e).category_keys(lab().as_bytes32());
        let digest = digest_of(&word);
        let tags = ehr_index::TagList::build(
            category_keys(epoch).index_key(),
            &digest,
            std::slice::from_ref(&keyword),
        )
        .unwrap();
        prop_assert!(tags.matches(&keyword.key(category_keys(epoch).index_key()), &digest));
        prop_assert!(!tags.matches(&keyword.key(category_keys(other).index_key()), &digest));
    }
}
