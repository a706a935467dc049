//! Chunk decryption of a mutated envelope: the input is a list of patches (offset, xor mask)
//! and a truncation point applied to a valid three-chunk envelope. Opening never panics and
//! never yields anything but the original plaintext.
#![no_main]
use std::io::{Read, Write};
use std::sync::LazyLock;

use ehr_crypto::{
    ChunkSize, DataKey, DecryptionKey, EnvelopeReader, EnvelopeWriter, KeyEncryptionKey, KeyId,
    Recipients, RecordContext, RecordId, SecretKey, eth_address,
};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    patient: SecretKey,
    kek: KeyEncryptionKey,
    key_id: KeyId,
    context: RecordContext,
    plaintext: Vec<u8>,
    envelope: Vec<u8>,
}

static F: LazyLock<Fixture> = LazyLock::new(|| {
    let patient = SecretKey::from_bytes(&[0x11; 32].into()).unwrap();
    let grantee = SecretKey::from_bytes(&[0x22; 32].into()).unwrap();
    let key_id = KeyId(*b"epoch-0000000001");
    let kek = KeyEncryptionKey::from_bytes([0x5a; 32]);
    let context = RecordContext {
        chain_id: 31337,
        index_contract: [0x5f; 20],
        patient: eth_address(&patient.public_key()),
        record_id: RecordId([0x42; 16]),
    };
    let recipients = Recipients::new(patient.public_key())
        .with_grantee(grantee.public_key())
        .with_symmetric(key_id, kek.clone());
    let plaintext: Vec<u8> = (0..10_000u32).map(|i| (i * 7 + 3) as u8).collect();
    let data_key = DataKey::generate().unwrap();
    let mut writer = EnvelopeWriter::with_chunk_size(
        Vec::new(),
        &data_key,
        &context,
        &recipients,
        ChunkSize::new(4096).unwrap(),
    )
    .unwrap();
    writer.write_all(&plaintext).unwrap();
    let (envelope, _) = writer.finish().unwrap();
    Fixture { patient, kek, key_id, context, plaintext, envelope }
});

fn open(envelope: &[u8], key: DecryptionKey<'_>) -> Option<Vec<u8>> {
    let mut reader = EnvelopeReader::new(envelope, key, &F.context).ok()?;
    let mut out = Vec::new();
    reader.read_to_end(&mut out).ok()?;
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let f = &*F;
    let mut envelope = f.envelope.clone();
    let len = envelope.len();
    // 3 bytes per patch: 2 for the offset, 1 for the XOR mask; a trailing byte pair truncates.
    let mut patches = data.chunks_exact(3);
    for p in patches.by_ref() {
        let at = usize::from(u16::from_le_bytes([p[0], p[1]])) * len / 65_536;
        envelope[at] ^= p[2];
    }
    let rest = patches.remainder();
    if rest.len() == 2 {
        let keep = usize::from(u16::from_le_bytes([rest[0], rest[1]])) * len / 65_536;
        envelope.truncate(keep);
    }
    for key in [
        DecryptionKey::Secp256k1(&f.patient),
        DecryptionKey::Symmetric { key_id: f.key_id, kek: &f.kek },
    ] {
        if let Some(plain) = open(&envelope, key) {
            assert!(plain == f.plaintext, "a mutated envelope opened to other bytes");
        }
    }
});
