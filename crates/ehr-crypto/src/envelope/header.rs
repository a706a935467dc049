//! The envelope header: format constants, key slots, and a strict parser.
//!
//! Every field has a fixed size, so serialization is canonical: re-serializing a parsed
//! header yields the same bytes, and the header hash can be computed from the parsed form.

use std::fmt;
use std::io::{self, Read};

use super::context::{RECORD_ID_LEN, RecordContext, RecordId};
use crate::ecies::EPHEMERAL_KEY_LEN;
use crate::entropy::DECOY_BODY_LEN;
use crate::keys::KeyId;
use crate::{Error, Result};

/// Magic bytes that start every envelope.
pub const MAGIC: [u8; 4] = *b"EHRE";
/// The format version this library writes and the only one it reads.
///
/// Version 2 keeps only the record id in the header; the chain id, index contract and patient
/// (what version 1 carried in clear) come from the chain and enter the header MAC, the chunk
/// AAD and the slot binding instead, so a blob alone no longer names its patient.
pub const VERSION: u8 = 2;
/// Content algorithm id 1: AES-256-GCM in STREAM (`StreamBE32`), content key from HKDF-SHA256.
pub const CONTENT_AES256GCM_STREAM_BE32: u8 = 1;
/// Padding algorithm id 1: envelope length rounded to a Padmé bucket.
pub const PADDING_PADME: u8 = 1;
/// Key slot type 1: data key wrapped with ECIES to a secp256k1 public key.
pub const SLOT_ECIES: u8 = 1;
/// Key slot type 2: data key wrapped under a symmetric key-encryption key.
pub const SLOT_SYMMETRIC: u8 = 2;
/// Most key slots a header may hold (decoys included).
pub const MAX_SLOTS: usize = 64;

/// Length of the header salt.
pub const SALT_LEN: usize = 32;
/// Length of the header MAC (HMAC-SHA256).
pub const MAC_LEN: usize = 32;
/// Length of a wrapped data key: 32-byte key plus GCM tag.
pub const WRAPPED_KEY_LEN: usize = 32 + 16;
/// Length of an ECIES slot after its type byte: ephemeral key ‖ wrapped data key.
pub const ECIES_SLOT_LEN: usize = EPHEMERAL_KEY_LEN + WRAPPED_KEY_LEN;
/// Length of a symmetric slot after its type byte: key id ‖ salt ‖ wrapped data key.
pub const SYMMETRIC_SLOT_LEN: usize = 16 + 16 + WRAPPED_KEY_LEN;

/// magic, version, content alg, padding alg, chunk size, salt, record id.
pub(crate) const PREAMBLE_LEN: usize = 4 + 1 + 1 + 1 + 4 + SALT_LEN + RECORD_ID_LEN;
/// Smallest possible header: one symmetric slot.
pub const MIN_HEADER_LEN: usize = PREAMBLE_LEN + 1 + 1 + SYMMETRIC_SLOT_LEN + MAC_LEN;
/// Largest possible header: [`MAX_SLOTS`] of the largest slot type.
pub const MAX_HEADER_LEN: usize = PREAMBLE_LEN + 1 + MAX_SLOTS * (1 + ECIES_SLOT_LEN) + MAC_LEN;

const _: () = assert!(ECIES_SLOT_LEN == EPHEMERAL_KEY_LEN + DECOY_BODY_LEN);
const _: () = assert!(SYMMETRIC_SLOT_LEN <= ECIES_SLOT_LEN);

/// Plaintext bytes per chunk: a power of two from 4 KiB to 4 MiB, default 64 KiB.
///
/// Readers and writers hold about one chunk in memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChunkSize(u32);

impl ChunkSize {
    /// Smallest accepted chunk size (4 KiB).
    pub const MIN: u32 = 4 * 1024;
    /// Largest accepted chunk size (4 MiB).
    pub const MAX: u32 = 4 * 1024 * 1024;
    /// The default (64 KiB).
    pub const DEFAULT: ChunkSize = ChunkSize(64 * 1024);

    /// Validates a chunk size; anything else is [`Error::InvalidChunkSize`].
    ///
    /// Powers of two only: that keeps the padding search provably short (see
    /// [`crate::padding`]) and leaves 11 possible values instead of millions.
    pub fn new(bytes: u32) -> Result<Self> {
        if (Self::MIN..=Self::MAX).contains(&bytes) && bytes.is_power_of_two() {
            Ok(Self(bytes))
        } else {
            Err(Error::InvalidChunkSize(bytes))
        }
    }

    /// The size in bytes.
    pub fn get(self) -> u32 {
        self.0
    }

    pub(crate) fn bytes(self) -> usize {
        self.0 as usize
    }
}

impl Default for ChunkSize {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// One way to recover the record's data key.
///
/// Slots never name a public-key recipient: a reader tries every [`KeySlot::Ecies`] slot with
/// its secret key. Symmetric slots carry the public id of their key-encryption key.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySlot {
    /// ECIES (see [`crate::ecies`]) of the data key, or an indistinguishable decoy.
    Ecies {
        /// Compressed ephemeral public key ‖ encrypted data key ‖ tag.
        wrapped: [u8; ECIES_SLOT_LEN],
    },
    /// The data key under a key-encryption key the reader looks up by id.
    Symmetric {
        /// Public id of the key-encryption key.
        key_id: KeyId,
        /// Per-slot salt for deriving the wrapping key.
        salt: [u8; 16],
        /// Encrypted data key ‖ tag.
        wrapped: [u8; WRAPPED_KEY_LEN],
    },
}

impl KeySlot {
    fn encoded_len(&self) -> usize {
        1 + match self {
            KeySlot::Ecies { .. } => ECIES_SLOT_LEN,
            KeySlot::Symmetric { .. } => SYMMETRIC_SLOT_LEN,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            KeySlot::Ecies { wrapped } => {
                out.push(SLOT_ECIES);
                out.extend_from_slice(wrapped);
            }
            KeySlot::Symmetric { key_id, salt, wrapped } => {
                out.push(SLOT_SYMMETRIC);
                out.extend_from_slice(&key_id.0);
                out.extend_from_slice(salt);
                out.extend_from_slice(wrapped);
            }
        }
    }

    fn read_from(source: &mut impl Read) -> Result<Self> {
        let [kind] = read_array::<1>(source)?;
        match kind {
            SLOT_ECIES => {
                let wrapped = read_array::<ECIES_SLOT_LEN>(source)?;
                // Reject junk points at parse time so a hostile header fails early and
                // uniformly, before any key is tried.
                crate::ecies::parse_ephemeral(&wrapped[..EPHEMERAL_KEY_LEN])?;
                Ok(KeySlot::Ecies { wrapped })
            }
            SLOT_SYMMETRIC => Ok(KeySlot::Symmetric {
                key_id: KeyId(read_array(source)?),
                salt: read_array(source)?,
                wrapped: read_array(source)?,
            }),
            other => Err(Error::UnknownSlotType(other)),
        }
    }
}

impl fmt::Debug for KeySlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySlot::Ecies { .. } => f.write_str("KeySlot::Ecies"),
            KeySlot::Symmetric { key_id, .. } => write!(f, "KeySlot::Symmetric({key_id:?})"),
        }
    }
}

/// A parsed (or about to be written) envelope header.
#[derive(Clone, PartialEq, Eq)]
pub struct Header {
    pub(crate) chunk_size: ChunkSize,
    pub(crate) salt: [u8; SALT_LEN],
    pub(crate) record_id: RecordId,
    pub(crate) slots: Vec<KeySlot>,
    pub(crate) mac: [u8; MAC_LEN],
}

impl Header {
    /// Plaintext bytes per chunk.
    pub fn chunk_size(&self) -> ChunkSize {
        self.chunk_size
    }

    /// The client-chosen record id the envelope is bound to (not yet authenticated if the
    /// header was only parsed). The rest of its [`RecordContext`] is not in the header: the
    /// reader knows it from the chain.
    pub fn record_id(&self) -> &RecordId {
        &self.record_id
    }

    /// The random salt all per-record keys are derived with.
    pub fn salt(&self) -> &[u8; SALT_LEN] {
        &self.salt
    }

    /// Key slots, decoys included.
    pub fn slots(&self) -> &[KeySlot] {
        &self.slots
    }

    /// The header MAC.
    pub fn mac(&self) -> &[u8; MAC_LEN] {
        &self.mac
    }

    /// Serialized length in bytes.
    pub fn encoded_len(&self) -> usize {
        PREAMBLE_LEN + 1 + self.slots.iter().map(KeySlot::encoded_len).sum::<usize>() + MAC_LEN
    }

    /// The serialized header, MAC included.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.authenticated_bytes();
        out.extend_from_slice(&self.mac);
        out
    }

    /// Everything the header MAC covers: the whole header except the MAC itself, then the
    /// full record context (whose chain id, contract and patient the header does not carry).
    pub(crate) fn mac_input(&self, context: &RecordContext) -> Vec<u8> {
        let mut out = self.authenticated_bytes();
        out.extend_from_slice(&context.to_bytes());
        out
    }

    /// The serialized header without its MAC.
    fn authenticated_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(CONTENT_AES256GCM_STREAM_BE32);
        out.push(PADDING_PADME);
        out.extend_from_slice(&self.chunk_size.get().to_be_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.record_id.0);
        // Slot count ≤ MAX_SLOTS = 64 is enforced by every constructor and the parser.
        out.push(self.slots.len() as u8);
        for slot in &self.slots {
            slot.encode(&mut out);
        }
        out
    }

    /// Parses a header from the start of `bytes`, returning it and its length.
    ///
    /// Strict: rejects unknown versions, algorithms and slot types, invalid chunk sizes,
    /// slot counts outside `1..=64` and ephemeral keys that are not curve points. Never
    /// panics; never reads more than [`MAX_HEADER_LEN`] bytes. Nothing is authenticated yet.
    pub fn parse(bytes: &[u8]) -> Result<(Header, usize)> {
        let mut rest = bytes;
        let header = Self::read_from(&mut rest)?;
        Ok((header, bytes.len() - rest.len()))
    }

    /// Reads exactly one header from `source` (see [`Header::parse`]).
    pub fn read_from(source: &mut impl Read) -> Result<Header> {
        if read_array::<4>(source)? != MAGIC {
            return Err(Error::BadMagic);
        }
        let [version, content, padding] = read_array::<3>(source)?;
        if version != VERSION {
            return Err(Error::UnsupportedVersion(version));
        }
        if content != CONTENT_AES256GCM_STREAM_BE32 {
            return Err(Error::UnsupportedAlgorithm { field: "content", id: content });
        }
        if padding != PADDING_PADME {
            return Err(Error::UnsupportedAlgorithm { field: "padding", id: padding });
        }
        let chunk_size = ChunkSize::new(u32::from_be_bytes(read_array(source)?))?;
        let salt = read_array(source)?;
        let record_id = RecordId(read_array(source)?);
        let [count] = read_array::<1>(source)?;
        let count = usize::from(count);
        if count == 0 || count > MAX_SLOTS {
            return Err(Error::InvalidSlotCount(count));
        }
        let slots = (0..count).map(|_| KeySlot::read_from(source)).collect::<Result<Vec<_>>>()?;
        let mac = read_array(source)?;
        Ok(Header { chunk_size, salt, record_id, slots, mac })
    }
}

impl fmt::Debug for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Header")
            .field("chunk_size", &self.chunk_size)
            .field("record_id", &self.record_id)
            .field("slots", &self.slots)
            .finish_non_exhaustive()
    }
}

fn read_array<const N: usize>(source: &mut impl Read) -> Result<[u8; N]> {
    let mut out = [0u8; N];
    source.read_exact(&mut out).map_err(|err| match err.kind() {
        io::ErrorKind::UnexpectedEof => Error::Truncated,
        _ => Error::from(err),
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::SecretKey;

    fn sample() -> Header {
        let eph = SecretKey::from_bytes(&[3u8; 32].into()).unwrap();
        let mut wrapped = [0x11; ECIES_SLOT_LEN];
        wrapped[..EPHEMERAL_KEY_LEN].copy_from_slice(&crate::ecies::compressed(&eph.public_key()));
        Header {
            chunk_size: ChunkSize::DEFAULT,
            salt: [7; SALT_LEN],
            record_id: RecordId([3; 16]),
            slots: vec![
                KeySlot::Ecies { wrapped },
                KeySlot::Symmetric { key_id: KeyId([9; 16]), salt: [8; 16], wrapped: [5; 48] },
            ],
            mac: [0xee; MAC_LEN],
        }
    }

    #[test]
    fn round_trip_and_length() {
        let header = sample();
        let mut bytes = header.to_bytes();
        assert_eq!(bytes.len(), header.encoded_len());
        assert_eq!(bytes.len(), PREAMBLE_LEN + 1 + 82 + 81 + MAC_LEN);
        bytes.extend_from_slice(b"body");
        let (parsed, used) = Header::parse(&bytes).unwrap();
        assert_eq!(parsed, header);
        assert_eq!(used, header.encoded_len());
    }

    #[test]
    fn layout_offsets() {
        let bytes = sample().to_bytes();
        assert_eq!(&bytes[..4], b"EHRE");
        assert_eq!(bytes[4..7], [2, 1, 1]);
        assert_eq!(bytes[7..11], 65536u32.to_be_bytes());
        assert_eq!(bytes[11..43], [7; 32]);
        assert_eq!(bytes[43..59], [3; 16]);
        assert_eq!(bytes[PREAMBLE_LEN], 2);
        assert_eq!(PREAMBLE_LEN, 59);
    }

    #[test]
    fn limits() {
        assert_eq!(MAX_HEADER_LEN, 59 + 1 + 64 * 82 + 32);
        assert_eq!(MIN_HEADER_LEN, 59 + 1 + 81 + 32);
    }

    #[test]
    fn strict_rejections() {
        let good = sample().to_bytes();
        let with = |at: usize, value: u8| {
            let mut b = good.clone();
            b[at] = value;
            Header::parse(&b).map(|_| ())
        };
        assert!(matches!(with(0, b'X'), Err(Error::BadMagic)));
        assert!(matches!(with(4, 1), Err(Error::UnsupportedVersion(1))));
        assert!(matches!(with(4, 3), Err(Error::UnsupportedVersion(3))));
        assert!(matches!(with(5, 0), Err(Error::UnsupportedAlgorithm { field: "content", id: 0 })));
        assert!(matches!(with(6, 9), Err(Error::UnsupportedAlgorithm { field: "padding", .. })));
        assert!(matches!(with(PREAMBLE_LEN, 0), Err(Error::InvalidSlotCount(0))));
        assert!(matches!(with(PREAMBLE_LEN, 65), Err(Error::InvalidSlotCount(65))));
        assert!(matches!(with(PREAMBLE_LEN + 1, 3), Err(Error::UnknownSlotType(3))));
        assert!(matches!(with(PREAMBLE_LEN + 2, 0x05), Err(Error::InvalidPublicKey)));
        for size in [0u32, 4095, 4097, 65535, 3 << 12, 8 << 20] {
            let mut b = good.clone();
            b[7..11].copy_from_slice(&size.to_be_bytes());
            assert!(matches!(Header::parse(&b), Err(Error::InvalidChunkSize(s)) if s == size));
        }
        for cut in 0..good.len() {
            assert!(matches!(Header::parse(&good[..cut]), Err(Error::Truncated)));
        }
    }

    #[test]
    fn chunk_sizes() {
        assert_eq!(ChunkSize::default().get(), 65536);
        let accepted: Vec<u32> = (12..=22).map(|b| 1u32 << b).collect();
        for size in &accepted {
            assert_eq!(ChunkSize::new(*size).unwrap().get(), *size);
        }
        assert!(ChunkSize::new(1 << 23).is_err());
        assert!(ChunkSize::new(1 << 11).is_err());
    }
}
