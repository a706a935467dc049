//! Streams N MiB of generated data through `EnvelopeWriter` and back through
//! `EnvelopeReader`, printing throughput. Memory stays at about one chunk whatever N is.
//!
//! ```text
//! cargo run --release -p ehr-crypto --example envelope_stream -- 1024
//! cargo run --release -p ehr-crypto --example envelope_stream -- 256 --file /tmp/x.ehre --keep
//! ```
//!
//! Arguments: size in MiB (default 64), `--file PATH` for the envelope (default: a file in
//! the temp directory), `--keep` to leave it there, `--chunk BYTES` for the chunk size.

use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Instant;

use ehr_crypto::{
    ChunkSize, DataKey, DecryptionKey, EnvelopeReader, EnvelopeWriter, Recipients, RecordContext,
    RecordId, SecretKey, eth_address,
};

const MIB: usize = 1024 * 1024;

struct Args {
    mib: usize,
    file: PathBuf,
    keep: bool,
    chunk: ChunkSize,
}

fn parse_args() -> Result<Args, Box<dyn std::error::Error>> {
    let mut args = Args {
        mib: 64,
        file: std::env::temp_dir().join(format!("envelope_stream-{}.ehre", std::process::id())),
        keep: false,
        chunk: ChunkSize::DEFAULT,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--file" => args.file = it.next().ok_or("--file needs a path")?.into(),
            "--keep" => args.keep = true,
            "--chunk" => {
                args.chunk = ChunkSize::new(it.next().ok_or("--chunk needs bytes")?.parse()?)?
            }
            n => args.mib = n.parse()?,
        }
    }
    Ok(args)
}

/// One MiB of generated data, distinct per block index.
fn block(base: &[u8], index: usize, out: &mut [u8]) {
    out.copy_from_slice(base);
    out[..8].copy_from_slice(&(index as u64).to_le_bytes());
}

fn base_block() -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    (0..MIB)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Counts bytes written to it and drops them.
struct CountingSink(u64);

impl Write for CountingSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn rate(bytes: usize, seconds: f64) -> String {
    format!(
        "{:.0} MB/s ({:.0} MiB/s)",
        bytes as f64 / seconds / 1e6,
        bytes as f64 / seconds / MIB as f64
    )
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    #[cfg(target_arch = "x86_64")]
    println!(
        "cpu: aes={} pclmulqdq={} (the aes and polyval crates pick AES-NI/CLMUL at runtime)",
        std::arch::is_x86_feature_detected!("aes"),
        std::arch::is_x86_feature_detected!("pclmulqdq"),
    );

    let patient = SecretKey::random(&mut rand_core::OsRng);
    let context = RecordContext {
        chain_id: 31337,
        index_contract: [0x11; 20],
        patient: eth_address(&patient.public_key()),
        record_id: RecordId::random()?,
    };
    let recipients = Recipients::new(patient.public_key());
    let data_key = DataKey::generate()?;
    let total = args.mib * MIB;
    let base = base_block();
    let mut buf = vec![0u8; MIB];
    println!("{} MiB, chunk size {} bytes", args.mib, args.chunk.get());

    // 1. Encrypt into a sink: pure encryption cost.
    let start = Instant::now();
    let mut writer = EnvelopeWriter::with_chunk_size(
        CountingSink(0),
        &data_key,
        &context,
        &recipients,
        args.chunk,
    )?;
    for i in 0..args.mib {
        block(&base, i, &mut buf);
        writer.write_all(&buf)?;
    }
    let (sink, stats) = writer.finish()?;
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(sink.0, stats.envelope_len);
    println!("encrypt -> sink: {:.2} s, {}", secs, rate(total, secs));
    println!(
        "envelope: {} bytes for {} plaintext bytes ({:+.2}% incl. padding), {} chunks",
        stats.envelope_len,
        stats.plaintext_len,
        (stats.envelope_len as f64 / stats.plaintext_len.max(1) as f64 - 1.0) * 100.0,
        stats.chunks
    );

    // 2. Encrypt into a file, then decrypt it back and compare.
    let start = Instant::now();
    let file = BufWriter::with_capacity(256 * 1024, File::create(&args.file)?);
    let mut writer =
        EnvelopeWriter::with_chunk_size(file, &data_key, &context, &recipients, args.chunk)?;
    for i in 0..args.mib {
        block(&base, i, &mut buf);
        writer.write_all(&buf)?;
    }
    let (file, _) = writer.finish()?;
    file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    let secs = start.elapsed().as_secs_f64();
    println!("encrypt -> file: {:.2} s, {} ({})", secs, rate(total, secs), args.file.display());

    let start = Instant::now();
    let mut reader =
        EnvelopeReader::new(File::open(&args.file)?, DecryptionKey::Secp256k1(&patient), &context)?;
    let mut expected = vec![0u8; MIB];
    for i in 0..args.mib {
        reader.read_exact(&mut buf)?;
        block(&base, i, &mut expected);
        if buf != expected {
            return Err(format!("decrypted MiB {i} differs").into());
        }
    }
    if reader.read(&mut buf)? != 0 || !reader.is_finished() {
        return Err("envelope did not end where expected".into());
    }
    let secs = start.elapsed().as_secs_f64();
    println!("decrypt <- file: {:.2} s, {} (verified)", secs, rate(total, secs));

    if !args.keep {
        std::fs::remove_file(&args.file)?;
    }
    Ok(())
}
