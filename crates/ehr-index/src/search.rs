//! Verified search against a real node: read the patient's index state at a block, fetch its
//! events up to that block, verify them, match.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use alloy::eips::{BlockId, BlockNumberOrTag};
use alloy::primitives::{Address, B256};
use alloy::providers::Provider;
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::RecordIndex;
use ehr_contracts::{Deployment, tx};

use crate::accumulator::{EntryBody, IndexEntry, LogPosition};
use crate::cache::{CachePlan, CachedIndex, IndexCache};
use crate::category::Category;
use crate::logs::{FetchOptions, fetch_logs, rpc};
use crate::query::{Query, match_keywords};
use crate::search_keys::SearchKeys;
use crate::verify::{
    Anomaly, IndexState, VerifiedIndex, VerifiedRecord, extend_verified, verify_patient_chain,
};
use crate::{Error, Result};

/// One record a search found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchHit {
    /// The record's number.
    pub record_id: u64,
    /// The SHA-256 digest of its envelope's CID.
    pub digest: B256,
    /// Its category.
    pub category: Category,
    /// The key epoch it was written in.
    pub epoch: u64,
    /// Who wrote it.
    pub writer: Address,
    /// The block of its event.
    pub block: u64,
    /// That block's timestamp (Unix seconds).
    pub timestamp: u64,
}

/// What a search returns: the hits, and what they were checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchResults {
    /// Matching live records, in record order.
    pub hits: Vec<SearchHit>,
    /// The block whose on-chain state the whole index was verified against.
    pub verified_at_block: u64,
    /// Live records (of the query's category, if any) that were examined.
    pub records_scanned: usize,
    /// Of those, how many the searcher holds no key for.
    pub not_readable: usize,
    /// Oddities the verification found ([`Anomaly`]).
    pub anomalies: Vec<Anomaly>,
}

/// Reads and searches patients' indexes through an RPC node.
///
/// Nothing the node says is trusted beyond block positions and timestamps: every event list
/// is verified against the contract's state at the same block ([`crate::verify`]).
///
/// A client keeps the indexes it verified ([`IndexCache`]): a later search of the same
/// patient still reads the state at its own block, but fetches and verifies only the events
/// after the cached block (see [`crate::cache`]); [`IndexClient::without_cache`] turns this
/// off.
#[derive(Debug)]
pub struct IndexClient<P> {
    provider: P,
    record_index: Address,
    consent_registry: Option<Address>,
    start_block: u64,
    options: FetchOptions,
    timestamps: Mutex<HashMap<(u64, Option<B256>), u64>>,
    cache: Option<IndexCache>,
}

impl<P: Provider> IndexClient<P> {
    /// A client for the record index at `record_index`, whose events start at `start_block`
    /// (the deployment block).
    pub fn new(provider: P, record_index: Address, start_block: u64) -> Self {
        Self {
            provider,
            record_index,
            consent_registry: None,
            start_block,
            options: FetchOptions::default(),
            timestamps: Mutex::new(HashMap::new()),
            cache: Some(IndexCache::new()),
        }
    }

    /// A client for a deployment's record index and consent registry, scanning from its
    /// deployment block.
    pub fn from_deployment(provider: P, deployment: &Deployment) -> Self {
        Self::new(provider, deployment.record_index, deployment.deployed_at_block)
            .with_consent_registry(deployment.consent_registry)
    }

    /// Also reads grant events from the consent registry at `consent_registry`
    /// ([`IndexClient::grantee_keys`]).
    pub fn with_consent_registry(mut self, consent_registry: Address) -> Self {
        self.consent_registry = Some(consent_registry);
        self
    }

    /// Sets how logs are paged.
    pub fn with_options(mut self, options: FetchOptions) -> Self {
        self.options = options;
        self
    }

    /// Keeps verified indexes in files under `dir` as well as in memory
    /// ([`IndexCache::persistent`]): one directory per chain.
    pub fn with_cache_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.cache = Some(IndexCache::persistent(dir, self.record_index));
        self
    }

    /// Verifies every search in full (no [`IndexCache`]).
    pub fn without_cache(mut self) -> Self {
        self.cache = None;
        self
    }

    /// The verified-index cache, unless turned off.
    pub fn cache(&self) -> Option<&IndexCache> {
        self.cache.as_ref()
    }

    /// The provider.
    pub fn provider(&self) -> &P {
        &self.provider
    }

    /// The record index contract.
    pub fn record_index(&self) -> Address {
        self.record_index
    }

    /// The consent registry, if configured.
    pub(crate) fn consent_registry(&self) -> Option<Address> {
        self.consent_registry
    }

    /// The first block scanned for events.
    pub(crate) fn start_block(&self) -> u64 {
        self.start_block
    }

    /// The paging options.
    pub(crate) fn options(&self) -> FetchOptions {
        self.options
    }

    /// The node's latest block number.
    pub async fn latest_block(&self) -> Result<u64> {
        self.provider.get_block_number().await.map_err(|e| rpc("read the latest block", e))
    }

    /// `stateOf(patient)` as of block `block`.
    pub async fn state_at(&self, patient: Address, block: u64) -> Result<IndexState> {
        let contract = RecordIndex::new(self.record_index, &self.provider);
        let state = tx::call(
            "read the index state",
            contract.stateOf(patient).block(BlockId::number(block)),
        )
        .await?;
        Ok(IndexState {
            accumulator: state.accumulator,
            records: state.records,
            entries: state.entries,
            epoch: state.epoch,
        })
    }

    /// The patient's index events up to and including block `to_block`, decoded, in the
    /// node's order (unverified).
    pub async fn entries(&self, patient: Address, to_block: u64) -> Result<Vec<IndexEntry>> {
        self.entries_between(patient, self.start_block, to_block).await
    }

    /// The patient's index events of blocks `from_block..=to_block`, decoded, in the node's
    /// order (unverified).
    pub async fn entries_between(
        &self,
        patient: Address,
        from_block: u64,
        to_block: u64,
    ) -> Result<Vec<IndexEntry>> {
        if from_block > to_block {
            return Ok(Vec::new());
        }
        let filter = Filter::new()
            .address(self.record_index)
            .event_signature(vec![
                RecordIndex::RecordAdded::SIGNATURE_HASH,
                RecordIndex::RecordSuperseded::SIGNATURE_HASH,
            ])
            .topic1(patient.into_word());
        let logs = fetch_logs(&self.provider, &filter, from_block, to_block, self.options).await?;
        logs.iter().map(|log| decode_entry(log, self.record_index, patient)).collect()
    }

    /// The patient's index verified at block `at_block` (the latest block if `None`).
    pub async fn verified_index(
        &self,
        patient: Address,
        at_block: Option<u64>,
    ) -> Result<VerifiedIndex> {
        let index = self.verified_index_shared(patient, at_block).await?;
        Ok(Arc::unwrap_or_clone(index))
    }

    /// The number and hash of block `at_block` (the latest block if `None`).
    async fn block_ref(&self, at_block: Option<u64>) -> Result<(u64, Option<B256>)> {
        let id = at_block.map_or(BlockNumberOrTag::Latest, BlockNumberOrTag::Number);
        let block = self
            .provider
            .get_block_by_number(id)
            .await
            .map_err(|e| rpc("read a block header", e))?
            .ok_or(Error::UnknownBlock { block: at_block.unwrap_or_default() })?;
        Ok((block.header.number, Some(block.header.hash)))
    }

    /// [`IndexClient::verified_index`], through the cache: the state is always read at the
    /// search's block and the result always equals it; only which events are fetched and
    /// folded in again depends on the cache.
    async fn verified_index_shared(
        &self,
        patient: Address,
        at_block: Option<u64>,
    ) -> Result<Arc<VerifiedIndex>> {
        let (block, block_hash) = self.block_ref(at_block).await?;
        let state = self.state_at(patient, block).await?;
        let Some(cache) = &self.cache else {
            let entries = self.entries(patient, block).await?;
            return Ok(Arc::new(verify_patient_chain(patient, entries, &state, block)?));
        };
        let mut keep = true;
        if let Some(cached) = cache.take(patient) {
            let plan = CachePlan::decide(&cached.index, &state, block);
            if plan == CachePlan::Older {
                keep = false;
                cache.insert(patient, cached);
            } else if plan != CachePlan::Invalidate
                && self.still_canonical(&cached, block, block_hash).await?
            {
                let CachedIndex { index, block_hash: _ } = cached;
                let extended = match plan {
                    CachePlan::Reuse if index.at_block == block => Some(index),
                    CachePlan::Reuse => {
                        let mut index = index;
                        let restamped = Arc::make_mut(&mut index);
                        restamped.at_block = block;
                        restamped.state = state;
                        Some(index)
                    }
                    CachePlan::Extend { after } => {
                        match self.entries_between(patient, after + 1, block).await {
                            Ok(entries) => {
                                extend_verified(Arc::unwrap_or_clone(index), entries, &state, block)
                                    .ok()
                                    .map(Arc::new)
                            }
                            Err(_) => None,
                        }
                    }
                    CachePlan::Invalidate | CachePlan::Older => None,
                };
                if let Some(index) = extended {
                    // Reused or extended from what the cache held: its file (if any) is still a
                    // verified prefix, so it need not be rewritten for every new record.
                    let entry = CachedIndex { index: Arc::clone(&index), block_hash };
                    cache.insert_extension(patient, entry);
                    return Ok(index);
                }
            }
            // Otherwise the entry was taken out: invalidated.
        }
        let entries = self.entries(patient, block).await?;
        let index = Arc::new(verify_patient_chain(patient, entries, &state, block)?);
        if keep {
            cache.insert(patient, CachedIndex { index: Arc::clone(&index), block_hash });
        }
        Ok(index)
    }

    /// Whether the block a cached index was verified at is still the chain's block of that
    /// number (a reorganization may have replaced it).
    async fn still_canonical(
        &self,
        cached: &CachedIndex,
        block: u64,
        block_hash: Option<B256>,
    ) -> Result<bool> {
        let at = cached.index.at_block;
        let now = if at == block { block_hash } else { self.block_ref(Some(at)).await?.1 };
        Ok(now.is_some() && now == cached.block_hash)
    }

    /// Searches the patient's index, verified at `at_block` (the latest block if `None`).
    pub async fn search(
        &self,
        patient: Address,
        keys: &SearchKeys,
        query: &Query,
        at_block: Option<u64>,
    ) -> Result<SearchResults> {
        query.validate()?;
        let index = self.verified_index_shared(patient, at_block).await?;
        self.search_verified(&index, keys, query).await
    }

    /// Searches an index verified earlier (several queries, one verification).
    pub async fn search_verified(
        &self,
        index: &VerifiedIndex,
        keys: &SearchKeys,
        query: &Query,
    ) -> Result<SearchResults> {
        query.validate()?;
        let matches = match_keywords(index, keys, query);
        let mut hits = Vec::with_capacity(matches.records.len());
        for record in matches.records {
            let timestamp = self.timestamp_of(record).await?;
            if query.in_time_range(timestamp) {
                hits.push(SearchHit {
                    record_id: record.record_id,
                    digest: record.digest,
                    category: record.category,
                    epoch: record.epoch,
                    writer: record.writer,
                    block: record.position.block,
                    timestamp,
                });
            }
        }
        Ok(SearchResults {
            hits,
            verified_at_block: index.at_block,
            records_scanned: matches.scanned,
            not_readable: matches.not_readable,
            anomalies: index.anomalies.clone(),
        })
    }

    /// The record's block timestamp: from its log when the node gave it, else from the block
    /// header (by hash when known), cached.
    async fn timestamp_of(&self, record: &VerifiedRecord) -> Result<u64> {
        if let Some(timestamp) = record.block_timestamp {
            return Ok(timestamp);
        }
        let key = (record.position.block, record.block_hash);
        if let Some(timestamp) = self.timestamps.lock().expect("cache lock").get(&key) {
            return Ok(*timestamp);
        }
        let block = match record.block_hash {
            Some(hash) => self.provider.get_block_by_hash(hash).await,
            None => self.provider.get_block_by_number(record.position.block.into()).await,
        }
        .map_err(|e| rpc("read a block header", e))?
        .ok_or(Error::UnknownBlock { block: record.position.block })?;
        let timestamp = block.header.timestamp;
        self.timestamps.lock().expect("cache lock").insert(key, timestamp);
        Ok(timestamp)
    }
}

/// Decodes one `RecordAdded` / `RecordSuperseded` log, checking it is the index's, the
/// patient's, and still canonical.
fn decode_entry(log: &Log, record_index: Address, patient: Address) -> Result<IndexEntry> {
    let unexpected = |reason: &'static str| Error::UnexpectedLog { reason };
    if log.address() != record_index {
        return Err(unexpected("a log from another contract"));
    }
    if log.removed {
        return Err(unexpected("a log removed by a reorganization"));
    }
    let position = LogPosition {
        block: log.block_number.ok_or(unexpected("a log without a block number"))?,
        log_index: log.log_index.ok_or(unexpected("a log without a log index"))?,
    };
    let topic0 = log.topic0().copied();
    let (event_patient, record_id, writer, category, epoch, body) =
        if topic0 == Some(RecordIndex::RecordAdded::SIGNATURE_HASH) {
            let event = log
                .log_decode::<RecordIndex::RecordAdded>()
                .map_err(|_| unexpected("an undecodable RecordAdded"))?
                .inner
                .data;
            let body = EntryBody::Record { digest: event.digest, tags: event.tags };
            (event.patient, event.recordId, event.writer, event.category, event.epoch, body)
        } else if topic0 == Some(RecordIndex::RecordSuperseded::SIGNATURE_HASH) {
            let event = log
                .log_decode::<RecordIndex::RecordSuperseded>()
                .map_err(|_| unexpected("an undecodable RecordSuperseded"))?
                .inner
                .data;
            let body = EntryBody::Tombstone { superseded_by: event.supersededBy };
            (event.patient, event.recordId, event.writer, event.category, event.epoch, body)
        } else {
            return Err(unexpected("a log that is not an index event"));
        };
    if event_patient != patient {
        return Err(unexpected("a log of another patient"));
    }
    Ok(IndexEntry {
        position,
        block_hash: log.block_hash,
        block_timestamp: log.block_timestamp,
        record_id,
        writer,
        category,
        epoch,
        body,
    })
}
