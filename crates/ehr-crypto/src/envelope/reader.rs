//! Streaming decryption: [`EnvelopeReader`] authenticates each chunk before releasing any of
//! its bytes, and reports end-of-file only once the final chunk, the padding and the absence
//! of trailing bytes have all been checked.

use std::io::{self, Read};

use zeroize::Zeroizing;

use super::context::RecordContext;
use super::header::Header;
use super::schedule::{
    ChunkAad, ChunkCipher, KIND_DATA, KIND_PADDING, RecordKeys, chunk_aad, header_hash, open_chunk,
};
use super::slots::{self, DecryptionKey};
use super::{PADDING_MARKER, TAG_LEN};
use crate::keys::DataKey;
use crate::padding;
use crate::{Error, Result};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Record chunks; the chunk holding the padding marker has not been seen yet.
    Data,
    /// Past the marker: only zero padding remains, and the body length is known exactly.
    Tail { body_len: u64 },
    /// Everything verified, including that nothing follows the envelope.
    Done,
    /// An error was returned; every later call fails too.
    Failed,
}

/// Decrypts an envelope read from `R`, implementing [`Read`].
///
/// Construction reads and checks the header: record context, key slots, header MAC. Reads
/// then return record bytes chunk by chunk, each only after its chunk authenticated.
/// Errors surface as `io::Error`s of kind `InvalidData` wrapping an [`Error`];
/// `Error::from(io_error)` recovers the precise variant.
///
/// The framing has no lengths: a chunk is known to be the last one by reaching end-of-file,
/// so the reader looks one byte ahead. Memory use is one chunk plus the header.
pub struct EnvelopeReader<R: Read> {
    inner: R,
    header: Header,
    header_len: u64,
    data_key: DataKey,
    cipher: ChunkCipher,
    data_aad: ChunkAad,
    padding_aad: ChunkAad,
    chunk_size: usize,
    position: u32,
    /// Ciphertext of the current chunk, then (after decryption in place) its plaintext.
    buf: Zeroizing<Vec<u8>>,
    /// Plaintext in `buf[out_pos..]` not yet handed to the caller.
    out_pos: usize,
    /// One byte read ahead of the current chunk to learn whether it was the last.
    carry: Option<u8>,
    phase: Phase,
    plaintext_len: u64,
}

impl<R: Read> EnvelopeReader<R> {
    /// Reads the header from `inner` and unlocks the envelope.
    ///
    /// Fails with a parse error for a malformed header, [`Error::ContextMismatch`] if the
    /// header names another record id, [`Error::NoKeyForRecipient`] if `key` opens no slot
    /// and [`Error::HeaderAuthentication`] if the header was modified. The header does not
    /// carry `expected`'s chain id, contract or patient: an envelope of another chain,
    /// contract or patient fails like a key that is not a recipient (its slots are bound to
    /// the context), or, for a bare data key, like a modified header.
    pub fn new(mut inner: R, key: DecryptionKey<'_>, expected: &RecordContext) -> Result<Self> {
        let header = Header::read_from(&mut inner)?;
        if header.record_id() != &expected.record_id {
            return Err(Error::ContextMismatch);
        }
        let data_key = slots::open(header.slots(), expected, key)?;
        let keys = RecordKeys::derive(&data_key, header.salt());
        if !keys.verify_header_mac(&header.mac_input(expected), header.mac()) {
            return Err(Error::HeaderAuthentication);
        }
        let hash = header_hash(&header.to_bytes(), expected);
        let chunk_size = header.chunk_size().bytes();
        Ok(Self {
            inner,
            header_len: header.encoded_len() as u64,
            header,
            data_key,
            cipher: keys.chunk_cipher(),
            data_aad: chunk_aad(&hash, KIND_DATA),
            padding_aad: chunk_aad(&hash, KIND_PADDING),
            chunk_size,
            position: 0,
            buf: Zeroizing::new(Vec::with_capacity(chunk_size + TAG_LEN + 1)),
            out_pos: 0,
            carry: None,
            phase: Phase::Data,
            plaintext_len: 0,
        })
    }

    /// The authenticated header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The record's data key, e.g. to wrap it for a new recipient.
    pub fn data_key(&self) -> &DataKey {
        &self.data_key
    }

    /// Whether the whole envelope has been read and verified.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Done && self.out_pos == self.buf.len()
    }

    /// Record length, known once the chunk holding the end of the record was read.
    pub fn plaintext_len(&self) -> Option<u64> {
        matches!(self.phase, Phase::Tail { .. } | Phase::Done).then_some(self.plaintext_len)
    }

    /// Gives back the inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads and verifies the next chunk, leaving its record bytes (possibly none) in `buf`.
    fn advance(&mut self) -> Result<()> {
        self.buf.clear();
        self.out_pos = 0;
        match self.phase {
            Phase::Data => self.data_chunk(),
            Phase::Tail { body_len } => self.tail_chunk(body_len),
            Phase::Done | Phase::Failed => Ok(()),
        }
    }

    fn data_chunk(&mut self) -> Result<()> {
        let full = self.chunk_size + TAG_LEN;
        self.fill(full + 1)?;
        let index = self.position;
        if self.buf.len() > full {
            self.carry = self.buf.pop();
            if self.decrypt(index, false, KIND_DATA) {
                self.position = next(index)?;
                self.plaintext_len += self.chunk_size as u64;
                return Ok(());
            }
            if self.decrypt(index, false, KIND_PADDING) {
                return self.marker_chunk(index, false);
            }
            return Err(self.diagnose(index, false));
        }
        // End of input: this must be the final chunk, which always holds at least the marker.
        if self.buf.len() <= TAG_LEN {
            return Err(Error::Truncated);
        }
        if self.decrypt(index, true, KIND_PADDING) {
            return self.marker_chunk(index, true);
        }
        if self.buf.len() == full
            && (self.decrypt(index, false, KIND_DATA) || self.decrypt(index, false, KIND_PADDING))
        {
            return Err(Error::Truncated);
        }
        Err(self.diagnose(index, true))
    }

    /// Handles the decrypted chunk that holds the padding marker: the end of the record.
    fn marker_chunk(&mut self, index: u32, last: bool) -> Result<()> {
        let marker = self.buf.iter().rposition(|&b| b != 0);
        let record_bytes = match marker {
            Some(at) if self.buf[at] == PADDING_MARKER => at,
            _ => return Err(Error::InvalidPadding),
        };
        let chunk = self.chunk_size as u64;
        let start = u64::from(index) * chunk;
        let plaintext_len = start + record_bytes as u64;
        let stream = padding::padded_stream_len(self.header_len, chunk, plaintext_len)?;
        let stream_here = start + self.buf.len() as u64;
        if last {
            if stream != stream_here {
                return Err(Error::InvalidPadding);
            }
            self.phase = Phase::Done;
        } else {
            if stream <= stream_here {
                return Err(Error::InvalidPadding);
            }
            let envelope =
                padding::envelope_len(self.header_len, chunk, stream).ok_or(Error::TooLarge)?;
            self.phase = Phase::Tail { body_len: envelope - self.header_len };
            self.position = next(index)?;
        }
        self.plaintext_len = plaintext_len;
        self.buf.truncate(record_bytes);
        Ok(())
    }

    /// A chunk after the marker: zeros only, at exactly the offsets the padding implies.
    fn tail_chunk(&mut self, body_len: u64) -> Result<()> {
        let index = self.position;
        let full = (self.chunk_size + TAG_LEN) as u64;
        let remaining =
            body_len.checked_sub(u64::from(index) * full).ok_or(Error::InvalidPadding)?;
        let want = remaining.min(full) as usize;
        let last = remaining == want as u64;
        self.fill(want)?;
        if self.buf.len() < want {
            return Err(Error::Truncated);
        }
        if !self.decrypt(index, last, KIND_PADDING) {
            return Err(Error::ChunkAuthentication { index });
        }
        if self.buf.iter().any(|&b| b != 0) {
            return Err(Error::InvalidPadding);
        }
        self.buf.clear();
        if last {
            if self.carry.is_some() || self.more_input()? {
                return Err(Error::TrailingData);
            }
            self.phase = Phase::Done;
        } else {
            self.position = next(index)?;
        }
        Ok(())
    }

    /// Explains a chunk that failed to authenticate under every expected reading.
    ///
    /// The framing cannot tell "modified" from "something was appended" by itself, so check
    /// whether a prefix of the chunk is a valid final chunk at a length the padding rule
    /// allows: if so the envelope is intact and followed by extra bytes. Only runs on failure.
    fn diagnose(&mut self, index: u32, at_end: bool) -> Error {
        let chunk = self.chunk_size as u64;
        let block_len = self.buf.len();
        let final_lens: Vec<usize> =
            padding::final_chunk_lens(self.header_len, chunk, u64::from(index) * chunk)
                .into_iter()
                .map(|len| len as usize + TAG_LEN)
                .collect();
        for &len in &final_lens {
            if len > block_len || (at_end && len == block_len) {
                continue;
            }
            let mut prefix = Zeroizing::new(self.buf[..len].to_vec());
            if open_chunk(&self.cipher, index, true, &self.padding_aad, &mut prefix) {
                return Error::TrailingData;
            }
        }
        if at_end && !final_lens.contains(&block_len) {
            // Not a length a complete envelope can end at: bytes are missing.
            return Error::Truncated;
        }
        Error::ChunkAuthentication { index }
    }

    /// Decrypts `buf` in place; on failure `buf` is left untouched for another attempt.
    fn decrypt(&mut self, index: u32, last: bool, kind: u8) -> bool {
        let aad = if kind == KIND_DATA { &self.data_aad } else { &self.padding_aad };
        open_chunk(&self.cipher, index, last, aad, &mut self.buf)
    }

    /// Appends the carried byte, then input, until `buf` holds `want` bytes or input ends.
    fn fill(&mut self, want: usize) -> Result<()> {
        if let Some(byte) = self.carry.take() {
            self.buf.push(byte);
        }
        while self.buf.len() < want {
            let start = self.buf.len();
            self.buf.resize(want, 0);
            match self.inner.read(&mut self.buf[start..]) {
                Ok(0) => {
                    self.buf.truncate(start);
                    break;
                }
                Ok(n) => self.buf.truncate(start + n),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => self.buf.truncate(start),
                Err(err) => {
                    self.buf.truncate(start);
                    return Err(Error::from(err));
                }
            }
        }
        Ok(())
    }

    fn more_input(&mut self) -> Result<bool> {
        let mut byte = [0u8; 1];
        loop {
            match self.inner.read(&mut byte) {
                Ok(n) => return Ok(n > 0),
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(Error::from(err)),
            }
        }
    }
}

fn next(index: u32) -> Result<u32> {
    index.checked_add(1).ok_or(Error::TooLarge)
}

impl<R: Read> Read for EnvelopeReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let ready = &self.buf[self.out_pos..];
            if !ready.is_empty() {
                let n = ready.len().min(out.len());
                out[..n].copy_from_slice(&ready[..n]);
                self.out_pos += n;
                return Ok(n);
            }
            match self.phase {
                Phase::Done => return Ok(0),
                Phase::Failed => return Err(Error::Poisoned.into()),
                Phase::Data | Phase::Tail { .. } => {}
            }
            if let Err(err) = self.advance() {
                self.phase = Phase::Failed;
                self.buf.clear();
                self.out_pos = 0;
                return Err(err.into());
            }
        }
    }
}

impl<R: Read> std::fmt::Debug for EnvelopeReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeReader")
            .field("header", &self.header)
            .field("position", &self.position)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}
