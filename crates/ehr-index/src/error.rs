//! The crate's single error type.

/// Result alias used throughout `ehr-index`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong building tags, verifying an index, searching, or handling
/// grant key material. No variant carries key material or keyword text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A keyword is empty once normalized.
    #[error("a keyword is empty after normalization")]
    EmptyKeyword,
    /// A keyword is longer than 64 bytes once normalized.
    #[error("a keyword is {len} bytes after normalization; at most 64 are allowed")]
    KeywordTooLong {
        /// Its normalized length in bytes.
        len: usize,
    },
    /// A record cannot carry more than 64 distinct keywords.
    #[error("{count} distinct keywords; a record carries at most 64")]
    TooManyKeywords {
        /// How many were given.
        count: usize,
    },
    /// A category name is not 1 to 31 bytes of printable ASCII.
    #[error("invalid category {0:?}: 1 to 31 printable ASCII characters")]
    InvalidCategory(String),
    /// The category's opaque on-chain id cannot be computed here: no naming key (patient or
    /// All grant) and no Category grant for that name.
    #[error(
        "category {0:?} has no known id for this patient: only the patient and All grantees can \
         compute category ids, a Category grant gives its own category's; ask the patient for a \
         grant of category:{0} or all"
    )]
    UnknownCategoryName(String),
    /// Tag bytes are not 8, 16, 32 or 64 tags of 16 bytes.
    #[error("a tag list of {len} bytes is not 8, 16, 32 or 64 tags of 16 bytes")]
    InvalidTagList {
        /// The length found.
        len: usize,
    },
    /// The random number generator failed.
    #[error("random number generator failed")]
    Randomness,
    /// A time filter whose start is after its end.
    #[error("the time range is empty: since {since} is after until {until}")]
    InvalidTimeRange {
        /// The start.
        since: u64,
        /// The end.
        until: u64,
    },

    /// A signature is not 65 bytes `r ‖ s ‖ v` with a valid `v`, or does not recover.
    #[error("invalid signature (expected 65 bytes r ‖ s ‖ v)")]
    InvalidSignature,
    /// The master-secret signature was made by another account.
    #[error("the master-secret message was signed by {signer}, not by the patient {patient}")]
    WrongSigner {
        /// Who signed.
        signer: alloy::primitives::Address,
        /// Who should have.
        patient: alloy::primitives::Address,
    },
    /// The signer failed.
    #[error("signing failed: {0}")]
    Signer(#[from] alloy::signers::Error),

    /// An entry is not after the one before it (block, log index).
    #[error("the entry at block {block}, log {log_index} is out of order")]
    OutOfOrder {
        /// Its block.
        block: u64,
        /// Its log index.
        log_index: u64,
    },
    /// The same event appears twice.
    #[error("the entry at block {block}, log {log_index} appears twice")]
    DuplicateEntry {
        /// Its block.
        block: u64,
        /// Its log index.
        log_index: u64,
    },
    /// An entry lies after the block the state was read at.
    #[error("an entry at block {block} is after the verified block {at_block}")]
    EntryAfterBlock {
        /// Its block.
        block: u64,
        /// The verified block.
        at_block: u64,
    },
    /// Record ids skip or repeat: a record was omitted, inserted or altered.
    #[error("record id {found} at block {block} where {expected} was expected")]
    NonConsecutiveRecordId {
        /// The next id.
        expected: u64,
        /// The id found.
        found: u64,
        /// The entry's block.
        block: u64,
    },
    /// A tombstone names a record that does not exist before it.
    #[error("a tombstone at block {block} supersedes record {record_id}, which does not exist yet")]
    UnknownSupersededRecord {
        /// The record named.
        record_id: u64,
        /// The tombstone's block.
        block: u64,
    },
    /// A tombstone is not immediately followed, in its block, by its superseding record.
    #[error(
        "the tombstone of record {record_id} at block {block} is not followed by its superseding record"
    )]
    TombstoneNotFollowed {
        /// The superseded record.
        record_id: u64,
        /// The tombstone's block.
        block: u64,
    },
    /// A record's tag list is not a valid bucket.
    #[error("record {record_id} has a tag list of {len} bytes, not a bucket of 16-byte tags")]
    InvalidRecordTags {
        /// The record.
        record_id: u64,
        /// The length found.
        len: usize,
    },
    /// The number of entries differs from the contract's count.
    #[error("the events hold {found} entries but the contract counts {expected}")]
    CountMismatch {
        /// The contract's count.
        expected: u64,
        /// Entries received.
        found: u64,
    },
    /// The number of records differs from the contract's count.
    #[error("the events hold {found} records but the contract counts {expected}")]
    RecordCountMismatch {
        /// The contract's count.
        expected: u64,
        /// Records received.
        found: u64,
    },
    /// The entries do not reproduce the contract's accumulator: something was altered.
    #[error("the events do not reproduce the contract's accumulator at block {at_block}")]
    AccumulatorMismatch {
        /// The block the state was read at.
        at_block: u64,
    },

    /// Grant key material has a version this library does not know.
    #[error("unsupported grant key material version {0}")]
    UnsupportedGrantKeysVersion(u8),
    /// Grant key material has an unknown scope kind.
    #[error("unknown grant key kind {0}")]
    UnknownGrantKind(u8),
    /// Grant key material is not a whole number of items, or not exactly one where one is due.
    #[error("malformed grant key material ({len} bytes)")]
    MalformedGrantKeys {
        /// Its length.
        len: usize,
    },
    /// Grant key material is for another kind of scope than the grant.
    #[error("grant key material of kind {found} for a scope of kind {expected}")]
    GrantKindMismatch {
        /// The grant's scope kind.
        expected: u8,
        /// The material's kind.
        found: u8,
    },
    /// Shared epoch keys open under none of the grantee's scopes.
    #[error("keys shared for epoch {epoch} open under none of the grantee's scopes")]
    NoScopeOpensSharedKeys {
        /// The epoch.
        epoch: u64,
    },
    /// A Record grant hands over the record's data key, which the master secret cannot derive.
    #[error("a grant of record {record} needs that record's data key")]
    RecordScopeNeedsDataKey {
        /// The record.
        record: u64,
    },
    /// Epoch keys shared for no All or Category scope.
    #[error("no All or Category scope to share epoch keys for")]
    NothingToShare,
    /// A cryptographic operation failed (unwrap, public key check).
    #[error(transparent)]
    Crypto(#[from] ehr_crypto::Error),

    /// A contract call failed (decoded revert or RPC failure).
    #[error(transparent)]
    Contract(#[from] ehr_contracts::Error),
    /// The RPC node failed outside a contract call.
    #[error("{action}: the RPC call failed: {source}")]
    Rpc {
        /// What was being done.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The node refused logs of even a single block.
    #[error("the node refused the logs of block {block}: {reason}")]
    RangeRefused {
        /// The block.
        block: u64,
        /// The node's message.
        reason: String,
    },
    /// The node returned a log that is not what was asked for.
    #[error("the node returned {reason}")]
    UnexpectedLog {
        /// What was wrong.
        reason: &'static str,
    },
    /// The node does not know a block it gave a log for.
    #[error("the node does not know block {block}")]
    UnknownBlock {
        /// The block.
        block: u64,
    },
    /// The key events the node returned do not reproduce the registry's commitment to the key
    /// material it handed out: some were invented, altered, dropped or reordered.
    #[error(
        "the key material the node reports for patient {patient} and grantee {grantee} does not \
         match the consent registry's commitment at block {at_block}: refusing every key of \
         this grant (the RPC node is lying or broken; use another one)"
    )]
    KeyMaterialMismatch {
        /// The patient.
        patient: alloy::primitives::Address,
        /// The grantee.
        grantee: alloy::primitives::Address,
        /// The block the commitment was read at.
        at_block: u64,
    },
    /// Grant keys were asked for without a consent registry address.
    #[error("no consent registry configured")]
    NoConsentRegistry,
}
