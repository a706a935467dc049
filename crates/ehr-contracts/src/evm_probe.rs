//! Which of the contracts' builds a node can run, found by asking it to run tiny code.
//!
//! `eth_call` without a `to` runs its data as init code, so a few bytes show whether the
//! node's EVM has an opcode: a node without it answers "invalid opcode" (an error), one with
//! it answers `0x`. Prague added no opcode (EOF was left out of it), so its probe calls the
//! BLS12-381 G1 addition precompile (EIP-2537, address 0x0b) with two points at infinity:
//! a prague node returns the 128-byte point at infinity, an older one has no code there and
//! returns nothing. That is the cheapest prague-only behaviour a plain `eth_call` sees;
//! EIP-7702 transactions cannot be tried without sending one.

use crate::evm_build::EvmBuild;
use crate::{Error, Result};
use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, address};
use alloy::providers::Provider;
use alloy::rpc::types::TransactionRequest;
use alloy::transports::RpcError;

/// PUSH1 0 POP STOP: runs on every EVM. If the node refuses this, it cannot be probed this way
/// (a malformed request, no contract-creation calls), and the answers below would mean nothing.
const CONTROL_PROBE: &[u8] = &[0x60, 0x00, 0x50, 0x00];
/// PUSH0 PUSH0 RETURN: shanghai's PUSH0 (EIP-3855).
const SHANGHAI_PROBE: &[u8] = &[0x5f, 0x5f, 0xf3];
/// PUSH1 0 PUSH1 0 TSTORE, PUSH1 0 TLOAD POP, PUSH1 0 PUSH1 0 PUSH1 0 MCOPY, PUSH1 0 BLOBHASH
/// POP, STOP: cancun's transient storage (EIP-1153), MCOPY (EIP-5656) and BLOBHASH (EIP-4844).
const CANCUN_PROBE: &[u8] = &[
    0x60, 0x00, 0x60, 0x00, 0x5d, 0x60, 0x00, 0x5c, 0x50, 0x60, 0x00, 0x60, 0x00, 0x60, 0x00, 0x5e,
    0x60, 0x00, 0x49, 0x50, 0x00,
];
/// EIP-2537's BLS12_G1ADD.
const BLS12_G1ADD: Address = address!("0x000000000000000000000000000000000000000b");

/// What a node's EVM runs, by probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmSupport {
    /// The newest build the node runs, `None` when it lacks even PUSH0.
    pub newest: Option<EvmBuild>,
    /// What each probe got, for messages: `(fork, answer)`.
    pub answers: Vec<(&'static str, String)>,
}

impl EvmSupport {
    /// Whether the node runs `build`.
    pub fn runs(&self, build: EvmBuild) -> bool {
        self.newest.is_some_and(|newest| build <= newest)
    }
}

/// Probes the node behind `provider`. RPC failures that are not the node's answer to a probe
/// (connection refused, timeouts) are errors, and so is a node that refuses even code every
/// EVM runs; otherwise an answer with an error means "not supported".
pub async fn probe_evm<P: Provider>(provider: &P) -> Result<EvmSupport> {
    if let Err(reason) = run(provider, request(None, Bytes::from_static(CONTROL_PROBE))).await? {
        return Err(Error::EvmProbe { reason });
    }
    let mut answers = Vec::new();
    let mut newest = None;
    for (build, fork) in [(EvmBuild::Shanghai, "shanghai"), (EvmBuild::Cancun, "cancun")] {
        let code = if build == EvmBuild::Shanghai { SHANGHAI_PROBE } else { CANCUN_PROBE };
        let call = request(None, Bytes::from_static(code));
        match run(provider, call).await? {
            Ok(_) => {
                answers.push((fork, "runs".to_owned()));
                newest = Some(build);
            }
            Err(message) => {
                answers.push((fork, message));
                return Ok(EvmSupport { newest, answers });
            }
        }
    }
    // Two points at infinity (2 × 128 zero bytes) add up to the point at infinity.
    let call = request(Some(BLS12_G1ADD), Bytes::from(vec![0u8; 256]));
    match run(provider, call).await? {
        Ok(output) if output.len() == 128 && output.iter().all(|b| *b == 0) => {
            answers.push(("prague", "runs".to_owned()));
            newest = Some(EvmBuild::Prague);
        }
        Ok(output) => answers.push((
            "prague",
            format!("no BLS12-381 precompile (0x0b returned {} bytes)", output.len()),
        )),
        Err(message) => answers.push(("prague", message)),
    }
    Ok(EvmSupport { newest, answers })
}

/// A call of `input` to `to`, or of `input` as init code. Only the `input` field, as every
/// other call ehrkit makes: Hardhat's EDR refuses a call with both `input` and `data`
/// ("duplicate field `data`").
fn request(to: Option<Address>, input: Bytes) -> TransactionRequest {
    let request = TransactionRequest::default().with_input(input);
    match to {
        Some(to) => request.with_to(to),
        None => request,
    }
}

/// One probe call: `Ok(Ok(output))` when it ran, `Ok(Err(message))` when the node answered
/// with an error, `Err` when the node could not be asked.
async fn run<P: Provider>(
    provider: &P,
    call: TransactionRequest,
) -> Result<std::result::Result<Bytes, String>> {
    match provider.call(call).await {
        Ok(output) => Ok(Ok(output)),
        Err(RpcError::ErrorResp(payload)) => Ok(Err(payload.message.to_string())),
        Err(e) => Err(Error::Rpc { action: "probe the node's EVM version", source: Box::new(e) }),
    }
}
