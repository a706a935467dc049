//! Connections: a [`Chain`] is an RPC node (and, when given, the account that signs), a
//! [`Session`] is a chain plus ehrkit's deployment on it (verified on open) and a blob store.
//! Every workflow takes one of these, so a CLI, a server or a test sets things up once.

use crate::{Error, Result};
use alloy::primitives::{Address, TxHash};
use alloy::providers::{DynProvider, Provider};
use alloy::rpc::types::TransactionReceipt;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolEvent;
use alloy::transports::{RpcError, TransportErrorKind};
use ehr_contracts::Deployment;
use ehr_contracts::bindings::claim_registry::ClaimRegistry::ClaimRegistryInstance;
use ehr_contracts::bindings::consent_registry::ConsentRegistry::ConsentRegistryInstance;
use ehr_contracts::bindings::guardian_registry::GuardianRegistry::GuardianRegistryInstance;
use ehr_contracts::bindings::record_index::RecordIndex::RecordIndexInstance;
use ehr_contracts::bindings::role_registry::RoleRegistry::RoleRegistryInstance;
use ehr_contracts::bindings::{
    ClaimRegistry, ConsentRegistry, GuardianRegistry, RecordIndex, RoleRegistry,
};
use ehr_index::IndexClient;
use ehr_store::{BlobStore, StoreOptions, StoreUrl};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use url::Url;

/// An RPC node, checked to answer, with an optional signing account.
#[derive(Clone)]
pub struct Chain {
    rpc_url: Url,
    chain_id: u64,
    reader: DynProvider,
    signer: Option<(PrivateKeySigner, DynProvider)>,
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The signer's key must never reach a log line: show its address only.
        f.debug_struct("Chain")
            .field("rpc_url", &self.rpc_url.as_str())
            .field("chain_id", &self.chain_id)
            .field("signer", &self.signer.as_ref().map(|(s, _)| s.address()))
            .finish()
    }
}

impl Chain {
    /// Connects to `rpc_url` and reads its chain id, so an unreachable node fails here with
    /// [`Error::RpcUnreachable`] rather than in the middle of a workflow.
    pub async fn connect(rpc_url: Url, signer: Option<PrivateKeySigner>) -> Result<Self> {
        let reader = ehr_contracts::read_provider(rpc_url.clone());
        let chain_id =
            reader.get_chain_id().await.map_err(|e| rpc_error(&rpc_url, "read the chain id", e))?;
        tracing::debug!(%rpc_url, chain_id, "connected");
        let signer = signer.map(|signer| {
            let writer = ehr_contracts::signing_provider(rpc_url.clone(), signer.clone());
            (signer, writer)
        });
        Ok(Self { rpc_url, chain_id, reader, signer })
    }

    /// The node's URL.
    pub fn rpc_url(&self) -> &Url {
        &self.rpc_url
    }

    /// The chain id the node reported.
    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// A provider for reads.
    pub fn reader(&self) -> &DynProvider {
        &self.reader
    }

    /// The signing account, or [`Error::NoSigner`].
    pub fn signer(&self) -> Result<&PrivateKeySigner> {
        self.signer.as_ref().map(|(s, _)| s).ok_or(Error::NoSigner)
    }

    /// A provider that signs as the account, or [`Error::NoSigner`].
    pub fn writer(&self) -> Result<&DynProvider> {
        self.signer.as_ref().map(|(_, w)| w).ok_or(Error::NoSigner)
    }

    /// The signing account's address, or [`Error::NoSigner`].
    pub fn address(&self) -> Result<Address> {
        Ok(self.signer()?.address())
    }

    /// The latest block's number and "now": the later of this machine's clock and the block's
    /// timestamp.
    ///
    /// Expiries and deadlines count from here. The latest block's timestamp alone is not
    /// "now": on an idle chain (a dev node mines only when sent a transaction; a quiet
    /// consortium chain) it can be minutes old, and a grant "for 5 s" counted from it had
    /// already expired when its transaction was mined. The chain's clock still wins when it
    /// runs ahead of the machine's (a dev chain whose time was moved forward).
    pub async fn now(&self) -> Result<(u64, u64)> {
        let (head, timestamp) = self.head().await?;
        Ok((head, timestamp.max(crate::time::unix_now())))
    }

    /// The latest block's number and timestamp: the time its transactions ran at. For
    /// expiries use [`Chain::now`].
    pub async fn head(&self) -> Result<(u64, u64)> {
        let block = self
            .reader
            .get_block_by_number(Default::default())
            .await
            .map_err(|e| rpc_error(&self.rpc_url, "read the latest block", e))?
            .ok_or(Error::Rpc { action: "read the latest block", reason: "no block".into() })?;
        Ok((block.header.number, block.header.timestamp))
    }
}

/// Classifies a failed read: an answer with an error is the node's complaint, anything else
/// means the node was not reached.
pub(crate) fn rpc_error(url: &Url, action: &'static str, e: RpcError<TransportErrorKind>) -> Error {
    match e {
        RpcError::ErrorResp(payload) => Error::Rpc { action, reason: payload.message.to_string() },
        other if timed_out(&other) => Error::RpcUnreachable {
            url: url.to_string(),
            reason: format!(
                "no answer within {} s (EHR_RPC_TIMEOUT / --rpc-timeout sets the limit)",
                ehr_contracts::rpc_timeout().as_secs()
            ),
        },
        other => Error::RpcUnreachable { url: url.to_string(), reason: root_cause(&other) },
    }
}

/// Whether the exchange ran into the RPC deadline (ehr_contracts::rpc_timeout).
fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.downcast_ref::<alloy::transports::http::reqwest::Error>()
            .is_some_and(|r| r.is_timeout())
        {
            return true;
        }
        current = e.source();
    }
    false
}

/// The innermost cause ("Connection refused (os error 111)"), which says more than the
/// wrappers around it.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current.to_string()
}

/// How to open a [`Session`].
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The RPC node.
    pub rpc_url: Url,
    /// The deployment file.
    pub deployment: PathBuf,
    /// The account that signs, if the workflow sends transactions or signs messages.
    pub signer: Option<PrivateKeySigner>,
    /// The blob store, if the workflow reads or writes records.
    pub store: Option<StoreUrl>,
}

/// A chain with ehrkit deployed on it, verified, and a blob store.
///
/// A session keeps one index client for its whole life (clones share it), so every search,
/// fetch and upload after the first reads only what is new on the chain; with
/// [`Session::with_index_cache_dir`] the verified indexes also outlive the process.
#[derive(Clone)]
pub struct Session {
    chain: Chain,
    deployment: Deployment,
    store: Option<Arc<dyn BlobStore>>,
    index_client: Arc<IndexClient<DynProvider>>,
    pending_grants: Option<PathBuf>,
    /// Recovery secrets given explicitly (a recovery code), per key generation; the others
    /// derive from the account key.
    recovery: Vec<(u64, ehr_crypto::RecoverySecret)>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("chain", &self.chain)
            .field("deployment", &self.deployment)
            .field("store", &self.store.is_some())
            .finish()
    }
}

/// Reads a deployment file; a missing file is [`Error::NoDeployment`].
pub fn load_deployment(path: &Path) -> Result<Deployment> {
    if !path.exists() {
        return Err(Error::NoDeployment { path: path.to_path_buf() });
    }
    Ok(Deployment::load(path)?)
}

impl Session {
    /// Loads the deployment file, connects, checks that the node serves the deployment's chain
    /// and that every contract has code, and opens the store.
    pub async fn open(config: SessionConfig) -> Result<Self> {
        let deployment = load_deployment(&config.deployment)?;
        let chain = Chain::connect(config.rpc_url, config.signer).await?;
        Self::with_deployment(chain, deployment, config.store.as_ref()).await
    }

    /// A session from an existing connection and deployment (verified here).
    pub async fn with_deployment(
        chain: Chain,
        deployment: Deployment,
        store: Option<&StoreUrl>,
    ) -> Result<Self> {
        deployment.verify(chain.reader()).await?;
        let store = match store {
            Some(url) => Some(ehr_store::open_store(url, &StoreOptions::default()).await?),
            None => None,
        };
        let index_client =
            Arc::new(IndexClient::from_deployment(chain.reader().clone(), &deployment));
        Ok(Self {
            chain,
            deployment,
            store,
            index_client,
            pending_grants: None,
            recovery: Vec::new(),
        })
    }

    /// Keeps the verified indexes this session reads in files under `dir` (a subdirectory
    /// per chain), so the next process starts warm; a file is verified again when loaded and
    /// checked against the chain before use ([`ehr_index::IndexCache::persistent`]).
    pub fn with_index_cache_dir(mut self, dir: &Path) -> Self {
        let dir = dir.join(self.chain.chain_id().to_string());
        let client = IndexClient::from_deployment(self.chain.reader().clone(), &self.deployment)
            .with_cache_dir(dir);
        self.index_client = Arc::new(client);
        self
    }

    /// Keeps the grants this session signs without sending (for a relay, or to hand over) in
    /// `dir`, so that one never submitted is rotated away ([`crate::rotation`]).
    pub fn with_pending_grants_dir(mut self, dir: &Path) -> Self {
        self.pending_grants = Some(dir.join(self.chain.chain_id().to_string()));
        self
    }

    /// Uses `secret` (from a recovery code) as the recovery secret of key generation
    /// `generation` instead of the one derived from the account key.
    pub fn with_recovery_secret(
        mut self,
        generation: u64,
        secret: ehr_crypto::RecoverySecret,
    ) -> Self {
        self.recovery.retain(|(g, _)| *g != generation);
        self.recovery.push((generation, secret));
        self
    }

    /// The recovery secret given for `generation`, if one was.
    pub(crate) fn recovery_override(&self, generation: u64) -> Option<&ehr_crypto::RecoverySecret> {
        self.recovery.iter().find(|(g, _)| *g == generation).map(|(_, s)| s)
    }

    /// Where signed, not yet submitted grants are kept, if anywhere.
    pub fn pending_grants_dir(&self) -> Option<&Path> {
        self.pending_grants.as_deref()
    }

    /// The session's index client (searches, verified indexes, grant key material).
    pub fn index_client(&self) -> &IndexClient<DynProvider> {
        &self.index_client
    }

    /// The connection.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The verified deployment.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The blob store, when one was configured.
    pub fn store(&self) -> Option<&Arc<dyn BlobStore>> {
        self.store.as_ref()
    }

    /// The role registry, for reads.
    pub fn roles(&self) -> RoleRegistryInstance<DynProvider> {
        RoleRegistry::new(self.deployment.role_registry, self.chain.reader.clone())
    }

    /// The role registry, signing as the account.
    pub fn roles_as_signer(&self) -> Result<RoleRegistryInstance<DynProvider>> {
        Ok(RoleRegistry::new(self.deployment.role_registry, self.chain.writer()?.clone()))
    }

    /// The consent registry, for reads.
    pub fn consent(&self) -> ConsentRegistryInstance<DynProvider> {
        ConsentRegistry::new(self.deployment.consent_registry, self.chain.reader.clone())
    }

    /// The consent registry, signing as the account.
    pub fn consent_as_signer(&self) -> Result<ConsentRegistryInstance<DynProvider>> {
        Ok(ConsentRegistry::new(self.deployment.consent_registry, self.chain.writer()?.clone()))
    }

    /// The record index, for reads.
    pub fn index(&self) -> RecordIndexInstance<DynProvider> {
        RecordIndex::new(self.deployment.record_index, self.chain.reader.clone())
    }

    /// The claim registry, for reads.
    pub fn claims(&self) -> ClaimRegistryInstance<DynProvider> {
        ClaimRegistry::new(self.deployment.claim_registry, self.chain.reader.clone())
    }

    /// The claim registry, signing as the account.
    pub fn claims_as_signer(&self) -> Result<ClaimRegistryInstance<DynProvider>> {
        Ok(ClaimRegistry::new(self.deployment.claim_registry, self.chain.writer()?.clone()))
    }

    /// The guardian registry, for reads (an error for a deployment made before it).
    pub fn guardians(&self) -> Result<GuardianRegistryInstance<DynProvider>> {
        let address = self.deployment.guardian_registry()?;
        Ok(GuardianRegistry::new(address, self.chain.reader.clone()))
    }

    /// The guardian registry, signing as the account.
    pub fn guardians_as_signer(&self) -> Result<GuardianRegistryInstance<DynProvider>> {
        let address = self.deployment.guardian_registry()?;
        Ok(GuardianRegistry::new(address, self.chain.writer()?.clone()))
    }

    /// Fails with [`Error::UnknownPatient`] unless `account` is a registered patient.
    pub async fn require_patient(&self, account: Address) -> Result<()> {
        let registered =
            ehr_contracts::tx::call("check the patient", self.roles().isPatient(account)).await?;
        if !registered {
            return Err(Error::UnknownPatient { account });
        }
        Ok(())
    }
}

/// Where a transaction landed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TxInfo {
    /// The transaction hash.
    pub tx_hash: TxHash,
    /// The block it was mined in.
    pub block: u64,
}

impl TxInfo {
    /// From a receipt.
    pub fn of(receipt: &TransactionReceipt) -> Self {
        Self { tx_hash: receipt.transaction_hash, block: receipt.block_number.unwrap_or_default() }
    }
}

/// The first `E` event `contract` emitted in `receipt`.
pub(crate) fn event_in<E: SolEvent>(
    receipt: &TransactionReceipt,
    contract: Address,
    action: &'static str,
) -> Result<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter(|log| log.address() == contract)
        .find_map(|log| E::decode_log_data(log.data()).ok())
        .ok_or(Error::MissingEvent { action, event: E::SIGNATURE })
}
