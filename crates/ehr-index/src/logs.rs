//! Fetching event logs over a block range in pages, because public RPC nodes limit both the
//! block range and the number of logs one `eth_getLogs` may cover.

use std::future::Future;

use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::transports::{RpcError, TransportErrorKind};

use crate::{Error, Result};

/// How logs are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchOptions {
    /// Blocks asked for in the first call (at least 1). Halved each time the node refuses a
    /// range or returns more than `max_logs_per_call` logs; the smaller range is then kept.
    pub initial_block_range: u64,
    /// A page with more logs than this is fetched again in halves (some providers truncate
    /// or refuse large answers; this keeps each answer small). A single block is taken
    /// whatever its count.
    pub max_logs_per_call: usize,
}

impl Default for FetchOptions {
    fn default() -> Self {
        Self { initial_block_range: 10_000, max_logs_per_call: 5_000 }
    }
}

/// Why one page could not be fetched.
#[derive(Debug)]
pub(crate) enum PageError {
    /// The node answered with an error: most likely a range or result-size limit, so the
    /// page is retried in halves.
    Refused(String),
    /// Anything else (unreachable node, malformed answer): fatal.
    Failed(Error),
}

/// Fetches `from..=to` in pages through `fetch(start, end)`, halving the range when a page
/// is refused or too large. Returns the items in page order.
pub(crate) async fn paged<T, F, Fut>(
    from: u64,
    to: u64,
    options: FetchOptions,
    mut fetch: F,
) -> Result<Vec<T>>
where
    F: FnMut(u64, u64) -> Fut,
    Fut: Future<Output = std::result::Result<Vec<T>, PageError>>,
{
    let mut out = Vec::new();
    let mut range = options.initial_block_range.max(1);
    let mut start = from;
    while start <= to {
        let end = to.min(start.saturating_add(range - 1));
        match fetch(start, end).await {
            Ok(items) if items.len() <= options.max_logs_per_call || start == end => {
                out.extend(items);
                if end == u64::MAX {
                    break;
                }
                start = end + 1;
            }
            // Too many logs: shrink the range in proportion (to 90 % of what would fit at
            // this page's density) rather than halving, so a dense history is not downloaded
            // several times over before the range fits; never more than halving.
            Ok(items) => {
                let span = end - start + 1;
                let fit = (span as u128 * options.max_logs_per_call as u128 * 9
                    / (items.len() as u128 * 10)) as u64;
                range = fit.clamp(1, (end - start).div_ceil(2).max(1));
            }
            Err(PageError::Refused(reason)) => {
                if start == end {
                    return Err(Error::RangeRefused { block: start, reason });
                }
                range = (end - start).div_ceil(2).max(1);
            }
            Err(PageError::Failed(error)) => return Err(error),
        }
    }
    Ok(out)
}

/// `eth_getLogs` with `base` (address and topics) over `from..=to`, paged.
pub(crate) async fn fetch_logs<P: Provider>(
    provider: &P,
    base: &Filter,
    from: u64,
    to: u64,
    options: FetchOptions,
) -> Result<Vec<Log>> {
    paged(from, to, options, |start, end| {
        let filter = base.clone().from_block(start).to_block(end);
        async move {
            provider.get_logs(&filter).await.map_err(|error| match error {
                RpcError::ErrorResp(payload) => PageError::Refused(payload.to_string()),
                other => PageError::Failed(rpc("fetch event logs", other)),
            })
        }
    })
    .await
}

/// Wraps a transport error.
pub(crate) fn rpc(action: &'static str, error: RpcError<TransportErrorKind>) -> Error {
    Error::Rpc { action, source: Box::new(error) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A fake node with one log per block in 0..=99, that refuses ranges over `max_range`
    /// blocks; records every call.
    async fn run(options: FetchOptions, max_range: u64) -> (Vec<u64>, Vec<(u64, u64)>) {
        let calls = RefCell::new(Vec::new());
        let got = paged(0, 99, options, |start, end| {
            calls.borrow_mut().push((start, end));
            async move {
                if end - start + 1 > max_range {
                    Err(PageError::Refused("block range too large".into()))
                } else {
                    Ok((start..=end).collect())
                }
            }
        })
        .await
        .unwrap();
        (got, calls.into_inner())
    }

    #[tokio::test]
    async fn halves_on_refusal_and_keeps_the_smaller_range() {
        let options = FetchOptions { initial_block_range: 64, max_logs_per_call: 1000 };
        let (got, calls) = run(options, 10).await;
        assert_eq!(got, (0..=99).collect::<Vec<_>>());
        // 64 → 32 → 16 → 8 refused/accepted, then pages of 8.
        assert_eq!(&calls[..4], &[(0, 63), (0, 31), (0, 15), (0, 7)]);
        assert!(calls[4..].iter().all(|(s, e)| e - s < 8));
    }

    #[tokio::test]
    async fn splits_pages_with_too_many_logs_and_tiny_ranges_work() {
        let options = FetchOptions { initial_block_range: 100, max_logs_per_call: 7 };
        let (got, calls) = run(options, 1000).await;
        assert_eq!(got, (0..=99).collect::<Vec<_>>());
        assert!(calls.iter().filter(|(s, e)| e - s < 7).count() >= 14);
        let (got, calls) =
            run(FetchOptions { initial_block_range: 1, max_logs_per_call: 1 }, 1).await;
        assert_eq!(got.len(), 100);
        assert_eq!(calls.len(), 100);
    }

    #[tokio::test]
    async fn a_refused_single_block_is_an_error_and_failures_are_fatal() {
        let refused = paged(5, 9, FetchOptions::default(), |_, _| async {
            Err::<Vec<u8>, _>(PageError::Refused("no".into()))
        })
        .await;
        assert!(matches!(refused, Err(Error::RangeRefused { block: 5, .. })));
        let calls = RefCell::new(0);
        let failed = paged(0, 9, FetchOptions::default(), |_, _| {
            *calls.borrow_mut() += 1;
            async { Err::<Vec<u8>, _>(PageError::Failed(Error::NothingToShare)) }
        })
        .await;
        assert!(matches!(failed, Err(Error::NothingToShare)));
        assert_eq!(calls.into_inner(), 1);
    }
}
