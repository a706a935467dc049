//! Shared fixtures for the integration tests.

#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};

use ehr_crypto::{
    ChunkSize, DataKey, DecryptionKey, EnvelopeReader, EnvelopeStats, EnvelopeWriter,
    KeyEncryptionKey, KeyId, Recipients, RecordContext, RecordId, Result, SecretKey, eth_address,
};

/// Smallest chunk size: keeps multi-chunk cases small and fast.
pub const CHUNK: usize = 4096;

pub fn secret(byte: u8) -> SecretKey {
    SecretKey::from_bytes(&[byte; 32].into()).expect("valid scalar")
}

pub struct Fixture {
    pub patient: SecretKey,
    pub grantee: SecretKey,
    pub stranger: SecretKey,
    pub key_id: KeyId,
    pub kek: KeyEncryptionKey,
    pub context: RecordContext,
    pub data_key: DataKey,
}

impl Fixture {
    pub fn new() -> Self {
        let patient = secret(0x11);
        let context = RecordContext {
            chain_id: 31337,
            index_contract: [0x5f; 20],
            patient: eth_address(&patient.public_key()),
            record_id: RecordId([0x42; 16]),
        };
        Self {
            patient,
            grantee: secret(0x22),
            stranger: secret(0x33),
            key_id: KeyId(*b"epoch-0000000001"),
            kek: KeyEncryptionKey::from_bytes([0x5a; 32]),
            context,
            data_key: DataKey::generate().expect("rng"),
        }
    }

    pub fn recipients(&self) -> Recipients {
        Recipients::new(self.patient.public_key())
            .with_grantee(self.grantee.public_key())
            .with_symmetric(self.key_id, self.kek.clone())
    }

    /// Seals with the test chunk size, writing in pieces of the given sizes (cycled).
    pub fn seal_in_pieces(&self, plaintext: &[u8], pieces: &[usize]) -> (Vec<u8>, EnvelopeStats) {
        let chunk = ChunkSize::new(CHUNK as u32).expect("valid");
        let mut writer = EnvelopeWriter::with_chunk_size(
            Vec::new(),
            &self.data_key,
            &self.context,
            &self.recipients(),
            chunk,
        )
        .expect("writer");
        let mut rest = plaintext;
        let mut sizes = pieces.iter().copied().filter(|&p| p > 0).cycle();
        while !rest.is_empty() {
            let take = sizes.next().unwrap_or(rest.len()).min(rest.len());
            writer.write_all(&rest[..take]).expect("write");
            rest = &rest[take..];
        }
        writer.finish().expect("finish")
    }

    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        self.seal_in_pieces(plaintext, &[plaintext.len().max(1)]).0
    }

    pub fn open(&self, envelope: &[u8]) -> Result<Vec<u8>> {
        ehr_crypto::open(envelope, DecryptionKey::Secp256k1(&self.patient), &self.context)
    }

    pub fn open_with(&self, envelope: &[u8], key: DecryptionKey<'_>) -> Result<Vec<u8>> {
        ehr_crypto::open(envelope, key, &self.context)
    }

    /// Streams out with reads of the given sizes (cycled); returns what was read before an
    /// error, and the error.
    pub fn read_in_pieces(
        &self,
        envelope: &[u8],
        pieces: &[usize],
    ) -> (Vec<u8>, Option<ehr_crypto::Error>) {
        let mut reader = match EnvelopeReader::new(
            envelope,
            DecryptionKey::Secp256k1(&self.patient),
            &self.context,
        ) {
            Ok(reader) => reader,
            Err(err) => return (Vec::new(), Some(err)),
        };
        let mut out = Vec::new();
        let mut sizes = pieces.iter().copied().filter(|&p| p > 0).cycle();
        loop {
            let mut buf = vec![0u8; sizes.next().unwrap_or(777)];
            match reader.read(&mut buf) {
                Ok(0) => return (out, None),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(err) => return (out, Some(err.into())),
            }
        }
    }
}

/// Deterministic, non-repeating-looking test data.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64).wrapping_mul(0x9e37_79b9).wrapping_add(u64::from(seed)) as u8
                ^ (i >> 8) as u8
        })
        .collect()
}

/// Byte offset of chunk `index` in an envelope with a header of `header_len` bytes.
pub fn chunk_offset(header_len: usize, index: usize) -> usize {
    header_len + index * (CHUNK + 16)
}
