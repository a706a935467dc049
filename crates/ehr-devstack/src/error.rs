//! The one error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while starting or stopping a local node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A binary could not be found anywhere it is looked for.
    #[error(
        "{tool} not found (looked in: {searched}); run scripts/setup to install it, or set {env_var}"
    )]
    ToolNotFound {
        /// The tool's name.
        tool: &'static str,
        /// Every place that was searched, comma separated.
        searched: String,
        /// The environment variable that overrides the lookup.
        env_var: &'static str,
    },
    /// A process could not be started at all.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program that failed to start.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A helper command (such as `ipfs init`) ran but failed.
    #[error("`{command}` failed with {status}: {output}")]
    CommandFailed {
        /// The command line.
        command: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// What it printed.
        output: String,
    },
    /// The service exited before it became ready.
    #[error("{service} exited with {status} before it answered; last log lines:\n{log_tail}")]
    ExitedEarly {
        /// Which service.
        service: &'static str,
        /// How it exited.
        status: std::process::ExitStatus,
        /// The end of its log.
        log_tail: String,
    },
    /// The service did not answer within the start-up timeout.
    #[error("{service} did not answer at {url} within {seconds} s; last log lines:\n{log_tail}")]
    NotReady {
        /// Which service.
        service: &'static str,
        /// Where it was polled.
        url: String,
        /// How long we waited.
        seconds: u64,
        /// The end of its log.
        log_tail: String,
    },
    /// A kubo repository's config file could not be read or rewritten.
    #[error("kubo config {path}: {reason}")]
    KuboConfig {
        /// The config file.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// A JSON-RPC call to a dev node failed or was answered with an error.
    #[error("{method}: {reason}")]
    Rpc {
        /// The method called.
        method: &'static str,
        /// What went wrong, or the node's error.
        reason: String,
    },
    /// A file-system operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A signal could not be delivered to a process.
    #[error("cannot signal process {pid}: {source}")]
    Signal {
        /// The process id.
        pid: u32,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A process did not exit after SIGTERM and SIGKILL.
    #[error("process {pid} did not exit")]
    StillRunning {
        /// The process id.
        pid: u32,
    },
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }
}
