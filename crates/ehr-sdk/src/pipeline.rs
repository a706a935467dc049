//! The record pipeline: plaintext → envelope → blob store, and back, streaming both ways.
//!
//! `ehr-crypto` encrypts over `std::io` (synchronous), the stores are async. Each direction
//! runs the cryptography on a blocking thread and moves ciphertext between it and the store
//! through a bounded channel of 1 MiB pieces, so memory stays at a few pieces whatever the
//! record's size, and the disk or network and the CPU work at the same time.

use crate::{Error, Result};
use bytes::Bytes;
use ehr_crypto::{
    CategoryKeys, DataKey, DecryptionKey, EnvelopeReader, EnvelopeWriter, Header, Recipients,
    RecordContext, RecordId, SecretKey,
};
use ehr_store::{BlobSource, BlobStore, Cid};
use futures_util::StreamExt;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// Size of the pieces moved between the cryptography thread and the store.
const PIECE: usize = 1 << 20;
/// Pieces in flight between the two sides (bounds memory: `PIECE * IN_FLIGHT`).
const IN_FLIGHT: usize = 4;

/// What [`store_record`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The envelope's CID.
    pub cid: Cid,
    /// Plaintext bytes read from the source.
    pub plaintext_len: u64,
    /// Envelope bytes stored (padded to a size bucket).
    pub envelope_len: u64,
}

/// Encrypts `plaintext` into an envelope for `recipients` while it streams into `store`.
///
/// Nothing is reported as stored unless the whole envelope was written and the store
/// returned its CID; if reading the source or encrypting fails, the store is handed an error
/// instead of the end of the stream, so it keeps no partial blob.
pub async fn store_record<S, R>(
    store: &S,
    plaintext: R,
    data_key: DataKey,
    context: RecordContext,
    recipients: Recipients,
) -> Result<StoredRecord>
where
    S: BlobStore + ?Sized,
    R: Read + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<io::Result<Bytes>>(IN_FLIGHT);
    let encrypt = tokio::task::spawn_blocking(move || {
        encrypt_into_channel(plaintext, &data_key, &context, &recipients, tx)
    });
    let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx));
    let stored = store.put(BlobSource::stream(stream)).await;
    let encrypted = encrypt.await.expect("the encryption thread does not panic");
    match (stored, encrypted) {
        (Ok(cid), Ok((plaintext_len, envelope_len))) => {
            Ok(StoredRecord { cid, plaintext_len, envelope_len })
        }
        // The encryption side failed first: that is the cause, the store only saw it end.
        (_, Err(e)) if !e.is_channel_closed() => Err(e.into_error()),
        (Err(e), _) => Err(e.into()),
        (Ok(_), Err(e)) => Err(e.into_error()),
    }
}

/// Why the encryption thread stopped.
enum EncryptFailure {
    Source(io::Error),
    Crypto(ehr_crypto::Error),
    /// The store stopped reading (it failed; its own error says why).
    ChannelClosed,
}

impl EncryptFailure {
    /// An error of the envelope writer, which reports a failed write to its sink as I/O: from
    /// our sink that only ever means the store stopped reading (its own error says why).
    fn from_writer(error: ehr_crypto::Error) -> Self {
        match &error {
            ehr_crypto::Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                Self::ChannelClosed
            }
            _ => Self::Crypto(error),
        }
    }

    fn is_channel_closed(&self) -> bool {
        matches!(self, Self::ChannelClosed)
    }

    fn into_error(self) -> Error {
        match self {
            Self::Source(source) => Error::Io { context: "reading the record", source },
            Self::Crypto(e) => Error::Crypto(e),
            Self::ChannelClosed => Error::Io {
                context: "handing the envelope to the store",
                source: io::ErrorKind::BrokenPipe.into(),
            },
        }
    }
}

fn encrypt_into_channel<R: Read>(
    mut plaintext: R,
    data_key: &DataKey,
    context: &RecordContext,
    recipients: &Recipients,
    tx: mpsc::Sender<io::Result<Bytes>>,
) -> std::result::Result<(u64, u64), EncryptFailure> {
    let result = (|| {
        let sink = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(PIECE) };
        let mut writer = EnvelopeWriter::new(sink, data_key, context, recipients)
            .map_err(EncryptFailure::from_writer)?;
        let mut buf = vec![0u8; PIECE];
        loop {
            let n = match plaintext.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(EncryptFailure::Source(e)),
            };
            writer.write_all(&buf[..n]).map_err(|_| EncryptFailure::ChannelClosed)?;
        }
        let (mut sink, stats) = writer.finish().map_err(EncryptFailure::from_writer)?;
        sink.flush().map_err(|_| EncryptFailure::ChannelClosed)?;
        Ok((stats.plaintext_len, stats.envelope_len))
    })();
    if let Err(failure) = &result
        && !failure.is_channel_closed()
    {
        // Make the store fail instead of seeing a clean (truncated) end of stream.
        let _ = tx.blocking_send(Err(io::Error::other("the record could not be encrypted")));
    }
    result
}

/// A `Write` that hands 1 MiB pieces to the store's side of the channel.
struct ChannelWriter {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
}

impl ChannelWriter {
    fn send(&mut self) -> io::Result<()> {
        let piece = Bytes::from(std::mem::replace(&mut self.buf, Vec::with_capacity(PIECE)));
        self.tx.blocking_send(Ok(piece)).map_err(|_| io::ErrorKind::BrokenPipe.into())
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(PIECE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == PIECE {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

/// What [`fetch_record`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchedRecord {
    /// Plaintext bytes written.
    pub plaintext_len: u64,
}

/// Streams the envelope `cid` out of `store` (verified block by block), decrypts it with the
/// recipient's secret key, checks it belongs to `context`, and writes the plaintext to `out`.
///
/// Only authenticated plaintext reaches `out`, but if a later chunk fails, `out` holds a
/// prefix of the record: callers that write a file write a temporary one and rename it on
/// success.
pub async fn fetch_record<S, W>(
    store: &S,
    cid: Cid,
    secret: &SecretKey,
    context: RecordContext,
    mut out: W,
) -> Result<FetchedRecord>
where
    S: BlobStore + ?Sized,
    W: Write + Send + 'static,
{
    let key = ReaderKey::Secret(secret.clone());
    let (plaintext_len, _) =
        open_record(store, cid, key, ExpectedContext::Exact(context), move |plaintext| {
            copy_plaintext(plaintext, &mut out)
        })
        .await?;
    Ok(FetchedRecord { plaintext_len })
}

/// The key a reader opens an envelope with (owned: it moves to the decryption thread).
#[derive(Clone)]
pub enum ReaderKey {
    /// An account's secret key, for the envelope's ECIES slots (the patient's).
    Secret(SecretKey),
    /// `K_data` of the record's (epoch, category), for its symmetric slot. The slot's key id
    /// depends on the record's client id, which the envelope header names, so it is computed
    /// once the header is read.
    Category(CategoryKeys),
    /// The record's data key itself (what a Record-scope grant carries).
    DataKey(DataKey),
}

impl std::fmt::Debug for ReaderKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Secret(_) => "ReaderKey::Secret([redacted])",
            Self::Category(_) => "ReaderKey::Category([redacted])",
            Self::DataKey(_) => "ReaderKey::DataKey([redacted])",
        })
    }
}

/// Which record an envelope must belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedContext {
    /// Exactly this context.
    Exact(RecordContext),
    /// Any record of `patient` in the deployment (`chain_id`, `index_contract`), whatever
    /// client record id its writer chose. The on-chain index names an envelope by the digest
    /// of its CID, not by that id, so a reader that found the record on chain knows
    /// everything but the id; the id is then taken from the (authenticated) header.
    Patient {
        /// EIP-155 chain id.
        chain_id: u64,
        /// The record index contract.
        index_contract: [u8; 20],
        /// The patient.
        patient: [u8; 20],
    },
}

impl ExpectedContext {
    /// The full context of an envelope whose header names `record_id`, or
    /// [`ehr_crypto::Error::ContextMismatch`] when an exact context names another id. The
    /// chain id, contract and patient are never read from the envelope (the header does not
    /// carry them): a blob of another patient or deployment then fails authentication.
    fn with_record_id(&self, record_id: RecordId) -> Result<RecordContext> {
        match *self {
            Self::Exact(context) if context.record_id == record_id => Ok(context),
            Self::Exact(_) => Err(Error::Crypto(ehr_crypto::Error::ContextMismatch)),
            Self::Patient { chain_id, index_contract, patient } => {
                Ok(RecordContext { chain_id, index_contract, patient, record_id })
            }
        }
    }
}

/// Streams the envelope `cid` out of `store` (verified block by block), opens it with `key`,
/// checks its context against `expected`, and hands the plaintext, as it is decrypted, to
/// `consume` on a blocking thread. Returns what `consume` returned and the envelope's
/// context.
///
/// `consume` only ever reads authenticated plaintext; an `io::Error` from its reader that
/// carries an `ehr_crypto::Error` (a chunk that failed authentication) is best turned back
/// into [`Error::Crypto`] with [`plaintext_read_error`]. Whatever `consume` leaves unread is
/// read and verified afterwards, so success means the whole envelope was intact.
pub async fn open_record<S, T, F>(
    store: &S,
    cid: Cid,
    key: ReaderKey,
    expected: ExpectedContext,
    consume: F,
) -> Result<(T, RecordContext)>
where
    S: BlobStore + ?Sized,
    T: Send + 'static,
    F: FnOnce(&mut dyn Read) -> Result<T> + Send + 'static,
{
    let mut blocks = store.get(cid).await?;
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(IN_FLIGHT);
    let store_error: Arc<Mutex<Option<ehr_store::Error>>> = Arc::default();
    let decrypt =
        tokio::task::spawn_blocking(move || decrypt_from_channel(rx, &key, &expected, consume));
    let forward = {
        let store_error = Arc::clone(&store_error);
        async move {
            while let Some(item) = blocks.next().await {
                let item = item.map_err(|e| {
                    let message = e.to_string();
                    *store_error.lock().expect("not poisoned") = Some(e);
                    io::Error::other(message)
                });
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        }
    };
    forward.await;
    let decrypted = decrypt.await.expect("the decryption thread does not panic");
    // A store failure (corrupt block, node gone) explains a decryption failure that follows.
    if let Some(e) = store_error.lock().expect("not poisoned").take() {
        return Err(e.into());
    }
    decrypted
}

fn decrypt_from_channel<T>(
    rx: mpsc::Receiver<io::Result<Bytes>>,
    key: &ReaderKey,
    expected: &ExpectedContext,
    consume: impl FnOnce(&mut dyn Read) -> Result<T>,
) -> Result<(T, RecordContext)> {
    let mut source = ChannelReader { rx, current: Bytes::new() };
    // Read the header first: the context check, and the symmetric slot's key id, need it.
    let mut recorder = Recorder { inner: &mut source, seen: Vec::new() };
    let header = Header::read_from(&mut recorder).map_err(|e| match e {
        ehr_crypto::Error::Io(source) => envelope_read_error(source),
        other => Error::Crypto(other),
    })?;
    let header_bytes = recorder.seen;
    let context = expected.with_record_id(*header.record_id())?;
    let key_id;
    let key = match key {
        ReaderKey::Secret(secret) => DecryptionKey::Secp256k1(secret),
        ReaderKey::Category(keys) => {
            key_id = keys.key_id(&context.record_id);
            DecryptionKey::Symmetric { key_id, kek: keys.data_key_encryption_key() }
        }
        ReaderKey::DataKey(data_key) => DecryptionKey::DataKey(data_key),
    };
    let envelope = io::Cursor::new(header_bytes).chain(source);
    let mut reader = EnvelopeReader::new(envelope, key, &context)?;
    let value = consume(&mut reader)?;
    io::copy(&mut reader, &mut io::sink()).map_err(envelope_read_error)?;
    Ok((value, context))
}

/// Copies plaintext to `out`, returning the number of bytes.
fn copy_plaintext(plaintext: &mut dyn Read, out: &mut dyn Write) -> Result<u64> {
    let mut buf = vec![0u8; PIECE];
    let mut written = 0u64;
    loop {
        let n = plaintext.read(&mut buf).map_err(plaintext_read_error)?;
        if n == 0 {
            break;
        }
        out.write_all(&buf[..n])
            .map_err(|source| Error::Io { context: "writing the record", source })?;
        written += n as u64;
    }
    out.flush().map_err(|source| Error::Io { context: "writing the record", source })?;
    Ok(written)
}

/// Remembers the bytes read through it (the envelope header, at most a few KiB).
struct Recorder<'a, R> {
    inner: &'a mut R,
    seen: Vec<u8>,
}

impl<R: Read> Read for Recorder<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.seen.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

/// Turns an error from reading [`open_record`]'s plaintext back into the crate's error: a
/// failed chunk becomes [`Error::Crypto`], anything else [`Error::Io`].
pub fn plaintext_read_error(e: io::Error) -> Error {
    envelope_read_error(e)
}

/// `EnvelopeReader` reports through `io::Error`; its own errors travel inside as
/// `ehr_crypto::Error` and are taken back out so callers can match on them.
fn envelope_read_error(e: io::Error) -> Error {
    if e.get_ref().is_some_and(|inner| inner.is::<ehr_crypto::Error>()) {
        let inner = e.into_inner().expect("checked above");
        return Error::Crypto(*inner.downcast::<ehr_crypto::Error>().expect("checked above"));
    }
    Error::Io { context: "reading the envelope", source: e }
}

/// A `Read` over the pieces the store's side sends.
struct ChannelReader {
    rx: mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(piece) => self.current = piece?,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ehr_crypto::{RecordId, eth_address};
    use ehr_store::{BlobStoreExt, LocalStore};

    fn context(patient: &SecretKey) -> RecordContext {
        RecordContext {
            chain_id: 31337,
            index_contract: [0x11; 20],
            patient: eth_address(&patient.public_key()),
            record_id: RecordId::random().unwrap(),
        }
    }

    /// Collects what `fetch_record` writes.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, data: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(data);
            Ok(data.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A source that fails after `ok` bytes.
    struct FailingSource {
        ok: usize,
    }

    impl Read for FailingSource {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.ok == 0 {
                return Err(io::Error::other("disk read error"));
            }
            let n = buf.len().min(self.ok);
            buf[..n].fill(7);
            self.ok -= n;
            Ok(n)
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn records_round_trip_across_piece_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let patient = SecretKey::random(&mut rand_core::OsRng);
        for len in [0usize, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 12345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let ctx = context(&patient);
            let stored = store_record(
                &store,
                io::Cursor::new(data.clone()),
                DataKey::generate().unwrap(),
                ctx,
                Recipients::new(patient.public_key()),
            )
            .await
            .unwrap();
            assert_eq!(stored.plaintext_len, len as u64);
            assert!(stored.envelope_len > len as u64);
            let out = Shared::default();
            let fetched =
                fetch_record(&store, stored.cid, &patient, ctx, out.clone()).await.unwrap();
            assert_eq!(fetched.plaintext_len, len as u64);
            assert!(*out.0.lock().unwrap() == data, "round trip of {len} bytes");
        }
    }

    #[test]
    fn a_closed_store_side_is_not_blamed_on_encryption() {
        // The writer's header and final chunk also go to the sink: a store that stopped
        // reading shows up there as BrokenPipe, and must yield the store's error, not ours.
        let closed = ehr_crypto::Error::Io(io::ErrorKind::BrokenPipe.into());
        assert!(EncryptFailure::from_writer(closed).is_channel_closed());
        let other = ehr_crypto::Error::Io(io::ErrorKind::Other.into());
        assert!(!EncryptFailure::from_writer(other).is_channel_closed());
        assert!(!EncryptFailure::from_writer(ehr_crypto::Error::TooLarge).is_channel_closed());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_failing_source_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let patient = SecretKey::random(&mut rand_core::OsRng);
        let err = store_record(
            &store,
            FailingSource { ok: 3 * PIECE },
            DataKey::generate().unwrap(),
            context(&patient),
            Recipients::new(patient.public_key()),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, Error::Io { context: "reading the record", .. }), "{err}");
        assert!(store.list().await.unwrap().is_empty(), "no partial blob is visible");
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn wrong_key_wrong_context_and_corrupt_blobs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let patient = SecretKey::random(&mut rand_core::OsRng);
        let ctx = context(&patient);
        let data = vec![42u8; 2 * PIECE];
        let stored = store_record(
            &store,
            io::Cursor::new(data),
            DataKey::generate().unwrap(),
            ctx,
            Recipients::new(patient.public_key()),
        )
        .await
        .unwrap();

        let stranger = SecretKey::random(&mut rand_core::OsRng);
        let out = Shared::default();
        let err = fetch_record(&store, stored.cid, &stranger, ctx, out.clone()).await.unwrap_err();
        assert!(matches!(err, Error::Crypto(_)), "{err}");
        assert!(out.0.lock().unwrap().is_empty(), "nothing is written without the key");

        let mut other = ctx;
        other.record_id = RecordId::random().unwrap();
        let err =
            fetch_record(&store, stored.cid, &patient, other, Shared::default()).await.unwrap_err();
        assert!(matches!(err, Error::Crypto(_)), "{err}");

        // Flip one byte of the stored blob on disk: the store's verification catches it.
        let path = store.blob_path(&stored.cid);
        let mut bytes = std::fs::read(&path).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        let err =
            fetch_record(&store, stored.cid, &patient, ctx, Shared::default()).await.unwrap_err();
        assert!(matches!(err, Error::Store(ehr_store::Error::Corrupt { .. })), "{err}");
        let _ = store.get_bytes(stored.cid).await.unwrap_err();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_category_key_opens_the_symmetric_slot_of_any_record_of_the_patient() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(dir.path()).await.unwrap();
        let patient = SecretKey::random(&mut rand_core::OsRng);
        let master = ehr_crypto::MasterSecret::from_bytes([9; 32]);
        let lab = master.epoch_key(0).category_keys(&[b'l'; 32]);
        let ctx = context(&patient);
        let (key_id, kek) = lab.record_slot(&ctx.record_id);
        let data = vec![5u8; PIECE + 17];
        let recipients = Recipients::new(patient.public_key()).with_symmetric(key_id, kek);
        let stored = store_record(
            &store,
            io::Cursor::new(data.clone()),
            DataKey::generate().unwrap(),
            ctx,
            recipients,
        )
        .await
        .unwrap();
        let of_patient = ExpectedContext::Patient {
            chain_id: ctx.chain_id,
            index_contract: ctx.index_contract,
            patient: ctx.patient,
        };
        let read_all = |plaintext: &mut dyn Read| {
            let mut out = Vec::new();
            plaintext.read_to_end(&mut out).map_err(plaintext_read_error)?;
            Ok(out)
        };
        let (out, found) =
            open_record(&store, stored.cid, ReaderKey::Category(lab), of_patient, read_all)
                .await
                .unwrap();
        assert!(out == data);
        assert_eq!(found, ctx, "the record id comes from the header");

        // Another category's key, or another patient, does not open it.
        let imaging = master.epoch_key(0).category_keys(&[b'i'; 32]);
        let err =
            open_record(&store, stored.cid, ReaderKey::Category(imaging), of_patient, read_all)
                .await
                .unwrap_err();
        assert!(matches!(err, Error::Crypto(ehr_crypto::Error::NoKeyForRecipient)), "{err}");
        let other = ExpectedContext::Patient {
            chain_id: ctx.chain_id,
            index_contract: ctx.index_contract,
            patient: [0x22; 20],
        };
        let err = open_record(&store, stored.cid, ReaderKey::Secret(patient), other, read_all)
            .await
            .unwrap_err();
        // The header does not name the patient: under another patient's context the slots,
        // bound to it, do not open.
        assert!(matches!(err, Error::Crypto(ehr_crypto::Error::NoKeyForRecipient)), "{err}");
    }
}
