//! A transaction that is not mined: replaced at its nonce with a higher fee.
//!
//! A transaction can sit in the mempool for good — its fee too low for the blocks being
//! built, or dropped by the node — and with it every later nonce of the account. Waiting on
//! its receipt for minutes helps nobody. [`send_replacing`] waits a bounded time, then sends
//! the same call at the same nonce with both fee fields raised by at least
//! [`Replacement::bump_percent`] (nodes accept a replacement only at +10 % or more on each),
//! up to a cap, and fails with [`Error::NotMinedAfterReplacement`] when none is mined. Whichever
//! version is mined first wins: one nonce, one transaction.

use crate::tx::{explain_mined_revert, gas_limit};
use crate::{Error, Result, sender_lock};
use alloy::contract::{CallBuilder, CallDecoder};
use alloy::primitives::TxHash;
use alloy::providers::Provider;
use alloy::rpc::types::TransactionReceipt;
use std::time::{Duration, Instant};

/// How a transaction that is not mined is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Replacement {
    /// How long each version waits to be mined before the next one is sent.
    pub wait: Duration,
    /// Replacements after the first broadcast (0: wait once, then fail).
    pub replacements: u32,
    /// The fee increase of each replacement, in percent of the last version's, on both the max
    /// fee and the priority fee (at least [`MIN_BUMP_PERCENT`]).
    pub bump_percent: u32,
    /// No version offers a max fee per gas above this (wei).
    pub max_fee_cap: u128,
}

/// The smallest fee increase nodes accept for a replacement (geth, reth, anvil): 10 %.
pub const MIN_BUMP_PERCENT: u32 = 10;

impl Default for Replacement {
    fn default() -> Self {
        Self {
            wait: Duration::from_secs(30),
            replacements: 3,
            bump_percent: 15,
            max_fee_cap: 500_000_000_000, // 500 gwei
        }
    }
}

/// `fee` raised by `percent` (at least [`MIN_BUMP_PERCENT`]), rounded up, and by at least 1 wei.
pub fn bumped(fee: u128, percent: u32) -> u128 {
    let percent = u128::from(percent.max(MIN_BUMP_PERCENT));
    let raised = fee.saturating_mul(100 + percent).div_ceil(100);
    raised.max(fee.saturating_add(1))
}

/// Sends `call` as [`crate::tx::send`] does (estimate, gas headroom, nonce under the account's
/// lock), with explicit EIP-1559 fees; replaces it at the same nonce with bumped fees while it
/// is not mined (see the module docs).
pub async fn send_replacing<P, D>(
    action: &'static str,
    call: CallBuilder<P, D>,
    policy: Replacement,
) -> Result<TransactionReceipt>
where
    P: Provider + Clone,
    D: CallDecoder + Clone,
{
    let estimate = call.estimate_gas().await.map_err(|e| Error::from_contract(action, e))?;
    let limit = gas_limit(estimate);
    let rpc = |source| Error::Rpc { action, source: Box::new(source) };
    let fees = call.provider.estimate_eip1559_fees().await.map_err(rpc)?;
    let (mut max_fee, mut tip) = (fees.max_fee_per_gas, fees.max_priority_fee_per_gas);
    let call = call.gas(limit);
    let first = call.clone().max_fee_per_gas(max_fee).max_priority_fee_per_gas(tip);
    let pending = sender_lock::hold_during(first.send())
        .await
        .map_err(|e| Error::from_contract(action, e))?;
    let mut txs = vec![*pending.tx_hash()];
    // The node has it now: its nonce is the one every replacement takes.
    let nonce = match call.provider.get_transaction_by_hash(txs[0]).await.map_err(rpc)? {
        Some(sent) => alloy::consensus::Transaction::nonce(&sent),
        None => return Err(Error::NotMined { action, tx: txs[0], waited: Duration::ZERO }),
    };
    let started = Instant::now();
    for round in 0..=policy.replacements {
        if let Some(receipt) = mined(&call.provider, &txs, policy.wait).await.map_err(rpc)? {
            return settle(action, &call, receipt, limit).await;
        }
        if round == policy.replacements || bumped(max_fee, policy.bump_percent) > policy.max_fee_cap
        {
            break;
        }
        max_fee = bumped(max_fee, policy.bump_percent);
        tip = bumped(tip, policy.bump_percent).min(max_fee);
        tracing::info!(%nonce, max_fee, tip, replaced = %txs[txs.len() - 1], "{action}: not mined, replacing it with higher fees");
        let next = call.clone().nonce(nonce).max_fee_per_gas(max_fee).max_priority_fee_per_gas(tip);
        match next.send().await {
            Ok(pending) => txs.push(*pending.tx_hash()),
            // A version was mined meanwhile ("nonce too low"), or the node refuses this one.
            Err(e) => {
                if let Some(receipt) =
                    mined(&call.provider, &txs, Duration::ZERO).await.map_err(rpc)?
                {
                    return settle(action, &call, receipt, limit).await;
                }
                return Err(Error::from_contract(action, e));
            }
        }
    }
    tracing::warn!(%nonce, max_fee, "{action}: no version was mined");
    Err(Error::NotMinedAfterReplacement { action, nonce, txs, waited: started.elapsed() })
}

/// The receipt of whichever of `txs` is mined within `wait` (polled; at least once).
async fn mined<P: Provider>(
    provider: &P,
    txs: &[TxHash],
    wait: Duration,
) -> std::result::Result<Option<TransactionReceipt>, alloy::transports::TransportError> {
    let deadline = Instant::now() + wait;
    loop {
        for tx in txs {
            if let Some(receipt) = provider.get_transaction_receipt(*tx).await? {
                return Ok(Some(receipt));
            }
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn settle<P, D>(
    action: &'static str,
    call: &CallBuilder<P, D>,
    receipt: TransactionReceipt,
    limit: u64,
) -> Result<TransactionReceipt>
where
    P: Provider,
    D: CallDecoder,
{
    if receipt.status() {
        Ok(receipt)
    } else {
        Err(explain_mined_revert(action, call, receipt, limit).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bump_is_at_least_ten_percent_and_one_wei() {
        assert_eq!(bumped(1_000, 15), 1_150);
        assert_eq!(bumped(1_000, 5), 1_100, "below the nodes' minimum: 10 %");
        assert_eq!(bumped(1_001, 10), 1_102, "rounded up");
        assert_eq!(bumped(0, 10), 1);
        assert_eq!(bumped(u128::MAX, 10), u128::MAX);
    }
}
