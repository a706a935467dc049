//! The replication logic over fake nodes: each keeps blobs in a [`LocalStore`] and, like
//! kubo, can pin a blob it lacks only by fetching it from a node it was connected to.

use super::*;
use crate::{BlobStoreExt, LocalStore};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

/// The fake network: nodes by address.
#[derive(Debug, Default)]
struct Net {
    nodes: Mutex<HashMap<String, Arc<FakeNode>>>,
}

#[derive(Debug)]
struct FakeNode {
    addr: String,
    local: LocalStore,
    peers: Mutex<Vec<String>>,
    net: Arc<Net>,
    down: AtomicBool,
    /// Serves the first chunk of a blob, then fails as a corrupt block would.
    lying: AtomicBool,
    _dir: tempfile::TempDir,
}

impl FakeNode {
    fn check(&self) -> Result<()> {
        if self.down.load(Ordering::SeqCst) {
            return Err(Error::io(
                format!("{} is down", self.addr),
                std::io::ErrorKind::ConnectionRefused.into(),
            ));
        }
        Ok(())
    }

    fn peer(&self, addr: &str) -> Option<Arc<FakeNode>> {
        self.net.nodes.lock().unwrap().get(addr).cloned()
    }
}

impl BlobStore for FakeNode {
    fn put<'a>(&'a self, source: BlobSource<'a>) -> BoxFuture<'a, Result<Cid>> {
        Box::pin(async move {
            self.check()?;
            self.local.put(source).await
        })
    }

    fn get(&self, cid: Cid) -> BoxFuture<'_, Result<ByteStream>> {
        Box::pin(async move {
            self.check()?;
            let stream = self.local.get(cid).await?;
            if !self.lying.load(Ordering::SeqCst) {
                return Ok(stream);
            }
            let corrupt = Error::Corrupt { cid, detail: "a flipped byte".into() };
            Ok(stream.take(1).chain(stream::iter([Err(corrupt)])).boxed())
        })
    }

    fn pin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.check()?;
            if self.local.has(cid).await? {
                return self.local.pin(cid).await;
            }
            let peers = self.peers.lock().unwrap().clone();
            for peer in peers.iter().filter_map(|a| self.peer(a)) {
                if peer.check().is_ok() && peer.local.has(cid).await? {
                    let bytes = peer.local.get_bytes(cid).await?;
                    self.local.put_bytes(bytes).await?;
                    return Ok(());
                }
            }
            Err(Error::NotFound { cid })
        })
    }

    fn unpin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.check()?;
            self.local.unpin(cid).await
        })
    }

    fn is_pinned(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            self.check()?;
            self.local.is_pinned(cid).await
        })
    }

    fn has(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            self.check()?;
            self.local.has(cid).await
        })
    }

    fn max_blob_size(&self) -> u64 {
        self.local.max_blob_size()
    }
}

impl ProviderNode for FakeNode {
    fn origins(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move {
            self.check()?;
            Ok(vec![self.addr.clone()])
        })
    }

    fn connect<'a>(&'a self, addrs: &'a [String]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            self.check()?;
            let reachable: Vec<String> = addrs
                .iter()
                .filter(|a| self.peer(a).is_some_and(|p| p.check().is_ok()))
                .cloned()
                .collect();
            if reachable.is_empty() {
                return Err(Error::io("no peer answered", std::io::ErrorKind::TimedOut.into()));
            }
            self.peers.lock().unwrap().extend(reachable);
            Ok(())
        })
    }
}

struct Cluster {
    nodes: Vec<Arc<FakeNode>>,
    store: ReplicatedStore,
}

async fn cluster(count: usize, factor: usize) -> Cluster {
    let net = Arc::new(Net::default());
    let mut nodes = Vec::new();
    for i in 0..count {
        let dir = tempfile::tempdir().unwrap();
        let node = Arc::new(FakeNode {
            addr: format!("/fake/{i}"),
            local: LocalStore::open(dir.path()).await.unwrap(),
            peers: Mutex::new(Vec::new()),
            net: net.clone(),
            down: AtomicBool::new(false),
            lying: AtomicBool::new(false),
            _dir: dir,
        });
        net.nodes.lock().unwrap().insert(node.addr.clone(), node.clone());
        nodes.push(node);
    }
    let named = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (format!("node{i}"), n.clone() as Arc<dyn ProviderNode>))
        .collect();
    Cluster { nodes, store: ReplicatedStore::new(named, factor).unwrap() }
}

/// Which nodes pin `cid`, by index.
async fn pinned_on(cluster: &Cluster, cid: Cid) -> Vec<usize> {
    let mut on = Vec::new();
    for (i, node) in cluster.nodes.iter().enumerate() {
        if node.local.is_pinned(cid).await.unwrap() {
            on.push(i);
        }
    }
    on
}

/// A blob of three 256 KiB chunks and a bit, distinct per `seed`.
fn blob(seed: u8) -> Vec<u8> {
    (0..3 * crate::CHUNK_SIZE + 100).map(|i| (i as u8).wrapping_mul(7) ^ seed).collect()
}

#[test]
fn the_factor_must_fit_the_nodes() {
    let none: Vec<(String, Arc<dyn ProviderNode>)> = Vec::new();
    assert!(matches!(
        ReplicatedStore::new(none, 1),
        Err(Error::InvalidFactor { factor: 1, nodes: 0 })
    ));
}

#[tokio::test]
async fn a_write_is_pinned_on_factor_nodes_spread_over_them() {
    let c = cluster(3, 2).await;
    let mut replicas = [0usize; 3];
    for seed in 0..16 {
        let cid = c.store.put_bytes(vec![seed; 100]).await.unwrap();
        let on = pinned_on(&c, cid).await;
        assert_eq!(on.len(), 2, "{on:?}");
        assert_eq!(on[0], 0, "the primary always holds it");
        replicas[on[1]] += 1;
        assert!(c.store.is_pinned(cid).await.unwrap());
        let placement = c.store.placement(cid).await.unwrap();
        assert_eq!((placement.pinned(), placement.is_under_replicated()), (2, false));
    }
    assert!(replicas[1] > 0 && replicas[2] > 0, "replicas all on one node: {replicas:?}");
}

#[tokio::test]
async fn a_down_primary_hands_the_write_to_the_next_node() {
    let c = cluster(3, 2).await;
    c.nodes[0].down.store(true, Ordering::SeqCst);
    let cid = c.store.put_bytes(blob(1)).await.unwrap();
    c.nodes[0].down.store(false, Ordering::SeqCst);
    assert_eq!(pinned_on(&c, cid).await, [1, 2]);
}

#[tokio::test]
async fn too_few_nodes_fail_the_write_and_leave_nothing_pinned() {
    let c = cluster(3, 2).await;
    c.nodes[1].down.store(true, Ordering::SeqCst);
    c.nodes[2].down.store(true, Ordering::SeqCst);
    let error = c.store.put_bytes(blob(2)).await.unwrap_err();
    let Error::UnderReplicated { cid, factor: 2, pinned: 1, failures } = &error else {
        panic!("{error:?}");
    };
    assert!(failures.contains("node1") && failures.contains("node2"), "{failures}");
    assert!(error.to_string().contains("only 1 of the 2"), "{error}");
    assert!(!c.nodes[0].local.is_pinned(*cid).await.unwrap());
}

#[tokio::test]
async fn reads_fall_back_past_down_missing_and_lying_nodes() {
    let c = cluster(3, 2).await;
    let data = blob(3);
    let cid = c.store.put_bytes(data.clone()).await.unwrap();
    c.nodes[0].down.store(true, Ordering::SeqCst);
    assert_eq!(c.store.get_bytes(cid).await.unwrap(), data);
    assert!(c.store.has(cid).await.unwrap());
    // The primary serves one verified chunk, then a bad block: the read carries on from the
    // replica without repeating or losing a byte.
    c.nodes[0].down.store(false, Ordering::SeqCst);
    c.nodes[0].lying.store(true, Ordering::SeqCst);
    assert_eq!(c.store.get_bytes(cid).await.unwrap(), data);
    // With the replica down too, the lie is what the read reports.
    let replica = pinned_on(&c, cid).await[1];
    c.nodes[replica].down.store(true, Ordering::SeqCst);
    let error = c.store.get_bytes(cid).await.unwrap_err();
    assert!(matches!(error, Error::Corrupt { .. }), "{error:?}");
}

#[tokio::test]
async fn a_blob_on_no_node_is_not_found() {
    let c = cluster(3, 2).await;
    let cid = crate::compute_cid(b"nowhere");
    assert!(matches!(c.store.get(cid).await, Err(Error::NotFound { .. })));
    assert!(!c.store.has(cid).await.unwrap());
    assert!(matches!(c.store.pin(cid).await, Err(Error::NotFound { .. })));
    let repair = c.store.repair(cid).await.unwrap();
    assert!(!repair.is_complete() && repair.pinned_on.is_empty(), "{repair:?}");
}

#[tokio::test]
async fn repair_restores_the_factor_once() {
    let c = cluster(3, 2).await;
    let cid = c.store.put_bytes(blob(4)).await.unwrap();
    let replica = pinned_on(&c, cid).await[1];
    // The replica lost the pin (as after garbage collection of a wiped node's repo).
    c.nodes[replica].local.unpin(cid).await.unwrap();
    c.nodes[replica].local.gc().await.unwrap();
    let placement = c.store.placement(cid).await.unwrap();
    assert!(placement.is_under_replicated());
    assert_eq!(placement.nodes[replica].holding, Holding::Absent);
    assert!(!c.store.is_pinned(cid).await.unwrap());

    // A node that is down is reported and passed over.
    let other = 3 - replica;
    c.nodes[other].down.store(true, Ordering::SeqCst);
    let repair = c.store.repair(cid).await.unwrap();
    assert_eq!((repair.before, repair.after), (1, 2), "{repair:?}");
    assert_eq!(repair.pinned_on, [format!("node{replica}")]);
    assert!(repair.failures.iter().any(|f| f.node == format!("node{other}")), "{repair:?}");
    c.nodes[other].down.store(false, Ordering::SeqCst);

    let again = c.store.repair(cid).await.unwrap();
    assert!(again.pinned_on.is_empty() && again.is_complete(), "{again:?}");
    assert_eq!(pinned_on(&c, cid).await.len(), 2);
}

#[tokio::test]
async fn unpin_reaches_every_node_or_says_it_did_not() {
    let c = cluster(3, 2).await;
    let cid = c.store.put_bytes(blob(5)).await.unwrap();
    c.nodes[2].down.store(true, Ordering::SeqCst);
    assert!(c.store.unpin(cid).await.is_err());
    c.nodes[2].down.store(false, Ordering::SeqCst);
    c.store.unpin(cid).await.unwrap();
    assert!(pinned_on(&c, cid).await.is_empty());
    // Pinning again fetches from whoever still holds it.
    c.store.pin(cid).await.unwrap();
    assert_eq!(pinned_on(&c, cid).await.len(), 2);
}
