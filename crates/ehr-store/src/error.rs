//! The one error type of this crate.

use crate::config::StoreUrlError;
use crate::pinning::PinState;
use crate::{Cid, CidParseError};
use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while storing, fetching, verifying or pinning a blob.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A string (or byte string) is not a CID this crate accepts.
    #[error("invalid CID {input:?}: {reason}")]
    InvalidCid {
        /// The input (cut to 128 characters; binary input in hex).
        input: String,
        /// What is wrong with it.
        reason: CidParseError,
    },
    /// A store setting such as `kubo:http://127.0.0.1:5001` could not be understood.
    #[error("invalid store setting {input:?}: {reason}")]
    InvalidStoreUrl {
        /// The setting.
        input: String,
        /// What is wrong with it.
        reason: StoreUrlError,
    },
    /// The blob is larger than the store's maximum blob size; nothing was kept.
    #[error("blob exceeds the maximum blob size of {limit} bytes; nothing was stored")]
    TooLarge {
        /// The maximum, in bytes.
        limit: u64,
    },
    /// Reading the caller's data (the reader or stream given to `put`) failed.
    #[error("reading the blob to store failed: {source}")]
    Input {
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The store does not hold the blob.
    #[error("blob {cid} not found")]
    NotFound {
        /// The blob's CID.
        cid: Cid,
    },
    /// Stored or served bytes do not match the CID they were asked for: a flipped byte, a
    /// truncated or swapped file, a lying node. No unverified byte was handed out.
    #[error("blob {cid} is corrupt: {detail}")]
    Corrupt {
        /// The blob's (root) CID.
        cid: Cid,
        /// Which block and how.
        detail: String,
    },
    /// The blob's blocks verify but do not form a UnixFS file this crate can read (a
    /// directory, inconsistent sizes, a malformed node, too deep).
    #[error("blob {cid} is not a readable UnixFS file: {detail}")]
    InvalidDag {
        /// The blob's (root) CID.
        cid: Cid,
        /// What is wrong.
        detail: String,
    },
    /// The disk (or quota) is full; the partly written temporary file was removed.
    #[error("disk full while writing {path}; nothing was stored")]
    DiskFull {
        /// The file being written.
        path: PathBuf,
        /// The underlying error (ENOSPC or EDQUOT).
        #[source]
        source: std::io::Error,
    },
    /// Another file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A service (kubo, a pinning service) could not be connected to.
    #[error("cannot reach {url} (is the daemon running and the address right?): {source}")]
    Unreachable {
        /// The address tried.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// A request failed after the connection was made (reset, timeout, cut body).
    #[error("request to {url} failed: {source}")]
    Request {
        /// The address.
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// A service refused the credentials (HTTP 401 or 403).
    #[error("{url} refused the access token (HTTP {status}): {message}")]
    Unauthorized {
        /// The address.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The service's explanation.
        message: String,
    },
    /// A service answered with an error status.
    #[error("{url} answered HTTP {status}: {message}")]
    Http {
        /// The address.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The service's explanation.
        message: String,
    },
    /// A service answered something that does not follow its API.
    #[error("unexpected answer from {url}: {detail}")]
    Protocol {
        /// The address.
        url: String,
        /// What was unexpected.
        detail: String,
    },
    /// kubo stored the blob under another CID than the one computed locally (it imported
    /// with other settings, or it or a proxy changed the bytes).
    #[error("kubo returned CID {got}, but the data's CID is {expected}")]
    CidMismatch {
        /// The CID computed here while uploading.
        expected: Cid,
        /// The CID kubo reported.
        got: Cid,
    },
    /// The pinning service reports the pin request as failed.
    #[error("the pinning service failed to pin {cid} (request {requestid}): {detail}")]
    PinFailed {
        /// The CID.
        cid: Cid,
        /// The service's request id.
        requestid: String,
        /// The service's `info`, if any.
        detail: String,
    },
    /// The pinning service did not report the pin as pinned in time.
    #[error(
        "the pinning service did not pin {cid} within {waited:?} (request {requestid} is {status})"
    )]
    PinTimeout {
        /// The CID.
        cid: Cid,
        /// The service's request id.
        requestid: String,
        /// The last status seen.
        status: PinState,
        /// How long we waited.
        waited: Duration,
    },
    /// Fewer nodes of a replicated store pin the blob than its replication factor asks for.
    /// A write that ends like this has been taken back: it left no pin behind.
    #[error(
        "blob {cid} could be pinned on only {pinned} of the {factor} nodes required: {failures}"
    )]
    UnderReplicated {
        /// The blob.
        cid: Cid,
        /// The replication factor.
        factor: usize,
        /// How many nodes pinned it.
        pinned: usize,
        /// Each node that failed and why, `; `-separated.
        failures: String,
    },
    /// A replicated store was given a factor of 0 or more than its nodes.
    #[error("a replication factor of {factor} is impossible with {nodes} nodes (1 to {nodes})")]
    InvalidFactor {
        /// The factor given.
        factor: usize,
        /// How many nodes there are.
        nodes: usize,
    },
    /// No access token was given for a pinning service.
    #[error("no pinning service access token: set {env_var} or pass one in StoreOptions")]
    MissingToken {
        /// The environment variable looked at.
        env_var: String,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}
