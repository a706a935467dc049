//! Verified reading of a UnixFS file DAG, one block at a time, from any block source.
//!
//! Every block is hashed and compared with the CID its parent (or the caller) named before
//! anything in it is used: a leaf's bytes before they are yielded, a node's links before they
//! are followed. So a wrong byte anywhere surfaces as [`Error::Corrupt`] and never as data;
//! bytes yielded before the error were all genuine.

use crate::dag::{decode_node, decode_unixfs};
use crate::store::ByteStream;
use crate::{Cid, Codec, Error, Result};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream;

/// Deeper DAGs are refused: kubo's layout for 4 GiB needs 3 levels, and a crafted deep DAG
/// must not make us recurse without bound.
const MAX_DEPTH: usize = 32;

/// Where blocks come from (a directory, kubo's RPC). Sources only fetch; the walker verifies.
pub(crate) trait BlockSource: Send + 'static {
    /// The block named `cid`. For a raw leaf under a node, `leaf_len` is the length the
    /// (already verified) parent declares; it is `None` for the root.
    fn fetch(&mut self, cid: Cid, leaf_len: Option<u64>) -> BoxFuture<'_, Result<Bytes>>;

    /// Called after the last block was read, to check for leftovers.
    fn finish(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// One dag-pb node being read: its links and the size the node declares under each.
struct Frame {
    links: Vec<Cid>,
    sizes: Vec<u64>,
    next: usize,
}

struct Walker<S> {
    root: Cid,
    source: S,
    stack: Vec<Frame>,
    /// Data of the root block, yielded first.
    first: Option<Bytes>,
    done: bool,
}

/// Fetches and verifies the root block (so a missing blob fails here, not mid-stream) and
/// returns the stream of the file's bytes.
pub(crate) async fn open<S: BlockSource>(root: Cid, mut source: S) -> Result<ByteStream> {
    let block = source.fetch(root, None).await?;
    let mut walker = Walker { root, source, stack: Vec::new(), first: None, done: false };
    walker.first = walker.accept(root, block, None)?;
    Ok(stream::unfold(walker, |mut walker| async move {
        let item = walker.next().await?;
        Some((item, walker))
    })
    .boxed())
}

impl<S: BlockSource> Walker<S> {
    async fn next(&mut self) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        if let Some(first) = self.first.take() {
            return Some(Ok(first));
        }
        match self.step().await {
            Ok(Some(bytes)) => Some(Ok(bytes)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    /// Walks depth first, left to right, until a block with file bytes was verified.
    async fn step(&mut self) -> Result<Option<Bytes>> {
        loop {
            let Some(frame) = self.stack.last_mut() else {
                self.source.finish().await?;
                return Ok(None);
            };
            if frame.next == frame.links.len() {
                self.stack.pop();
                continue;
            }
            let (cid, size) = (frame.links[frame.next], frame.sizes[frame.next]);
            frame.next += 1;
            let leaf_len = (cid.codec() == Codec::Raw).then_some(size);
            let block = self.source.fetch(cid, leaf_len).await?;
            if let Some(data) = self.accept(cid, block, Some(size))? {
                return Ok(Some(data));
            }
        }
    }

    /// Verifies `block` against `cid`, checks it against the size its parent declared, and
    /// returns the file bytes it holds itself (if any). A dag-pb node's links are queued.
    fn accept(&mut self, cid: Cid, block: Bytes, expected: Option<u64>) -> Result<Option<Bytes>> {
        if !cid.matches(&block) {
            let actual = Cid::of_block(cid.codec(), &block);
            return Err(
                self.corrupt(format!("block {cid} has other content (it hashes to {actual})"))
            );
        }
        let data = match cid.codec() {
            Codec::Raw => {
                if let Some(expected) = expected.filter(|&e| e != block.len() as u64) {
                    return Err(self.invalid(format!(
                        "leaf {cid} has {} bytes, its parent declares {expected}",
                        block.len()
                    )));
                }
                block
            }
            Codec::DagPb => {
                let node = decode_node(&block).map_err(|e| self.invalid(format!("{cid}: {e}")))?;
                let message = node.data.ok_or_else(|| {
                    self.invalid(format!("{cid}: dag-pb node without UnixFS data"))
                })?;
                let file =
                    decode_unixfs(&message).map_err(|e| self.invalid(format!("{cid}: {e}")))?;
                if file.blocksizes.len() != node.links.len() {
                    return Err(self.invalid(format!(
                        "{cid}: {} links but {} blocksizes",
                        node.links.len(),
                        file.blocksizes.len()
                    )));
                }
                let total = file
                    .blocksizes
                    .iter()
                    .try_fold(file.data.len() as u64, |sum, &size| sum.checked_add(size))
                    .ok_or_else(|| self.invalid(format!("{cid}: sizes overflow")))?;
                if let Some(declared) = file.filesize.filter(|&d| d != total) {
                    return Err(self.invalid(format!(
                        "{cid}: filesize {declared} but its parts add up to {total}"
                    )));
                }
                if let Some(expected) = expected.filter(|&e| e != total) {
                    return Err(self.invalid(format!(
                        "{cid} holds {total} bytes, its parent declares {expected}"
                    )));
                }
                if !node.links.is_empty() {
                    if self.stack.len() >= MAX_DEPTH {
                        return Err(self.invalid(format!("deeper than {MAX_DEPTH} levels")));
                    }
                    self.stack.push(Frame { links: node.links, sizes: file.blocksizes, next: 0 });
                }
                file.data
            }
        };
        Ok((!data.is_empty()).then_some(data))
    }

    fn corrupt(&self, detail: String) -> Error {
        Error::Corrupt { cid: self.root, detail }
    }

    fn invalid(&self, detail: String) -> Error {
        Error::InvalidDag { cid: self.root, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balanced::{Block, CHUNK_SIZE, DagBuilder};
    use std::collections::HashMap;

    /// Blocks in memory, optionally lying about one of them.
    struct MemorySource {
        blocks: HashMap<Cid, Bytes>,
        fetched: Vec<Cid>,
    }

    impl BlockSource for MemorySource {
        fn fetch(&mut self, cid: Cid, _leaf_len: Option<u64>) -> BoxFuture<'_, Result<Bytes>> {
            self.fetched.push(cid);
            let block = self.blocks.get(&cid).cloned();
            Box::pin(async move { block.ok_or(Error::NotFound { cid }) })
        }
    }

    fn import(data: &[u8]) -> (Cid, HashMap<Cid, Bytes>) {
        let mut builder = DagBuilder::default();
        let mut nodes: Vec<Block> = Vec::new();
        let mut blocks = HashMap::new();
        for chunk in data.chunks(CHUNK_SIZE) {
            let cid = Cid::of_block(Codec::Raw, chunk);
            blocks.insert(cid, Bytes::copy_from_slice(chunk));
            builder.push_leaf(cid, chunk.len() as u64, &mut nodes);
        }
        let root = builder.finish(&mut nodes);
        if data.is_empty() {
            blocks.insert(root, Bytes::new());
        }
        blocks.extend(nodes.into_iter().map(|b| (b.cid, b.data)));
        (root, blocks)
    }

    async fn read_all(root: Cid, blocks: HashMap<Cid, Bytes>) -> Result<Vec<u8>> {
        let source = MemorySource { blocks, fetched: Vec::new() };
        let mut stream = open(root, source).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 253) as u8).collect()
    }

    #[tokio::test]
    async fn reads_back_what_was_imported() {
        for len in [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 7] {
            let data = pattern(len);
            let (root, blocks) = import(&data);
            assert_eq!(read_all(root, blocks).await.unwrap(), data, "{len} bytes");
        }
    }

    #[tokio::test]
    async fn a_lying_source_is_caught_before_its_bytes_are_yielded() {
        let data = pattern(3 * CHUNK_SIZE);
        let (root, mut blocks) = import(&data);
        let second_leaf = Cid::of_block(Codec::Raw, &data[CHUNK_SIZE..2 * CHUNK_SIZE]);
        let mut evil = blocks[&second_leaf].to_vec();
        evil[10] ^= 1;
        blocks.insert(second_leaf, Bytes::from(evil));

        let source = MemorySource { blocks, fetched: Vec::new() };
        let mut stream = open(root, source).await.unwrap();
        let first = stream.next().await.unwrap().unwrap();
        assert_eq!(first, data[..CHUNK_SIZE]);
        match stream.next().await.unwrap() {
            Err(Error::Corrupt { cid, detail }) => {
                assert_eq!(cid, root);
                assert!(detail.contains(&second_leaf.to_string()), "{detail}");
            }
            other => panic!("expected Corrupt, got {other:?}"),
        }
        assert!(stream.next().await.is_none(), "the stream ends after an error");
    }

    #[tokio::test]
    async fn a_tampered_root_fails_at_open() {
        let data = pattern(2 * CHUNK_SIZE);
        let (root, mut blocks) = import(&data);
        let mut node = blocks[&root].to_vec();
        let last = node.len() - 1;
        node[last] ^= 1;
        blocks.insert(root, Bytes::from(node));
        assert!(matches!(read_all(root, blocks).await, Err(Error::Corrupt { .. })));
    }

    #[tokio::test]
    async fn a_directory_is_refused() {
        // A UnixFS directory node with no links: Data = {Type: Directory}.
        let block = Bytes::from_static(&[0x0a, 0x02, 0x08, 0x01]);
        let root = Cid::of_block(Codec::DagPb, &block);
        let blocks = HashMap::from([(root, block)]);
        assert!(matches!(read_all(root, blocks).await, Err(Error::InvalidDag { .. })));
    }
}
