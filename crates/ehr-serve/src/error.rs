//! Why a server could not be set up.

/// A server set-up failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The public origin is not `scheme://host[:port]`.
    #[error("the public origin {origin:?} is not an origin like https://ehr.example.org: {reason}")]
    BadPublicOrigin {
        /// What was given.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The operating system gave no randomness for the page's API token.
    #[error("no randomness for the API token: {0}")]
    Randomness(String),
    /// A quota or limit is zero, which would refuse everything.
    #[error("{what} must be above zero")]
    ZeroLimit {
        /// Which setting.
        what: &'static str,
    },
    /// Binding or accepting failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// The crate's result.
pub type Result<T> = std::result::Result<T, Error>;
