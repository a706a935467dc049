//! Providers for ehrkit's calls.
//!
//! alloy's default nonce filler caches the next nonce and takes it before gas estimation runs,
//! so a transaction that reverts at estimation (a rejected grant, say) still uses up a nonce,
//! and every later transaction from that account waits forever behind the gap. ehrkit asks the
//! node for the pending nonce on every transaction instead.

use alloy::network::EthereumWallet;
use alloy::providers::{DynProvider, Provider, ProviderBuilder};
use alloy::signers::local::PrivateKeySigner;
use url::Url;

/// A provider that signs and sends transactions as `signer`.
pub fn signing_provider(rpc_url: Url, signer: PrivateKeySigner) -> DynProvider {
    ProviderBuilder::default()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(EthereumWallet::from(signer))
        .connect_http(rpc_url)
        .erased()
}

/// A provider for reads only.
pub fn read_provider(rpc_url: Url) -> DynProvider {
    ProviderBuilder::default().connect_http(rpc_url).erased()
}
