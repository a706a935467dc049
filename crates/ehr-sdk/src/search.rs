//! Searching a patient's records with the caller's keys: the patient's master secret, or what
//! its grants carried. A thin layer over `ehr_index::IndexClient`, which reads the patient's
//! index state at one block, fetches the events up to it, verifies them against the
//! accumulator and matches the query's tags locally.

use alloy::primitives::{Address, B256};
use ehr_index::Query;
use serde::Serialize;

use crate::read_log::{ReadLogReport, ReadLogging, log_reads};
use crate::record_keys::key_ring;
use crate::records::index_client;
use crate::session::Session;
use crate::{Error, Result};
use ehr_crypto::read_log::ReadKind;

/// A search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchRequest {
    /// Keywords (normalized as the index does). None: every record the caller can read.
    pub keywords: Vec<String>,
    /// Any keyword matches (default: all must).
    pub any: bool,
    /// Only records of this category.
    pub category: Option<String>,
    /// Only records written at or after this time (Unix seconds, block time).
    pub since: Option<u64>,
    /// Only records written at or before this time (Unix seconds, block time).
    pub until: Option<u64>,
    /// Verify at this block (default: the latest).
    pub at_block: Option<u64>,
    /// Whether a grantee's search goes into the patient's audit trail (default: it does).
    pub logging: ReadLogging,
}

/// One record found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Hit {
    /// The record's number (what `fetch` takes).
    pub record_id: u64,
    /// Its category.
    pub category: String,
    /// The key epoch it was written in.
    pub epoch: u64,
    /// Who wrote it.
    pub writer: Address,
    /// The block of its event.
    pub block: u64,
    /// That block's time (Unix seconds).
    pub timestamp: u64,
    /// The on-chain digest of its envelope.
    pub digest: B256,
}

/// What [`search`] found, and what it was verified against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchReport {
    /// The patient.
    pub patient: Address,
    /// Who searched.
    pub searcher: Address,
    /// The matching live records, in record order.
    pub hits: Vec<Hit>,
    /// The block at which the patient's whole index was verified against the contract.
    pub verified_at_block: u64,
    /// Live records examined (of the category, if one was given).
    pub records_scanned: usize,
    /// Of those, how many the searcher holds no key for.
    pub not_readable: usize,
    /// Grant events whose keys did not unwrap.
    pub unreadable_grants: usize,
    /// Oddities the verification noticed (they do not make the index wrong).
    pub anomalies: Vec<String>,
    /// Whether the search went into the patient's audit trail.
    pub read_log: ReadLogReport,
}

/// Searches `patient`'s records as the session's account.
///
/// Fails with [`Error::UnknownPatient`] for an unregistered patient and
/// [`Error::NoSearchKeys`] when the caller is not the patient and no grant gave it any keys.
pub async fn search(
    session: &Session,
    patient: Address,
    request: &SearchRequest,
) -> Result<SearchReport> {
    let mut query = Query::new(&request.keywords)?;
    if request.any {
        query = query.any();
    }
    if let Some(category) = &request.category {
        ehr_index::category_name_bytes(category)?;
    }
    if let Some(since) = request.since {
        query = query.since(since);
    }
    if let Some(until) = request.until {
        query = query.until(until);
    }
    query.validate()?;
    session.require_patient(patient).await?;
    session.chain().signer()?;
    let client = index_client(session);
    let block = match request.at_block {
        Some(block) => block,
        None => client.latest_block().await?,
    };
    let ring = key_ring(session, patient, block).await?;
    if ring.keys.epochs().is_some_and(|epochs| epochs.is_empty()) {
        return Err(Error::NoSearchKeys { patient, holder: ring.holder });
    }
    // Categories are opaque ids on chain: the name maps to this patient's id through the keys.
    if let Some(category) = &request.category {
        query = query.category(ring.keys.category_id(category)?);
    }
    let found = client.search(patient, &ring.keys, &query, Some(block)).await?;
    // Logged before the hits are handed over; the keywords as matched (normalized).
    let read: Vec<(u64, B256)> =
        found.hits.iter().map(|hit| (hit.record_id, *hit.category.as_bytes32())).collect();
    let keywords: Vec<String> = request.keywords.iter().map(|k| k.trim().to_owned()).collect();
    let read_log =
        log_reads(session, patient, ReadKind::Search, &read, &keywords, request.logging).await?;
    Ok(SearchReport {
        patient,
        searcher: ring.holder,
        hits: found
            .hits
            .into_iter()
            .map(|hit| Hit {
                record_id: hit.record_id,
                category: ring.keys.describe_category(&hit.category),
                epoch: hit.epoch,
                writer: hit.writer,
                block: hit.block,
                timestamp: hit.timestamp,
                digest: hit.digest,
            })
            .collect(),
        verified_at_block: found.verified_at_block,
        records_scanned: found.records_scanned,
        not_readable: found.not_readable,
        unreadable_grants: ring.unreadable.len(),
        anomalies: found.anomalies.iter().map(|a| format!("{a:?}")).collect(),
        read_log,
    })
}
