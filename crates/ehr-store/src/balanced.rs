//! The balanced DAG layout of kubo's importer (boxo `importer/balanced`), built bottom-up
//! while data streams in, so a CID is known the moment the last byte was seen.
//!
//! boxo grows the tree top-down: fill a node with up to [`MAX_LINKS`] leaves, then make it
//! the first child of a new root one level up and fill that root's remaining slots with
//! full subtrees of the level below, and so on. For N leaves that is exactly: group leaves
//! into nodes of [`MAX_LINKS`] from the left, group those nodes the same way, and repeat
//! until one node is left. The right edge may hold partial nodes, including nodes with a
//! single link; they are kept (boxo does not collapse them). A single leaf is its own root.
//!
//! Memory: at most [`MAX_LINKS`] pending children per level; a 4 GiB blob has 3 levels.

use crate::dag::{Child, encode_file_node};
use crate::{Cid, Codec};
use bytes::Bytes;

/// Leaf size: kubo's `--chunker=size-262144`.
pub const CHUNK_SIZE: usize = 262_144;
/// Links per internal node: boxo's default (`--max-file-links=174`).
pub const MAX_LINKS: usize = 174;

/// A block and its CID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Block {
    /// The CID of `data`.
    pub(crate) cid: Cid,
    /// The encoded block.
    pub(crate) data: Bytes,
}

/// Builds the balanced DAG over a sequence of leaves.
#[derive(Debug, Default)]
pub(crate) struct DagBuilder {
    /// `levels[0]` holds leaves waiting for a parent, `levels[1]` nodes over leaves, ...
    levels: Vec<Vec<Child>>,
}

impl DagBuilder {
    /// Adds the next raw leaf (its CID and length); internal nodes completed by it are
    /// appended to `nodes`.
    pub(crate) fn push_leaf(&mut self, cid: Cid, len: u64, nodes: &mut Vec<Block>) {
        self.push(0, Child { cid, tsize: len, filesize: len }, nodes);
    }

    fn push(&mut self, level: usize, child: Child, nodes: &mut Vec<Block>) {
        if self.levels.len() == level {
            self.levels.push(Vec::with_capacity(MAX_LINKS));
        }
        self.levels[level].push(child);
        // A full group never changes again, whatever follows: close it now so memory stays
        // bounded. If no data follows it simply ends up as the root.
        if self.levels[level].len() == MAX_LINKS {
            let full = std::mem::replace(&mut self.levels[level], Vec::with_capacity(MAX_LINKS));
            let parent = close(&full, nodes);
            self.push(level + 1, parent, nodes);
        }
    }

    /// Closes the partial right edge and returns the root CID. With no leaves at all this is
    /// the CID of the empty raw block, as kubo gives an empty file.
    pub(crate) fn finish(mut self, nodes: &mut Vec<Block>) -> Cid {
        let mut level = 0;
        loop {
            let Some(top) = self.levels.len().checked_sub(1) else {
                return Cid::of_block(Codec::Raw, b"");
            };
            let pending = std::mem::take(&mut self.levels[level]);
            if level == top && pending.len() == 1 {
                return pending[0].cid;
            }
            if !pending.is_empty() {
                let parent = close(&pending, nodes);
                if level == top {
                    self.levels.push(Vec::with_capacity(1));
                }
                self.levels[level + 1].push(parent);
            }
            level += 1;
        }
    }
}

/// Encodes the node over `children` and returns it as its parent's child.
fn close(children: &[Child], nodes: &mut Vec<Block>) -> Child {
    let block = encode_file_node(children);
    let cid = Cid::of_block(Codec::DagPb, &block);
    let child = Child {
        cid,
        tsize: block.len() as u64 + children.iter().map(|c| c.tsize).sum::<u64>(),
        filesize: children.iter().map(|c| c.filesize).sum(),
    };
    nodes.push(Block { cid, data: Bytes::from(block) });
    child
}

/// Computes the CID of a blob incrementally, exactly as kubo's
/// `ipfs add --cid-version=1 --raw-leaves --hash=sha2-256 --chunker=size-262144` with the
/// balanced layout would. Memory: one chunk plus the pending links.
///
/// ```
/// let mut hasher = ehr_store::CidHasher::new();
/// hasher.update(b"hello ");
/// hasher.update(b"world");
/// assert_eq!(hasher.finish(), ehr_store::compute_cid(b"hello world"));
/// ```
#[derive(Debug, Default)]
pub struct CidHasher {
    buffer: Vec<u8>,
    builder: DagBuilder,
    scratch: Vec<Block>,
}

impl CidHasher {
    /// A hasher with nothing fed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes of the blob.
    pub fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.buffer.capacity() == 0 {
                self.buffer.reserve_exact(CHUNK_SIZE);
            }
            let take = (CHUNK_SIZE - self.buffer.len()).min(data.len());
            self.buffer.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buffer.len() == CHUNK_SIZE {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        let cid = Cid::of_block(Codec::Raw, &self.buffer);
        self.builder.push_leaf(cid, self.buffer.len() as u64, &mut self.scratch);
        // Internal nodes are not kept: only the root's CID is wanted.
        self.scratch.clear();
        self.buffer.clear();
    }

    /// The blob's CID.
    pub fn finish(mut self) -> Cid {
        if !self.buffer.is_empty() {
            self.flush();
        }
        self.builder.finish(&mut self.scratch)
    }
}

/// The CID of `data` as kubo's `ipfs add` with this crate's settings would compute it.
pub fn compute_cid(data: &[u8]) -> Cid {
    let mut hasher = CidHasher::new();
    hasher.update(data);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dag::{decode_node, decode_unixfs};
    use proptest::prelude::*;
    use std::collections::HashMap;

    /// Builds with the top-down recursion of boxo's balanced importer, as a reference for
    /// the bottom-up builder.
    fn reference_root(leaves: &[(Cid, u64)]) -> Cid {
        if leaves.is_empty() {
            return Cid::of_block(Codec::Raw, b"");
        }
        let mut next = leaves.iter().map(|&(cid, len)| Child { cid, tsize: len, filesize: len });
        let mut remaining = leaves.len();
        let mut take = |n: &mut usize| {
            *n -= 1;
            next.next().unwrap()
        };
        let mut scratch = Vec::new();
        let mut root = take(&mut remaining);
        let mut depth = 1;
        while remaining > 0 {
            let mut children = vec![root];
            fill(&mut children, depth, &mut remaining, &mut take, &mut scratch);
            root = close(&children, &mut scratch);
            depth += 1;
        }
        root.cid
    }

    fn fill(
        children: &mut Vec<Child>,
        depth: usize,
        remaining: &mut usize,
        take: &mut dyn FnMut(&mut usize) -> Child,
        scratch: &mut Vec<Block>,
    ) {
        while children.len() < MAX_LINKS && *remaining > 0 {
            if depth == 1 {
                children.push(take(remaining));
            } else {
                let mut grandchildren = Vec::new();
                fill(&mut grandchildren, depth - 1, remaining, take, scratch);
                children.push(close(&grandchildren, scratch));
            }
        }
    }

    fn build(leaves: &[(Cid, u64)]) -> (Cid, Vec<Block>) {
        let mut builder = DagBuilder::default();
        let mut nodes = Vec::new();
        for &(cid, len) in leaves {
            builder.push_leaf(cid, len, &mut nodes);
        }
        (builder.finish(&mut nodes), nodes)
    }

    fn fake_leaves(count: usize) -> Vec<(Cid, u64)> {
        (0..count)
            .map(|i| {
                let mut digest = [0u8; 32];
                digest[..8].copy_from_slice(&(i as u64).to_le_bytes());
                (Cid::new(Codec::Raw, digest), CHUNK_SIZE as u64)
            })
            .collect()
    }

    #[test]
    fn matches_the_top_down_recursion_at_level_boundaries() {
        let squared = MAX_LINKS * MAX_LINKS;
        for count in [
            0,
            1,
            2,
            MAX_LINKS - 1,
            MAX_LINKS,
            MAX_LINKS + 1,
            2 * MAX_LINKS,
            2 * MAX_LINKS + 1,
            squared - 1,
            squared,
            squared + 1,
            squared + MAX_LINKS + 1,
        ] {
            let leaves = fake_leaves(count);
            assert_eq!(build(&leaves).0, reference_root(&leaves), "{count} leaves");
        }
    }

    #[test]
    fn every_emitted_node_is_consistent() {
        let leaves = fake_leaves(MAX_LINKS * 2 + 3);
        let (root, nodes) = build(&leaves);
        let by_cid: HashMap<Cid, &Block> = nodes.iter().map(|b| (b.cid, b)).collect();
        assert_eq!(nodes.len(), 4, "3 nodes over leaves and the root");
        // Walk from the root and collect leaves in order.
        fn walk(cid: Cid, by_cid: &HashMap<Cid, &Block>, out: &mut Vec<Cid>) -> u64 {
            if cid.codec() == Codec::Raw {
                out.push(cid);
                return CHUNK_SIZE as u64;
            }
            let block = by_cid[&cid];
            assert!(cid.matches(&block.data));
            let node = decode_node(&block.data).unwrap();
            let file = decode_unixfs(node.data.as_ref().unwrap()).unwrap();
            let mut total = 0;
            for (link, size) in node.links.iter().zip(&file.blocksizes) {
                assert_eq!(walk(*link, by_cid, out), *size);
                total += size;
            }
            assert_eq!(file.filesize, Some(total));
            total
        }
        let mut seen = Vec::new();
        walk(root, &by_cid, &mut seen);
        assert_eq!(seen, leaves.iter().map(|l| l.0).collect::<Vec<_>>());
    }

    #[test]
    fn chunk_boundaries() {
        let data = vec![7u8; CHUNK_SIZE * 2 + 1];
        // One chunk or less is just the raw leaf.
        for len in [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE] {
            assert_eq!(compute_cid(&data[..len]), Cid::of_block(Codec::Raw, &data[..len]));
        }
        for len in [CHUNK_SIZE + 1, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 1] {
            let cid = compute_cid(&data[..len]);
            assert_eq!(cid.codec(), Codec::DagPb);
            let leaves: Vec<(Cid, u64)> = data[..len]
                .chunks(CHUNK_SIZE)
                .map(|c| (Cid::of_block(Codec::Raw, c), c.len() as u64))
                .collect();
            assert_eq!(cid, reference_root(&leaves));
        }
        // kubo: 262145 zero bytes.
        assert_eq!(
            compute_cid(&vec![0u8; CHUNK_SIZE + 1]).to_string(),
            "bafybeigllfqgfpqydppr6cmv56g7ax4wyhruzswvcefv6j5kj77nzttfki"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn hasher_is_independent_of_how_data_is_split(
            len in 0usize..(3 * CHUNK_SIZE + 10),
            cuts in proptest::collection::vec(0usize..(3 * CHUNK_SIZE + 10), 0..6),
        ) {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(len)).collect();
            cuts.push(0);
            cuts.push(len);
            cuts.sort_unstable();
            let mut hasher = CidHasher::new();
            for pair in cuts.windows(2) {
                hasher.update(&data[pair[0]..pair[1]]);
            }
            prop_assert_eq!(hasher.finish(), compute_cid(&data));
        }
    }
}
