//! Sending contract transactions and waiting for them, with decoded failures.

use crate::{Error, Result, sender_lock};
use alloy::contract::{CallBuilder, CallDecoder};
use alloy::network::Ethereum;
use alloy::providers::{PendingTransactionBuilder, PendingTransactionError, Provider};
use alloy::rpc::types::TransactionReceipt;
use std::time::Duration;

/// How long a sent transaction may take to be mined before ehrkit stops waiting (it may still
/// be mined later; the error says so).
pub const RECEIPT_TIMEOUT: Duration = Duration::from_secs(120);

/// How much gas a transaction may use beyond its estimate, in percent of it …
pub const GAS_HEADROOM_PERCENT: u64 = 25;
/// … and at least this much gas.
///
/// An estimate is exact only for the state and block it was made against; the transaction
/// runs against a later one. Two cases seen: a grant that rewrites its stored word with the
/// same value (same expiry, same second) costs ~3k gas less than one a second later; and on
/// an idle chain, where the last block is minutes old, a write whose grant expired in between
/// takes the index's slow path (two registry calls, ~20k more) before it reverts. Without
/// the floor that transaction ran out of gas, and an out-of-gas failure says nothing about
/// why. Only gas used is paid, so the figures in the docs do not change.
pub const GAS_HEADROOM_MIN: u64 = 40_000;

/// The gas limit for an estimate.
pub fn gas_limit(estimate: u64) -> u64 {
    estimate + (estimate * GAS_HEADROOM_PERCENT / 100).max(GAS_HEADROOM_MIN)
}

/// Sends `call`, waits for its receipt, and fails with a decoded reason if it reverts — before
/// mining (gas estimation replays it) or after (the call is replayed against the block it was
/// mined in, for its revert data).
///
/// The nonce is read under the account's lock ([`sender_lock`]), held until the node has the
/// transaction, so the sends of every process on this machine are ordered.
///
/// A "nonce too low" is not retried with a fresh nonce: the transport retries a dropped
/// exchange with the same signed bytes, and when the first copy was mined the node answers
/// exactly that — a fresh nonce would then send the transaction a second time (an upload
/// indexed twice). Such a failure is reported ([`Error::Rpc`]); `ehr upload --resume` finds
/// what was mined.
pub async fn send<P, D>(action: &'static str, call: CallBuilder<P, D>) -> Result<TransactionReceipt>
where
    P: Provider,
    D: CallDecoder,
{
    let estimate = call.estimate_gas().await.map_err(|e| Error::from_contract(action, e))?;
    let limit = gas_limit(estimate);
    let call = call.gas(limit);
    let pending =
        sender_lock::hold_during(call.send()).await.map_err(|e| Error::from_contract(action, e))?;
    let tx = *pending.tx_hash();
    match confirm(action, pending).await {
        Err(Error::MinedButReverted { receipt, .. }) => {
            Err(explain_mined_revert(action, &call, *receipt, limit).await)
        }
        other => other,
    }
    .inspect_err(|e| tracing::debug!(%tx, "{e}"))
}

/// Why a mined transaction reverted: its call replayed on the state of the block it was mined
/// in, at that block's time, which reverts the same way unless that block changed the state
/// it depends on. Failing that, whether it ran out of gas.
pub(crate) async fn explain_mined_revert<P, D>(
    action: &'static str,
    call: &CallBuilder<P, D>,
    receipt: TransactionReceipt,
    gas_limit: u64,
) -> Error
where
    P: Provider,
    D: CallDecoder,
{
    let tx = receipt.transaction_hash;
    let block = receipt.block_number.unwrap_or_default();
    let replay = call.call_raw().block(block.into()).await;
    match replay.map_err(|e| Error::from_contract(action, e)) {
        Err(Error::Reverted { reason, .. }) => {
            Error::RevertedWhenMined { action, tx, block, reason: Box::new(reason) }
        }
        _ => Error::MinedButReverted {
            action,
            tx,
            out_of_gas: receipt.gas_used >= gas_limit,
            receipt: Box::new(receipt),
        },
    }
}

/// Calls a view function, decoding a revert the same way as [`send`].
pub async fn call<P, D>(action: &'static str, call: CallBuilder<P, D>) -> Result<D::CallOutput>
where
    P: Provider,
    D: CallDecoder,
{
    call.call().await.map_err(|e| Error::from_contract(action, e))
}

/// Waits (at most [`RECEIPT_TIMEOUT`]) for a sent transaction's receipt and fails with
/// [`Error::MinedButReverted`] if the transaction reverted when it was mined.
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
        return Err(Error::MinedButReverted {
            action,
            tx,
            out_of_gas: false,
            receipt: Box::new(receipt),
        });
    }
    Ok(receipt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_has_a_floor_and_a_share() {
        assert_eq!(gas_limit(46_634), 46_634 + GAS_HEADROOM_MIN);
        assert_eq!(gas_limit(1_000_000), 1_250_000);
    }
}
