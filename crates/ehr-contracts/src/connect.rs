//! Providers for ehrkit's calls.
//!
//! alloy's default nonce filler caches the next nonce and takes it before gas estimation runs,
//! so a transaction that reverts at estimation (a rejected grant, say) still uses up a nonce,
//! and every later transaction from that account waits forever behind the gap. ehrkit asks the
//! node for the pending nonce on every transaction instead, under a per-account lock that
//! orders the sends of every process on the machine (`sender_lock`).
//!
//! Both providers retry a call whose HTTP exchange failed after the connection was made (reset
//! or closed before the answer; HTTP 429/503) up to 3 times, 150 ms apart. That
//! is safe for every method ehrkit sends: reads are idempotent, and a retried
//! `eth_sendRawTransaction` carries the same signed bytes (same hash and nonce), so a node that
//! already has it answers with an error instead of executing it twice. JSON-RPC errors
//! (reverts, bad nonces) are answers and are never retried.
//!
//! Every exchange has a deadline: a node that accepts the connection and never answers would
//! otherwise hang a command forever. A timed-out exchange is reported, not retried.
//! `EHR_RPC_TIMEOUT` sets the deadline in seconds (default 30).

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::rpc::client::{ClientBuilder, RpcClient};
use alloy::signers::local::PrivateKeySigner;
use alloy::transports::TransportErrorKind;
use alloy::transports::http::reqwest;
use alloy::transports::layers::{RateLimitRetryPolicy, RetryBackoffLayer};
use std::time::Duration;
use url::Url;

/// How many times a call whose HTTP exchange failed is sent again.
const RPC_RETRIES: u32 = 3;
/// The pause before each retry, in milliseconds.
const RPC_BACKOFF_MS: u64 = 150;
/// How long one exchange may take by default; a page of logs from a slow public node is the
/// longest we expect.
pub const DEFAULT_RPC_TIMEOUT: Duration = Duration::from_secs(30);
/// How long opening a connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The deadline of one exchange: `EHR_RPC_TIMEOUT` (whole seconds, at least 1) or
/// [`DEFAULT_RPC_TIMEOUT`]. An unusable value is logged once and the default used (the `ehr`
/// binary refuses it before it gets here).
pub fn rpc_timeout() -> Duration {
    match std::env::var("EHR_RPC_TIMEOUT") {
        Err(_) => DEFAULT_RPC_TIMEOUT,
        Ok(value) => match value.trim().parse::<u64>() {
            Ok(seconds) if seconds > 0 => Duration::from_secs(seconds),
            _ => {
                static WARNED: std::sync::Once = std::sync::Once::new();
                WARNED.call_once(|| {
                    tracing::warn!(
                        "EHR_RPC_TIMEOUT={value:?} is not a whole number of seconds ≥ 1; using {} s",
                        DEFAULT_RPC_TIMEOUT.as_secs()
                    )
                });
                DEFAULT_RPC_TIMEOUT
            }
        },
    }
}

/// An HTTP client for `rpc_url` that retries failed exchanges (see the module docs).
fn retrying_client(rpc_url: Url) -> RpcClient {
    let policy = RateLimitRetryPolicy::default().or(|error| match error.as_transport_err() {
        Some(TransportErrorKind::BackendGone) => true,
        // A connection that broke after it was made. A refused connection is not retried:
        // the node is not there, and the error keeps its cause ("Connection refused"). Nor is
        // a missed deadline: a node that did not answer in 30 s is not waited for 3 more times.
        Some(TransportErrorKind::Custom(inner)) => inner
            .downcast_ref::<reqwest::Error>()
            .is_some_and(|e| !e.is_connect() && !e.is_timeout() && (e.is_request() || e.is_body())),
        _ => false,
    });
    // No compute-unit budget: the backoff is the fixed pause only.
    let layer = RetryBackoffLayer::new_with_policy(RPC_RETRIES, RPC_BACKOFF_MS, u64::MAX, policy);
    let http = reqwest::Client::builder()
        .timeout(rpc_timeout())
        .connect_timeout(CONNECT_TIMEOUT)
        .build()
        // Only fails if the TLS backend cannot start, which `reqwest::Client::new` would
        // report the same way (by panicking).
        .expect("an HTTP client with timeouts");
    ClientBuilder::default().layer(layer).http_with_client(http, rpc_url)
}

/// A provider that signs and sends transactions as `signer`.
pub fn signing_provider(rpc_url: Url, signer: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::default()
        .with_gas_estimation()
        .with_nonce_management(crate::sender_lock::LockingNonceManager)
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_client(retrying_client(rpc_url))
        .erased()
}

/// A provider for reads only.
pub fn read_provider(rpc_url: Url) -> DynProvider {
    ProviderBuilder::default().connect_client(retrying_client(rpc_url)).erased()
}
