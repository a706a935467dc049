//! One account's transactions, sent in turn by every process on the machine.
//!
//! A transaction's nonce is the node's pending transaction count of the account, read just
//! before the transaction is signed and broadcast. Two processes (or tasks) sending as one
//! account at the same moment read the same count, and the node refuses one of the two
//! ("nonce too low") or lets it replace the other. So [`crate::tx::send`] holds a lock per
//! account from reading the nonce until the node has accepted the transaction: an advisory
//! `flock` on `<lock dir>/<address>.lock`. The receipt is awaited without the lock, so one
//! account's transactions still pipeline.
//!
//! The lock is taken where the nonce is read — by the signing provider's nonce manager,
//! [`LockingNonceManager`] — and handed to the `send` in progress through a task-local slot
//! that `send` opens around the broadcast ([`hold_during`]) and drops after it. A nonce read
//! outside such a slot (a caller broadcasting through the provider directly) takes and
//! releases the lock at once: it waits for a `send` in progress, but is not protected itself.
//!
//! The lock directory is `EHR_LOCK_DIR`, else `$XDG_RUNTIME_DIR/ehrkit-locks`, else
//! `<temp dir>/ehrkit-locks-<uid>` (owner-only). A lock that cannot be taken for a reason
//! other than contention (a read-only or missing directory) is logged and skipped: the
//! transaction is still sent. Senders on other machines are not ordered by it; a collision
//! with one fails with the node's "nonce too low" (see [`crate::tx::send`] for why that is
//! not retried).

use alloy::network::Network;
use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::providers::fillers::NonceManager;
use alloy::transports::{TransportErrorKind, TransportResult};
use std::cell::RefCell;
use std::fs::{self, File, OpenOptions, TryLockError};
use std::future::Future;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How long a send waits for another process's send by the same account before giving up.
/// A holder only reads a nonce, signs and broadcasts (milliseconds, or one RPC deadline).
pub const LOCK_WAIT: Duration = Duration::from_secs(120);

tokio::task_local! {
    /// Locks taken by the nonce manager during the current `send`, released when it ends.
    static HELD: RefCell<Vec<File>>;
}

/// Runs `broadcast` with a slot for the account locks its nonce reads take; they are released
/// when it finishes, whatever its outcome.
pub(crate) async fn hold_during<F: Future>(broadcast: F) -> F::Output {
    HELD.scope(RefCell::new(Vec::new()), broadcast).await
}

/// The directory of the account locks (see the module docs).
pub fn lock_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("EHR_LOCK_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR") {
        return PathBuf::from(dir).join("ehrkit-locks");
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    std::env::temp_dir().join(format!("ehrkit-locks-{uid}"))
}

/// Opens (creating) the lock file of `account`.
fn open_lock_file(account: Address) -> std::io::Result<File> {
    let dir = lock_dir();
    if !dir.is_dir() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(format!("{account:#x}.lock")))
}

/// Takes the lock of `account`, waiting (asynchronously) at most [`LOCK_WAIT`]. `Ok(None)`:
/// no lock could be had for a reason other than contention (logged); proceed without it.
async fn acquire(account: Address) -> TransportResult<Option<File>> {
    let file = match open_lock_file(account) {
        Ok(file) => file,
        Err(e) => {
            tracing::warn!(%account, dir = %lock_dir().display(), "no transaction lock: {e}");
            return Ok(None);
        }
    };
    let started = Instant::now();
    let mut pause = Duration::from_millis(2);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Some(file)),
            Err(TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(TransportErrorKind::custom_str(&format!(
                    "another process has been sending a transaction as {account} for over {} s \
                     (its lock is in {}); is an ehr command stuck?",
                    LOCK_WAIT.as_secs(),
                    lock_dir().display()
                )));
            }
            Err(TryLockError::Error(e)) => {
                tracing::warn!(%account, "no transaction lock: {e}");
                return Ok(None);
            }
        }
    }
}

/// The nonce is the node's pending count, as alloy's `SimpleNonceManager` reads it, but read
/// under the account's lock (see the module docs). Nothing is cached, so a transaction refused
/// at gas estimation leaves no gap behind.
#[derive(Clone, Debug, Default)]
pub struct LockingNonceManager;

#[async_trait::async_trait]
impl NonceManager for LockingNonceManager {
    async fn get_next_nonce<P, N>(&self, provider: &P, address: Address) -> TransportResult<u64>
    where
        P: Provider<N>,
        N: Network,
    {
        let lock = acquire(address).await?;
        let nonce = provider.get_transaction_count(address).pending().await?;
        if let Some(lock) = lock {
            // Outside a `send`, the lock is dropped (released) right here.
            let _ = HELD.try_with(|held| held.borrow_mut().push(lock));
        }
        Ok(nonce)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_held_lock_makes_others_wait_and_is_released_with_its_slot() {
        let dir = tempfile::tempdir().unwrap();
        // SAFETY: this test is the only one in this binary touching EHR_LOCK_DIR.
        unsafe { std::env::set_var("EHR_LOCK_DIR", dir.path()) };
        let account = Address::repeat_byte(7);
        let (taken_tx, taken_rx) = tokio::sync::oneshot::channel();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let holder = tokio::spawn(hold_during(async move {
            let lock = acquire(account).await.unwrap().expect("a lock");
            HELD.with(|held| held.borrow_mut().push(lock));
            taken_tx.send(()).unwrap();
            release_rx.await.unwrap();
        }));
        taken_rx.await.unwrap();
        // Another open file description: flock excludes it, in this process as in others.
        let other = open_lock_file(account).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        release_tx.send(()).unwrap();
        holder.await.unwrap();
        other.try_lock().expect("released when the slot ended");
        assert!(dir.path().join(format!("{account:#x}.lock")).exists());
    }
}
