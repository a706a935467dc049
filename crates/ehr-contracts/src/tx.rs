//! Sending contract transactions and waiting for them, with decoded failures.

use crate::{Error, Result};
use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::Ethereum;
use alloy::providers::{PendingTransactionBuilder, PendingTransactionError, Provider};
use alloy::rpc::types::TransactionReceipt;
use std::time::Duration;

/// How long a sent transaction may take to be mined before ehrkit stops waiting (it may still
/// be mined later; the error says so).
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// Sends `call`, waits for its receipt, and fails with a decoded reason if it reverts — before
/// mining (gas estimation replays it) or after.
///
/// The gas limit is the estimate plus [`GAS_HEADROOM_PERCENT`]. An estimate is exact for the
/// state and block it was made against, and the transaction runs against a later one: a
/// grant that rewrites its stored word with the same value (same expiry, same second) costs
/// ~3k gas less than one a second later, so an unpadded limit made that transaction run out
/// of gas once it was mined (seen in the authorization-matrix test). Only gas used is paid.
pub async fn send<P, D>(action: &'static str, call: CallBuilder<P, D>) -> Result<TransactionReceipt>
where
    P: Provider,
    D: CallDecoder,
{
    let estimate = call.estimate_gas().await.map_err(|e| Error::from_contract(action, e))?;
    let call = call.gas(estimate + estimate * GAS_HEADROOM_PERCENT / 100);
    let pending = call.send().await.map_err(|e| Error::from_contract(action, e))?;
    confirm(action, pending).await
}

/// How much gas a transaction may use beyond its estimate, in percent of it.
pub const GAS_HEADROOM_PERCENT: u64 = 25;

/// Calls a view function, decoding a revert the same way as [`send`].
pub async fn call<P, D>(action: &'static str, call: CallBuilder<P, D>) -> Result<D::CallOutput>
where
    P: Provider,
    D: CallDecoder,
{
    call.call().await.map_err(|e| Error::from_contract(action, e))
}

/// Waits (at most [`RECEIPT_TIMEOUT`]) for a sent transaction's receipt and fails if the
/// transaction reverted when it was mined.
pub(crate) async fn confirm(
    action: &'static str,
    pending: PendingTransactionBuilder<Ethereum>,
) -> Result<TransactionReceipt> {
    let tx = *pending.tx_hash();
    let receipt =
        pending.with_timeout(Some(RECEIPT_TIMEOUT)).get_receipt().await.map_err(|e| match e {
            PendingTransactionError::TxWatcher(_) => {
                Error::NotMined { action, tx, waited: RECEIPT_TIMEOUT }
            }
            other => Error::Rpc { action, source: Box::new(other) },
        })?;
    if !receipt.status() {
        return Err(Error::MinedButReverted { action, tx });
    }
    Ok(receipt)
}
