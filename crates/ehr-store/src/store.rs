//! The interface every store implements, chosen at run time as `Arc<dyn BlobStore>`.

use crate::placement::{Holding, NodeFailure, NodeHolding, Placement, Repair};
use crate::{BlobSource, Cid, Error, Result};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use tokio::io::{AsyncWrite, AsyncWriteExt};

/// A blob's bytes, each chunk verified against the blob's CID before it is yielded. An
/// `Err` item ends the stream (and means everything yielded before it was genuine).
pub type ByteStream = BoxStream<'static, Result<Bytes>>;

/// The default maximum blob size: 4 GiB.
pub const DEFAULT_MAX_BLOB_SIZE: u64 = 4 << 30;

/// Content-addressed storage of blobs (already-encrypted record envelopes).
///
/// Futures and streams are boxed so the trait stays object safe without a macro crate.
pub trait BlobStore: Send + Sync + std::fmt::Debug {
    /// Stores a blob and returns its CID (kubo's `ipfs add --cid-version=1 --raw-leaves
    /// --chunker=size-262144` CID). The blob is pinned, as kubo's `add` pins. Storing a blob
    /// that is already there is harmless. A blob over [`max_blob_size`](Self::max_blob_size)
    /// fails with [`Error::TooLarge`] and leaves nothing pinned or visible.
    fn put<'a>(&'a self, source: BlobSource<'a>) -> BoxFuture<'a, Result<Cid>>;

    /// Opens a blob for reading. Fails with [`Error::NotFound`] if the store does not hold
    /// it; the stream yields bytes only after the block they came in was checked against its
    /// CID, and stops with [`Error::Corrupt`] at the first block that does not match.
    fn get(&self, cid: Cid) -> BoxFuture<'_, Result<ByteStream>>;

    /// Protects the blob from garbage collection.
    fn pin(&self, cid: Cid) -> BoxFuture<'_, Result<()>>;

    /// Removes the protection (idempotent: unpinning an unpinned blob is not an error).
    fn unpin(&self, cid: Cid) -> BoxFuture<'_, Result<()>>;

    /// Whether the blob is pinned.
    fn is_pinned(&self, cid: Cid) -> BoxFuture<'_, Result<bool>>;

    /// Whether the store holds the blob without asking other nodes.
    fn has(&self, cid: Cid) -> BoxFuture<'_, Result<bool>>;

    /// The largest blob `put` accepts, in bytes.
    fn max_blob_size(&self) -> u64;

    /// How many nodes each blob is pinned on: 1 unless the store replicates.
    fn replication_factor(&self) -> usize {
        1
    }

    /// Which nodes hold and pin the blob. A store that is one node reports itself, named
    /// `store`, with a factor of 1; a [`crate::ReplicatedStore`] asks each of its nodes.
    fn placement(&self, cid: Cid) -> BoxFuture<'_, Result<Placement>> {
        Box::pin(async move {
            let holding = match self.is_pinned(cid).await {
                Ok(true) => Holding::Pinned,
                Ok(false) => match self.has(cid).await {
                    Ok(true) => Holding::Held,
                    Ok(false) => Holding::Absent,
                    Err(e) => Holding::Unreachable { reason: e.to_string() },
                },
                Err(e) => Holding::Unreachable { reason: e.to_string() },
            };
            Ok(Placement {
                cid,
                factor: 1,
                nodes: vec![NodeHolding { node: "store".into(), holding }],
            })
        })
    }

    /// Pins the blob on nodes that lack it until the store's replication factor holds again;
    /// idempotent. A store that is one node can only re-pin a blob it still holds.
    fn repair(&self, cid: Cid) -> BoxFuture<'_, Result<Repair>> {
        Box::pin(async move {
            let placement = self.placement(cid).await?;
            let before = placement.pinned();
            let mut repair = Repair {
                cid,
                factor: 1,
                before,
                pinned_on: Vec::new(),
                failures: Vec::new(),
                after: before,
            };
            if before > 0 {
                return Ok(repair);
            }
            let failure = |reason: String| NodeFailure { node: "store".into(), reason };
            match &placement.nodes[0].holding {
                Holding::Held => match self.pin(cid).await {
                    Ok(()) => {
                        repair.pinned_on.push("store".into());
                        repair.after = 1;
                    }
                    Err(e) => repair.failures.push(failure(e.to_string())),
                },
                Holding::Unreachable { reason } => repair.failures.push(failure(reason.clone())),
                _ => repair.failures.push(failure("the store does not hold the blob".into())),
            }
            Ok(repair)
        })
    }
}

/// Conveniences on top of [`BlobStore`], for every store including `dyn BlobStore`.
pub trait BlobStoreExt: BlobStore {
    /// Stores bytes that are already in memory.
    fn put_bytes(&self, bytes: impl Into<Bytes>) -> BoxFuture<'_, Result<Cid>> {
        self.put(BlobSource::bytes(bytes))
    }

    /// Reads a whole blob into memory, verified; refuses one larger than
    /// [`max_blob_size`](BlobStore::max_blob_size).
    fn get_bytes(&self, cid: Cid) -> BoxFuture<'_, Result<Bytes>> {
        Box::pin(async move {
            let limit = self.max_blob_size();
            let mut stream = self.get(cid).await?;
            let mut out = BytesMut::new();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                if (out.len() + chunk.len()) as u64 > limit {
                    return Err(Error::TooLarge { limit });
                }
                out.extend_from_slice(&chunk);
            }
            Ok(out.freeze())
        })
    }

    /// Streams a blob's verified bytes into `writer` and returns how many were written. On
    /// an error the writer has received only verified bytes, but not all of them: discard
    /// what it holds.
    fn get_to_writer<'a, W>(&'a self, cid: Cid, writer: &'a mut W) -> BoxFuture<'a, Result<u64>>
    where
        W: AsyncWrite + Unpin + Send + ?Sized,
    {
        Box::pin(async move {
            let mut stream = self.get(cid).await?;
            let mut written = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = chunk?;
                writer.write_all(&chunk).await.map_err(|e| Error::io("writing the blob out", e))?;
                written += chunk.len() as u64;
            }
            writer.flush().await.map_err(|e| Error::io("writing the blob out", e))?;
            Ok(written)
        })
    }
}

impl<T: BlobStore + ?Sized> BlobStoreExt for T {}

/// A store that other IPFS nodes can fetch from: the node a [`crate::PinningServiceStore`]
/// uploads through and points the pinning service at.
pub trait ProviderNode: BlobStore {
    /// Multiaddrs under which other nodes can reach this node (the pin request's
    /// `origins`); empty when it cannot be reached, like a [`crate::LocalStore`].
    fn origins(&self) -> BoxFuture<'_, Result<Vec<String>>>;

    /// Dials the multiaddrs a pinning service named as `delegates`, so the service can
    /// fetch the blocks from this node. Best effort: the service may find them otherwise.
    fn connect<'a>(&'a self, addrs: &'a [String]) -> BoxFuture<'a, Result<()>>;
}
