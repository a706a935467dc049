//! Where a patient's records are stored: for every record of the patient's *verified* index,
//! which nodes of the blob store hold and pin its envelope ([`status`]), and re-pinning the
//! under-replicated ones on nodes that lack them until the store's replication factor holds
//! ([`repair`]). The list of records comes from the index verified against the chain, so a
//! record a log omitted or invented cannot hide from (or slip into) the report.
//!
//! Neither needs a key: envelope CIDs follow from the on-chain digests, and nothing is
//! decrypted.

use alloy::primitives::{Address, B256};
use ehr_index::VerifiedRecord;
use ehr_store::{BlobStore, Cid, NodeFailure, NodeHolding, Repair};
use futures_util::{StreamExt, stream};
use serde::Serialize;

use crate::fetch::locate_envelope;
use crate::records::{index_client, session_store};
use crate::session::Session;
use crate::{Error, Result};

/// Records looked at concurrently: each costs a few requests to every node.
const CONCURRENCY: usize = 8;

/// Where one record's envelope is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordPlacement {
    /// The record's number.
    pub record_id: u64,
    /// Its on-chain digest.
    pub digest: B256,
    /// Its envelope's CID; `None` when no reachable node holds the envelope.
    pub cid: Option<Cid>,
    /// How many nodes pin it.
    pub pinned: usize,
    /// Every node and what it has.
    pub nodes: Vec<NodeHolding>,
    /// Why the envelope could not be located, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What [`status`] found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageStatus {
    /// The patient.
    pub patient: Address,
    /// The block the patient's index was verified at.
    pub verified_at_block: u64,
    /// How many nodes should pin each record.
    pub factor: usize,
    /// Every record, in record order.
    pub records: Vec<RecordPlacement>,
    /// The records pinned on fewer than `factor` nodes (or not located at all).
    pub under_replicated: Vec<u64>,
}

/// What [`repair`] did to one under-replicated record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordRepair {
    /// The record's number.
    pub record_id: u64,
    /// Its envelope's CID, if it was located.
    pub cid: Option<Cid>,
    /// Nodes that pinned it before.
    pub before: usize,
    /// Nodes that pin it now.
    pub after: usize,
    /// Nodes it was pinned on by this repair.
    pub pinned_on: Vec<String>,
    /// Nodes that failed or could not be asked, and why.
    pub failures: Vec<NodeFailure>,
}

/// What [`repair`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RepairReport {
    /// The patient.
    pub patient: Address,
    /// The block the patient's index was verified at.
    pub verified_at_block: u64,
    /// The replication factor.
    pub factor: usize,
    /// Records examined.
    pub records: usize,
    /// The records that were under-replicated, and what was done to each.
    pub repaired: Vec<RecordRepair>,
    /// Records still pinned on fewer than `factor` nodes afterwards.
    pub still_under_replicated: Vec<u64>,
}

/// Reports where every record of `patient` is stored.
pub async fn status(session: &Session, patient: Address) -> Result<StorageStatus> {
    let store = session_store(session)?;
    let (records, at_block) = verified_records(session, patient).await?;
    let factor = store.replication_factor();
    let placements: Vec<RecordPlacement> = stream::iter(&records)
        .map(|record| place(&**store, record))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let under_replicated =
        placements.iter().filter(|p| p.pinned < factor).map(|p| p.record_id).collect();
    Ok(StorageStatus {
        patient,
        verified_at_block: at_block,
        factor,
        records: placements,
        under_replicated,
    })
}

/// Re-pins every under-replicated record of `patient` on nodes that lack it, until the
/// store's replication factor holds; records that already meet it are left alone, so a
/// second run does nothing.
pub async fn repair(session: &Session, patient: Address) -> Result<RepairReport> {
    let store = session_store(session)?;
    let (records, at_block) = verified_records(session, patient).await?;
    let factor = store.replication_factor();
    let outcomes: Vec<Option<RecordRepair>> = stream::iter(&records)
        .map(|record| repair_record(&**store, record))
        .buffered(CONCURRENCY)
        .collect()
        .await;
    let repaired: Vec<RecordRepair> = outcomes.into_iter().flatten().collect();
    let still_under_replicated =
        repaired.iter().filter(|r| r.after < factor).map(|r| r.record_id).collect();
    Ok(RepairReport {
        patient,
        verified_at_block: at_block,
        factor,
        records: records.len(),
        repaired,
        still_under_replicated,
    })
}

async fn verified_records(
    session: &Session,
    patient: Address,
) -> Result<(Vec<VerifiedRecord>, u64)> {
    session.require_patient(patient).await?;
    let index = index_client(session).verified_index(patient, None).await?;
    Ok((index.records, index.at_block))
}

async fn place(store: &dyn BlobStore, record: &VerifiedRecord) -> RecordPlacement {
    let mut placement = RecordPlacement {
        record_id: record.record_id,
        digest: record.digest,
        cid: None,
        pinned: 0,
        nodes: Vec::new(),
        error: None,
    };
    let located = match locate_envelope(store, record.record_id, record.digest).await {
        Ok(cid) => store.placement(cid).await.map_err(Error::from),
        Err(e) => Err(e),
    };
    match located {
        Ok(found) => {
            placement.cid = Some(found.cid);
            placement.pinned = found.pinned();
            placement.nodes = found.nodes;
        }
        Err(e) => placement.error = Some(e.to_string()),
    }
    placement
}

/// Repairs one record if it is under-replicated; `None` if it was not.
async fn repair_record(store: &dyn BlobStore, record: &VerifiedRecord) -> Option<RecordRepair> {
    let factor = store.replication_factor();
    let mut outcome = RecordRepair {
        record_id: record.record_id,
        cid: None,
        before: 0,
        after: 0,
        pinned_on: Vec::new(),
        failures: Vec::new(),
    };
    let cid = match locate_envelope(store, record.record_id, record.digest).await {
        Ok(cid) => cid,
        Err(e) => {
            outcome.failures.push(NodeFailure { node: "*".into(), reason: e.to_string() });
            return Some(outcome);
        }
    };
    outcome.cid = Some(cid);
    match store.repair(cid).await {
        Ok(Repair { before, .. }) if before >= factor => None,
        Ok(repair) => {
            outcome.before = repair.before;
            outcome.after = repair.after;
            outcome.pinned_on = repair.pinned_on;
            outcome.failures = repair.failures;
            Some(outcome)
        }
        Err(e) => {
            outcome.failures.push(NodeFailure { node: "*".into(), reason: e.to_string() });
            Some(outcome)
        }
    }
}
