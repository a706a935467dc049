//! Fuzzing by property test (cargo-fuzz needs a nightly toolchain; see docs/security.md): CID
//! parsing from text and from bytes never panics on arbitrary or mutated input, and whatever
//! parses prints and encodes back to the same CID.
//!
//! Cases: `EHR_FUZZ_CASES` (default 2,000; the long run in docs/security.md used 100,000).

use std::str::FromStr;

use ehr_store::{Cid, Codec};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("EHR_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

const VALID: [&str; 2] = [
    "bafkreiczmjq6ytfrwmfbxroqztjltfksj5cqthwq543mujxzkin6wkoe5e",
    "bafybeigowbruhbz3qr4f65qenndcfcyel4okdbi6t6c3cbmutc6j6mxuai",
];

fn check_round_trip(cid: &Cid) -> Result<(), TestCaseError> {
    let text = cid.to_string();
    prop_assert_eq!(&Cid::from_str(&text).expect("its own text parses"), cid);
    prop_assert_eq!(&Cid::from_bytes(&cid.to_bytes()).expect("its own bytes parse"), cid);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,80}") {
        if let Ok(cid) = Cid::from_str(&text) {
            check_round_trip(&cid)?;
        }
    }

    #[test]
    fn base32_looking_text_never_panics(text in "b[a-z2-7]{0,70}") {
        if let Ok(cid) = Cid::from_str(&text) {
            check_round_trip(&cid)?;
        }
    }

    #[test]
    fn mutated_valid_cids_never_panic(which in 0usize..2, at in any::<usize>(), ch in "[a-z2-7A-Z0-9=]", delete in any::<bool>()) {
        let mut text = VALID[which].to_owned();
        let at = at % text.len();
        if delete {
            text.remove(at);
        } else {
            text.replace_range(at..at + 1, &ch);
        }
        if let Ok(cid) = Cid::from_str(&text) {
            check_round_trip(&cid)?;
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        if let Ok(cid) = Cid::from_bytes(&bytes) {
            check_round_trip(&cid)?;
        }
    }

    #[test]
    fn every_block_has_a_round_tripping_cid(block in prop::collection::vec(any::<u8>(), 0..512), raw in any::<bool>()) {
        let codec = if raw { Codec::Raw } else { Codec::DagPb };
        let cid = Cid::of_block(codec, &block);
        prop_assert!(cid.matches(&block));
        check_round_trip(&cid)?;
    }
}
