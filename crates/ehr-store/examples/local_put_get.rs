//! Writes N MiB of generated data to a LocalStore and reads it back verified, printing the
//! throughput both ways.
//!
//! ```text
//! cargo run --release -p ehr-store --example local_put_get -- 1024 [DIR] [--cold]
//! ```
//!
//! DIR defaults to a temporary directory (removed afterwards). The data is generated on the
//! fly (not held in memory) so the resident set shows what the store itself needs. `--cold`
//! evicts the blob's pages from the page cache between put and get (posix_fadvise
//! DONTNEED, no root needed), so the read comes from the disk.

use ehr_store::{BlobSource, BlobStore, LocalStore};
use futures_util::StreamExt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, ReadBuf};

/// Incompressible-looking bytes from xorshift64, produced as they are read.
struct Generated {
    state: u64,
    left: u64,
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let len = (buf.remaining() as u64).min(self.left) as usize & !7;
        let len = if len == 0 { (self.left as usize).min(buf.remaining()) } else { len };
        let out = buf.initialize_unfilled_to(len);
        for word in out.chunks_mut(8) {
            let mut x = self.state;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.state = x;
            word.copy_from_slice(&x.to_le_bytes()[..word.len()]);
        }
        buf.advance(len);
        self.left -= len as u64;
        Poll::Ready(Ok(()))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cold = std::env::args().any(|a| a == "--cold");
    let mut args = std::env::args().skip(1).filter(|a| a != "--cold");
    let mib: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1024);
    let temp;
    let dir = match args.next() {
        Some(dir) => std::path::PathBuf::from(dir),
        None => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let size = mib << 20;
    let store = LocalStore::open(&dir).await?;
    let mb = size as f64 / 1e6;

    let started = Instant::now();
    let source = Generated { state: 0x9E37_79B9_7F4A_7C15, left: size };
    let cid = store.put(BlobSource::reader(source)).await?;
    let put_secs = started.elapsed().as_secs_f64();
    println!("put  {mib} MiB -> {cid}: {put_secs:.2} s, {:.0} MB/s (fsynced)", mb / put_secs);

    if cold {
        for path in [store.blob_path(&cid), store.sidecar_path(&cid)] {
            evict(&path)?;
        }
    }

    let started = Instant::now();
    let mut stream = store.get(cid).await?;
    let mut read = 0u64;
    while let Some(chunk) = stream.next().await {
        read += chunk?.len() as u64;
    }
    let get_secs = started.elapsed().as_secs_f64();
    assert_eq!(read, size, "read back every byte");
    println!(
        "get  {mib} MiB verified{}: {get_secs:.2} s, {:.0} MB/s",
        if cold { " (cold cache)" } else { "" },
        mb / get_secs
    );
    Ok(())
}

/// Drops a file's (clean, fsynced) pages from the page cache.
fn evict(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path)?;
    // SAFETY: posix_fadvise only reads its arguments; the descriptor is open for the call.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc != 0 {
        return Err(std::io::Error::from_raw_os_error(rc));
    }
    Ok(())
}
