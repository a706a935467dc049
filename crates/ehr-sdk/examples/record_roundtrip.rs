//! Streams N MiB of generated data through the whole record pipeline — encrypt into an
//! envelope while it streams into a `LocalStore`, then fetch it back verified block by block
//! and decrypt it — and checks the SHA-256 of what came out. Run it under `/usr/bin/time -v`
//! to see that peak memory does not grow with N.
//!
//! ```text
//! cargo run --release -p ehr-sdk --example record_roundtrip -- 1024 /tmp/ehr-blobs
//! ```

use ehr_crypto::{DataKey, Recipients, RecordContext, RecordId, SecretKey, eth_address};
use ehr_sdk::pipeline::{fetch_record, store_record};
use ehr_store::LocalStore;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::time::Instant;

const MIB: u64 = 1024 * 1024;

/// `len` bytes of xorshift output, produced as they are read.
struct Generated {
    left: u64,
    state: u64,
    hash: Sha256,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.left as usize);
        for byte in &mut buf[..n] {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            *byte = self.state as u8;
        }
        self.hash.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}

/// Hashes what the pipeline writes out.
struct HashingSink(std::sync::Arc<std::sync::Mutex<Sha256>>);

impl Write for HashingSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("not poisoned").update(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mib: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(64);
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("ehr-roundtrip"));
    let store = LocalStore::open(&dir).await?;
    let patient = SecretKey::random(&mut rand_core::OsRng);
    let context = RecordContext {
        chain_id: 31337,
        index_contract: [0x11; 20],
        patient: eth_address(&patient.public_key()),
        record_id: RecordId::random()?,
    };

    let source_hash = std::sync::Arc::new(std::sync::Mutex::new(None));
    let source = Generated { left: mib * MIB, state: 0x9e37_79b9_7f4a_7c15, hash: Sha256::new() };
    let hash_slot = source_hash.clone();
    let source = HashOnEof { inner: source, slot: hash_slot };
    let started = Instant::now();
    let stored = store_record(
        &store,
        source,
        DataKey::generate()?,
        context,
        Recipients::new(patient.public_key()),
    )
    .await?;
    let write_s = started.elapsed().as_secs_f64();
    println!(
        "encrypt+store: {} MiB in {write_s:.2} s = {:.0} MB/s; envelope {} bytes, CID {}",
        mib,
        (mib * MIB) as f64 / write_s / 1e6,
        stored.envelope_len,
        stored.cid
    );

    let out_hash = std::sync::Arc::new(std::sync::Mutex::new(Sha256::new()));
    let started = Instant::now();
    let fetched =
        fetch_record(&store, stored.cid, &patient, context, HashingSink(out_hash.clone())).await?;
    let read_s = started.elapsed().as_secs_f64();
    println!(
        "fetch+decrypt: {} MiB in {read_s:.2} s = {:.0} MB/s",
        fetched.plaintext_len / MIB,
        fetched.plaintext_len as f64 / read_s / 1e6
    );
    let written =
        source_hash.lock().expect("not poisoned").take().expect("the source was read to the end");
    let read_back = out_hash.lock().expect("not poisoned").clone().finalize();
    if written != read_back {
        return Err("the record read back differs from the one written".into());
    }
    println!("sha256 of plaintext matches: {}", hex_of(&read_back));
    Ok(())
}

/// Stores the source's SHA-256 once it reaches end of file.
struct HashOnEof {
    inner: Generated,
    slot: std::sync::Arc<std::sync::Mutex<Option<sha2::digest::Output<Sha256>>>>,
}

impl Read for HashOnEof {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let hash = std::mem::take(&mut self.inner.hash).finalize();
            *self.slot.lock().expect("not poisoned") = Some(hash);
        }
        Ok(n)
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
