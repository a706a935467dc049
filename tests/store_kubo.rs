//! ehr-store against the real kubo that ehr-devstack starts: put/get/pin/unpin/has, CIDs
//! equal to kubo's own `add` (and to the recorded vectors) from one byte to a two-level DAG,
//! tampered blocks caught (on the node's disk and in a lying proxy), a lying `add` answer
//! caught, and an unreachable node reported as such.

#[path = "../crates/ehr-store/tests/support/vectors.rs"]
mod vectors;

use ehr_store::{
    BlobSource, BlobStore, BlobStoreExt, CHUNK_SIZE, Cid, Codec, Error, KuboStore, LocalStore,
    MAX_LINKS, ProviderNode, compute_cid,
};
use ehrkit_tests::devstack::{DevStack, StackOptions};
use reqwest::Url;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

async fn kubo_stack() -> eyre::Result<(DevStack, KuboStore)> {
    let stack = DevStack::start(StackOptions { kubo: true, ..Default::default() }).await?;
    let store = KuboStore::new(stack.kubo().expect("kubo was requested").api_url())?;
    Ok((stack, store))
}

fn blob(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(29).wrapping_add(seed) ^ (i >> 13) as u8).collect()
}

#[tokio::test]
async fn put_get_pin_unpin_has() -> eyre::Result<()> {
    let (_stack, store) = kubo_stack().await?;
    let data = blob(3 * CHUNK_SIZE + 11, 1);
    let cid = store.put_bytes(data.clone()).await?;
    assert_eq!(cid, compute_cid(&data));
    assert!(store.has(cid).await?);
    assert!(store.is_pinned(cid).await?, "add pins");
    assert_eq!(store.get_bytes(cid).await?, data);

    store.unpin(cid).await?;
    assert!(!store.is_pinned(cid).await?);
    store.unpin(cid).await?; // idempotent
    assert!(store.has(cid).await?, "unpinned blocks stay until kubo's gc");
    store.pin(cid).await?;
    assert!(store.is_pinned(cid).await?);

    let small = store.put_bytes(b"one envelope".to_vec()).await?;
    assert_eq!(small.codec(), Codec::Raw);
    assert_eq!(store.get_bytes(small).await?, &b"one envelope"[..]);

    // As a provider node for a pinning service: its addresses are the pin's origins.
    let origins = ProviderNode::origins(&store).await?;
    assert!(origins.iter().all(|a| a.starts_with('/')), "{origins:?}");
    ProviderNode::connect(&store, &[]).await?;

    let missing = Cid::of_block(Codec::Raw, b"never added anywhere");
    assert!(!store.has(missing).await?);
    assert!(!store.is_pinned(missing).await?);
    assert!(matches!(
        store.get(missing).await,
        Err(Error::NotFound { cid }) if cid == missing
    ));

    // Too large: refused while streaming, nothing pinned.
    let limited = store.clone().with_max_blob_size(CHUNK_SIZE as u64);
    let big = blob(CHUNK_SIZE + 1, 2);
    assert!(matches!(limited.put_bytes(big.clone()).await, Err(Error::TooLarge { .. })));
    assert!(!store.is_pinned(compute_cid(&big)).await?);
    Ok(())
}

/// The recorded vectors (1 byte, 262144, 262145, 174 chunks + 1, 200 and 400 chunks...):
/// kubo's `add` with the store's settings gives the recorded CID, the same CID a LocalStore
/// computes, and the blob reads back verified block by block.
#[tokio::test]
async fn cids_equal_kubos_own_add_and_the_vectors() -> eyre::Result<()> {
    let (_stack, store) = kubo_stack().await?;
    let dir = TempDir::new()?;
    let local = LocalStore::open(&dir.0).await?;
    let all = vectors::vectors();
    assert!(all.iter().any(|v| v.size == 1));
    assert!(all.iter().any(|v| v.size == CHUNK_SIZE as u64));
    assert!(all.iter().any(|v| v.size == CHUNK_SIZE as u64 + 1));
    assert!(all.iter().any(|v| v.size > (MAX_LINKS * CHUNK_SIZE) as u64));
    for vector in all {
        let source = BlobSource::reader(vector.generator.reader(vector.size));
        // put fails with CidMismatch if kubo's CID differs from the one computed locally.
        let by_kubo = store.put(source).await?;
        assert_eq!(by_kubo.to_string(), vector.cid, "{}", vector.name);
        let by_local = local.put(BlobSource::reader(vector.generator.reader(vector.size))).await?;
        assert_eq!(by_local, by_kubo, "{}", vector.name);
        if vector.size <= 64 << 20 {
            let back = store.get_bytes(by_kubo).await?;
            assert!(
                back[..] == vector.generator.bytes(vector.size)[..],
                "{} reads back from kubo",
                vector.name
            );
        }
    }
    Ok(())
}

/// A directory removed when dropped (this package has no tempfile dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> eyre::Result<Self> {
        let dir = std::env::temp_dir().join(format!("ehr-store-kubo-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A node whose block store was altered on disk serves the altered bytes (kubo does not
/// re-hash on read by default); the store catches them before handing them out.
#[tokio::test]
async fn a_block_tampered_on_the_nodes_disk_is_caught() -> eyre::Result<()> {
    let (stack, store) = kubo_stack().await?;
    let data = blob(3 * CHUNK_SIZE, 3);
    let cid = store.put_bytes(data.clone()).await?;
    let second_leaf = &data[CHUNK_SIZE..2 * CHUNK_SIZE];
    let repo = stack.kubo().expect("kubo").repo().to_path_buf();
    let file = find_block_file(&repo.join("blocks"), second_leaf)?
        .ok_or_else(|| eyre::eyre!("the second leaf's block file is in the repository"))?;
    let mut bytes = std::fs::read(&file)?;
    bytes[1000] ^= 0x80;
    std::fs::write(&file, bytes)?;

    let (verified, error) = read(&store, cid).await;
    assert_eq!(verified, data[..CHUNK_SIZE], "only the genuine first leaf came out");
    match error {
        Some(Error::Corrupt { cid: reported, detail }) => {
            assert_eq!(reported, cid);
            let leaf = Cid::of_block(Codec::Raw, second_leaf);
            assert!(detail.contains(&leaf.to_string()), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    Ok(())
}

fn find_block_file(dir: &Path, content: &[u8]) -> eyre::Result<Option<PathBuf>> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if let Some(found) = find_block_file(&path, content)? {
                return Ok(Some(found));
            }
        } else if path.extension().is_some_and(|e| e == "data")
            && std::fs::metadata(&path)?.len() == content.len() as u64
            && std::fs::read(&path)? == content
        {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// Reads a blob, returning the verified bytes written before the first error and the error.
async fn read(store: &KuboStore, cid: Cid) -> (Vec<u8>, Option<Error>) {
    let mut out = Vec::new();
    let error = store.get_to_writer(cid, &mut out).await.err();
    (out, error)
}

/// A loopback HTTP proxy in front of kubo that can rewrite kubo's answers: a stand-in for
/// a lying node or gateway. One request per connection; stops when dropped.
struct Proxy {
    url: Url,
    stop: Arc<AtomicBool>,
}

/// Rewrites an answer body, given the request target (path and query).
type Rewrite = fn(&str, &mut Vec<u8>);

impl Proxy {
    fn start(upstream: &Url, rewrite: Rewrite) -> eyre::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = Url::parse(&format!("http://{}", listener.local_addr()?))?;
        let upstream = format!(
            "{}:{}",
            upstream.host_str().unwrap_or("127.0.0.1"),
            upstream.port().unwrap_or(80)
        );
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let upstream = upstream.clone();
                        std::thread::spawn(move || {
                            let _ = relay(client, &upstream, rewrite);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Self { url, stop })
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Forwards one request (asking kubo to close afterwards), reads kubo's whole answer,
/// de-chunks it, lets `rewrite` change the body and sends it on with a Content-Length.
fn relay(mut client: TcpStream, upstream: &str, rewrite: Rewrite) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if client.read(&mut byte)? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let target = head.split(' ').nth(1).unwrap_or("").to_owned();
    let mut forwarded: String = head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("connection:"))
        .map(|line| format!("{line}\r\n"))
        .collect();
    forwarded.push_str("Connection: close\r\n\r\n");
    let mut server = TcpStream::connect(upstream)?;
    server.write_all(forwarded.as_bytes())?;
    // The request body (possibly chunked) is pumped as is until the client stops sending.
    let mut client_reader = client.try_clone()?;
    let mut server_writer = server.try_clone()?;
    std::thread::spawn(move || std::io::copy(&mut client_reader, &mut server_writer));

    let mut answer = Vec::new();
    server.read_to_end(&mut answer)?;
    let split =
        answer.windows(4).position(|w| w == b"\r\n\r\n").map(|at| at + 4).unwrap_or(answer.len());
    let answer_head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let chunked = answer_head.to_ascii_lowercase().contains("transfer-encoding: chunked");
    let mut body = if chunked { dechunk(&answer[split..]) } else { answer[split..].to_vec() };
    rewrite(&target, &mut body);
    let mut out: String = answer_head
        .trim_end_matches("\r\n")
        .split("\r\n")
        .filter(|line| {
            let line = line.to_ascii_lowercase();
            !line.starts_with("transfer-encoding:")
                && !line.starts_with("content-length:")
                && !line.starts_with("trailer:")
                && !line.starts_with("connection:")
        })
        .map(|line| format!("{line}\r\n"))
        .collect();
    out.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", body.len()));
    client.write_all(out.as_bytes())?;
    client.write_all(&body)?;
    client.shutdown(std::net::Shutdown::Both)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .unwrap_or(0);
        data = &data[end + 2..];
        if size == 0 || size > data.len() {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// Flips a byte in every raw leaf `block/get` serves.
#[allow(clippy::ptr_arg)] // the signature is `Rewrite`, which may also replace the body
fn tamper_leaves(target: &str, body: &mut Vec<u8>) {
    if target.starts_with("/api/v0/block/get") && target.contains("arg=bafkrei") {
        let middle = body.len() / 2;
        if let Some(byte) = body.get_mut(middle) {
            *byte ^= 0x01;
        }
    }
}

/// Reports another CID for every `add`.
fn lie_about_add(target: &str, body: &mut Vec<u8>) {
    if target.starts_with("/api/v0/add") {
        let text = String::from_utf8_lossy(body).into_owned();
        if let Some(start) = text.find("\"Hash\":\"") {
            let start = start + 8;
            let end = start + text[start..].find('"').unwrap_or(0);
            let other = compute_cid(b"a different blob").to_string();
            *body = format!("{}{other}{}", &text[..start], &text[end..]).into_bytes();
        }
    }
}

#[tokio::test]
async fn a_lying_proxy_is_caught() -> eyre::Result<()> {
    let (stack, store) = kubo_stack().await?;
    let api = stack.kubo().expect("kubo").api_url();
    let data = blob(2 * CHUNK_SIZE + 5, 4);
    let cid = store.put_bytes(data.clone()).await?;

    // Blocks with other bytes: caught, nothing unverified comes out.
    let proxy = Proxy::start(&api, tamper_leaves)?;
    let through_proxy = KuboStore::new(proxy.url.clone())?;
    let (verified, error) = read(&through_proxy, cid).await;
    assert!(verified.is_empty(), "the first leaf was already tampered");
    assert!(matches!(error, Some(Error::Corrupt { cid: c, .. }) if c == cid), "{error:?}");
    let small = store.put_bytes(b"small".to_vec()).await?;
    assert!(matches!(through_proxy.get(small).await, Err(Error::Corrupt { .. })));
    drop(proxy);

    // An add that reports another CID.
    let proxy = Proxy::start(&api, lie_about_add)?;
    let through_proxy = KuboStore::new(proxy.url.clone())?;
    let envelope = b"an envelope".to_vec();
    match through_proxy.put_bytes(envelope.clone()).await {
        Err(Error::CidMismatch { expected, got }) => {
            assert_eq!(expected, compute_cid(&envelope));
            assert_eq!(got, compute_cid(b"a different blob"));
        }
        other => panic!("expected CidMismatch, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn an_unreachable_node_is_reported() -> eyre::Result<()> {
    let (mut stack, store) = kubo_stack().await?;
    let cid = store.put_bytes(b"before the crash".to_vec()).await?;
    stack.kubo_mut().expect("kubo").kill()?;
    for error in [
        store.has(cid).await.err(),
        store.get(cid).await.err(),
        store.put_bytes(b"after".to_vec()).await.err(),
        store.pin(cid).await.err(),
    ] {
        match error {
            Some(error @ Error::Unreachable { .. }) => {
                assert!(error.to_string().contains("is the daemon running"), "{error}");
            }
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }
    Ok(())
}
