//! A grantee's read log: which records it fetched, or which keywords it searched and what
//! matched, encrypted to the patient so that the chain (`RecordIndex.logReads`) carries
//! proof that a read happened without saying what was read.
//!
//! ```text
//! sealed    = ECIES(patient public key, purpose "ehrkit/v2/read-log", aad, padded)
//! aad       = be64(chain_id) ‖ record_index[20] ‖ patient[20] ‖ reader[20]
//! plaintext = version 0x01 ‖ kind (0x01 fetch, 0x02 search)
//!             ‖ varint(n) ‖ varint(id_1) ‖ varint(id_2 − id_1) ‖ …   (ids ascending, distinct)
//!             ‖ varint(k) ‖ (varint(len) ‖ utf8 keyword) × k
//! padded    = plaintext ‖ zeros, to the next power of two from 32 to 4096 bytes
//! ```
//!
//! The aad names the reader, so a log opens only as the account that sent it: the contract
//! makes `msg.sender` the reader, and a ciphertext copied from another reader's log (or made
//! up to accuse one) does not authenticate for the patient. The padding leaves the public
//! with the size bucket only: up to about 25 records or a few keywords look alike. A read too
//! large for one log is split into several ([`ReadSet::split`]).

use k256::{PublicKey, SecretKey};

use crate::{Error, Result, ecies, labels};

/// The smallest padded plaintext.
pub const MIN_PADDED_LEN: usize = 32;
/// The largest padded plaintext (the contract refuses more).
pub const MAX_PADDED_LEN: usize = 4096;
const VERSION: u8 = 1;

/// What a grantee did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadKind {
    /// Fetched (decrypted) records.
    Fetch,
    /// Searched the index: keywords, and the records that matched.
    Search,
}

/// One logged read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadSet {
    /// Fetch or search.
    pub kind: ReadKind,
    /// The records read (fetched, or found), ascending and distinct.
    pub record_ids: Vec<u64>,
    /// A search's normalized keywords (empty for a fetch).
    pub keywords: Vec<String>,
}

/// Where a read log belongs: the associated data of its encryption.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLogBinding {
    /// The chain id.
    pub chain_id: u64,
    /// The record index's address (the contract that emits the log).
    pub record_index: [u8; 20],
    /// The patient whose records were read (and the log is encrypted to).
    pub patient: [u8; 20],
    /// The account that read them and sends the log.
    pub reader: [u8; 20],
}

impl ReadLogBinding {
    /// `be64(chain_id) ‖ record_index ‖ patient ‖ reader`.
    pub fn aad(&self) -> [u8; 68] {
        let mut aad = [0u8; 68];
        aad[..8].copy_from_slice(&self.chain_id.to_be_bytes());
        aad[8..28].copy_from_slice(&self.record_index);
        aad[28..48].copy_from_slice(&self.patient);
        aad[48..].copy_from_slice(&self.reader);
        aad
    }
}

impl ReadSet {
    /// A read set with `record_ids` sorted and deduplicated.
    pub fn new(kind: ReadKind, mut record_ids: Vec<u64>, keywords: Vec<String>) -> Self {
        record_ids.sort_unstable();
        record_ids.dedup();
        Self { kind, record_ids, keywords }
    }

    /// This read as logs that each fit [`MAX_PADDED_LEN`]: the keywords go with the first,
    /// the records are spread in order. Fails with [`Error::ReadLogTooLarge`] when the
    /// keywords alone do not fit.
    pub fn split(&self) -> Result<Vec<ReadSet>> {
        let head =
            Self { kind: self.kind, record_ids: Vec::new(), keywords: self.keywords.clone() };
        let base = head.encode().len();
        if base + 10 > MAX_PADDED_LEN {
            return Err(Error::ReadLogTooLarge { len: base, max: MAX_PADDED_LEN });
        }
        let mut out = vec![head];
        // Worst case per record: a 10-byte delta, plus up to 2 more bytes of count.
        let mut size = base;
        for &id in &self.record_ids {
            if size + 12 > MAX_PADDED_LEN {
                out.push(Self { kind: self.kind, record_ids: Vec::new(), keywords: Vec::new() });
                size = 4;
            }
            out.last_mut().expect("never empty").record_ids.push(id);
            size += 10;
        }
        Ok(out)
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = vec![
            VERSION,
            match self.kind {
                ReadKind::Fetch => 1,
                ReadKind::Search => 2,
            },
        ];
        put_varint(&mut out, self.record_ids.len() as u64);
        let mut previous = 0;
        for &id in &self.record_ids {
            put_varint(&mut out, id - previous);
            previous = id;
        }
        put_varint(&mut out, self.keywords.len() as u64);
        for keyword in &self.keywords {
            put_varint(&mut out, keyword.len() as u64);
            out.extend_from_slice(keyword.as_bytes());
        }
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self> {
        let mut input = bytes;
        let malformed = Error::MalformedReadLog;
        let [version, kind, rest @ ..] = input else { return Err(malformed("too short")) };
        if *version != VERSION {
            return Err(malformed("unknown version"));
        }
        let kind = match kind {
            1 => ReadKind::Fetch,
            2 => ReadKind::Search,
            _ => return Err(malformed("unknown kind")),
        };
        input = rest;
        let count = take_varint(&mut input)?;
        let mut record_ids = Vec::new();
        let mut previous = 0u64;
        for i in 0..count {
            let delta = take_varint(&mut input)?;
            if i > 0 && delta == 0 {
                return Err(malformed("record ids not ascending"));
            }
            previous = previous.checked_add(delta).ok_or(malformed("record id overflows"))?;
            record_ids.push(previous);
        }
        let keyword_count = take_varint(&mut input)?;
        let mut keywords = Vec::new();
        for _ in 0..keyword_count {
            let len = usize::try_from(take_varint(&mut input)?).map_err(|_| malformed("length"))?;
            if len > input.len() {
                return Err(malformed("keyword runs past the end"));
            }
            let (word, rest) = input.split_at(len);
            keywords.push(String::from_utf8(word.to_vec()).map_err(|_| malformed("not UTF-8"))?);
            input = rest;
        }
        if input.iter().any(|&b| b != 0) {
            return Err(malformed("padding is not zero"));
        }
        Ok(Self { kind, record_ids, keywords })
    }
}

/// Encrypts `reads` to the patient's public key, which must belong to `binding.patient`
/// ([`Error::AddressMismatch`] otherwise). [`Error::ReadLogTooLarge`] when it does not fit one
/// log (see [`ReadSet::split`]).
pub fn seal_reads(
    patient_key: &PublicKey,
    binding: &ReadLogBinding,
    reads: &ReadSet,
) -> Result<Vec<u8>> {
    if crate::eth_address(patient_key) != binding.patient {
        return Err(Error::AddressMismatch);
    }
    let mut plain = reads.encode();
    if plain.len() > MAX_PADDED_LEN {
        return Err(Error::ReadLogTooLarge { len: plain.len(), max: MAX_PADDED_LEN });
    }
    plain.resize(plain.len().next_power_of_two().max(MIN_PADDED_LEN), 0);
    ecies::wrap(patient_key, labels::READ_LOG_PURPOSE, &binding.aad(), &plain)
}

/// Opens a sealed read log with the patient's secret key. Anything that does not
/// authenticate under `binding` (another key, reader, patient or deployment; modified bytes)
/// is [`Error::UnwrapFailed`]; contents that do not parse are [`Error::MalformedReadLog`].
pub fn open_reads(patient: &SecretKey, binding: &ReadLogBinding, sealed: &[u8]) -> Result<ReadSet> {
    let plain = ecies::unwrap(patient, labels::READ_LOG_PURPOSE, &binding.aad(), sealed)?;
    ReadSet::decode(&plain)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn take_varint(input: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let [byte, rest @ ..] = *input else {
            return Err(Error::MalformedReadLog("ends inside a number"));
        };
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(Error::MalformedReadLog("number too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binding(patient: &SecretKey) -> ReadLogBinding {
        ReadLogBinding {
            chain_id: 31337,
            record_index: [7; 20],
            patient: crate::eth_address(&patient.public_key()),
            reader: [9; 20],
        }
    }

    #[test]
    fn only_the_patient_opens_a_log_and_only_as_the_reader_that_sent_it() {
        let patient = SecretKey::from_bytes(&[1; 32].into()).unwrap();
        let b = binding(&patient);
        let reads = ReadSet::new(ReadKind::Search, vec![9, 7, 7, 300], vec!["hba1c".into()]);
        assert_eq!(reads.record_ids, [7, 9, 300]);
        let sealed = seal_reads(&patient.public_key(), &b, &reads).unwrap();
        assert_eq!(sealed.len(), 49 + 32);
        assert_eq!(open_reads(&patient, &b, &sealed).unwrap(), reads);
        let other = SecretKey::from_bytes(&[2; 32].into()).unwrap();
        assert!(matches!(open_reads(&other, &b, &sealed), Err(Error::UnwrapFailed)));
        for moved in [
            ReadLogBinding { reader: [8; 20], ..b },
            ReadLogBinding { patient: [8; 20], ..b },
            ReadLogBinding { record_index: [8; 20], ..b },
            ReadLogBinding { chain_id: 1, ..b },
        ] {
            assert!(matches!(open_reads(&patient, &moved, &sealed), Err(Error::UnwrapFailed)));
        }
        assert!(matches!(seal_reads(&other.public_key(), &b, &reads), Err(Error::AddressMismatch)));
    }

    #[test]
    fn sizes_are_buckets_and_large_reads_split() {
        let patient = SecretKey::from_bytes(&[1; 32].into()).unwrap();
        let b = binding(&patient);
        for (records, padded) in [(0usize, 32usize), (20, 32), (40, 64), (100, 128)] {
            let reads = ReadSet::new(ReadKind::Fetch, (1..=records as u64).collect(), vec![]);
            let sealed = seal_reads(&patient.public_key(), &b, &reads).unwrap();
            assert_eq!(sealed.len(), 49 + padded, "{records} records");
        }
        let huge =
            ReadSet::new(ReadKind::Fetch, (0..2000).map(|i| i * 1_000_000_007).collect(), vec![]);
        assert!(matches!(
            seal_reads(&patient.public_key(), &b, &huge),
            Err(Error::ReadLogTooLarge { .. })
        ));
        let parts = huge.split().unwrap();
        assert!(parts.len() > 1);
        let mut back = Vec::new();
        for part in &parts {
            let sealed = seal_reads(&patient.public_key(), &b, part).unwrap();
            assert!(sealed.len() <= 49 + MAX_PADDED_LEN);
            back.extend(open_reads(&patient, &b, &sealed).unwrap().record_ids);
        }
        assert_eq!(back, huge.record_ids);
        let wordy = ReadSet::new(ReadKind::Search, vec![], vec!["x".repeat(5000)]);
        assert!(matches!(wordy.split(), Err(Error::ReadLogTooLarge { .. })));
    }

    #[test]
    fn malformed_contents_are_refused() {
        for bad in [&[][..], &[2, 1, 0, 0], &[1, 3, 0, 0], &[1, 1, 2, 5, 0, 0], &[1, 1, 0, 0, 1]] {
            assert!(ReadSet::decode(bad).is_err(), "{bad:?}");
        }
        assert!(ReadSet::decode(&[1, 1, 2, 5, 1, 0, 0, 0]).is_ok());
    }
}
