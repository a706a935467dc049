//! The per-patient hash chain the record index contract keeps over every record and
//! tombstone, byte for byte as `IRecordIndex` defines it:
//!
//! ```text
//! acc_0 = 0
//! record:    acc_n = keccak256(acc_{n-1} ‖ u64 recordId ‖ digest[32] ‖ keccak256(tags) ‖ 0x00
//!                              ‖ category[32] ‖ u64 epoch ‖ writer[20])
//! tombstone: acc_n = keccak256(acc_{n-1} ‖ u64 recordId ‖ bytes32(uint256(supersededBy))
//!                              ‖ keccak256("") ‖ 0x01 ‖ category[32] ‖ u64 epoch ‖ writer[20])
//! ```
//!
//! (`abi.encodePacked`: integers big-endian at their own width.) A tombstone's `recordId` is
//! the superseded record's.

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};

/// Length of one accumulator step's preimage.
const PREIMAGE_LEN: usize = 32 + 8 + 32 + 32 + 1 + 32 + 8 + 20;

/// Where an entry sits on chain; entries are ordered by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogPosition {
    /// The block number.
    pub block: u64,
    /// The log's index within the block.
    pub log_index: u64,
}

/// What distinguishes a record entry from a tombstone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryBody {
    /// `RecordAdded`.
    Record {
        /// The SHA-256 digest of the envelope's CID.
        digest: B256,
        /// The concatenated, sorted, padded tags.
        tags: Bytes,
    },
    /// `RecordSuperseded`: the entry's record is replaced by `superseded_by`.
    Tombstone {
        /// The record that replaces it.
        superseded_by: u64,
    },
}

/// One entry of a patient's index, decoded from a `RecordAdded` or `RecordSuperseded` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Where the event is.
    pub position: LogPosition,
    /// The hash of the event's block, when the node said.
    pub block_hash: Option<B256>,
    /// The event's block timestamp, when the node gave it with the log.
    pub block_timestamp: Option<u64>,
    /// The record (for a tombstone: the superseded record).
    pub record_id: u64,
    /// Who wrote it.
    pub writer: Address,
    /// Its category.
    pub category: B256,
    /// The patient's key epoch it was written in.
    pub epoch: u64,
    /// Record or tombstone.
    pub body: EntryBody,
}

impl IndexEntry {
    /// 0 for a record, 1 for a tombstone.
    pub fn kind(&self) -> u8 {
        match self.body {
            EntryBody::Record { .. } => 0,
            EntryBody::Tombstone { .. } => 1,
        }
    }

    /// The accumulator after this entry, given the one before it.
    pub fn accumulate(&self, previous: &B256) -> B256 {
        let (value, tags_hash) = match &self.body {
            EntryBody::Record { digest, tags } => (*digest, keccak256(tags)),
            EntryBody::Tombstone { superseded_by } => {
                (B256::from(U256::from(*superseded_by)), keccak256([]))
            }
        };
        let mut preimage = [0u8; PREIMAGE_LEN];
        let fields: [&[u8]; 8] = [
            previous.as_slice(),
            &self.record_id.to_be_bytes(),
            value.as_slice(),
            tags_hash.as_slice(),
            &[self.kind()],
            self.category.as_slice(),
            &self.epoch.to_be_bytes(),
            self.writer.as_slice(),
        ];
        let mut at = 0;
        for field in fields {
            preimage[at..at + field.len()].copy_from_slice(field);
            at += field.len();
        }
        keccak256(preimage)
    }
}

/// The accumulator over `entries`, from zero.
pub fn accumulate<'a>(entries: impl IntoIterator<Item = &'a IndexEntry>) -> B256 {
    entries.into_iter().fold(B256::ZERO, |acc, entry| entry.accumulate(&acc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolType;
    use alloy::sol_types::sol_data::{Address as SolAddress, FixedBytes, Uint};

    /// The Solidity types of the accumulator's `abi.encodePacked` arguments.
    type Packed = (
        FixedBytes<32>,
        Uint<64>,
        FixedBytes<32>,
        FixedBytes<32>,
        Uint<8>,
        FixedBytes<32>,
        Uint<64>,
        SolAddress,
    );

    fn record() -> IndexEntry {
        IndexEntry {
            position: LogPosition { block: 1, log_index: 0 },
            block_hash: None,
            block_timestamp: None,
            record_id: 1,
            writer: Address::repeat_byte(0xaa),
            category: B256::right_padding_from(b"lab"),
            epoch: 2,
            body: EntryBody::Record {
                digest: B256::repeat_byte(3),
                tags: Bytes::from(vec![9; 128]),
            },
        }
    }

    #[test]
    fn matches_abi_encode_packed() {
        let entry = record();
        let EntryBody::Record { digest, tags } = &entry.body else { unreachable!() };
        let packed = Packed::abi_encode_packed(&(
            B256::ZERO,
            entry.record_id,
            *digest,
            keccak256(tags),
            0u8,
            entry.category,
            entry.epoch,
            entry.writer,
        ));
        assert_eq!(entry.accumulate(&B256::ZERO), keccak256(packed));

        let tombstone = IndexEntry { body: EntryBody::Tombstone { superseded_by: 2 }, ..record() };
        let packed = Packed::abi_encode_packed(&(
            B256::repeat_byte(1),
            1u64,
            B256::from(U256::from(2)),
            keccak256(b""),
            1u8,
            tombstone.category,
            tombstone.epoch,
            tombstone.writer,
        ));
        assert_eq!(tombstone.accumulate(&B256::repeat_byte(1)), keccak256(packed));
    }
}
