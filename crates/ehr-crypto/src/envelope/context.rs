//! The record context every envelope is bound to.

use std::fmt;

use rand_core::{OsRng, RngCore};

use crate::{Error, Result};

/// Length of a [`RecordId`].
pub const RECORD_ID_LEN: usize = 16;
/// Serialized length of a [`RecordContext`]: chain id, contract, patient, record id.
pub const CONTEXT_LEN: usize = 8 + 20 + 20 + RECORD_ID_LEN;

/// Random 16-byte record id chosen by the client when it writes a record.
///
/// The on-chain record number does not exist until the blob's CID is known, so the client
/// picks this id first and registers it with the CID.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub [u8; RECORD_ID_LEN]);

impl RecordId {
    /// A fresh id from the operating system's CSPRNG.
    pub fn random() -> Result<Self> {
        let mut id = [0u8; 16];
        OsRng.try_fill_bytes(&mut id).map_err(|_| Error::Randomness)?;
        Ok(Self(id))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RecordId(")?;
        crate::fmt_hex(f, &self.0)?;
        write!(f, ")")
    }
}

/// Where a record lives: the envelope is only valid for exactly this context.
///
/// Only the record id is stored in the header. The chain id, index contract and patient are
/// not (a blob fetched from IPFS does not say whose it is); the reader takes them from the
/// chain, and they enter the header MAC, every chunk's AAD and every key slot's AAD, so an
/// envelope opens only in its own context. A reader gets [`Error::ContextMismatch`] for
/// another record id, and an authentication failure for another chain, contract or patient
/// (see [`crate::EnvelopeReader::new`]).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RecordContext {
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// Address of the record index contract.
    pub index_contract: [u8; 20],
    /// The patient's Ethereum address.
    pub patient: [u8; 20],
    /// Client-chosen record id.
    pub record_id: RecordId,
}

impl RecordContext {
    /// Big-endian chain id ‖ contract ‖ patient ‖ record id.
    pub fn to_bytes(&self) -> [u8; CONTEXT_LEN] {
        let mut out = [0u8; CONTEXT_LEN];
        out[..8].copy_from_slice(&self.chain_id.to_be_bytes());
        out[8..28].copy_from_slice(&self.index_contract);
        out[28..48].copy_from_slice(&self.patient);
        out[48..].copy_from_slice(&self.record_id.0);
        out
    }

    /// Inverse of [`RecordContext::to_bytes`].
    pub fn from_bytes(bytes: &[u8; CONTEXT_LEN]) -> Self {
        let mut chain_id = [0u8; 8];
        let mut index_contract = [0u8; 20];
        let mut patient = [0u8; 20];
        let mut record_id = [0u8; 16];
        chain_id.copy_from_slice(&bytes[..8]);
        index_contract.copy_from_slice(&bytes[8..28]);
        patient.copy_from_slice(&bytes[28..48]);
        record_id.copy_from_slice(&bytes[48..]);
        Self {
            chain_id: u64::from_be_bytes(chain_id),
            index_contract,
            patient,
            record_id: RecordId(record_id),
        }
    }
}

impl fmt::Debug for RecordContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Hex<'a>(&'a [u8]);
        impl fmt::Debug for Hex<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("0x")?;
                crate::fmt_hex(f, self.0)
            }
        }
        f.debug_struct("RecordContext")
            .field("chain_id", &self.chain_id)
            .field("index_contract", &Hex(&self.index_contract))
            .field("patient", &Hex(&self.patient))
            .field("record_id", &self.record_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_big_endian() {
        let ctx = RecordContext {
            chain_id: 0x0102,
            index_contract: [0xaa; 20],
            patient: [0xbb; 20],
            record_id: RecordId([0xcc; 16]),
        };
        let bytes = ctx.to_bytes();
        assert_eq!(&bytes[..8], &[0, 0, 0, 0, 0, 0, 1, 2]);
        assert_eq!(RecordContext::from_bytes(&bytes), ctx);
        assert!(format!("{ctx:?}").contains("0xaaaa"));
    }
}
