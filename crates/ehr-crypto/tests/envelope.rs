//! Scenario tests for sealing and opening envelopes.

mod common;

use std::io::{Read, Write};

use common::{CHUNK, Fixture, chunk_offset, pattern, secret};
use ehr_crypto::envelope::{MAX_SLOTS, ecies_slot_count};
use ehr_crypto::internals::FixedEntropy;
use ehr_crypto::padding::{padded_envelope_len, padme};
use ehr_crypto::{
    ChunkSize, DataKey, DecryptionKey, EnvelopeReader, EnvelopeWriter, Error, Header,
    KeyEncryptionKey, KeyId, KeySlot, Recipients, RecordContext, RecordId, eth_address,
};

#[test]
fn every_recipient_can_open() {
    let f = Fixture::new();
    let plaintext = pattern(3 * CHUNK + 17, 1);
    let envelope = f.seal(&plaintext);
    assert_eq!(f.open(&envelope).unwrap(), plaintext);
    assert_eq!(f.open_with(&envelope, DecryptionKey::Secp256k1(&f.grantee)).unwrap(), plaintext);
    let symmetric = DecryptionKey::Symmetric { key_id: f.key_id, kek: &f.kek };
    assert_eq!(f.open_with(&envelope, symmetric).unwrap(), plaintext);
    assert_eq!(f.open_with(&envelope, DecryptionKey::DataKey(&f.data_key)).unwrap(), plaintext);
}

#[test]
fn seal_helper_uses_default_chunks() {
    let f = Fixture::new();
    let plaintext = pattern(70_000, 2);
    let envelope = ehr_crypto::seal(&plaintext, &f.data_key, &f.context, &f.recipients()).unwrap();
    let (header, header_len) = Header::parse(&envelope).unwrap();
    assert_eq!(header.chunk_size(), ChunkSize::DEFAULT);
    assert_eq!(
        envelope.len() as u64,
        padded_envelope_len(header_len as u64, 65_536, plaintext.len() as u64).unwrap()
    );
    assert_eq!(f.open(&envelope).unwrap(), plaintext);
}

#[test]
fn wrong_keys_are_refused() {
    let f = Fixture::new();
    let envelope = f.seal(b"lab result");
    let open = |key| f.open_with(&envelope, key);
    assert!(matches!(open(DecryptionKey::Secp256k1(&f.stranger)), Err(Error::NoKeyForRecipient)));
    let wrong_kek = KeyEncryptionKey::from_bytes([0x5b; 32]);
    assert!(matches!(
        open(DecryptionKey::Symmetric { key_id: f.key_id, kek: &wrong_kek }),
        Err(Error::NoKeyForRecipient)
    ));
    assert!(matches!(
        open(DecryptionKey::Symmetric { key_id: KeyId([0; 16]), kek: &f.kek }),
        Err(Error::NoKeyForRecipient)
    ));
    let wrong_data_key = DataKey::from_bytes([9; 32]);
    assert!(matches!(
        open(DecryptionKey::DataKey(&wrong_data_key)),
        Err(Error::HeaderAuthentication)
    ));
}

#[test]
fn wrong_context_is_refused_field_by_field() {
    let f = Fixture::new();
    let envelope = f.seal(b"lab result");
    let variants = [
        RecordContext { chain_id: 1, ..f.context },
        RecordContext { index_contract: [0; 20], ..f.context },
        RecordContext { patient: [0; 20], ..f.context },
        RecordContext { record_id: RecordId([0x43; 16]), ..f.context },
    ];
    for (i, context) in variants.into_iter().enumerate() {
        let result = ehr_crypto::open(&envelope, DecryptionKey::Secp256k1(&f.patient), &context);
        let with_data_key =
            ehr_crypto::open(&envelope, DecryptionKey::DataKey(&f.data_key), &context);
        if i == 3 {
            // The record id is the only part of the context the header names.
            assert!(matches!(result, Err(Error::ContextMismatch)), "{context:?}");
        } else {
            // Chain id, contract and patient come from the reader: the slots are bound to them
            // and the MAC covers them.
            assert!(matches!(result, Err(Error::NoKeyForRecipient)), "{context:?}");
            assert!(matches!(with_data_key, Err(Error::HeaderAuthentication)), "{context:?}");
        }
    }
}

#[test]
fn the_blob_does_not_name_its_patient_chain_or_contract() {
    let f = Fixture::new();
    let envelope = f.seal(b"lab result");
    let contains = |needle: &[u8]| envelope.windows(needle.len()).any(|w| w == needle);
    assert!(!contains(&f.context.patient), "patient address in the envelope");
    assert!(!contains(&f.context.index_contract), "contract address in the envelope");
    assert!(!contains(&f.context.chain_id.to_be_bytes()), "chain id in the envelope");
    assert!(contains(&f.context.record_id.0), "the record id is the one context field kept");
}

#[test]
fn patient_key_must_match_the_context() {
    let f = Fixture::new();
    let recipients = Recipients::new(f.grantee.public_key());
    let result = EnvelopeWriter::new(Vec::new(), &f.data_key, &f.context, &recipients);
    assert!(matches!(result, Err(Error::PatientKeyMismatch)));
}

#[test]
fn slots_hide_recipients_and_are_padded() {
    let f = Fixture::new();
    let envelope = f.seal(b"x");
    let (header, _) = Header::parse(&envelope).unwrap();
    let ecies: Vec<_> =
        header.slots().iter().filter(|s| matches!(s, KeySlot::Ecies { .. })).collect();
    assert_eq!(ecies.len(), 4, "patient + grantee padded to 4");
    assert_eq!(header.slots().len(), 5);
    // No recipient public key or address appears anywhere in the envelope.
    for key in [&f.patient, &f.grantee] {
        let pk = key.public_key();
        let raw = ehr_crypto::raw_public_key(&pk);
        assert!(!contains(&envelope, &raw[..32]), "x-coordinate in clear");
        assert!(envelope.windows(20).filter(|w| *w == eth_address(&pk)).count() <= 1);
    }
    // Not even the patient's address appears: the header names only the record id.
    assert_eq!(envelope.windows(20).filter(|w| *w == f.context.patient).count(), 0);
    assert!(!contains(&envelope, &eth_address(&f.grantee.public_key())));

    let many = (0..5).fold(Recipients::new(f.patient.public_key()), |r, i| {
        r.with_grantee(secret(0x40 + i).public_key())
    });
    assert_eq!(many.slot_count(), 8);
    let too_many = (0..MAX_SLOTS as u8).fold(Recipients::new(f.patient.public_key()), |r, i| {
        r.with_grantee(secret(0x40 + i).public_key())
    });
    assert!(matches!(
        EnvelopeWriter::new(Vec::new(), &f.data_key, &f.context, &too_many),
        Err(Error::TooManyRecipients { .. })
    ));
    assert_eq!(ecies_slot_count(64), 64);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn decoys_look_like_slots_and_open_for_nobody() {
    let f = Fixture::new();
    let envelope = f.seal(b"x");
    let (header, _) = Header::parse(&envelope).unwrap();
    // Every slot's ephemeral key is a valid compressed point, decoys included.
    for slot in header.slots() {
        if let KeySlot::Ecies { wrapped } = slot {
            assert!(ehr_crypto::PublicKey::from_sec1_bytes(&wrapped[..33]).is_ok());
            assert!(matches!(wrapped[0], 2 | 3));
        }
    }
    // The grantee can open, a stranger cannot, even though four slots are tried.
    assert!(f.open_with(&envelope, DecryptionKey::Secp256k1(&f.grantee)).is_ok());
    assert!(f.open_with(&envelope, DecryptionKey::Secp256k1(&f.stranger)).is_err());
}

#[test]
fn same_inputs_with_os_randomness_never_repeat() {
    let f = Fixture::new();
    let a = f.seal(b"same record");
    let b = f.seal(b"same record");
    assert_eq!(a.len(), b.len());
    let (ha, _) = Header::parse(&a).unwrap();
    let (hb, _) = Header::parse(&b).unwrap();
    assert_ne!(ha.salt(), hb.salt(), "fresh salt, so fresh content key and nonces");
    assert_ne!(a[a.len() - 64..], b[b.len() - 64..]);
}

#[test]
fn streaming_writes_match_one_shot_byte_for_byte() {
    let f = Fixture::new();
    let plaintext = pattern(5 * CHUNK + 123, 3);
    let seal = |pieces: &[usize]| {
        let mut entropy = FixedEntropy {
            header_salt: [7; 32],
            ephemeral_secrets: (1..=4).map(secret).collect(),
            decoy_bodies: vec![[0xd0; 48]; 2].into(),
            slot_salts: vec![[0x33; 16]].into(),
        };
        let mut w = EnvelopeWriter::with_entropy(
            Vec::new(),
            &f.data_key,
            &f.context,
            &f.recipients(),
            ChunkSize::new(CHUNK as u32).unwrap(),
            &mut entropy,
        )
        .unwrap();
        let mut rest = &plaintext[..];
        for &p in pieces.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let n = p.min(rest.len());
            w.write_all(&rest[..n]).unwrap();
            rest = &rest[n..];
        }
        w.finish().unwrap().0
    };
    let whole = seal(&[plaintext.len()]);
    assert_eq!(seal(&[1]), whole);
    assert_eq!(seal(&[CHUNK - 1, 3, CHUNK + 1]), whole);
}

#[test]
fn fixed_entropy_running_out_is_an_error_not_a_panic() {
    let f = Fixture::new();
    let mut entropy = FixedEntropy::default();
    let result = EnvelopeWriter::with_entropy(
        Vec::new(),
        &f.data_key,
        &f.context,
        &f.recipients(),
        ChunkSize::DEFAULT,
        &mut entropy,
    );
    assert!(matches!(result, Err(Error::Randomness)));
}

#[test]
fn nothing_from_a_bad_chunk_is_released() {
    let f = Fixture::new();
    let plaintext = pattern(6 * CHUNK, 4);
    let mut envelope = f.seal(&plaintext);
    let (_, header_len) = Header::parse(&envelope).unwrap();
    envelope[chunk_offset(header_len, 2) + 100] ^= 0x01;
    let (out, err) = f.read_in_pieces(&envelope, &[1000, 1, 5000]);
    assert!(matches!(err, Some(Error::ChunkAuthentication { index: 2 })), "{err:?}");
    assert_eq!(out, plaintext[..2 * CHUNK], "exactly the chunks before the bad one");
}

#[test]
fn end_of_file_only_after_everything_verified() {
    let f = Fixture::new();
    let plaintext = pattern(2 * CHUNK + 5, 5);
    let envelope = f.seal(&plaintext);
    // All record bytes are available before the padding chunks, but a reader that lost the
    // final chunk must still fail instead of reporting a clean end.
    let cut = &envelope[..envelope.len() - 1];
    let (out, err) = f.read_in_pieces(cut, &[CHUNK]);
    assert!(err.is_some());
    assert!(out.len() <= plaintext.len() && plaintext.starts_with(&out));

    let mut reader =
        EnvelopeReader::new(&envelope[..], DecryptionKey::Secp256k1(&f.patient), &f.context)
            .unwrap();
    assert!(!reader.is_finished());
    let mut all = Vec::new();
    reader.read_to_end(&mut all).unwrap();
    assert!(reader.is_finished());
    assert_eq!(reader.plaintext_len(), Some(plaintext.len() as u64));
    assert_eq!(all, plaintext);
    assert_eq!(reader.data_key().as_bytes(), f.data_key.as_bytes());
}

#[test]
fn failed_reader_stays_failed() {
    let f = Fixture::new();
    let mut envelope = f.seal(&pattern(100, 6));
    let last = envelope.len() - 1;
    envelope[last] ^= 0x80;
    let mut reader =
        EnvelopeReader::new(&envelope[..], DecryptionKey::Secp256k1(&f.patient), &f.context)
            .unwrap();
    let mut buf = [0u8; 64];
    assert!(matches!(
        Error::from(reader.read(&mut buf).unwrap_err()),
        Error::ChunkAuthentication { index: 0 }
    ));
    assert!(matches!(Error::from(reader.read(&mut buf).unwrap_err()), Error::Poisoned));
}

#[test]
fn unfinished_envelope_reads_as_truncated() {
    let f = Fixture::new();
    // Collect the output of a writer that is dropped without `finish`.
    let shared = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    struct Shared(std::rc::Rc<std::cell::RefCell<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut writer = EnvelopeWriter::with_chunk_size(
        Shared(shared.clone()),
        &f.data_key,
        &f.context,
        &f.recipients(),
        ChunkSize::new(CHUNK as u32).unwrap(),
    )
    .unwrap();
    writer.write_all(&pattern(3 * CHUNK, 7)).unwrap();
    drop(writer);
    let bytes = shared.borrow().clone();
    assert!(matches!(f.open(&bytes), Err(Error::Truncated)));
}

#[test]
fn envelope_sizes_are_buckets_and_overhead_is_bounded() {
    let f = Fixture::new();
    for len in [0usize, 1, 100, CHUNK - 1, CHUNK, CHUNK + 1, 10 * CHUNK + 7, 100_000] {
        let (envelope, stats) = f.seal_in_pieces(&pattern(len, 8), &[len.max(1)]);
        let total = envelope.len() as u64;
        assert_eq!(stats.envelope_len, total);
        assert_eq!(stats.plaintext_len, len as u64);
        assert_eq!(padme(total), Some(total), "len {len}");
        let unpadded = stats.header_len + len as u64 + 1 + 16 * (len as u64 / CHUNK as u64 + 1);
        assert!(total >= unpadded);
        assert!((total - unpadded) * 100 <= unpadded * 12 + 1600, "len {len}");
    }
}

#[test]
fn chunk_of_another_envelope_is_rejected() {
    let f = Fixture::new();
    let plaintext = pattern(3 * CHUNK, 9);
    // Same data key, same context, same plaintext: only the salt differs.
    let a = f.seal(&plaintext);
    let b = f.seal(&plaintext);
    let (_, h) = Header::parse(&a).unwrap();
    let mut spliced = a.clone();
    let range = chunk_offset(h, 1)..chunk_offset(h, 2);
    spliced[range.clone()].copy_from_slice(&b[range]);
    assert!(matches!(f.open(&spliced), Err(Error::ChunkAuthentication { index: 1 })));
    // Header of one with the body of the other.
    let mut swapped = a[..h].to_vec();
    swapped.extend_from_slice(&b[h..]);
    assert!(matches!(f.open(&swapped), Err(Error::ChunkAuthentication { index: 0 })));
}

#[test]
fn header_of_one_record_cannot_be_moved_to_another() {
    let f = Fixture::new();
    let mut g = Fixture::new();
    g.context.record_id = RecordId([0x99; 16]);
    let b = g.seal(b"record b");
    // Reading b while expecting a's context is refused before any key is tried.
    assert!(matches!(f.open(&b), Err(Error::ContextMismatch)));
    // Rewriting b's record id to a's breaks the slots (bound to the context) and the MAC.
    let id_at = 43;
    let mut forged = b.clone();
    forged[id_at..id_at + 16].copy_from_slice(&f.context.record_id.0);
    assert!(matches!(f.open(&forged), Err(Error::NoKeyForRecipient)));
    assert!(matches!(
        ehr_crypto::open(&forged, DecryptionKey::DataKey(&g.data_key), &f.context),
        Err(Error::HeaderAuthentication)
    ));
}

#[test]
fn sizes_quoted_in_the_format_document() {
    // docs/envelope.md §1.1 and §8: a patient-only header is 420 bytes and a 1-byte record
    // to the patient alone is 448 bytes on disk.
    let f = Fixture::new();
    let recipients = Recipients::new(f.patient.public_key());
    let mut writer = EnvelopeWriter::new(Vec::new(), &f.data_key, &f.context, &recipients).unwrap();
    assert_eq!(writer.header().encoded_len(), 420);
    writer.write_all(b"x").unwrap();
    let (envelope, _) = writer.finish().unwrap();
    assert_eq!(envelope.len(), 448);
    assert_eq!(f.open(&envelope).unwrap(), b"x");
}
