//! What a caller hands to `put`, and the chunker that cuts it into leaves while counting
//! bytes against the store's size limit.

use crate::balanced::CHUNK_SIZE;
use crate::{Error, Result};
use bytes::{Bytes, BytesMut};
use futures_util::stream::{BoxStream, Stream, StreamExt};
use std::fmt;
use std::pin::Pin;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The bytes of a blob to store: a reader, a stream of byte chunks, or bytes in memory.
pub struct BlobSource<'a> {
    kind: Kind<'a>,
}

enum Kind<'a> {
    Reader(Pin<Box<dyn AsyncRead + Send + 'a>>),
    Stream(BoxStream<'a, std::io::Result<Bytes>>),
    Bytes(Bytes),
}

impl<'a> BlobSource<'a> {
    /// Reads the blob from `reader` until end of file.
    pub fn reader(reader: impl AsyncRead + Send + 'a) -> Self {
        Self { kind: Kind::Reader(Box::pin(reader)) }
    }

    /// Takes the blob from a stream of byte chunks of any sizes.
    pub fn stream(stream: impl Stream<Item = std::io::Result<Bytes>> + Send + 'a) -> Self {
        Self { kind: Kind::Stream(stream.boxed()) }
    }

    /// A blob already in memory.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        Self { kind: Kind::Bytes(bytes.into()) }
    }
}

impl From<Bytes> for BlobSource<'_> {
    fn from(bytes: Bytes) -> Self {
        Self::bytes(bytes)
    }
}

impl From<Vec<u8>> for BlobSource<'_> {
    fn from(bytes: Vec<u8>) -> Self {
        Self::bytes(bytes)
    }
}

impl From<&'static [u8]> for BlobSource<'_> {
    fn from(bytes: &'static [u8]) -> Self {
        Self::bytes(bytes)
    }
}

impl fmt::Debug for BlobSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Reader(_) => "reader",
            Kind::Stream(_) => "stream",
            Kind::Bytes(_) => "bytes",
        };
        f.debug_struct("BlobSource").field("kind", &kind).finish()
    }
}

/// Cuts a [`BlobSource`] into full [`CHUNK_SIZE`] leaves (only the last may be shorter, like
/// kubo's size splitter) and fails with [`Error::TooLarge`] as soon as more than `limit`
/// bytes arrived.
pub(crate) struct Chunker<'a> {
    source: Kind<'a>,
    /// The tail of the last stream item not yet cut into chunks.
    pending: Bytes,
    total: u64,
    limit: u64,
    finished: bool,
}

impl<'a> Chunker<'a> {
    pub(crate) fn new(source: BlobSource<'a>, limit: u64) -> Self {
        Self { source: source.kind, pending: Bytes::new(), total: 0, limit, finished: false }
    }

    fn count(&mut self, len: usize) -> Result<()> {
        self.total += len as u64;
        if self.total > self.limit {
            return Err(Error::TooLarge { limit: self.limit });
        }
        Ok(())
    }

    /// The next leaf, or `None` at the end. An empty blob has no leaves.
    pub(crate) async fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        if self.finished {
            return Ok(None);
        }
        match &mut self.source {
            Kind::Bytes(bytes) => {
                if bytes.is_empty() {
                    self.finished = true;
                    return Ok(None);
                }
                let chunk = bytes.split_to(CHUNK_SIZE.min(bytes.len()));
                self.count(chunk.len())?;
                Ok(Some(chunk))
            }
            Kind::Reader(reader) => {
                let mut buffer = BytesMut::with_capacity(CHUNK_SIZE);
                while buffer.len() < CHUNK_SIZE {
                    // `read_buf` never reads past the capacity, so chunks stay exact.
                    let read = reader
                        .read_buf(&mut buffer)
                        .await
                        .map_err(|source| Error::Input { source })?;
                    if read == 0 {
                        self.finished = true;
                        break;
                    }
                    self.total += read as u64;
                    if self.total > self.limit {
                        return Err(Error::TooLarge { limit: self.limit });
                    }
                }
                Ok((!buffer.is_empty()).then(|| buffer.freeze()))
            }
            Kind::Stream(_) => self.next_stream_chunk().await,
        }
    }

    async fn next_stream_chunk(&mut self) -> Result<Option<Bytes>> {
        let mut buffer = BytesMut::new();
        loop {
            if !self.pending.is_empty() {
                // A large item is cut without copying when no partial chunk is waiting.
                if buffer.is_empty() && self.pending.len() >= CHUNK_SIZE {
                    return Ok(Some(self.pending.split_to(CHUNK_SIZE)));
                }
                if buffer.capacity() == 0 {
                    buffer.reserve(CHUNK_SIZE);
                }
                let take = (CHUNK_SIZE - buffer.len()).min(self.pending.len());
                buffer.extend_from_slice(&self.pending.split_to(take));
                if buffer.len() == CHUNK_SIZE {
                    return Ok(Some(buffer.freeze()));
                }
                continue;
            }
            let Kind::Stream(stream) = &mut self.source else {
                unreachable!("only called for streams");
            };
            match stream.next().await {
                Some(Ok(item)) => {
                    self.count(item.len())?;
                    self.pending = item;
                }
                Some(Err(source)) => return Err(Error::Input { source }),
                None => {
                    self.finished = true;
                    return Ok((!buffer.is_empty()).then(|| buffer.freeze()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    async fn chunk_lengths(source: BlobSource<'_>, limit: u64) -> Result<Vec<usize>> {
        let mut chunker = Chunker::new(source, limit);
        let mut lengths = Vec::new();
        while let Some(chunk) = chunker.next_chunk().await? {
            lengths.push(chunk.len());
        }
        Ok(lengths)
    }

    #[tokio::test]
    async fn all_sources_cut_full_chunks() {
        let data = vec![1u8; 2 * CHUNK_SIZE + 5];
        let expected = vec![CHUNK_SIZE, CHUNK_SIZE, 5];
        let from_bytes = chunk_lengths(BlobSource::bytes(data.clone()), u64::MAX).await;
        assert_eq!(from_bytes.unwrap(), expected);
        let from_reader = chunk_lengths(BlobSource::reader(&data[..]), u64::MAX).await;
        assert_eq!(from_reader.unwrap(), expected);
        let items: Vec<std::io::Result<Bytes>> =
            data.chunks(100_000).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
        let from_stream = chunk_lengths(BlobSource::stream(stream::iter(items)), u64::MAX).await;
        assert_eq!(from_stream.unwrap(), expected);
        let empty = chunk_lengths(BlobSource::bytes(Vec::new()), u64::MAX).await;
        assert_eq!(empty.unwrap(), Vec::<usize>::new());
    }

    #[tokio::test]
    async fn limit_is_exact() {
        let data = vec![1u8; 1000];
        assert!(chunk_lengths(BlobSource::bytes(data.clone()), 1000).await.is_ok());
        for source in [
            BlobSource::bytes(data.clone()),
            BlobSource::reader(&data[..]),
            BlobSource::stream(stream::iter([Ok(Bytes::from(data.clone()))])),
        ] {
            assert!(matches!(
                chunk_lengths(source, 999).await,
                Err(Error::TooLarge { limit: 999 })
            ));
        }
    }

    #[tokio::test]
    async fn input_errors_are_reported_as_input() {
        let items =
            vec![Ok(Bytes::from_static(b"abc")), Err(std::io::Error::other("the upload was cut"))];
        let result = chunk_lengths(BlobSource::stream(stream::iter(items)), u64::MAX).await;
        assert!(matches!(result, Err(Error::Input { .. })));
    }
}
