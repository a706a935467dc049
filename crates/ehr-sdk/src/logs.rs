//! Reading event logs over long block ranges and dating them.
//!
//! Public RPC nodes cap the block range (and result size) of one `eth_getLogs`, so ranges are
//! fetched in pages, halved whenever the node refuses one. A log's time is its
//! `blockTimestamp` when the node sends it (recent nodes do), else its block header's,
//! fetched once per block.

use crate::session::{Chain, rpc_error};
use crate::{Error, Result};
use alloy::eips::BlockNumberOrTag;
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::transports::RpcError;
use std::collections::HashMap;

/// Blocks asked for in the first page.
const INITIAL_RANGE: u64 = 10_000;

/// Every log matching `base` in `from..=to`, in chain order.
pub(crate) async fn fetch_logs(
    chain: &Chain,
    base: &Filter,
    from: u64,
    to: u64,
) -> Result<Vec<Log>> {
    let mut out = Vec::new();
    let mut range = INITIAL_RANGE;
    let mut start = from;
    while start <= to {
        let end = to.min(start.saturating_add(range - 1));
        let filter = base.clone().from_block(start).to_block(end);
        match chain.reader().get_logs(&filter).await {
            Ok(logs) => {
                tracing::trace!(start, end, logs = logs.len(), "fetched logs");
                out.extend(logs.into_iter().filter(|log| !log.removed));
                if end == u64::MAX {
                    break;
                }
                start = end + 1;
            }
            // A refused page is most likely over the node's range or size limit: halve it.
            Err(RpcError::ErrorResp(payload)) if start < end => {
                tracing::debug!(start, end, reason = %payload.message, "log page refused; halving");
                range = (end - start).div_ceil(2).max(1);
            }
            Err(e) => return Err(rpc_error(chain.rpc_url(), "fetch event logs", e)),
        }
    }
    Ok(out)
}

/// Block timestamps, fetched at most once per block.
#[derive(Debug, Default)]
pub(crate) struct BlockTimes {
    known: HashMap<u64, u64>,
}

impl BlockTimes {
    /// The time of the block `log` is in.
    pub(crate) async fn of(&mut self, chain: &Chain, log: &Log) -> Result<u64> {
        let block = log.block_number.unwrap_or_default();
        if let Some(time) = log.block_timestamp {
            self.known.insert(block, time);
            return Ok(time);
        }
        if let Some(time) = self.known.get(&block) {
            return Ok(*time);
        }
        let header = chain
            .reader()
            .get_block_by_number(BlockNumberOrTag::Number(block))
            .await
            .map_err(|e| rpc_error(chain.rpc_url(), "read a block header", e))?
            .ok_or(Error::Rpc {
                action: "read a block header",
                reason: format!("no block {block}"),
            })?;
        self.known.insert(block, header.header.timestamp);
        Ok(header.header.timestamp)
    }
}
