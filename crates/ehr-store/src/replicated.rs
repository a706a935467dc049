//! One store over several IPFS nodes, each blob pinned on `factor` of them.
//!
//! A write goes to the primary — the first node in the setting's order that answers — which
//! adds and pins it; then other nodes are asked to pin the CID, and fetch it from the
//! primary's swarm (they are first told to dial the primary's addresses, so bitswap finds it
//! without any content routing), until `factor` nodes pin it. The replicas are the nodes
//! after one picked by the CID, so they spread over the nodes instead of all landing on the
//! second one. If fewer than `factor` nodes can pin it, the write fails with
//! [`Error::UnderReplicated`] and unpins what it pinned: a write never claims a factor it
//! did not reach.
//!
//! A read tries the nodes in order; each node's stream is verified block by block as
//! always, and at the first failure (unreachable, missing, or a block that does not match —
//! a lying node) the read carries on from the next node, skipping the bytes already handed
//! out (which the next node's stream verifies again before they are dropped).

use crate::placement::{Holding, NodeFailure, NodeHolding, Placement, Repair};
use crate::store::{BlobStore, ByteStream, ProviderNode};
use crate::{BlobSource, Cid, Error, Result};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::{BoxFuture, join_all};
use futures_util::stream;
use std::sync::Arc;

/// A blob store over several nodes, keeping each blob pinned on `factor` of them.
#[derive(Debug, Clone)]
pub struct ReplicatedStore {
    nodes: Arc<Vec<Node>>,
    factor: usize,
}

#[derive(Debug, Clone)]
struct Node {
    name: String,
    store: Arc<dyn ProviderNode>,
}

impl ReplicatedStore {
    /// A store over `nodes` (each named, e.g. by its API URL, for reports), in the order
    /// reads try them and the first of which is the primary. Fails with
    /// [`Error::InvalidFactor`] unless `1 <= factor <= nodes.len()`.
    pub fn new(nodes: Vec<(String, Arc<dyn ProviderNode>)>, factor: usize) -> Result<Self> {
        if factor == 0 || factor > nodes.len() {
            return Err(Error::InvalidFactor { factor, nodes: nodes.len() });
        }
        let nodes = nodes.into_iter().map(|(name, store)| Node { name, store }).collect();
        Ok(Self { nodes: Arc::new(nodes), factor })
    }

    /// How many nodes each blob is pinned on.
    pub fn factor(&self) -> usize {
        self.factor
    }

    /// The nodes' names, in order.
    pub fn node_names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// The nodes to place replicas of `cid` on, in order: all of them, starting at one the
    /// CID picks.
    fn spread(&self, cid: Cid) -> impl Iterator<Item = usize> + '_ {
        let mut start = [0u8; 8];
        start.copy_from_slice(&cid.digest()[..8]);
        let n = self.nodes.len();
        let start = (u64::from_le_bytes(start) % n as u64) as usize;
        (0..n).map(move |i| (start + i) % n)
    }

    fn failure(&self, node: usize, error: &Error) -> NodeFailure {
        NodeFailure { node: self.nodes[node].name.clone(), reason: error.to_string() }
    }

    /// Pins `cid` on more nodes until `factor` pin it. `pinned` are the nodes that pin it
    /// already (and gets the new ones), `holders` those that hold it at all, which the
    /// others are connected to so they can fetch it; `skip` are nodes not to ask.
    async fn fill(
        &self,
        cid: Cid,
        pinned: &mut Vec<usize>,
        holders: &[usize],
        skip: &[usize],
    ) -> Vec<NodeFailure> {
        let mut failures = Vec::new();
        if pinned.len() >= self.factor {
            return failures;
        }
        let mut origins = Vec::new();
        for &holder in holders {
            match self.nodes[holder].store.origins().await {
                Ok(addrs) => origins.extend(addrs),
                Err(e) => failures.push(self.failure(holder, &e)),
            }
        }
        // A node that holds the blob but does not pin it needs no transfer: ask it first.
        let mut candidates: Vec<usize> =
            holders.iter().copied().filter(|i| !pinned.contains(i)).collect();
        candidates.extend(self.spread(cid).filter(|i| !holders.contains(i) && !pinned.contains(i)));
        for target in candidates {
            if pinned.len() >= self.factor {
                break;
            }
            if skip.contains(&target) {
                continue;
            }
            let node = &self.nodes[target].store;
            // Without a connection to a holder the node would search for the blob until its
            // request times out (there is no content routing).
            if !holders.contains(&target)
                && !origins.is_empty()
                && let Err(e) = node.connect(&origins).await
            {
                failures.push(self.failure(target, &e));
                continue;
            }
            match node.pin(cid).await {
                Ok(()) => pinned.push(target),
                Err(e) => failures.push(self.failure(target, &e)),
            }
        }
        failures
    }

    async fn put_replicated(&self, source: BlobSource<'_>) -> Result<Cid> {
        // The source can be read only once: the primary is the first node that answers,
        // found before any byte is sent.
        let mut first_error = None;
        let mut down = Vec::new();
        let mut primary = None;
        for (i, node) in self.nodes.iter().enumerate() {
            match node.store.origins().await {
                Ok(_) => {
                    primary = Some(i);
                    break;
                }
                Err(e) => {
                    down.push(i);
                    first_error.get_or_insert(e);
                }
            }
        }
        let Some(primary) = primary else {
            return Err(first_error.expect("a store has at least one node"));
        };
        let cid = self.nodes[primary].store.put(source).await?;
        let mut pinned = vec![primary];
        let failures = self.fill(cid, &mut pinned, &[primary], &down).await;
        if pinned.len() < self.factor {
            // Taken back, so a refused write leaves nothing (its caller records nothing).
            for &i in &pinned {
                let _ = self.nodes[i].store.unpin(cid).await;
            }
            let mut reasons: Vec<String> =
                down.iter().map(|&i| format!("{}: unreachable", self.nodes[i].name)).collect();
            reasons.extend(failures.iter().map(|f| format!("{}: {}", f.node, f.reason)));
            return Err(Error::UnderReplicated {
                cid,
                factor: self.factor,
                pinned: pinned.len(),
                failures: reasons.join("; "),
            });
        }
        Ok(cid)
    }

    async fn locate(&self, cid: Cid) -> Placement {
        let nodes = join_all(self.nodes.iter().map(|node| async move {
            let holding = match node.store.is_pinned(cid).await {
                Ok(true) => Holding::Pinned,
                Ok(false) => match node.store.has(cid).await {
                    Ok(true) => Holding::Held,
                    Ok(false) => Holding::Absent,
                    Err(e) => Holding::Unreachable { reason: e.to_string() },
                },
                Err(e) => Holding::Unreachable { reason: e.to_string() },
            };
            NodeHolding { node: node.name.clone(), holding }
        }))
        .await;
        Placement { cid, factor: self.factor, nodes }
    }

    async fn repair_blob(&self, cid: Cid) -> Repair {
        let placement = self.locate(cid).await;
        let indices = |wanted: fn(&Holding) -> bool| -> Vec<usize> {
            placement
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| wanted(&n.holding))
                .map(|(i, _)| i)
                .collect()
        };
        let mut pinned = indices(|h| *h == Holding::Pinned);
        let holders = indices(|h| matches!(h, Holding::Pinned | Holding::Held));
        let down = indices(|h| matches!(h, Holding::Unreachable { .. }));
        let before = pinned.len();
        let mut failures: Vec<NodeFailure> = placement
            .nodes
            .iter()
            .filter_map(|n| match &n.holding {
                Holding::Unreachable { reason } => {
                    Some(NodeFailure { node: n.node.clone(), reason: reason.clone() })
                }
                _ => None,
            })
            .collect();
        if holders.is_empty() {
            failures.push(NodeFailure {
                node: "*".into(),
                reason: "no reachable node holds the blob".into(),
            });
        } else if before < self.factor {
            failures.extend(self.fill(cid, &mut pinned, &holders, &down).await);
        }
        let pinned_on = pinned[before..].iter().map(|&i| self.nodes[i].name.clone()).collect();
        Repair { cid, factor: self.factor, before, pinned_on, failures, after: pinned.len() }
    }
}

/// The error to report when no node served a blob: not found if every node said so, else
/// the first other failure (a node that was down, or one that served wrong bytes).
fn read_error(cid: Cid, errors: Vec<Error>) -> Error {
    errors
        .into_iter()
        .find(|e| !matches!(e, Error::NotFound { .. }))
        .unwrap_or(Error::NotFound { cid })
}

/// A read that falls back to the next node at the first failure.
struct FallbackRead {
    cid: Cid,
    nodes: Arc<Vec<Node>>,
    /// The next node to try.
    next: usize,
    current: Option<ByteStream>,
    /// Bytes of a new node's first chunk beyond what was already handed out.
    pending: Option<Bytes>,
    /// Verified bytes handed out so far.
    yielded: u64,
    errors: Vec<Error>,
    done: bool,
}

impl FallbackRead {
    /// Opens the blob on the next node that serves it, past the bytes already handed out.
    async fn open_next(&mut self) -> Result<()> {
        while self.next < self.nodes.len() {
            let node = self.nodes[self.next].store.clone();
            self.next += 1;
            let mut stream = match node.get(self.cid).await {
                Ok(stream) => stream,
                Err(e) => {
                    self.errors.push(e);
                    continue;
                }
            };
            match skip(&mut stream, self.yielded, self.cid).await {
                Ok(rest) => {
                    self.pending = rest;
                    self.current = Some(stream);
                    return Ok(());
                }
                Err(e) => self.errors.push(e),
            }
        }
        Err(read_error(self.cid, std::mem::take(&mut self.errors)))
    }

    async fn next(&mut self) -> Option<Result<Bytes>> {
        if self.done {
            return None;
        }
        loop {
            if let Some(bytes) = self.pending.take().filter(|b| !b.is_empty()) {
                self.yielded += bytes.len() as u64;
                return Some(Ok(bytes));
            }
            let Some(stream) = self.current.as_mut() else {
                if let Err(e) = self.open_next().await {
                    self.done = true;
                    return Some(Err(e));
                }
                continue;
            };
            match stream.next().await {
                Some(Ok(bytes)) => {
                    self.yielded += bytes.len() as u64;
                    return Some(Ok(bytes));
                }
                Some(Err(e)) => {
                    self.errors.push(e);
                    self.current = None;
                }
                None => {
                    self.done = true;
                    return None;
                }
            }
        }
    }
}

/// Reads and drops the first `count` bytes of `stream`; returns what is left of the chunk
/// the count ends in.
async fn skip(stream: &mut ByteStream, count: u64, cid: Cid) -> Result<Option<Bytes>> {
    let mut left = count;
    while left > 0 {
        let chunk = match stream.next().await {
            Some(chunk) => chunk?,
            None => {
                return Err(Error::Corrupt {
                    cid,
                    detail: format!("a node's copy ended before byte {count}"),
                });
            }
        };
        let len = chunk.len() as u64;
        if len > left {
            return Ok(Some(chunk.slice(left as usize..)));
        }
        left -= len;
    }
    Ok(None)
}

impl BlobStore for ReplicatedStore {
    fn put<'a>(&'a self, source: BlobSource<'a>) -> BoxFuture<'a, Result<Cid>> {
        Box::pin(self.put_replicated(source))
    }

    fn get(&self, cid: Cid) -> BoxFuture<'_, Result<ByteStream>> {
        Box::pin(async move {
            let mut read = FallbackRead {
                cid,
                nodes: self.nodes.clone(),
                next: 0,
                current: None,
                pending: None,
                yielded: 0,
                errors: Vec::new(),
                done: false,
            };
            // A blob no node serves fails here, not mid-stream.
            read.open_next().await?;
            Ok(stream::unfold(read, |mut read| async move {
                let item = read.next().await?;
                Some((item, read))
            })
            .boxed())
        })
    }

    /// Pins the blob until `factor` nodes pin it, fetching it from the nodes that hold it;
    /// [`Error::NotFound`] if none does, [`Error::UnderReplicated`] if too few can pin it.
    fn pin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let repair = self.repair_blob(cid).await;
            if repair.after >= self.factor {
                return Ok(());
            }
            if repair.before == 0 && repair.after == 0 {
                return Err(Error::NotFound { cid });
            }
            let failures: Vec<String> =
                repair.failures.iter().map(|f| format!("{}: {}", f.node, f.reason)).collect();
            Err(Error::UnderReplicated {
                cid,
                factor: self.factor,
                pinned: repair.after,
                failures: failures.join("; "),
            })
        })
    }

    /// Unpins the blob on every node; fails (after trying them all) if a node could not be
    /// asked, as the blob may stay pinned there.
    fn unpin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let results = join_all(self.nodes.iter().map(|n| n.store.unpin(cid))).await;
            results.into_iter().collect::<Result<Vec<()>>>().map(drop)
        })
    }

    /// Whether at least `factor` nodes pin the blob (what a write promises).
    fn is_pinned(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let results = join_all(self.nodes.iter().map(|n| n.store.is_pinned(cid))).await;
            let (mut pinned, mut answered, mut first_error) = (0, 0, None);
            for result in results {
                match result {
                    Ok(is_pinned) => {
                        answered += 1;
                        pinned += usize::from(is_pinned);
                    }
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            match first_error {
                // No node answered: nothing is known.
                Some(e) if answered == 0 => Err(e),
                _ => Ok(pinned >= self.factor),
            }
        })
    }

    /// Whether any node holds the blob. If none does and some did not answer, their error:
    /// the blob may be there.
    fn has(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let mut first_error = None;
            for node in self.nodes.iter() {
                match node.store.has(cid).await {
                    Ok(true) => return Ok(true),
                    Ok(false) => {}
                    Err(e) => {
                        first_error.get_or_insert(e);
                    }
                }
            }
            first_error.map_or(Ok(false), Err)
        })
    }

    fn max_blob_size(&self) -> u64 {
        self.nodes.iter().map(|n| n.store.max_blob_size()).min().unwrap_or(0)
    }

    fn replication_factor(&self) -> usize {
        self.factor
    }

    fn placement(&self, cid: Cid) -> BoxFuture<'_, Result<Placement>> {
        Box::pin(async move { Ok(self.locate(cid).await) })
    }

    fn repair(&self, cid: Cid) -> BoxFuture<'_, Result<Repair>> {
        Box::pin(async move { Ok(self.repair_blob(cid).await) })
    }
}

#[cfg(test)]
#[path = "replicated_tests.rs"]
mod tests;
