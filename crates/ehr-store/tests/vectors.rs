//! kubo's CIDs for generated blobs (`tests/vectors/cid/`), recomputed without kubo: by the
//! streaming hasher and by a LocalStore `put`.

#[path = "support/vectors.rs"]
mod vectors;

use ehr_store::{
    BlobSource, BlobStore, BlobStoreExt, CHUNK_SIZE, CidHasher, LocalStore, MAX_LINKS,
};
use vectors::vectors;

#[test]
fn the_vectors_cover_chunk_and_link_boundaries() {
    let sizes: Vec<u64> = vectors().iter().map(|v| v.size).collect();
    let chunk = CHUNK_SIZE as u64;
    for required in [0, 1, chunk, chunk + 1, MAX_LINKS as u64 * chunk + 1] {
        assert!(sizes.contains(&required), "no vector of {required} bytes");
    }
    assert!(
        sizes.iter().any(|&s| s > 2 * MAX_LINKS as u64 * chunk),
        "a vector with several nodes on the second level"
    );
}

#[test]
fn the_streaming_hasher_reproduces_every_vector() {
    let mut buffer = vec![0u8; 1 << 20];
    for vector in vectors() {
        let mut hasher = CidHasher::new();
        let mut offset = 0;
        while offset < vector.size {
            let len = (vector.size - offset).min(buffer.len() as u64) as usize;
            vector.generator.fill(offset, &mut buffer[..len]);
            hasher.update(&buffer[..len]);
            offset += len as u64;
        }
        assert_eq!(hasher.finish().to_string(), vector.cid, "{}", vector.name);
    }
}

#[tokio::test]
async fn local_store_puts_give_the_vector_cids() {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::open(dir.path()).await.unwrap();
    for vector in vectors().into_iter().filter(|v| v.size <= 64 << 20) {
        let cid =
            store.put(BlobSource::reader(vector.generator.reader(vector.size))).await.unwrap();
        assert_eq!(cid.to_string(), vector.cid, "{}", vector.name);
        let back = store.get_bytes(cid).await.unwrap();
        assert!(back[..] == vector.generator.bytes(vector.size)[..], "{} reads back", vector.name);
    }
}
