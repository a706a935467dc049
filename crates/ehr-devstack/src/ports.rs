//! Free loopback ports.

use crate::{Error, Result};
use std::net::{Ipv4Addr, TcpListener};

/// Asks the kernel for a free TCP port on 127.0.0.1.
///
/// The port is released before the service binds it, so another process could take it in
/// between; callers retry start-up with a new port when a service cannot bind.
pub(crate) fn free_loopback_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("binding a loopback port to find a free one", e))?;
    let port = listener.local_addr().map_err(|e| Error::io("reading the bound port", e))?.port();
    Ok(port)
}
