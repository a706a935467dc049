//! Plain JSON-RPC calls to a dev node, for what ehrkit's SDK does not do itself: readiness
//! probes and funding test accounts.

use crate::readiness::probe_client;
use crate::{Error, Result};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Calls `method` with `params` at `url` and returns the `result`; an `error` answer is
/// [`Error::Rpc`].
pub(crate) async fn call(url: &str, method: &'static str, params: Value) -> Result<Value> {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    let answer: Value = probe_client()
        .post(url)
        .json(&body)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .map_err(|e| Error::Rpc { method, reason: e.to_string() })?
        .json()
        .await
        .map_err(|e| Error::Rpc { method, reason: e.to_string() })?;
    if let Some(error) = answer.get("error") {
        return Err(Error::Rpc { method, reason: error.to_string() });
    }
    Ok(answer.get("result").cloned().unwrap_or(Value::Null))
}

/// `eth_chainId`, or `None` while the node does not answer yet.
pub(crate) async fn chain_id(url: &str) -> Option<u64> {
    let result = call(url, "eth_chainId", json!([])).await.ok()?;
    u64::from_str_radix(result.as_str()?.strip_prefix("0x")?, 16).ok()
}

/// Sends `wei` to `to` from the node's first own (unlocked, funded) account and waits until
/// the transfer is mined. Every dev node has such an account: anvil's, Hardhat's and
/// ganache's deterministic mnemonic accounts, geth `--dev`'s developer account.
pub(crate) async fn fund_from_node_account(url: &str, to: &str, wei: u128) -> Result<()> {
    let accounts = call(url, "eth_accounts", json!([])).await?;
    let from = accounts
        .get(0)
        .and_then(Value::as_str)
        .ok_or(Error::Rpc { method: "eth_accounts", reason: "the node has no account".into() })?
        .to_owned();
    let tx = json!({"from": from, "to": to, "value": format!("0x{wei:x}"), "gas": "0x5208"});
    let hash = call(url, "eth_sendTransaction", json!([tx])).await?;
    let started = Instant::now();
    // Dev nodes mine on arrival; the poll only covers the moment until the receipt exists.
    while started.elapsed() < Duration::from_secs(30) {
        let receipt = call(url, "eth_getTransactionReceipt", json!([hash])).await?;
        match receipt.get("status").and_then(Value::as_str) {
            Some("0x1") => return Ok(()),
            Some(status) => {
                return Err(Error::Rpc {
                    method: "eth_sendTransaction",
                    reason: format!("the funding transfer failed (status {status})"),
                });
            }
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    Err(Error::Rpc { method: "eth_getTransactionReceipt", reason: "not mined in 30 s".into() })
}
