//! Encrypted record envelopes: header, key slots and chunked AES-256-GCM.
//!
//! The wire format is specified in `docs/envelope.md` at the repository root.

mod context;
mod header;
mod reader;
pub(crate) mod schedule;
mod seal;
mod slots;
mod writer;

pub use context::{CONTEXT_LEN, RECORD_ID_LEN, RecordContext, RecordId};
pub use header::{
    CONTENT_AES256GCM_STREAM_BE32, ChunkSize, ECIES_SLOT_LEN, Header, KeySlot, MAC_LEN, MAGIC,
    MAX_HEADER_LEN, MAX_SLOTS, MIN_HEADER_LEN, PADDING_PADME, SALT_LEN, SLOT_ECIES, SLOT_SYMMETRIC,
    SYMMETRIC_SLOT_LEN, VERSION, WRAPPED_KEY_LEN,
};
pub use reader::EnvelopeReader;
pub use seal::{open, seal};
pub use slots::{DecryptionKey, MIN_ECIES_SLOTS, Recipients, ecies_slot_count};
pub use writer::{EnvelopeStats, EnvelopeWriter};

/// AES-GCM tag bytes at the end of every chunk.
pub const TAG_LEN: usize = 16;

/// The byte that ends the record inside the padded stream (ISO/IEC 7816-4 style padding:
/// record ‖ 0x80 ‖ 0x00…).
pub const PADDING_MARKER: u8 = 0x80;
