//! Starting a dev node process on a free loopback port, shared by the Hardhat, ganache and
//! geth starters (anvil has its own, with state files and restarts).

use crate::process::{Lifetime, ServiceProcess};
use crate::readiness::wait_until_ready;
use crate::{Error, Result, ports, rpc};
use std::path::Path;
use std::process::Command;

/// A started dev node: its process, port and chain id.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) process: ServiceProcess,
    pub(crate) port: u16,
}

/// Starts `command(port)` with its log in `log`, on a free port (three tries: another process
/// may take a picked port before the node binds it), and waits until it answers
/// `eth_chainId` with `chain_id`.
pub(crate) async fn start(
    service: &'static str,
    log: &Path,
    chain_id: u64,
    lifetime: Lifetime,
    mut command: impl FnMut(u16) -> Result<Command>,
) -> Result<Started> {
    let mut last_error = None;
    for _ in 0..3 {
        let port = ports::free_loopback_port()?;
        let mut process = ServiceProcess::spawn(service, command(port)?, log, lifetime)?;
        let url = format!("http://127.0.0.1:{port}");
        match wait_until_ready(&mut process, &url, || rpc::chain_id(&url)).await {
            Ok(answered) if answered == chain_id => return Ok(Started { process, port }),
            Ok(answered) => {
                return Err(Error::NotReady {
                    service,
                    url,
                    seconds: 0,
                    log_tail: format!("answered chain id {answered}, expected {chain_id}"),
                });
            }
            Err(e @ Error::ExitedEarly { .. }) => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.expect("at least one attempt ran"))
}
