//! Per-patient caches of the read views, so a page refreshing every view does not scan the
//! chain's logs again for each GET.
//!
//! An entry is reused while the chain's head is the block it was computed at and it is
//! younger than the time-to-live (views also depend on the clock: grants and requests expire
//! without a new block). Anything newer on the chain — a grant relayed here, a revocation sent
//! from the wallet — moves the head and so recomputes. Record lookups go through the
//! session's long-lived index client, whose verified per-patient index cache reads only what
//! is new.

use alloy::primitives::Address;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a view computed at the current head is reused.
pub(crate) const VIEW_TTL: Duration = Duration::from_secs(5);

struct Entry<T> {
    head: u64,
    at: Instant,
    value: Arc<T>,
}

/// Values of type `T` per (patient, view), valid at one head block.
pub(crate) struct HeadCache<T> {
    entries: Mutex<HashMap<(Address, &'static str), Entry<T>>>,
}

impl<T> HeadCache<T> {
    pub(crate) fn new() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }

    /// The cached value of `view` for `patient` at `head`, or `compute`'s (then cached).
    pub(crate) async fn get_or_compute<E, F>(
        &self,
        patient: Address,
        view: &'static str,
        head: u64,
        compute: F,
    ) -> Result<Arc<T>, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.fresh(patient, view, head) {
            return Ok(value);
        }
        let value = Arc::new(compute.await?);
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.insert((patient, view), Entry { head, at: Instant::now(), value: value.clone() });
        Ok(value)
    }

    fn fresh(&self, patient: Address, view: &'static str, head: u64) -> Option<Arc<T>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let entry = entries.get(&(patient, view))?;
        (entry.head == head && entry.at.elapsed() < VIEW_TTL).then(|| entry.value.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_value_is_reused_at_the_same_head_only() {
        let cache = HeadCache::<u32>::new();
        let a = Address::repeat_byte(1);
        let first = cache.get_or_compute(a, "v", 7, async { Ok::<_, ()>(1) }).await.unwrap();
        let again = cache.get_or_compute(a, "v", 7, async { Ok::<_, ()>(2) }).await.unwrap();
        assert_eq!((*first, *again), (1, 1));
        let moved = cache.get_or_compute(a, "v", 8, async { Ok::<_, ()>(3) }).await.unwrap();
        assert_eq!(*moved, 3);
        let other = cache.get_or_compute(a, "w", 8, async { Ok::<_, ()>(4) }).await.unwrap();
        assert_eq!(*other, 4);
        assert!(cache.get_or_compute(a, "x", 8, async { Err::<u32, _>("no") }).await.is_err());
    }
}
