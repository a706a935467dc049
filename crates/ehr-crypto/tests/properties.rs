//! Property tests: round trips around chunk boundaries and every tampering case.

mod common;

use std::sync::LazyLock;

use common::{CHUNK, Fixture, chunk_offset, pattern};
use ehr_crypto::envelope::{MAGIC, MAX_HEADER_LEN};
use ehr_crypto::padding::{padded_envelope_len, padme};
use ehr_crypto::{DecryptionKey, EnvelopeReader, Error, Header, ecies};
use proptest::prelude::*;
use proptest::sample::Index;

static FIXTURE: LazyLock<Fixture> = LazyLock::new(Fixture::new);

/// Lengths at and around chunk boundaries, plus anything up to five chunks.
fn record_len() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        Just(1usize),
        (1usize..=5, -1isize..=1).prop_map(|(k, d)| (k * CHUNK).saturating_add_signed(d)),
        0usize..5 * CHUNK,
    ]
}

fn piece_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..64, 1usize..3 * CHUNK], 1..6)
}

fn is_header_error(err: &Error) -> bool {
    matches!(
        err,
        Error::BadMagic
            | Error::UnsupportedVersion(_)
            | Error::UnsupportedAlgorithm { .. }
            | Error::InvalidChunkSize(_)
            | Error::InvalidSlotCount(_)
            | Error::UnknownSlotType(_)
            | Error::InvalidPublicKey
            | Error::Truncated
            | Error::ContextMismatch
            | Error::NoKeyForRecipient
            | Error::HeaderAuthentication
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn round_trip(len in record_len(), writes in piece_sizes(), reads in piece_sizes(), seed: u8) {
        let f = &*FIXTURE;
        let plaintext = pattern(len, seed);
        let (envelope, stats) = f.seal_in_pieces(&plaintext, &writes);
        prop_assert_eq!(stats.envelope_len, envelope.len() as u64);
        prop_assert_eq!(padme(stats.envelope_len), Some(stats.envelope_len));
        prop_assert_eq!(
            padded_envelope_len(stats.header_len, CHUNK as u64, len as u64).unwrap(),
            stats.envelope_len
        );
        let (out, err) = f.read_in_pieces(&envelope, &reads);
        prop_assert!(err.is_none(), "{:?}", err);
        prop_assert_eq!(out, plaintext);
    }

    #[test]
    fn flipping_any_bit_fails(len in record_len(), at: Index, bit in 0u8..8) {
        let f = &*FIXTURE;
        let mut envelope = f.seal(&pattern(len, 1));
        let (_, header_len) = Header::parse(&envelope).unwrap();
        let i = at.index(envelope.len());
        envelope[i] ^= 1 << bit;
        let err = f.open(&envelope).unwrap_err();
        if i < header_len {
            prop_assert!(is_header_error(&err), "header byte {}: {:?}", i, err);
        } else {
            let index = ((i - header_len) / (CHUNK + 16)) as u32;
            prop_assert!(
                matches!(err, Error::ChunkAuthentication { index: got } if got == index),
                "body byte {} (chunk {}): {:?}", i, index, err
            );
        }
    }

    #[test]
    fn truncating_anywhere_fails(len in record_len(), at: Index) {
        let f = &*FIXTURE;
        let envelope = f.seal(&pattern(len, 2));
        let cut = at.index(envelope.len());
        let err = f.open(&envelope[..cut]).unwrap_err();
        prop_assert!(
            matches!(err, Error::Truncated | Error::ChunkAuthentication { .. }),
            "cut at {} of {}: {:?}", cut, envelope.len(), err
        );
    }

    #[test]
    fn appending_anything_is_trailing_data(
        len in record_len(),
        extra in prop::collection::vec(any::<u8>(), 1..2 * CHUNK + 40),
    ) {
        let f = &*FIXTURE;
        let mut envelope = f.seal(&pattern(len, 3));
        envelope.extend_from_slice(&extra);
        let err = f.open(&envelope).unwrap_err();
        prop_assert!(matches!(err, Error::TrailingData), "{:?}", err);
    }

    #[test]
    fn swapping_chunks_fails(len in 3 * CHUNK..6 * CHUNK, a: Index, b: Index) {
        let f = &*FIXTURE;
        let envelope = f.seal(&pattern(len, 4));
        let (_, h) = Header::parse(&envelope).unwrap();
        let full_chunks = (envelope.len() - h) / (CHUNK + 16);
        // Only whole, non-final chunks can be swapped without changing the framing.
        let non_final = full_chunks - usize::from((envelope.len() - h).is_multiple_of(CHUNK + 16));
        let (i, j) = (a.index(non_final), b.index(non_final));
        prop_assume!(i != j);
        let (i, j) = (i.min(j), i.max(j));
        let mut swapped = envelope.clone();
        let ci = envelope[chunk_offset(h, i)..chunk_offset(h, i + 1)].to_vec();
        let cj = envelope[chunk_offset(h, j)..chunk_offset(h, j + 1)].to_vec();
        swapped[chunk_offset(h, i)..chunk_offset(h, i + 1)].copy_from_slice(&cj);
        swapped[chunk_offset(h, j)..chunk_offset(h, j + 1)].copy_from_slice(&ci);
        let err = f.open(&swapped).unwrap_err();
        prop_assert!(matches!(err, Error::ChunkAuthentication { index } if index as usize == i), "{:?}", err);
    }

    #[test]
    fn duplicating_a_chunk_fails(len in 2 * CHUNK..6 * CHUNK, at: Index) {
        let f = &*FIXTURE;
        let envelope = f.seal(&pattern(len, 5));
        let (_, h) = Header::parse(&envelope).unwrap();
        let chunks = (envelope.len() - h).div_ceil(CHUNK + 16);
        let i = at.index(chunks - 1);
        let chunk = envelope[chunk_offset(h, i)..chunk_offset(h, i + 1)].to_vec();
        let mut duplicated = envelope[..chunk_offset(h, i + 1)].to_vec();
        duplicated.extend_from_slice(&chunk);
        duplicated.extend_from_slice(&envelope[chunk_offset(h, i + 1)..]);
        let err = f.open(&duplicated).unwrap_err();
        prop_assert!(
            matches!(err, Error::ChunkAuthentication { index } if index as usize == i + 1),
            "{:?}", err
        );
    }

    #[test]
    fn dropping_a_chunk_fails(len in 2 * CHUNK..6 * CHUNK, at: Index) {
        let f = &*FIXTURE;
        let envelope = f.seal(&pattern(len, 6));
        let (_, h) = Header::parse(&envelope).unwrap();
        let chunks = (envelope.len() - h).div_ceil(CHUNK + 16);
        let i = at.index(chunks);
        let mut dropped = envelope[..chunk_offset(h, i)].to_vec();
        dropped.extend_from_slice(envelope.get(chunk_offset(h, i + 1)..).unwrap_or_default());
        let err = f.open(&dropped).unwrap_err();
        prop_assert!(
            matches!(err, Error::ChunkAuthentication { index } if index as usize == i)
                || matches!(err, Error::Truncated),
            "dropped chunk {} of {}: {:?}", i, chunks, err
        );
    }

    #[test]
    fn any_other_context_is_refused(
        len in 0usize..2 * CHUNK,
        field in 0usize..4,
        at: Index,
        bit in 0u8..8,
    ) {
        let f = &*FIXTURE;
        let envelope = f.seal(&pattern(len, 9));
        let mut context = f.context;
        match field {
            0 => context.chain_id ^= 1 << (at.index(64) as u64),
            1 => context.index_contract[at.index(20)] ^= 1 << bit,
            2 => context.patient[at.index(20)] ^= 1 << bit,
            _ => context.record_id.0[at.index(16)] ^= 1 << bit,
        }
        // Another record id is named in the header and refused up front; another chain,
        // contract or patient is not in the header, so the slots (bound to it) do not open,
        // and with the data key itself the MAC (which covers it) does not verify.
        let result = ehr_crypto::open(&envelope, DecryptionKey::Secp256k1(&f.patient), &context);
        let with_data_key = ehr_crypto::open(&envelope, DecryptionKey::DataKey(&f.data_key), &context);
        if field == 3 {
            prop_assert!(matches!(result, Err(Error::ContextMismatch)), "{:?}", result.map(|_| ()));
            prop_assert!(matches!(with_data_key, Err(Error::ContextMismatch)));
        } else {
            prop_assert!(matches!(result, Err(Error::NoKeyForRecipient)), "{:?}", result.map(|_| ()));
            prop_assert!(matches!(with_data_key, Err(Error::HeaderAuthentication)));
        }
    }

    #[test]
    fn any_other_key_is_refused(secret in any::<[u8; 32]>(), kek in any::<[u8; 32]>()) {
        let f = &*FIXTURE;
        let envelope = f.seal(b"record");
        if let Ok(stranger) = ehr_crypto::SecretKey::from_bytes(&secret.into()) {
            prop_assume!(stranger != f.patient && stranger != f.grantee);
            prop_assert!(matches!(
                f.open_with(&envelope, DecryptionKey::Secp256k1(&stranger)),
                Err(Error::NoKeyForRecipient)
            ));
        }
        let wrong = ehr_crypto::KeyEncryptionKey::from_bytes(kek);
        prop_assume!(kek != *f.kek.as_bytes());
        let symmetric = DecryptionKey::Symmetric { key_id: f.key_id, kek: &wrong };
        prop_assert!(matches!(f.open_with(&envelope, symmetric), Err(Error::NoKeyForRecipient)));
        let data_key = ehr_crypto::DataKey::from_bytes(kek);
        let result = f.open_with(&envelope, DecryptionKey::DataKey(&data_key));
        prop_assert!(matches!(result, Err(Error::HeaderAuthentication)));
    }

    #[test]
    fn ecies_round_trip_and_tamper(
        plaintext in prop::collection::vec(any::<u8>(), 0..200),
        aad in prop::collection::vec(any::<u8>(), 0..40),
        purpose in "[a-z/0-9-]{1,40}",
        at: Index,
        bit in 0u8..8,
    ) {
        let f = &*FIXTURE;
        let wrapped = ecies::wrap(&f.grantee.public_key(), &purpose, &aad, &plaintext).unwrap();
        prop_assert_eq!(wrapped.len(), plaintext.len() + ecies::OVERHEAD);
        prop_assert_eq!(&ecies::unwrap(&f.grantee, &purpose, &aad, &wrapped).unwrap()[..], &plaintext[..]);
        prop_assert!(matches!(ecies::unwrap(&f.stranger, &purpose, &aad, &wrapped), Err(Error::UnwrapFailed)));
        let mut tampered = wrapped.clone();
        tampered[at.index(wrapped.len())] ^= 1 << bit;
        prop_assert!(ecies::unwrap(&f.grantee, &purpose, &aad, &tampered).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn header_parser_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = Header::parse(&bytes);
    }

    #[test]
    fn header_parser_never_panics_past_the_magic(
        version in prop_oneof![Just(1u8), any::<u8>()],
        chunk_log in prop_oneof![12u32..=22, 0u32..32],
        fixed in prop::collection::vec(any::<u8>(), 96),
        count in prop_oneof![1u8..=4, any::<u8>()],
        first_slot in prop_oneof![Just(1u8), Just(2u8), any::<u8>()],
        slots in prop::collection::vec(any::<u8>(), 0..600),
    ) {
        // Mostly-valid preamble so the slot parser is reached.
        let mut bytes = MAGIC.to_vec();
        bytes.extend_from_slice(&[version, 1, 1]);
        bytes.extend_from_slice(&(1u32 << chunk_log).to_be_bytes());
        bytes.extend_from_slice(&fixed);
        bytes.push(count);
        bytes.push(first_slot);
        bytes.extend_from_slice(&slots);
        if let Ok((header, used)) = Header::parse(&bytes) {
            prop_assert!(used <= MAX_HEADER_LEN);
            prop_assert_eq!(header.to_bytes(), bytes[..used].to_vec());
        }
    }
}

static VALID_HEADER: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let envelope = FIXTURE.seal(b"x");
    let (_, len) = Header::parse(&envelope).unwrap();
    envelope[..len].to_vec()
});

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5_000))]

    #[test]
    fn mutated_headers_parse_canonically_or_fail(
        edits in prop::collection::vec((any::<Index>(), any::<u8>()), 1..8),
        cut: Index,
        extend in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut bytes = VALID_HEADER.clone();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(cut.index(bytes.len() + 1));
        bytes.extend_from_slice(&extend);
        if let Ok((header, used)) = Header::parse(&bytes) {
            prop_assert_eq!(header.to_bytes(), bytes[..used].to_vec());
        }
    }

    #[test]
    fn mutated_headers_never_open(edits in prop::collection::vec((any::<Index>(), any::<u8>()), 1..4)) {
        let f = &*FIXTURE;
        let mut header = VALID_HEADER.clone();
        let mut changed = false;
        for (at, value) in edits {
            let i = at.index(header.len());
            changed |= header[i] != value;
            header[i] = value;
        }
        prop_assume!(changed);
        match EnvelopeReader::new(&header[..], DecryptionKey::Secp256k1(&f.patient), &f.context) {
            Ok(_) => prop_assert!(false, "a modified header was accepted"),
            Err(err) => prop_assert!(is_header_error(&err), "{:?}", err),
        }
    }
}

/// Every byte of a one-chunk envelope, and every 13th byte of a two-chunk one.
fn sample_positions(envelope_len: usize, stride: usize) -> impl Iterator<Item = usize> {
    (0..envelope_len).step_by(stride).chain(std::iter::once(envelope_len - 1))
}

#[test]
fn flipping_every_byte_of_small_envelopes_fails() {
    let f = &*FIXTURE;
    for (len, stride) in [(100, 1), (CHUNK + 10, 13)] {
        let envelope = f.seal(&pattern(len, 7));
        for i in sample_positions(envelope.len(), stride) {
            let mut tampered = envelope.clone();
            tampered[i] ^= 0x01;
            assert!(f.open(&tampered).is_err(), "len {len}: flip at {i} accepted");
        }
    }
}

#[test]
fn every_truncation_of_small_envelopes_fails() {
    let f = &*FIXTURE;
    for (len, stride) in [(100, 1), (CHUNK + 10, 13)] {
        let envelope = f.seal(&pattern(len, 8));
        for cut in sample_positions(envelope.len(), stride) {
            assert!(f.open(&envelope[..cut]).is_err(), "len {len}: cut at {cut} accepted");
        }
    }
}
