//! Streaming encryption: [`EnvelopeWriter`] encrypts whatever is written to it, one chunk at
//! a time, so memory stays at about one chunk whatever the record size.

use std::io::{self, Write};

use zeroize::Zeroizing;

use super::context::RecordContext;
use super::header::{ChunkSize, Header};
use super::schedule::{
    ChunkAad, ChunkCipher, KIND_DATA, KIND_PADDING, RecordKeys, chunk_aad, header_hash, seal_chunk,
};
use super::slots::{self, Recipients};
use super::{PADDING_MARKER, TAG_LEN};
use crate::entropy::{Entropy, OsEntropy};
use crate::keys::DataKey;
use crate::padding;
use crate::{Error, Result};

/// What a finished envelope looks like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvelopeStats {
    /// Record bytes written.
    pub plaintext_len: u64,
    /// Header bytes.
    pub header_len: u64,
    /// Total envelope bytes (a Padmé value).
    pub envelope_len: u64,
    /// Chunks written, the final one included.
    pub chunks: u64,
}

/// Encrypts a record into an envelope written to `W`.
///
/// The header goes out when the writer is created; each full chunk is encrypted and written
/// as soon as it is complete. Call [`EnvelopeWriter::finish`] to write the padding and the
/// final chunk: an envelope that was not finished reads as [`Error::Truncated`].
/// [`Write::flush`] flushes the inner writer but cannot emit a partial chunk.
pub struct EnvelopeWriter<W: Write> {
    inner: W,
    header: Header,
    cipher: ChunkCipher,
    data_aad: ChunkAad,
    padding_aad: ChunkAad,
    chunk_size: usize,
    /// Plaintext of the chunk being filled; encrypted in place. Capacity is reserved up front
    /// so it never reallocates and leaves plaintext copies behind.
    buf: Zeroizing<Vec<u8>>,
    position: u32,
    plaintext_len: u64,
    poisoned: bool,
}

impl<W: Write> EnvelopeWriter<W> {
    /// Starts an envelope with the default 64 KiB chunks and writes its header.
    ///
    /// `data_key` must be fresh for this record ([`DataKey::generate`]). Fails with
    /// [`Error::PatientKeyMismatch`] if the patient key is not the context's patient.
    pub fn new(
        inner: W,
        data_key: &DataKey,
        context: &RecordContext,
        recipients: &Recipients,
    ) -> Result<Self> {
        Self::with_chunk_size(inner, data_key, context, recipients, ChunkSize::DEFAULT)
    }

    /// Like [`EnvelopeWriter::new`] with a chosen chunk size.
    pub fn with_chunk_size(
        inner: W,
        data_key: &DataKey,
        context: &RecordContext,
        recipients: &Recipients,
        chunk_size: ChunkSize,
    ) -> Result<Self> {
        Self::with_entropy(inner, data_key, context, recipients, chunk_size, &mut OsEntropy)
    }

    /// Like [`EnvelopeWriter::with_chunk_size`] with injected randomness, for reproducible
    /// test vectors only (see [`crate::internals::FixedEntropy`]).
    #[doc(hidden)]
    pub fn with_entropy(
        mut inner: W,
        data_key: &DataKey,
        context: &RecordContext,
        recipients: &Recipients,
        chunk_size: ChunkSize,
        entropy: &mut dyn Entropy,
    ) -> Result<Self> {
        let salt = entropy.header_salt()?;
        let slots = slots::build(data_key, context, recipients, entropy)?;
        let mut header =
            Header { chunk_size, salt, record_id: context.record_id, slots, mac: [0; 32] };
        let keys = RecordKeys::derive(data_key, &salt);
        header.mac = keys.header_mac(&header.mac_input(context));
        let header_bytes = header.to_bytes();
        let hash = header_hash(&header_bytes, context);
        inner.write_all(&header_bytes)?;

        let chunk = chunk_size.bytes();
        let buf = Zeroizing::new(Vec::with_capacity(chunk + TAG_LEN));
        Ok(Self {
            inner,
            header,
            cipher: keys.chunk_cipher(),
            data_aad: chunk_aad(&hash, KIND_DATA),
            padding_aad: chunk_aad(&hash, KIND_PADDING),
            chunk_size: chunk,
            buf,
            position: 0,
            plaintext_len: 0,
            poisoned: false,
        })
    }

    /// The header that was written.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// Writes the padding and the final chunk, flushes, and returns the inner writer.
    pub fn finish(mut self) -> Result<(W, EnvelopeStats)> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        let header_len = self.header.encoded_len() as u64;
        let chunk = self.chunk_size as u64;
        let stream = padding::padded_stream_len(header_len, chunk, self.plaintext_len)?;
        // Stream bytes still to encrypt, the buffered tail of the record included.
        let mut left = stream - u64::from(self.position) * chunk;
        self.buf.push(PADDING_MARKER);
        loop {
            let this = left.min(chunk);
            // `this` ≥ buffered bytes: the stream always extends past the marker.
            self.buf.resize(this as usize, 0);
            let last = left == this;
            self.emit(KIND_PADDING, last)?;
            left -= this;
            if last {
                break;
            }
        }
        self.inner.flush()?;
        let envelope_len =
            padding::envelope_len(header_len, chunk, stream).ok_or(Error::TooLarge)?;
        let stats = EnvelopeStats {
            plaintext_len: self.plaintext_len,
            header_len,
            envelope_len,
            chunks: u64::from(self.position),
        };
        Ok((self.inner, stats))
    }

    /// Encrypts `buf` as the chunk at the current position and writes it out.
    fn emit(&mut self, kind: u8, last: bool) -> Result<()> {
        let aad = if kind == KIND_DATA { &self.data_aad } else { &self.padding_aad };
        let position = self.position;
        // The position is consumed before any output: a failed write poisons the writer, so
        // a nonce is never used twice.
        self.position = position.checked_add(1).ok_or(Error::TooLarge)?;
        let result = if seal_chunk(&self.cipher, position, last, aad, &mut self.buf) {
            self.inner.write_all(&self.buf).map_err(Error::from)
        } else {
            Err(Error::TooLarge)
        };
        self.buf.clear();
        if result.is_err() {
            self.poisoned = true;
        }
        result
    }

    fn write_record(&mut self, mut data: &[u8]) -> Result<()> {
        if self.poisoned {
            return Err(Error::Poisoned);
        }
        while !data.is_empty() {
            let take = (self.chunk_size - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.plaintext_len += take as u64;
            // A full buffer holds record bytes only: the marker always comes later.
            if self.buf.len() == self.chunk_size {
                self.emit(KIND_DATA, false)?;
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for EnvelopeWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.write_record(data)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W: Write> std::fmt::Debug for EnvelopeWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvelopeWriter")
            .field("header", &self.header)
            .field("position", &self.position)
            .field("plaintext_len", &self.plaintext_len)
            .finish_non_exhaustive()
    }
}
