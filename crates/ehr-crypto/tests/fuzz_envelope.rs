//! Fuzzing by property test (cargo-fuzz needs a nightly toolchain; see docs/security.md):
//! envelope header parsing and chunk decryption on arbitrary and on mutated inputs never
//! panic, and a mutated envelope either fails to open or opens to exactly the original
//! plaintext — never to other bytes.
//!
//! Cases: `EHR_FUZZ_CASES` (default 2,000; the long run in docs/security.md used 100,000).

mod common;

use std::sync::LazyLock;

use common::{Fixture, pattern};
use ehr_crypto::{DecryptionKey, EnvelopeReader, Header};
use proptest::prelude::*;
use std::io::Read;

static FIXTURE: LazyLock<Fixture> = LazyLock::new(Fixture::new);
static PLAINTEXT: LazyLock<Vec<u8>> = LazyLock::new(|| pattern(10_000, 9));
static ENVELOPE: LazyLock<Vec<u8>> = LazyLock::new(|| FIXTURE.seal(&PLAINTEXT));

fn cases() -> u32 {
    std::env::var("EHR_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000)
}

/// Byte-level mutations: flips, overwrites, insertions, deletions, truncation.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1u8..).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..40))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

/// Mutations concentrated on the header (the first ~600 bytes) half of the time.
fn apply(bytes: &mut Vec<u8>, m: &Mutation, header_bias: bool) {
    let len = bytes.len().max(1);
    let pos = |i: usize| if header_bias { i % len.min(600) } else { i % len };
    match m {
        Mutation::Flip(i, b) => {
            let p = pos(*i);
            if p < bytes.len() {
                bytes[p] ^= b;
            }
        }
        Mutation::Set(i, b) => {
            let p = pos(*i);
            if p < bytes.len() {
                bytes[p] = *b;
            }
        }
        Mutation::Insert(i, v) => {
            let p = pos(*i).min(bytes.len());
            bytes.splice(p..p, v.iter().copied());
        }
        Mutation::Delete(i, n) => {
            let p = pos(*i).min(bytes.len());
            let end = (p + n).min(bytes.len());
            bytes.drain(p..end);
        }
        Mutation::Truncate(i) => bytes.truncate(i % len),
    }
}

fn open(envelope: &[u8], key: DecryptionKey<'_>) -> Option<Vec<u8>> {
    let mut reader = EnvelopeReader::new(envelope, key, &FIXTURE.context).ok()?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).ok()?;
    Some(out)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn header_parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Header::parse(&bytes);
    }

    #[test]
    fn header_parse_of_a_mutated_header_never_panics(ms in prop::collection::vec(mutation(), 1..4)) {
        let mut bytes = ENVELOPE.clone();
        for m in &ms {
            apply(&mut bytes, m, true);
        }
        if let Ok((header, used)) = Header::parse(&bytes) {
            prop_assert!(used <= bytes.len());
            prop_assert_eq!(header.encoded_len(), used);
        }
    }

    #[test]
    fn a_mutated_envelope_opens_to_the_original_or_not_at_all(
        ms in prop::collection::vec(mutation(), 1..4),
        header_bias in any::<bool>(),
        which_key in 0u8..3,
    ) {
        let mut bytes = ENVELOPE.clone();
        for m in &ms {
            apply(&mut bytes, m, header_bias);
        }
        let f = &*FIXTURE;
        let key = match which_key {
            0 => DecryptionKey::Secp256k1(&f.patient),
            1 => DecryptionKey::Secp256k1(&f.grantee),
            _ => DecryptionKey::Symmetric { key_id: f.key_id, kek: &f.kek },
        };
        if let Some(plain) = open(&bytes, key) {
            prop_assert!(plain == *PLAINTEXT, "a mutated envelope opened to other bytes");
        }
        // A stranger never opens anything, mutated or not.
        prop_assert!(open(&bytes, DecryptionKey::Secp256k1(&f.stranger)).is_none());
    }
}
