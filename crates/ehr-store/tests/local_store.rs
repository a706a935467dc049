//! LocalStore: round trips, idempotence, crash-safe and size-limited writes, pins and gc, and
//! tamper detection on disk (flipped byte, truncation, trailing bytes, swapped files, damaged
//! or missing sidecar).

use bytes::Bytes;
use ehr_store::{
    BlobSource, BlobStore, BlobStoreExt, CHUNK_SIZE, Cid, Codec, Error, LocalStore, StoreOptions,
    StoreUrl, compute_cid, open_store,
};
use futures_util::{StreamExt, stream};
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

fn data(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 11) as u8).collect()
}

async fn store() -> (tempfile::TempDir, LocalStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path().join("store")).await.unwrap();
    (dir, store)
}

/// Reads a blob, returning the verified bytes seen before the first error and that error.
async fn read(store: &LocalStore, cid: Cid) -> (Vec<u8>, Option<Error>) {
    let mut out = Vec::new();
    let mut stream = match store.get(cid).await {
        Ok(stream) => stream,
        Err(e) => return (out, Some(e)),
    };
    while let Some(item) = stream.next().await {
        match item {
            Ok(bytes) => out.extend_from_slice(&bytes),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

fn assert_corrupt(error: Option<Error>, cid: Cid) {
    match error {
        Some(Error::Corrupt { cid: reported, .. }) => assert_eq!(reported, cid),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

fn files_in(dir: &Path) -> usize {
    fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn round_trips_at_chunk_boundaries_from_every_source() {
    let (_dir, store) = store().await;
    for len in [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5] {
        let blob = data(len, 1);
        let expected = compute_cid(&blob);
        let sources = [
            BlobSource::bytes(blob.clone()),
            BlobSource::reader(&blob[..]),
            BlobSource::stream(stream::iter(
                blob.chunks(100_003).map(|c| Ok(Bytes::copy_from_slice(c))).collect::<Vec<_>>(),
            )),
        ];
        for source in sources {
            assert_eq!(store.put(source).await.unwrap(), expected, "{len} bytes");
        }
        assert_eq!(store.get_bytes(expected).await.unwrap(), blob);
        assert!(store.has(expected).await.unwrap());
        assert!(store.is_pinned(expected).await.unwrap(), "put pins");
        assert!(store.blob_path(&expected).is_file());
        assert_eq!(
            store.sidecar_path(&expected).exists(),
            len > CHUNK_SIZE,
            "only multi-chunk blobs have a sidecar"
        );
        assert_eq!(
            fs::metadata(store.blob_path(&expected)).unwrap().len(),
            len as u64,
            "the data file is the blob itself"
        );
    }
    assert_eq!(files_in(&store.path().join("tmp")), 0);
}

#[tokio::test]
async fn put_is_idempotent_and_repairs_a_damaged_copy() {
    let (_dir, store) = store().await;
    let blob = data(2 * CHUNK_SIZE + 9, 2);
    let cid = store.put_bytes(blob.clone()).await.unwrap();
    assert_eq!(store.put_bytes(blob.clone()).await.unwrap(), cid);
    assert_eq!(store.list().await.unwrap(), [cid]);

    flip_byte(&store.blob_path(&cid), CHUNK_SIZE as u64 + 5);
    assert_corrupt(read(&store, cid).await.1, cid);
    assert_eq!(store.put_bytes(blob.clone()).await.unwrap(), cid);
    assert_eq!(store.get_bytes(cid).await.unwrap(), blob);
}

#[tokio::test]
async fn concurrent_puts_of_one_blob_both_succeed() {
    let (_dir, store) = store().await;
    let blob = data(3 * CHUNK_SIZE, 3);
    let (a, b) = tokio::join!(store.put_bytes(blob.clone()), store.put_bytes(blob.clone()));
    assert_eq!(a.unwrap(), b.unwrap());
    assert_eq!(store.get_bytes(compute_cid(&blob)).await.unwrap(), blob);
    assert_eq!(files_in(&store.path().join("tmp")), 0);
}

fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset as usize] ^= 0x01;
    fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn a_flipped_byte_is_caught_and_only_verified_bytes_come_out() {
    let (_dir, store) = store().await;
    let blob = data(3 * CHUNK_SIZE + 100, 4);
    let cid = store.put_bytes(blob.clone()).await.unwrap();
    flip_byte(&store.blob_path(&cid), 2 * CHUNK_SIZE as u64 + 7);
    let (verified, error) = read(&store, cid).await;
    assert_corrupt(error, cid);
    assert_eq!(verified, blob[..2 * CHUNK_SIZE], "the two good leaves, nothing else");

    // A single-chunk blob is caught before any byte is returned.
    let small = data(1000, 5);
    let small_cid = store.put_bytes(small).await.unwrap();
    flip_byte(&store.blob_path(&small_cid), 999);
    assert!(matches!(store.get(small_cid).await, Err(Error::Corrupt { .. })));
    assert!(matches!(store.get_bytes(small_cid).await, Err(Error::Corrupt { .. })));
}

#[tokio::test]
async fn truncation_and_trailing_bytes_are_caught() {
    let (_dir, store) = store().await;
    let blob = data(2 * CHUNK_SIZE + 50, 6);
    let cid = store.put_bytes(blob.clone()).await.unwrap();
    let path = store.blob_path(&cid);

    let file = fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(blob.len() as u64 - 10).unwrap();
    let (verified, error) = read(&store, cid).await;
    assert_corrupt(error, cid);
    assert_eq!(verified, blob[..2 * CHUNK_SIZE]);

    file.set_len(100).unwrap();
    let (verified, error) = read(&store, cid).await;
    assert_corrupt(error, cid);
    assert!(verified.is_empty());

    let mut longer = blob.clone();
    longer.extend_from_slice(b"appended");
    fs::write(&path, &longer).unwrap();
    let (verified, error) = read(&store, cid).await;
    assert_corrupt(error, cid);
    assert_eq!(verified, blob, "all genuine bytes, then the error");
}

#[tokio::test]
async fn swapped_blobs_are_caught() {
    let (_dir, store) = store().await;
    let a = data(3 * CHUNK_SIZE, 7);
    let b = data(3 * CHUNK_SIZE, 8);
    let cid_a = store.put_bytes(a).await.unwrap();
    let cid_b = store.put_bytes(b).await.unwrap();
    let swap = |x: &Path, y: &Path| {
        let tmp = x.with_extension("swap");
        fs::rename(x, &tmp).unwrap();
        fs::rename(y, x).unwrap();
        fs::rename(&tmp, y).unwrap();
    };

    // Data files swapped, sidecars in place.
    swap(&store.blob_path(&cid_a), &store.blob_path(&cid_b));
    for cid in [cid_a, cid_b] {
        let (verified, error) = read(&store, cid).await;
        assert_corrupt(error, cid);
        assert!(verified.is_empty());
    }
    // Sidecars swapped too: now neither sidecar has the root it is asked for.
    swap(&store.sidecar_path(&cid_a), &store.sidecar_path(&cid_b));
    for cid in [cid_a, cid_b] {
        assert_corrupt(read(&store, cid).await.1, cid);
    }
}

#[tokio::test]
async fn a_damaged_or_missing_sidecar_is_caught() {
    let (_dir, store) = store().await;
    let blob = data(CHUNK_SIZE + 1, 9);
    let cid = store.put_bytes(blob).await.unwrap();
    let sidecar = store.sidecar_path(&cid);
    let len = fs::metadata(&sidecar).unwrap().len();
    flip_byte(&sidecar, len - 3);
    assert_corrupt(read(&store, cid).await.1, cid);

    fs::remove_file(&sidecar).unwrap();
    assert!(!store.has(cid).await.unwrap());
    assert_corrupt(read(&store, cid).await.1, cid);
}

#[tokio::test]
async fn missing_blobs_are_not_found() {
    let (_dir, store) = store().await;
    let cid = Cid::of_block(Codec::Raw, b"never stored");
    assert!(matches!(store.get(cid).await, Err(Error::NotFound { cid: c }) if c == cid));
    assert!(!store.has(cid).await.unwrap());
    assert!(matches!(store.pin(cid).await, Err(Error::NotFound { .. })));
}

#[tokio::test]
async fn too_large_blobs_leave_nothing_behind() {
    let (_dir, store) = store().await;
    let store = store.with_max_blob_size(2 * CHUNK_SIZE as u64);
    let exact = data(2 * CHUNK_SIZE, 10);
    assert!(store.put_bytes(exact).await.is_ok());

    let big = data(2 * CHUNK_SIZE + 1, 11);
    for source in [BlobSource::bytes(big.clone()), BlobSource::reader(&big[..])] {
        match store.put(source).await {
            Err(Error::TooLarge { limit }) => assert_eq!(limit, 2 * CHUNK_SIZE as u64),
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
    assert_eq!(store.list().await.unwrap().len(), 1);
    assert!(!store.has(compute_cid(&big)).await.unwrap());
    assert_eq!(files_in(&store.path().join("tmp")), 0);
    assert_eq!(files_in(&store.path().join("pins")), 1);
}

#[tokio::test]
async fn a_failing_input_leaves_nothing_behind() {
    let (_dir, store) = store().await;
    let items = vec![
        Ok(Bytes::from(data(CHUNK_SIZE + 10, 12))),
        Err(std::io::Error::other("connection reset by the uploader")),
    ];
    let error = store.put(BlobSource::stream(stream::iter(items))).await.unwrap_err();
    assert!(matches!(error, Error::Input { .. }), "{error:?}");
    assert!(store.list().await.unwrap().is_empty());
    assert_eq!(files_in(&store.path().join("tmp")), 0);
    assert_eq!(files_in(&store.path().join("pins")), 0);
}

#[tokio::test]
async fn gc_removes_exactly_the_unpinned_blobs_and_leftovers() {
    let (_dir, store) = store().await;
    let keep = data(2 * CHUNK_SIZE, 13);
    let drop_me = data(2 * CHUNK_SIZE, 14);
    let keep_cid = store.put_bytes(keep.clone()).await.unwrap();
    let drop_cid = store.put_bytes(drop_me).await.unwrap();

    store.unpin(drop_cid).await.unwrap();
    store.unpin(drop_cid).await.unwrap(); // idempotent
    assert!(!store.is_pinned(drop_cid).await.unwrap());
    assert!(store.has(drop_cid).await.unwrap(), "unpinned is still there until gc");

    // A stale temporary file of a put that died, a fresh one of a put in progress, and a
    // sidecar whose blob is gone.
    let tmp = store.path().join("tmp");
    fs::write(tmp.join("put-dead"), b"half a blob").unwrap();
    let old = SystemTime::now() - Duration::from_secs(2 * 3600);
    fs::File::options().write(true).open(tmp.join("put-dead")).unwrap().set_modified(old).unwrap();
    fs::write(tmp.join("put-live"), b"in progress").unwrap();
    let orphan = Cid::of_block(Codec::DagPb, b"orphan");
    fs::create_dir_all(store.sidecar_path(&orphan).parent().unwrap()).unwrap();
    fs::write(store.sidecar_path(&orphan), b"x").unwrap();

    let report = store.gc().await.unwrap();
    assert_eq!(report.removed, [drop_cid]);
    assert!(report.freed_bytes >= 2 * CHUNK_SIZE as u64);
    assert!(!store.has(drop_cid).await.unwrap());
    assert!(matches!(store.get(drop_cid).await, Err(Error::NotFound { .. })));
    assert!(!store.sidecar_path(&drop_cid).exists());
    assert!(!store.sidecar_path(&orphan).exists());
    assert!(!tmp.join("put-dead").exists());
    assert!(tmp.join("put-live").exists());
    assert_eq!(store.get_bytes(keep_cid).await.unwrap(), keep);

    // Pinning again protects it.
    store.unpin(keep_cid).await.unwrap();
    store.pin(keep_cid).await.unwrap();
    assert!(store.gc().await.unwrap().removed.is_empty());
}

#[tokio::test]
async fn chosen_at_run_time_through_a_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url: StoreUrl = format!("local:{}", dir.path().join("blobs").display()).parse().unwrap();
    let options = StoreOptions { max_blob_size: 1000, ..Default::default() };
    let store = open_store(&url, &options).await.unwrap();
    let cid = store.put_bytes(b"envelope".to_vec()).await.unwrap();
    assert_eq!(store.get_bytes(cid).await.unwrap(), &b"envelope"[..]);
    assert_eq!(store.max_blob_size(), 1000);
    assert!(matches!(store.put_bytes(vec![0u8; 1001]).await, Err(Error::TooLarge { limit: 1000 })));
}
