//! The one error type of this crate.

use alloy::primitives::Address;
use std::path::PathBuf;

/// Everything a workflow can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Encrypting or decrypting a record failed (wrong key, tampered envelope, …).
    #[error(transparent)]
    Crypto(#[from] ehr_crypto::Error),
    /// The blob store failed (unreachable, corrupt blob, disk full, …).
    #[error(transparent)]
    Store(#[from] ehr_store::Error),
    /// Reading the plaintext source or writing the plaintext out failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being read or written.
        context: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A contract call failed; a revert keeps the contract's decoded reason as a sentence.
    #[error(transparent)]
    Contract(#[from] ehr_contracts::Error),
    /// Building or unwrapping grant key material, or reading the index, failed.
    #[error(transparent)]
    Index(#[from] ehr_index::Error),
    /// A record input was refused (invalid FHIR, file too large, …), or a decrypted record is
    /// not a valid record frame.
    #[error(transparent)]
    Record(#[from] ehr_record::RecordError),
    /// A FHIR R4 document has problems: every one found (at most 100), each with its path.
    #[error(
        "the FHIR R4 document is not valid: {} problem{}{}: {}",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" },
        if *truncated { " (and more)" } else { "" },
        problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    InvalidFhir {
        /// The problems, in document order.
        problems: Vec<ehr_record::RecordError>,
        /// More were found than are listed.
        truncated: bool,
    },
    /// Starting or stopping the local stack failed.
    #[error(transparent)]
    DevStack(#[from] ehr_devstack::Error),
    /// The RPC node does not answer at all (down, wrong URL, firewall).
    #[error("cannot reach the RPC node at {url}: {reason}")]
    RpcUnreachable {
        /// The URL tried.
        url: String,
        /// What the transport said.
        reason: String,
    },
    /// The RPC node answered a read with an error.
    #[error("{action}: the RPC node answered with an error: {reason}")]
    Rpc {
        /// What was being done.
        action: &'static str,
        /// The node's answer.
        reason: String,
    },
    /// There is no deployment file where one was expected.
    #[error("no deployment file at {}", path.display())]
    NoDeployment {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A deployment file exists for another chain than the RPC serves; it is not replaced.
    #[error(
        "{} holds a deployment for chain {file_chain_id}, but the RPC serves chain {rpc_chain_id}; refusing to overwrite it",
        path.display()
    )]
    DeploymentForOtherChain {
        /// The file.
        path: PathBuf,
        /// Its chain.
        file_chain_id: u64,
        /// The RPC's chain.
        rpc_chain_id: u64,
    },
    /// A deployment file for this chain exists; replacing it needs an explicit choice.
    #[error("{} already holds a deployment for chain {chain_id}", path.display())]
    DeploymentExists {
        /// The file.
        path: PathBuf,
        /// Its chain.
        chain_id: u64,
    },
    /// The workflow sends a transaction or signs, but no signer was given.
    #[error("this needs a signing account, and none was given")]
    NoSigner,
    /// A keystore name is not usable as a file name.
    #[error("invalid account name {name:?}: use 1 to 64 letters, digits, '-' or '_'")]
    InvalidAccountName {
        /// The name given.
        name: String,
    },
    /// A keystore with this name exists already.
    #[error("an account named {name:?} already exists at {}", path.display())]
    AccountExists {
        /// The name.
        name: String,
        /// Its keystore file.
        path: PathBuf,
    },
    /// No keystore at the path.
    #[error("no keystore at {}", path.display())]
    NoKeystore {
        /// Where it was looked for.
        path: PathBuf,
    },
    /// The password does not open the keystore.
    #[error("wrong password for keystore {}", path.display())]
    WrongPassword {
        /// The keystore.
        path: PathBuf,
    },
    /// A keystore file could not be read, written or understood.
    #[error("keystore {}: {reason}", path.display())]
    Keystore {
        /// The keystore.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// A private key is not 32 bytes of hex, or not a valid secp256k1 scalar.
    #[error(
        "invalid private key: expected 64 hex digits (optionally 0x-prefixed) of a valid secp256k1 key"
    )]
    InvalidPrivateKey,
    /// The account is not a registered patient.
    #[error("{account} is not a registered patient")]
    UnknownPatient {
        /// The account.
        account: Address,
    },
    /// The grantee has no public key in the role registry, so no keys can be wrapped to it.
    #[error("{account} has registered no public key, so no record keys can be wrapped to it")]
    NoPublicKey {
        /// The account.
        account: Address,
    },
    /// A guardian has registered no public key, so no share can be wrapped to it.
    #[error(
        "{guardian} has registered no public key, so no share can be wrapped to it: it runs `ehr key register` first"
    )]
    GuardianWithoutPublicKey {
        /// The guardian.
        guardian: Address,
    },
    /// The same guardian was named twice.
    #[error("guardian {guardian} is named twice")]
    DuplicateGuardian {
        /// The guardian.
        guardian: Address,
    },
    /// The patient has no guardians (or no emergency kit).
    #[error("patient {patient} has named no guardians (`ehr guardian set`)")]
    NoGuardians {
        /// The patient.
        patient: Address,
    },
    /// The signer is not one of the patient's guardians.
    #[error("{account} is not one of patient {patient}'s guardians")]
    NotAGuardian {
        /// The patient.
        patient: Address,
        /// The signer.
        account: Address,
    },
    /// A guardian refused to release its share: the rules say no.
    #[error(
        "the guardian does not release its share of patient {patient}'s keys to {doctor}: {reason}"
    )]
    ReleaseRefused {
        /// The patient.
        patient: Address,
        /// The doctor that asked by opening break-glass access.
        doctor: Address,
        /// Which rule.
        reason: crate::guardians::Refusal,
    },
    /// The emergency kit events the node sent do not hash to the kit the guardian registry
    /// commits to: the node (or a log filter) invented, altered or dropped one.
    #[error(
        "no emergency kit event of patient {patient} matches the guardian registry's commitment at block {at_block}: the node's events are not the contract's"
    )]
    KitMismatch {
        /// The patient.
        patient: Address,
        /// The block the commitment was read at.
        at_block: u64,
    },
    /// The share releases the node sent do not reproduce the guardian registry's chain.
    #[error(
        "the share releases of patient {patient} to {doctor} the node sent do not match the guardian registry's commitment at block {at_block}: the node's events are not the contract's"
    )]
    ReleaseChainMismatch {
        /// The patient.
        patient: Address,
        /// The doctor.
        doctor: Address,
        /// The block the commitment was read at.
        at_block: u64,
    },
    /// A record-scoped grant hands over the record's data key, which only its envelope holds.
    #[error(
        "a grant for record {record} hands over that record's data key, which the record workflows provide"
    )]
    RecordKeyNeeded {
        /// The record.
        record: u64,
    },
    /// A category id on chain whose name the patient's client cannot find (not a well-known
    /// category, nor one named in this run), so no grant keys can carry its name.
    #[error(
        "category {id} is not one of the well-known categories, so its name cannot be recovered \
         from its opaque id: grant it again by name (ehr grant GRANTEE --scope category:NAME)"
    )]
    UnnamedCategory {
        /// The category's id as shown (`#…`).
        id: String,
    },
    /// The CID given for a record is not that record's envelope.
    #[error("{cid} is not the envelope of record {record}: {reason}")]
    InvalidRecordCid {
        /// The record.
        record: u64,
        /// The CID given.
        cid: String,
        /// Why it does not fit.
        reason: String,
    },
    /// The Record grants a claim needs would pass the consent registry's limit of separately
    /// scoped grants per grantee.
    #[error(
        "granting {new} more records to insurer {insurer} would pass the limit of {max} \
         separately scoped grants patient {patient} may give it (it holds {held}): grant it all \
         records or a category with purpose insurance instead, and file the claim relying on \
         that grant"
    )]
    TooManyClaimGrants {
        /// The patient.
        patient: Address,
        /// The insurer.
        insurer: Address,
        /// Grants the insurer holds from the patient already.
        held: usize,
        /// Record grants the claim would add.
        new: usize,
        /// The consent registry's limit.
        max: usize,
    },
    /// The reviewer holds no key for a record of the claim: the patient's grants carry the
    /// keys to the insurer's own account, not to its staff.
    #[error(
        "{reviewer} holds no key for record {record_id} of claim {claim_id}: the patient's \
         grants carry the record keys to the insurer's account {insurer}, so review as that \
         account (its staff may decide)"
    )]
    NoClaimRecordKey {
        /// The claim.
        claim_id: u64,
        /// The record.
        record_id: u64,
        /// Who tried to review.
        reviewer: Address,
        /// The claim's insurer.
        insurer: Address,
    },
    /// The patient has no such record in the index.
    #[error("patient {patient} has no record {record}")]
    UnknownRecord {
        /// The patient.
        patient: Address,
        /// The record asked for.
        record: u64,
    },
    /// The workflow reads or writes records, but no blob store was configured.
    #[error("this needs a blob store, and none was configured")]
    NoStore,
    /// A parsed input was out of range for this workflow.
    #[error(transparent)]
    Input(#[from] crate::parse::ParseError),
    /// A signed grant (relay file) is malformed or not for this deployment.
    #[error("invalid signed grant: {reason}")]
    InvalidSignedGrant {
        /// What is wrong with it.
        reason: String,
    },
    /// The relay did not accept the signed grant.
    #[error("the relay at {url} did not accept the grant: {reason}")]
    Relay {
        /// The relay's URL.
        url: String,
        /// Its answer or the transport error.
        reason: String,
    },
    /// A transaction succeeded but its receipt lacks the event that should report it.
    #[error("{action}: the receipt has no {event} event")]
    MissingEvent {
        /// What was being done.
        action: &'static str,
        /// The event expected.
        event: &'static str,
    },
    /// `ehr dev` found no stack file, or one it cannot read.
    #[error("dev stack file {}: {reason}", path.display())]
    StackFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The local stack is already running.
    #[error("a dev stack is already running (anvil pid {pid} at {rpc_url})")]
    StackRunning {
        /// anvil's PID.
        pid: u32,
        /// Its RPC URL.
        rpc_url: String,
    },
    /// `ehr dev` needs a dev chain (anvil) for this call.
    #[error("{action} works only on a local anvil chain: {reason}")]
    NotADevChain {
        /// What was asked.
        action: &'static str,
        /// The node's answer.
        reason: String,
    },

    // Record workflows (records, journal, search, fetch, export).
    /// The searcher holds no search keys for the patient's records.
    #[error(
        "{holder} holds no keys to search patient {patient}'s records: no All or Category grant \
         from the patient carried any, and no threshold of guardians released emergency keys to it"
    )]
    NoSearchKeys {
        /// The patient.
        patient: Address,
        /// Who searched.
        holder: Address,
    },
    /// A de-identified export goes into a new or empty directory only.
    #[error("{} is not empty: export into a new or empty directory", path.display())]
    ExportDirNotEmpty {
        /// The directory.
        path: PathBuf,
    },
    /// The writer may not add records of this category for the patient now.
    #[error(
        "{writer} may not write {category} records for patient {patient}: that needs an \
         unexpired grant covering {category} (or all records) held by an active doctor, or \
         open break-glass access"
    )]
    NotAuthorized {
        /// The patient.
        patient: Address,
        /// Who tried to write.
        writer: Address,
        /// The record's category.
        category: String,
    },
    /// The caller holds no key material for an (epoch, category) of the patient.
    #[error(
        "{holder} holds no keys for {category} records of patient {patient} in key epoch \
         {epoch}: no grant carried them (after a revocation the patient shares the new epoch's \
         keys with the grantees it keeps)"
    )]
    NoCategoryKeys {
        /// The patient.
        patient: Address,
        /// Who looked for keys.
        holder: Address,
        /// The category.
        category: String,
        /// The key epoch.
        epoch: u64,
    },
    /// No key the reader holds opens the record.
    #[error(
        "{reader} holds no key for record {record_id} of patient {patient} ({category}, key \
         epoch {epoch}): no grant covers it"
    )]
    NoRecordKey {
        /// The patient.
        patient: Address,
        /// Who tried to read.
        reader: Address,
        /// The record.
        record_id: u64,
        /// Its category.
        category: String,
        /// Its key epoch.
        epoch: u64,
    },
    /// The store holds no envelope with the record's digest (as a raw or a dag-pb CID).
    #[error("the store holds no envelope for record {record_id} (digest {digest})")]
    EnvelopeNotFound {
        /// The record.
        record_id: u64,
        /// Its on-chain digest.
        digest: alloy::primitives::B256,
    },
    /// The same content was uploaded for the patient before (per the local upload journal).
    #[error(
        "this content was already uploaded for patient {patient}{}; allow duplicates to upload \
         it again",
        indexed_as(.record_id)
    )]
    Duplicate {
        /// The patient.
        patient: Address,
        /// The record it became, once indexed.
        record_id: Option<u64>,
    },
    /// The envelope was stored and journaled, but adding it to the index failed.
    #[error(
        "the record was stored (CID {cid}) and journaled, but indexing it failed: {source}; \
         resuming the upload journal finishes it"
    )]
    NotIndexed {
        /// The envelope's CID.
        cid: ehr_store::Cid,
        /// Why indexing failed.
        #[source]
        source: Box<Error>,
    },
    /// A file's bytes contradict the content type its name implies.
    #[error(
        "{file} is named as {named}, but {reason}: fix the file, or upload it with \
         --as-document to store it as an opaque document (application/octet-stream)"
    )]
    ContentMismatch {
        /// The file name.
        file: String,
        /// The content type its name implies.
        named: &'static str,
        /// What its bytes are instead.
        reason: String,
    },
    /// The index refused the record(s) after they were stored; what was stored is taken back.
    #[error(
        "{source}; nothing was indexed{}",
        match left_behind {
            None => format!(
                ", and the stored envelope{} unpinned and {} journal entr{} removed",
                if *records == 1 { " was" } else { "s were" },
                if *records == 1 { "its" } else { "their" },
                if *records == 1 { "y" } else { "ies" }
            ),
            Some(left) => format!(" (could not unpin or unjournal: {left})"),
        }
    )]
    UploadRefused {
        /// How many stored records were refused.
        records: usize,
        /// The envelopes that could not be taken back, and why.
        left_behind: Option<String>,
        /// The refusal.
        #[source]
        source: Box<Error>,
    },
    /// The upload journal could not be read or written.
    #[error("upload journal {}: {source}", path.display())]
    Journal {
        /// The journal file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A derived master secret does not match the key-check value on chain.
    #[error(
        "the master secret derived for patient {patient}, key generation {generation}, does not \
         match the key-check value on chain: the recovery code is wrong, or the wallet's \
         signatures are not deterministic. Nothing was granted or written"
    )]
    KeyCheckMismatch {
        /// The patient.
        patient: Address,
        /// The generation.
        generation: u64,
    },
    /// The remembered signed grants could not be read or written.
    #[error("pending signed grants {}: {source}", path.display())]
    PendingGrants {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A remembered signed grant is not valid JSON of the expected shape.
    #[error(
        "pending signed grant {} is unreadable: {reason} (remove it only if you are sure the \
         grant it stands for was submitted or voided)",
        path.display()
    )]
    PendingGrantInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A journal entry is not valid JSON of the expected shape.
    #[error("upload journal entry {} is unreadable: {reason}", path.display())]
    JournalEntryInvalid {
        /// The entry file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Only the patient makes a research export (and seals it to the researcher).
    #[error(
        "{caller} cannot export patient {patient}'s records: the patient makes the export \
         (`ehr export --deidentify --to RESEARCHER`) and the researcher opens it \
         (`ehr export --open FILE`)"
    )]
    ExportNotPatient {
        /// The patient.
        patient: Address,
        /// Who asked for the export.
        caller: Address,
    },
    /// The chain refuses to log the read (the reader no longer holds a current grant nor
    /// open emergency access, e.g. staff removed from its organization): the client does not
    /// read what it cannot log, though keys once handed over still open what they covered.
    #[error(
        "{reader} cannot log a read of patient {patient}'s records (no current grant or \
         emergency access), so it does not read them"
    )]
    ReadNotLoggable {
        /// The patient.
        patient: Address,
        /// Who tried to read.
        reader: Address,
    },
    /// `--no-log` asked for a read the patient's grants do not let go unlogged.
    #[error(
        "{reader} must log {read} of patient {patient}: no grant covering it allows unlogged \
         reads (the patient sets that per grant; emergency access is always logged)"
    )]
    ReadLogRequired {
        /// The patient.
        patient: Address,
        /// Who read.
        reader: Address,
        /// What must be logged: `record 7`, or a search that matched nothing (which only a
        /// flagged All grant covers).
        read: String,
    },
}

fn indexed_as(record_id: &Option<u64>) -> String {
    match record_id {
        Some(id) => format!(" as record {id}"),
        None => " (not indexed yet: resume the upload journal first)".to_owned(),
    }
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The contract's decoded revert, when a call was rejected on chain.
    pub fn revert_reason(&self) -> Option<&ehr_contracts::RevertReason> {
        match self {
            Self::Contract(e) => e.revert_reason(),
            Self::NotIndexed { source, .. } | Self::UploadRefused { source, .. } => {
                source.revert_reason()
            }
            _ => None,
        }
    }
}
