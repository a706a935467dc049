//! The crate's single error type.

use std::io;

/// Result alias used throughout `ehr-crypto`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while sealing, opening or parsing an envelope or a wrapped key.
///
/// Authentication failures are deliberately coarse where finer detail would need a secret the
/// reader does not have (a reader cannot tell "not a recipient" from "my slot was modified").
/// No variant ever carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A recovery code does not parse.
    #[error("invalid recovery code: {0}")]
    InvalidRecoveryCode(&'static str),

    /// The input does not start with the envelope magic bytes `EHRE`.
    #[error("not an ehrkit envelope (bad magic bytes)")]
    BadMagic,

    /// The envelope declares a format version this library does not implement.
    #[error("unsupported envelope format version {0}")]
    UnsupportedVersion(u8),

    /// The envelope declares an algorithm id this library does not implement.
    #[error("unsupported {field} algorithm id {id}")]
    UnsupportedAlgorithm {
        /// Which header field held the id (`content`, `padding`).
        field: &'static str,
        /// The id found.
        id: u8,
    },

    /// A chunk size outside 4 KiB..=4 MiB or not a power of two.
    #[error("invalid chunk size {0}: must be a power of two between 4 KiB and 4 MiB")]
    InvalidChunkSize(u32),

    /// The header declares zero key slots or more than [`crate::envelope::MAX_SLOTS`].
    #[error("invalid key slot count {0}")]
    InvalidSlotCount(usize),

    /// A key slot has a type byte this library does not implement.
    #[error("unknown key slot type {0}")]
    UnknownSlotType(u8),

    /// Too many recipients to fit the header's slot cap once decoy slots are added.
    #[error(
        "too many recipients: {ecies} public-key and {symmetric} symmetric slots exceed the cap"
    )]
    TooManyRecipients {
        /// Public-key recipients requested (patient included).
        ecies: usize,
        /// Symmetric recipients requested.
        symmetric: usize,
    },

    /// The envelope (or the header) ended before its final chunk.
    #[error("envelope is truncated")]
    Truncated,

    /// Bytes follow the envelope's final chunk.
    #[error("unexpected data after the end of the envelope")]
    TrailingData,

    /// The header's MAC did not verify under the unwrapped data key: the header was modified,
    /// the key slot was copied from another envelope, or the envelope belongs to another chain,
    /// index contract or patient (which the MAC covers but the header does not carry).
    #[error(
        "envelope header failed authentication (modified, or not this chain's, contract's or patient's record)"
    )]
    HeaderAuthentication,

    /// The header names a different record id than expected.
    #[error("envelope belongs to a different record (another record id)")]
    ContextMismatch,

    /// No key slot could be opened with the key given: not a recipient, wrong key, or the
    /// slot was modified.
    #[error(
        "no key slot opens with the given key (not a recipient, or the envelope belongs to another chain, contract or patient)"
    )]
    NoKeyForRecipient,

    /// A chunk failed authentication: modified, reordered, duplicated, dropped, or taken from
    /// another envelope. `index` is the chunk's position in the stream (0-based).
    #[error("chunk {index} failed authentication")]
    ChunkAuthentication {
        /// Position of the offending chunk.
        index: u32,
    },

    /// The authenticated padding is not in canonical form (only a non-conforming writer that
    /// holds the key can produce this).
    #[error("invalid padding in an authenticated chunk")]
    InvalidPadding,

    /// An ECIES-wrapped value did not authenticate: wrong secret key, wrong purpose or
    /// associated data, or modified ciphertext.
    #[error("wrapped key failed authentication")]
    UnwrapFailed,

    /// Bytes that should be a secp256k1 public key are not a valid point (or have the wrong
    /// length).
    #[error("invalid secp256k1 public key")]
    InvalidPublicKey,

    /// A public key does not hash to the Ethereum address it was claimed to belong to.
    #[error("public key does not belong to the given Ethereum address")]
    AddressMismatch,

    /// The patient's public key given to the writer does not match the context's patient
    /// address.
    #[error("patient public key does not match the record context's patient address")]
    PatientKeyMismatch,

    /// A purpose label is empty or longer than 255 bytes.
    #[error("purpose label must be 1..=255 bytes")]
    InvalidLabel,

    /// The input is too large for the format (2^32 chunks or more, or a length overflow).
    #[error("input too large for the envelope format")]
    TooLarge,

    /// A guardian threshold outside 1 to the number of guardians (at most 16).
    #[error(
        "a threshold is 1 to the number of guardians (at most 16): {threshold} of {guardians} is not"
    )]
    InvalidThreshold {
        /// The threshold asked for.
        threshold: u8,
        /// The number of guardians.
        guardians: usize,
    },

    /// An emergency kit's bytes are malformed.
    #[error("malformed emergency kit: {0}")]
    InvalidKit(&'static str),

    /// A guardian's share does not match the kit's Feldman commitments: the guardian (or
    /// whoever wrapped it) sent a wrong share, or it belongs to another index or kit.
    #[error("guardian {index}'s share does not verify against the kit's commitments")]
    ShareDoesNotVerify {
        /// The guardian's number in the set.
        index: u8,
    },

    /// Fewer verified shares of distinct guardians than the kit's threshold.
    #[error("{have} of the {need} guardian shares needed")]
    NotEnoughShares {
        /// Distinct verified shares at hand.
        have: usize,
        /// The threshold.
        need: usize,
    },

    /// A claim's terms opened but do not hash to the commitment the claim registry stores.
    #[error("the claim's terms do not match its on-chain commitment")]
    CommitmentMismatch,

    /// A reason text to encrypt is empty or longer than 256 bytes.
    #[error("a reason is 1 to 256 bytes of text, not {len}")]
    InvalidReasonLength {
        /// The text's length in bytes.
        len: usize,
    },

    /// One read cannot be logged: a keyword list longer than a read log holds.
    #[error("a read log holds at most {max} bytes; the keywords alone take {len}")]
    ReadLogTooLarge {
        /// The encoded length of the keywords.
        len: usize,
        /// The most a read log holds.
        max: usize,
    },

    /// A read log opened but its contents do not parse (not written by this protocol).
    #[error("a read log's contents are malformed: {0}")]
    MalformedReadLog(&'static str),

    /// The random number generator failed (or injected test randomness ran out).
    #[error("random number generator failed")]
    Randomness,

    /// An earlier error left this reader or writer in an unusable state.
    #[error("envelope stream already failed")]
    Poisoned,

    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
}

impl From<io::Error> for Error {
    /// Unwraps an [`Error`] that travelled through `std::io` (from our `Read`/`Write` impls)
    /// so callers of `io::copy` still get the precise variant.
    fn from(err: io::Error) -> Self {
        if !err.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return Error::Io(err);
        }
        match err.into_inner().map(|inner| inner.downcast::<Error>()) {
            Some(Ok(ours)) => *ours,
            // Unreachable: `get_ref` just saw an `Error` inside.
            _ => Error::Poisoned,
        }
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Io(inner) => inner,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_survive_a_trip_through_io_error() {
        let io_err: io::Error = Error::ChunkAuthentication { index: 7 }.into();
        assert_eq!(io_err.kind(), io::ErrorKind::InvalidData);
        assert!(matches!(Error::from(io_err), Error::ChunkAuthentication { index: 7 }));
    }

    #[test]
    fn plain_io_errors_stay_io() {
        let err = Error::from(io::Error::new(io::ErrorKind::BrokenPipe, "x"));
        assert!(matches!(err, Error::Io(e) if e.kind() == io::ErrorKind::BrokenPipe));
    }
}
