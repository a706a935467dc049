//! A kubo node through its RPC API (`/api/v0/...`).
//!
//! `put` streams the blob to `add` as a multipart body with exactly this crate's import
//! settings, computing the CID locally from the same bytes on the way; a different answer
//! from kubo is [`Error::CidMismatch`]. `get` fetches the DAG block by block with
//! `block/get` and verifies each against its CID (see [`crate::verify`]), so a node (or
//! proxy) that serves other bytes is caught.

use crate::balanced::{CHUNK_SIZE, DagBuilder, MAX_LINKS};
use crate::source::Chunker;
use crate::store::{BlobStore, ByteStream, DEFAULT_MAX_BLOB_SIZE, ProviderNode};
use crate::verify::{self, BlockSource};
use crate::{BlobSource, Cid, Codec, Error, Result};
use bytes::{Bytes, BytesMut};
use futures_util::future::BoxFuture;
use futures_util::stream;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use url::Url;

/// Largest block accepted from `block/get` (kubo's own limit for blocks it exchanges).
const MAX_BLOCK: usize = 2 << 20;

/// A kubo node as a blob store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct KuboStore {
    /// The API base, ending in `/`.
    api: Url,
    client: reqwest::Client,
    /// Uploads use a fresh connection each: a pooled one the daemon closed meanwhile (it
    /// restarted, or died) would fail mid-body instead of reporting it unreachable.
    upload_client: reqwest::Client,
    max_blob_size: u64,
    block_timeout: Duration,
    /// Reads only what the node holds itself (`offline=true`) instead of letting it search
    /// its peers for a missing block until the request times out.
    offline_reads: bool,
}

impl KuboStore {
    /// A store using the kubo RPC API at `api` (such as `http://127.0.0.1:5001`; the
    /// endpoints are under its `api/v0/`). No request is made yet.
    pub fn new(api: Url) -> Result<Self> {
        let mut api = api;
        if !api.path().ends_with('/') {
            let path = format!("{}/", api.path());
            api.set_path(&path);
        }
        let build = |idle_connections: usize| {
            reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(10))
                .pool_max_idle_per_host(idle_connections)
                .build()
                .map_err(|source| Error::Request { url: api.to_string(), source })
        };
        let client = build(usize::MAX)?;
        let upload_client = build(0)?;
        Ok(Self {
            api,
            client,
            upload_client,
            max_blob_size: DEFAULT_MAX_BLOB_SIZE,
            block_timeout: Duration::from_secs(60),
            offline_reads: false,
        })
    }

    /// Sets the maximum blob size (default 4 GiB).
    pub fn with_max_blob_size(mut self, limit: u64) -> Self {
        self.max_blob_size = limit;
        self
    }

    /// Sets how long one block (or pin) request may take (default 60 s). Uploads have no
    /// overall timeout: a large blob takes as long as it takes.
    pub fn with_block_timeout(mut self, timeout: Duration) -> Self {
        self.block_timeout = timeout;
        self
    }

    /// Makes reads serve only blocks the node holds (default: the node may fetch a block it
    /// lacks from its peers). A [`crate::ReplicatedStore`] reads this way, so a node without
    /// the blob fails at once and the read moves on to the next node.
    pub fn with_offline_reads(mut self, offline: bool) -> Self {
        self.offline_reads = offline;
        self
    }

    /// The API base URL.
    pub fn api_url(&self) -> &Url {
        &self.api
    }

    fn endpoint(&self, command: &str) -> Url {
        self.api.join(&format!("api/v0/{command}")).expect("a relative path joins onto an http URL")
    }

    /// POSTs a command with query arguments and returns the successful response.
    async fn call(&self, command: &str, args: &[(&str, &str)]) -> Result<reqwest::Response> {
        let url = self.endpoint(command);
        let target = with_query(&url, args);
        let send = || self.client.post(target.clone()).timeout(self.block_timeout).send();
        let response = match send().await {
            // A pooled connection the daemon closed since its last use fails like this; the
            // commands sent here are idempotent, so one retry on a new connection tells a
            // restarted daemon from a gone one (which then is `Unreachable`).
            Err(e) if !e.is_connect() && !e.is_timeout() => send().await,
            other => other,
        }
        .map_err(|e| transport_error(&url, e))?;
        check(&url, response).await
    }

    async fn put_source(&self, source: BlobSource<'_>) -> Result<Cid> {
        let url = self.endpoint("add");
        let boundary = boundary();
        let (sender, receiver) = mpsc::channel::<std::io::Result<Bytes>>(4);
        let body = reqwest::Body::wrap_stream(stream::unfold(receiver, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }));
        let request = self
            .upload_client
            .post(with_query(&url, &ADD_ARGS))
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        let answer = async {
            let response = request.send().await.map_err(|e| transport_error(&url, e))?;
            let response = check(&url, response).await?;
            let text = response.text().await.map_err(|e| transport_error(&url, e))?;
            added_cid(&url, &text)
        };
        let upload = async move {
            let mut chunker = Chunker::new(source, self.max_blob_size);
            let mut builder = DagBuilder::default();
            let mut nodes = Vec::new();
            let head = format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"blob\"\r\n\
                 Content-Type: application/octet-stream\r\n\r\n"
            );
            if sender.send(Ok(Bytes::from(head))).await.is_err() {
                return Ok(None);
            }
            loop {
                let chunk = match chunker.next_chunk().await {
                    Ok(Some(chunk)) => chunk,
                    Ok(None) => break,
                    Err(e) => {
                        // Fail the body so kubo sees an aborted upload, not a short blob.
                        let _ = sender.send(Err(std::io::Error::other("upload aborted"))).await;
                        return Err(e);
                    }
                };
                builder.push_leaf(
                    Cid::of_block(Codec::Raw, &chunk),
                    chunk.len() as u64,
                    &mut nodes,
                );
                // kubo builds its own nodes; only the root is compared.
                nodes.clear();
                if sender.send(Ok(chunk)).await.is_err() {
                    return Ok(None);
                }
            }
            let tail = format!("\r\n--{boundary}--\r\n");
            if sender.send(Ok(Bytes::from(tail))).await.is_err() {
                return Ok(None);
            }
            Ok(Some(builder.finish(&mut nodes)))
        };
        let (uploaded, answer) = tokio::join!(upload, answer);
        match uploaded? {
            Some(expected) => {
                let got = answer?;
                if got != expected {
                    return Err(Error::CidMismatch { expected, got });
                }
                Ok(expected)
            }
            // kubo stopped reading the body: its answer says why.
            None => match answer {
                Err(e) => Err(e),
                Ok(got) => Err(Error::Protocol {
                    url: url.to_string(),
                    detail: format!("kubo answered {got} before the upload was complete"),
                }),
            },
        }
    }

    async fn open_blob(&self, cid: Cid) -> Result<ByteStream> {
        let source = KuboSource { store: self.clone(), root: cid };
        verify::open(cid, source).await
    }

    async fn fetch_block(&self, root: Cid, cid: Cid) -> Result<Bytes> {
        let arg = cid.to_string();
        let args: &[(&str, &str)] = if self.offline_reads {
            &[("arg", &arg), ("offline", "true")]
        } else {
            &[("arg", &arg)]
        };
        let response = match self.call("block/get", args).await {
            Err(Error::Http { message, .. }) if cid == root && is_not_found(&message) => {
                return Err(Error::NotFound { cid });
            }
            other => other?,
        };
        let url = self.endpoint("block/get");
        let mut response = response;
        let mut block = BytesMut::new();
        while let Some(part) = response.chunk().await.map_err(|e| transport_error(&url, e))? {
            if block.len() + part.len() > MAX_BLOCK {
                return Err(Error::Corrupt {
                    cid: root,
                    detail: format!("kubo served more than {MAX_BLOCK} bytes for block {cid}"),
                });
            }
            block.extend_from_slice(&part);
        }
        Ok(block.freeze())
    }
}

/// `add` arguments: exactly the import settings whose CIDs [`crate::compute_cid`] computes,
/// spelled out so a node's `Import.*` configuration cannot change them.
const ADD_ARGS: [(&str, &str); 11] = [
    ("cid-version", "1"),
    ("raw-leaves", "true"),
    ("hash", "sha2-256"),
    ("chunker", CHUNKER),
    ("max-file-links", MAX_LINKS_TEXT),
    ("trickle", "false"),
    ("inline", "false"),
    ("wrap-with-directory", "false"),
    ("pin", "true"),
    ("quieter", "true"),
    ("progress", "false"),
];
const CHUNKER: &str = "size-262144";
const MAX_LINKS_TEXT: &str = "174";
const _: () = assert!(CHUNK_SIZE == 262_144 && MAX_LINKS == 174);

impl BlobStore for KuboStore {
    fn put<'a>(&'a self, source: BlobSource<'a>) -> BoxFuture<'a, Result<Cid>> {
        Box::pin(self.put_source(source))
    }

    fn get(&self, cid: Cid) -> BoxFuture<'_, Result<ByteStream>> {
        Box::pin(self.open_blob(cid))
    }

    fn pin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let arg = cid.to_string();
            let args = [("arg", arg.as_str()), ("recursive", "true"), ("progress", "false")];
            match self.call("pin/add", &args).await {
                Err(Error::Http { message, .. }) if is_not_found(&message) => {
                    Err(Error::NotFound { cid })
                }
                other => other.map(drop),
            }
        })
    }

    fn unpin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let arg = cid.to_string();
            // offline: a node that lacks the blob must not go looking for it to unpin it.
            let args = [("arg", arg.as_str()), ("recursive", "true"), ("offline", "true")];
            match self.call("pin/rm", &args).await {
                // A blob the node does not hold is not pinned there either.
                Err(Error::Http { message, .. })
                    if message.contains("not pinned") || is_not_found(&message) =>
                {
                    Ok(())
                }
                other => other.map(drop),
            }
        })
    }

    fn is_pinned(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let arg = cid.to_string();
            let url = self.endpoint("pin/ls");
            // offline: pins are local; a networked node must not search peers for the root.
            let args = [("arg", arg.as_str()), ("type", "recursive"), ("offline", "true")];
            let response = match self.call("pin/ls", &args).await {
                Err(Error::Http { message, .. })
                    if message.contains("not pinned") || is_not_found(&message) =>
                {
                    return Ok(false);
                }
                other => other?,
            };
            #[derive(Deserialize)]
            struct PinLs {
                #[serde(rename = "Keys", default)]
                keys: std::collections::HashMap<String, serde_json::Value>,
            }
            let text = response.text().await.map_err(|e| transport_error(&url, e))?;
            // With streaming output each line is one object; without, one object has them all.
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let answer: PinLs = serde_json::from_str(line).map_err(|e| Error::Protocol {
                    url: url.to_string(),
                    detail: format!("pin/ls answered {line:?}: {e}"),
                })?;
                if answer.keys.keys().any(|k| k.parse::<Cid>().ok() == Some(cid)) {
                    return Ok(true);
                }
            }
            Ok(false)
        })
    }

    /// Whether kubo holds the root block itself (`block/stat` with `offline=true`).
    fn has(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move {
            let arg = cid.to_string();
            // offline: only what the node holds itself, never a network search.
            match self.call("block/stat", &[("arg", &arg), ("offline", "true")]).await {
                Ok(_) => Ok(true),
                Err(Error::Http { message, .. }) if is_not_found(&message) => Ok(false),
                Err(e) => Err(e),
            }
        })
    }

    fn max_blob_size(&self) -> u64 {
        self.max_blob_size
    }
}

impl ProviderNode for KuboStore {
    fn origins(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async move {
            #[derive(Deserialize)]
            struct Id {
                #[serde(rename = "Addresses", default)]
                addresses: Option<Vec<String>>,
            }
            let url = self.endpoint("id");
            let id: Id = self.call("id", &[]).await?.json().await.map_err(|e| Error::Protocol {
                url: url.to_string(),
                detail: format!("id: {e}"),
            })?;
            Ok(id.addresses.unwrap_or_default())
        })
    }

    fn connect<'a>(&'a self, addrs: &'a [String]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let mut last_error = None;
            let mut connected = false;
            for addr in addrs {
                match self.call("swarm/connect", &[("arg", addr)]).await {
                    Ok(_) => connected = true,
                    Err(e) => last_error = Some(e),
                }
            }
            match last_error {
                Some(e) if !connected => Err(e),
                _ => Ok(()),
            }
        })
    }
}

/// Fetches blocks with `block/get` for the verifying walker.
struct KuboSource {
    store: KuboStore,
    root: Cid,
}

impl BlockSource for KuboSource {
    fn fetch(&mut self, cid: Cid, _leaf_len: Option<u64>) -> BoxFuture<'_, Result<Bytes>> {
        Box::pin(self.store.fetch_block(self.root, cid))
    }
}

/// Turns a non-2xx answer into an error carrying kubo's message.
async fn check(url: &Url, response: reqwest::Response) -> Result<reqwest::Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    #[derive(Deserialize)]
    struct KuboError {
        #[serde(rename = "Message")]
        message: String,
    }
    let text = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<KuboError>(&text).map(|e| e.message).unwrap_or(text);
    Err(Error::Http { url: without_query(url), status: status.as_u16(), message })
}

/// kubo's words for a block it does not have (offline, or `block/stat --offline`).
fn is_not_found(message: &str) -> bool {
    message.contains("not found") || message.contains("could not find")
}

/// The root CID from `add`'s answer: one JSON object per line, the last one is the root.
fn added_cid(url: &Url, text: &str) -> Result<Cid> {
    #[derive(Deserialize)]
    struct Added {
        #[serde(rename = "Hash")]
        hash: Option<String>,
        #[serde(rename = "Message")]
        message: Option<String>,
    }
    let protocol = |detail: String| Error::Protocol { url: without_query(url), detail };
    let mut root = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let added: Added = serde_json::from_str(line)
            .map_err(|e| protocol(format!("add answered {line:?}: {e}")))?;
        if let Some(message) = added.message {
            return Err(Error::Http { url: without_query(url), status: 200, message });
        }
        if let Some(hash) = added.hash {
            root = Some(hash);
        }
    }
    let root = root.ok_or_else(|| protocol(format!("add reported no CID: {text:?}")))?;
    root.parse().map_err(|e| protocol(format!("add reported {root:?}: {e}")))
}

fn transport_error(url: &Url, source: reqwest::Error) -> Error {
    let url = without_query(url);
    if source.is_connect() {
        Error::Unreachable { url, source }
    } else {
        Error::Request { url, source }
    }
}

fn with_query(url: &Url, args: &[(&str, &str)]) -> Url {
    let mut url = url.clone();
    if !args.is_empty() {
        url.query_pairs_mut().extend_pairs(args);
    }
    url
}

fn without_query(url: &Url) -> String {
    let mut url = url.clone();
    url.set_query(None);
    url.to_string()
}

/// A multipart boundary that cannot plausibly occur in the data: 128 bits derived from the
/// time, the process and a counter.
fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = Sha256::new();
    hasher.update(std::process::id().to_le_bytes());
    hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
    let nanos =
        SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
    hasher.update(nanos.to_le_bytes());
    let digest = hasher.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("ehr-store-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_add_answers() {
        let url = Url::parse("http://127.0.0.1:5001/api/v0/add").unwrap();
        let cid = "bafkreigks6arfsq3xxfpvqrrwonchxcnu6do76auprhhfomao6c273sixm";
        let text = format!("{{\"Name\":\"blob\",\"Hash\":\"{cid}\",\"Size\":\"1\"}}\n");
        assert_eq!(added_cid(&url, &text).unwrap().to_string(), cid);
        assert!(matches!(
            added_cid(&url, "{\"Message\":\"boom\",\"Code\":0,\"Type\":\"error\"}"),
            Err(Error::Http { .. })
        ));
        assert!(matches!(added_cid(&url, ""), Err(Error::Protocol { .. })));
        assert!(matches!(added_cid(&url, "{\"Hash\":\"Qm\"}"), Err(Error::Protocol { .. })));
    }

    #[test]
    fn boundaries_differ() {
        assert_ne!(boundary(), boundary());
    }

    #[tokio::test]
    async fn an_unreachable_node_is_reported_as_such() {
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let url = Url::parse(&format!("http://127.0.0.1:{port}")).unwrap();
        let store = KuboStore::new(url).unwrap();
        let cid = crate::compute_cid(b"x");
        match store.has(cid).await {
            Err(Error::Unreachable { url, .. }) => assert!(url.contains(&port.to_string())),
            other => panic!("expected Unreachable, got {other:?}"),
        }
        let error = store.put(BlobSource::bytes(&b"hello"[..])).await.unwrap_err();
        assert!(matches!(error, Error::Unreachable { .. }), "{error:?}");
        assert!(error.to_string().contains("is the daemon running"));
    }
}
