//! The embedded store: a content-addressed directory, no daemon.
//!
//! ```text
//! ROOT/blobs/<xx>/<cid>      the blob's bytes, exactly as stored
//! ROOT/blobs/<xx>/<cid>.dag  the DAG's internal nodes (blobs over one chunk only)
//! ROOT/pins/<cid>            an empty file: the blob is pinned
//! ROOT/tmp/                  files being written
//! ```
//!
//! `<xx>` is the next-to-last two characters of the CID (kubo's flatfs `next-to-last/2`
//! sharding): the CID's start is the same for every blob and its last character carries only
//! 3 bits, so these two spread blobs evenly over 1024 directories.
//!
//! Writes go to a temporary file under `tmp/` (same file system, so the rename is atomic),
//! which is fsynced, renamed into place, and the directory fsynced: a blob is either
//! complete or absent, also after a crash. The sidecar is renamed in before the data file,
//! so a visible blob always has its nodes. On any error the temporary files are removed.
//!
//! Reads hash every 256 KiB leaf (and every node from the sidecar) against the CID its
//! parent names before the bytes are handed out; see [`crate::verify`].

use crate::balanced::{Block, CHUNK_SIZE, DagBuilder};
use crate::blob_file::{self, BlobFileWriter};
use crate::source::Chunker;
use crate::store::{BlobStore, ByteStream, DEFAULT_MAX_BLOB_SIZE, ProviderNode};
use crate::verify::{self, BlockSource};
use crate::{BlobSource, Cid, Codec, Error, Result, varint};
use bytes::{Bytes, BytesMut};
use futures_util::future::BoxFuture;
use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};
use tokio::sync::RwLock;
use tokio::task::{JoinHandle, spawn_blocking};

/// First bytes of a sidecar file, so a stray file is not mistaken for one.
const SIDECAR_MAGIC: &[u8] = b"ehr-store dag v1\n";
/// The largest block read whole (a raw root; ours are at most one chunk).
const MAX_BLOCK: u64 = 2 << 20;
/// How much of the data file one background read fetches.
const READ_AHEAD: usize = 4 * CHUNK_SIZE;
/// Temporary files untouched for this long belong to a put that died; `gc` removes them.
const STALE_TEMP: Duration = Duration::from_secs(3600);

/// The embedded blob store. Cheap to clone; clones share the directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    inner: Arc<Inner>,
    max_blob_size: u64,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    /// Puts commit under the read lock and `gc` sweeps under the write lock, so a sweep
    /// never sees a blob whose pin is still being written (within this process).
    commit_lock: RwLock<()>,
}

/// What [`LocalStore::gc`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Unpinned blobs deleted.
    pub removed: Vec<Cid>,
    /// Bytes freed (data files, sidecars, stale temporary files).
    pub freed_bytes: u64,
}

impl LocalStore {
    /// Opens the store at `root`, creating its directories if needed.
    pub async fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let dirs = root.clone();
        blocking(move || {
            for dir in ["blobs", "pins", "tmp"] {
                let path = dirs.join(dir);
                fs::create_dir_all(&path)
                    .map_err(|e| Error::io(format!("creating {}", path.display()), e))?;
            }
            Ok(())
        })
        .await?;
        Ok(Self {
            inner: Arc::new(Inner { root, commit_lock: RwLock::new(()) }),
            max_blob_size: DEFAULT_MAX_BLOB_SIZE,
        })
    }

    /// Sets the maximum blob size (default 4 GiB).
    pub fn with_max_blob_size(mut self, limit: u64) -> Self {
        self.max_blob_size = limit;
        self
    }

    /// The store's directory.
    pub fn path(&self) -> &Path {
        &self.inner.root
    }

    /// Where the blob's bytes are (or would be) kept.
    pub fn blob_path(&self, cid: &Cid) -> PathBuf {
        self.shard_dir(cid).join(cid.to_string())
    }

    /// Where the blob's internal DAG nodes are kept (only for blobs over one chunk).
    pub fn sidecar_path(&self, cid: &Cid) -> PathBuf {
        self.shard_dir(cid).join(format!("{cid}.dag"))
    }

    fn shard_dir(&self, cid: &Cid) -> PathBuf {
        let text = cid.to_string();
        self.inner.root.join("blobs").join(&text[text.len() - 3..text.len() - 1])
    }

    fn pin_path(&self, cid: &Cid) -> PathBuf {
        self.inner.root.join("pins").join(cid.to_string())
    }

    /// Deletes every blob that is not pinned, sidecars without a blob, and temporary files
    /// of puts that died (untouched for an hour).
    pub async fn gc(&self) -> Result<GcReport> {
        let _sweeping = self.inner.commit_lock.write().await;
        let root = self.inner.root.clone();
        blocking(move || sweep(&root)).await
    }

    /// Every blob in the store.
    pub async fn list(&self) -> Result<Vec<Cid>> {
        let root = self.inner.root.clone();
        blocking(move || {
            let mut cids = Vec::new();
            for_each_blob_file(&root, |_, name| {
                if let Ok(cid) = name.parse::<Cid>() {
                    cids.push(cid);
                }
                Ok(())
            })?;
            cids.sort();
            Ok(cids)
        })
        .await
    }

    async fn put_source(&self, source: BlobSource<'_>) -> Result<Cid> {
        let data = TempFile::create(&self.inner.root.join("tmp")).await?;
        self.put_into(source, data).await
    }

    /// Streams the blob into `data` and commits it. Every early return drops `data` (and the
    /// sidecar), which removes the temporary files.
    async fn put_into(&self, source: BlobSource<'_>, data: TempFile) -> Result<Cid> {
        let mut chunker = Chunker::new(source, self.max_blob_size);
        let mut builder = DagBuilder::default();
        let mut nodes = Vec::new();
        // One write runs on the blocking pool while the next chunk is read and hashed: the
        // writer travels with its write and comes back when it is done.
        let file = Arc::clone(&data.file);
        let mut in_flight = spawn_blocking(move || Ok(BlobFileWriter::new(file)));
        while let Some(chunk) = chunker.next_chunk().await? {
            let cid = Cid::of_block(Codec::Raw, &chunk);
            builder.push_leaf(cid, chunk.len() as u64, &mut nodes);
            let mut writer = joined(in_flight).await.map_err(|e| write_error(&data.path, e))?;
            in_flight = spawn_blocking(move || writer.write(&chunk).map(|()| writer));
        }
        let writer = joined(in_flight).await.map_err(|e| write_error(&data.path, e))?;
        joined(spawn_blocking(move || writer.finish()))
            .await
            .map_err(|e| write_error(&data.path, e))?;
        let root = builder.finish(&mut nodes);
        data.sync().await?;
        let sidecar = if nodes.is_empty() {
            None
        } else {
            Some(write_sidecar(&self.inner.root.join("tmp"), &nodes).await?)
        };
        self.commit(root, data, sidecar).await?;
        Ok(root)
    }

    /// Moves the finished temporary files into place. Pin first: a sweep that sees the
    /// blob also sees its pin. Sidecar before data: a visible blob has its nodes.
    async fn commit(&self, root: Cid, data: TempFile, sidecar: Option<TempFile>) -> Result<()> {
        let _committing = self.inner.commit_lock.read().await;
        let pin = self.pin_path(&root);
        let shard = self.shard_dir(&root);
        let blob = self.blob_path(&root);
        let sidecar_dest = self.sidecar_path(&root);
        blocking(move || {
            write_pin(&pin)?;
            if !shard.is_dir() {
                fs::create_dir_all(&shard).map_err(|e| write_error(&shard, e))?;
                sync_dir(shard.parent().expect("a shard has a parent"))?;
            }
            let mut data = data;
            if let Some(mut sidecar) = sidecar {
                sidecar.persist(&sidecar_dest)?;
                sync_dir(&shard)?;
            }
            // Renaming over an existing copy makes `put` idempotent and repairs a damaged one.
            data.persist(&blob)?;
            sync_dir(&shard)
        })
        .await
    }

    async fn open_blob(&self, cid: Cid) -> Result<ByteStream> {
        let path = self.blob_path(&cid);
        let sidecar = self.sidecar_path(&cid);
        let (file, len, nodes, direct) = blocking(move || {
            let file = match File::open(&path) {
                Ok(file) => file,
                Err(e) if e.kind() == ErrorKind::NotFound => return Err(Error::NotFound { cid }),
                Err(e) => return Err(Error::io(format!("opening {}", path.display()), e)),
            };
            let len = file
                .metadata()
                .map_err(|e| Error::io(format!("reading {}", path.display()), e))?
                .len();
            let nodes = match cid.codec() {
                Codec::Raw => HashMap::new(),
                Codec::DagPb => read_sidecar(cid, &sidecar)?,
            };
            let direct = blob_file::read_directly(&file, len);
            Ok((file, len, nodes, direct))
        })
        .await?;
        let source =
            LocalSource { root: cid, reader: ReadAhead::new(Arc::new(file), len, direct), nodes };
        verify::open(cid, source).await
    }
}

impl BlobStore for LocalStore {
    fn put<'a>(&'a self, source: BlobSource<'a>) -> BoxFuture<'a, Result<Cid>> {
        Box::pin(self.put_source(source))
    }

    fn get(&self, cid: Cid) -> BoxFuture<'_, Result<ByteStream>> {
        Box::pin(self.open_blob(cid))
    }

    fn pin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            if !self.has(cid).await? {
                return Err(Error::NotFound { cid });
            }
            let pin = self.pin_path(&cid);
            blocking(move || write_pin(&pin)).await
        })
    }

    fn unpin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        let pin = self.pin_path(&cid);
        Box::pin(blocking(move || match fs::remove_file(&pin) {
            Ok(()) => sync_dir(pin.parent().expect("a pin has a parent")),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", pin.display()), e)),
        }))
    }

    fn is_pinned(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        let pin = self.pin_path(&cid);
        Box::pin(blocking(move || exists(&pin)))
    }

    fn has(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        let blob = self.blob_path(&cid);
        let sidecar = self.sidecar_path(&cid);
        Box::pin(blocking(move || {
            Ok(exists(&blob)? && (cid.codec() == Codec::Raw || exists(&sidecar)?))
        }))
    }

    fn max_blob_size(&self) -> u64 {
        self.max_blob_size
    }
}

impl ProviderNode for LocalStore {
    /// A directory cannot be dialled: no origins.
    fn origins(&self) -> BoxFuture<'_, Result<Vec<String>>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    /// Nothing to dial from a directory.
    fn connect<'a>(&'a self, _addrs: &'a [String]) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
}

/// Reads a blob for the verifying walker: leaves sequentially from the data file, nodes
/// from the sidecar.
struct LocalSource {
    root: Cid,
    reader: ReadAhead,
    nodes: HashMap<Cid, Bytes>,
}

impl BlockSource for LocalSource {
    fn fetch(&mut self, cid: Cid, leaf_len: Option<u64>) -> BoxFuture<'_, Result<Bytes>> {
        Box::pin(async move {
            let corrupt = |detail: String| Error::Corrupt { cid: self.root, detail };
            match (cid.codec(), leaf_len) {
                (Codec::DagPb, _) => self
                    .nodes
                    .get(&cid)
                    .cloned()
                    .ok_or_else(|| corrupt(format!("node {cid} is missing from the sidecar"))),
                (Codec::Raw, Some(len)) => {
                    let offset = self.reader.offset;
                    let bytes = self.reader.read(len as usize).await?;
                    if (bytes.len() as u64) < len {
                        return Err(corrupt(format!(
                            "data file truncated: {} of {len} bytes of leaf {cid} at offset {offset}",
                            bytes.len()
                        )));
                    }
                    Ok(bytes)
                }
                (Codec::Raw, None) => {
                    if self.reader.len > MAX_BLOCK {
                        return Err(corrupt(format!(
                            "a single-block blob cannot be {} bytes",
                            self.reader.len
                        )));
                    }
                    self.reader.read(self.reader.len as usize).await
                }
            }
        })
    }

    fn finish(&mut self) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            let extra = self.reader.len.saturating_sub(self.reader.offset);
            if extra > 0 {
                return Err(Error::Corrupt {
                    cid: self.root,
                    detail: format!("{extra} bytes after the last block"),
                });
            }
            Ok(())
        })
    }
}

/// Sequential reads of the data file with one background read ahead, so the disk works
/// while the previous leaf is hashed.
struct ReadAhead {
    file: Arc<File>,
    len: u64,
    /// Position of the next byte handed out.
    offset: u64,
    buffer: Bytes,
    /// Where the next background read starts.
    next_read: u64,
    pending: Option<JoinHandle<io::Result<Bytes>>>,
    /// The file reads around the page cache (a large blob; see `blob_file`).
    direct: bool,
}

impl ReadAhead {
    fn new(file: Arc<File>, len: u64, direct: bool) -> Self {
        Self { file, len, offset: 0, buffer: Bytes::new(), next_read: 0, pending: None, direct }
    }

    fn start_read(&mut self) {
        if self.pending.is_none() && self.next_read < self.len {
            let size = READ_AHEAD.min((self.len - self.next_read) as usize);
            let file = Arc::clone(&self.file);
            let at = self.next_read;
            let direct = self.direct;
            self.next_read += size as u64;
            // The file may have shrunk since it was measured: the read stops at its end.
            self.pending =
                Some(spawn_blocking(move || blob_file::read_at(&file, at, size, direct)));
        }
    }

    /// Up to `len` bytes (fewer only at the end of the file).
    async fn read(&mut self, len: usize) -> Result<Bytes> {
        let mut out = BytesMut::new();
        while out.len() + self.buffer.len() < len {
            self.start_read();
            let Some(pending) = self.pending.take() else {
                break;
            };
            let more = joined(pending).await.map_err(|e| Error::io("reading a blob", e))?;
            if more.is_empty() {
                // Shorter than measured: nothing more will come.
                self.next_read = self.len;
                break;
            }
            if self.buffer.is_empty() {
                self.buffer = more;
            } else {
                out.extend_from_slice(&self.buffer.split_off(0));
                self.buffer = more;
            }
        }
        let take = (len - out.len()).min(self.buffer.len());
        let tail = self.buffer.split_to(take);
        self.offset += (out.len() + tail.len()) as u64;
        self.start_read();
        if out.is_empty() {
            Ok(tail)
        } else {
            out.extend_from_slice(&tail);
            Ok(out.freeze())
        }
    }
}

/// A file under `tmp/` that is removed when dropped unless it was renamed into place.
struct TempFile {
    path: PathBuf,
    file: Arc<File>,
    persisted: bool,
}

impl TempFile {
    async fn create(dir: &Path) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_nanos();
        let name = format!(
            "put-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let path = dir.join(name);
        blocking(move || {
            let file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| write_error(&path, e))?;
            Ok(Self { path, file: Arc::new(file), persisted: false })
        })
        .await
    }

    async fn sync(&self) -> Result<()> {
        let file = Arc::clone(&self.file);
        let path = self.path.clone();
        blocking(move || file.sync_all().map_err(|e| write_error(&path, e))).await
    }

    fn persist(&mut self, dest: &Path) -> Result<()> {
        fs::rename(&self.path, dest).map_err(|e| write_error(dest, e))?;
        self.persisted = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            // Best effort: a leftover is also swept by `gc` later.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Writes the internal nodes as a sidecar: magic, then (binary CID, varint length, block)
/// per node.
async fn write_sidecar(tmp: &Path, nodes: &[Block]) -> Result<TempFile> {
    let mut bytes = Vec::with_capacity(
        SIDECAR_MAGIC.len() + nodes.iter().map(|n| n.data.len() + 40).sum::<usize>(),
    );
    bytes.extend_from_slice(SIDECAR_MAGIC);
    for node in nodes {
        bytes.extend_from_slice(&node.cid.to_bytes());
        varint::encode(node.data.len() as u64, &mut bytes);
        bytes.extend_from_slice(&node.data);
    }
    let temp = TempFile::create(tmp).await?;
    let file = Arc::clone(&temp.file);
    let path = temp.path.clone();
    blocking(move || {
        (&*file).write_all(&bytes).and_then(|()| file.sync_all()).map_err(|e| write_error(&path, e))
    })
    .await?;
    Ok(temp)
}

/// Reads a sidecar into a map. Entries are not verified here: the walker hashes each node
/// it uses against the CID its parent names, so a damaged entry is caught when read.
fn read_sidecar(root: Cid, path: &Path) -> Result<HashMap<Cid, Bytes>> {
    let corrupt = |detail: String| Error::Corrupt { cid: root, detail };
    let bytes = match fs::read(path) {
        Ok(bytes) => Bytes::from(bytes),
        Err(e) if e.kind() == ErrorKind::NotFound => {
            return Err(corrupt(format!("its DAG sidecar {} is missing", path.display())));
        }
        Err(e) => return Err(Error::io(format!("reading {}", path.display()), e)),
    };
    let Some(mut rest) = bytes.strip_prefix(SIDECAR_MAGIC) else {
        return Err(corrupt("the DAG sidecar has no header".to_owned()));
    };
    let mut nodes = HashMap::new();
    while !rest.is_empty() {
        let bad = || corrupt("the DAG sidecar is malformed".to_owned());
        if rest.len() < crate::cid::BINARY_LEN {
            return Err(bad());
        }
        let cid = Cid::from_bytes(&rest[..crate::cid::BINARY_LEN]).map_err(|_| bad())?;
        rest = &rest[crate::cid::BINARY_LEN..];
        let (len, used) = varint::decode(rest).map_err(|_| bad())?;
        rest = &rest[used..];
        let len = usize::try_from(len).map_err(|_| bad())?;
        if len > rest.len() {
            return Err(bad());
        }
        let start = rest.as_ptr() as usize - bytes.as_ptr() as usize;
        nodes.insert(cid, bytes.slice(start..start + len));
        rest = &rest[len..];
    }
    Ok(nodes)
}

fn write_pin(pin: &Path) -> Result<()> {
    match OpenOptions::new().write(true).create_new(true).open(pin) {
        Ok(file) => {
            file.sync_all().map_err(|e| write_error(pin, e))?;
            sync_dir(pin.parent().expect("a pin has a parent"))
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(write_error(pin, e)),
    }
}

fn sweep(root: &Path) -> Result<GcReport> {
    let mut report = GcReport::default();
    let pins = root.join("pins");
    let remove = |path: &Path, report: &mut GcReport| -> Result<()> {
        let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        match fs::remove_file(path) {
            Ok(()) => {
                report.freed_bytes += size;
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!("removing {}", path.display()), e)),
        }
    };
    for_each_blob_file(root, |path, name| {
        // Files that are neither a blob nor a sidecar are not ours to delete.
        let (cid_text, is_sidecar) = match name.strip_suffix(".dag") {
            Some(base) => (base, true),
            None => (name, false),
        };
        let Ok(cid) = cid_text.parse::<Cid>() else {
            return Ok(());
        };
        if is_sidecar {
            if !exists(&path.with_file_name(cid_text))? {
                remove(path, &mut report)?;
            }
        } else if !exists(&pins.join(cid_text))? {
            remove(&path.with_file_name(format!("{cid_text}.dag")), &mut report)?;
            remove(path, &mut report)?;
            report.removed.push(cid);
        }
        Ok(())
    })?;
    let tmp = root.join("tmp");
    let entries =
        fs::read_dir(&tmp).map_err(|e| Error::io(format!("listing {}", tmp.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(format!("listing {}", tmp.display()), e))?;
        let stale = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > STALE_TEMP);
        if stale {
            remove(&entry.path(), &mut report)?;
        }
    }
    report.removed.sort();
    Ok(report)
}

/// Calls `visit(path, file name)` for every file in every shard directory.
fn for_each_blob_file(root: &Path, mut visit: impl FnMut(&Path, &str) -> Result<()>) -> Result<()> {
    let blobs = root.join("blobs");
    let list = |dir: &Path| {
        fs::read_dir(dir).map_err(|e| Error::io(format!("listing {}", dir.display()), e))
    };
    for shard in list(&blobs)? {
        let shard = shard.map_err(|e| Error::io("listing blobs", e))?;
        if !shard.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            continue;
        }
        for entry in list(&shard.path())? {
            let entry = entry.map_err(|e| Error::io("listing blobs", e))?;
            if let Some(name) = entry.file_name().to_str() {
                visit(&entry.path(), name)?;
            }
        }
    }
    Ok(())
}

fn exists(path: &Path) -> Result<bool> {
    path.try_exists().map_err(|e| Error::io(format!("checking {}", path.display()), e))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(|e| write_error(dir, e))
}

/// A write failure; running out of space gets its own error so callers can tell the user.
fn write_error(path: &Path, source: io::Error) -> Error {
    if matches!(source.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded) {
        Error::DiskFull { path: path.to_path_buf(), source }
    } else {
        Error::io(format!("writing {}", path.display()), source)
    }
}

/// Runs file-system work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    spawn_blocking(work).await.map_err(|e| Error::io("a file-system task", io::Error::other(e)))?
}

async fn joined<T>(handle: JoinHandle<io::Result<T>>) -> io::Result<T> {
    handle.await.map_err(io::Error::other)?
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real ENOSPC from the kernel: the put's data file is /dev/full, which refuses every
    /// write with it, behind a real temporary path that must be gone afterwards.
    #[tokio::test]
    async fn disk_full_is_its_own_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let path = dir.path().join("tmp").join("put-test");
        fs::write(&path, b"").unwrap();
        let full = OpenOptions::new().write(true).open("/dev/full").unwrap();
        let temp = TempFile { path: path.clone(), file: Arc::new(full), persisted: false };
        let data = vec![5u8; 3 * CHUNK_SIZE];
        let error = store.put_into(BlobSource::bytes(data), temp).await.unwrap_err();
        assert!(matches!(&error, Error::DiskFull { path: p, .. } if *p == path), "{error:?}");
        assert!(!path.exists(), "the temporary file was removed");
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(store.list().await.unwrap().is_empty());
    }

    #[test]
    fn other_write_errors_are_io() {
        let error = write_error(Path::new("x"), io::Error::from(ErrorKind::PermissionDenied));
        assert!(matches!(error, Error::Io { .. }));
    }
}
