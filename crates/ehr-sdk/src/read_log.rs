//! Reads in the audit trail: every fetch or search a grantee makes is logged on chain
//! (`RecordIndex.logReads`) before its result is handed over, as one transaction per command
//! carrying what was read sealed to the patient (`ehr_crypto::read_log`). The patient's
//! `ehr audit` opens it ("0xDOCTOR fetched record 7").
//!
//! A grantee may skip the log ([`ReadLogging::Skip`], `--no-log`) only where the patient
//! allowed it on every grant the read relies on (`ConsentRegistry.setUnloggedReads`): each
//! record read must be covered by a flagged Record, Category or All grant. Emergency access
//! carries no grant, so it is always logged. The patient reading its own records logs
//! nothing.
//!
//! Logging is what an honest client does: a key holder can always read the public events
//! and blobs without telling the chain (docs/security.md says so).

use alloy::primitives::{Address, B256, Bytes};
use ehr_contracts::Scope;
use ehr_contracts::bindings::RecordIndex;
use ehr_contracts::tx;
use ehr_crypto::read_log::{ReadKind, ReadLogBinding, ReadSet, seal_reads};
use serde::Serialize;

use crate::session::{Session, TxInfo};
use crate::{Error, Result};

/// Whether a grantee's read goes into the patient's audit trail.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReadLogging {
    /// Log it (the default).
    #[default]
    Log,
    /// Do not, where every grant the read relies on allows it (else [`Error::ReadLogRequired`]).
    Skip,
}

/// What was logged for one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ReadLogReport {
    /// The reader is the patient: nothing to log.
    OwnRecords,
    /// Logged, in these transactions (more than one only for very large reads).
    Logged {
        /// The transactions.
        txs: Vec<TxInfo>,
    },
    /// Not logged, as the patient's grants allow.
    Skipped,
    /// Read for an insurance claim's review: the claim's own events (which name the records
    /// and the reviewer) are its trail, as the reviewer may be insurer staff holding no
    /// grant of its own.
    ClaimReview,
}

/// The binding of `reader`'s log of `patient`'s records in this deployment.
pub(crate) fn binding(session: &Session, patient: Address, reader: Address) -> ReadLogBinding {
    let d = session.deployment();
    ReadLogBinding {
        chain_id: d.chain_id,
        record_index: d.record_index.0.0,
        patient: patient.0.0,
        reader: reader.0.0,
    }
}

/// Logs that the session's account read `records` of `patient` (each with its on-chain
/// category id) — fetched them, or found them searching `keywords` — unless it is the
/// patient, or `logging` is [`ReadLogging::Skip`] and every record is covered by a grant
/// flagged for unlogged reads. Called before the result is handed over, so an honest client
/// never shows a read it did not log.
pub(crate) async fn log_reads(
    session: &Session,
    patient: Address,
    kind: ReadKind,
    records: &[(u64, B256)],
    keywords: &[String],
    logging: ReadLogging,
) -> Result<ReadLogReport> {
    let reader = session.chain().address()?;
    if reader == patient {
        return Ok(ReadLogReport::OwnRecords);
    }
    if logging == ReadLogging::Skip {
        if let Some(read) = first_logged_read(session, patient, reader, records).await? {
            return Err(Error::ReadLogRequired { patient, reader, read });
        }
        return Ok(ReadLogReport::Skipped);
    }
    let raw = crate::roles::registered_public_key(session, patient).await?;
    let key = ehr_crypto::public_key_for_address(&raw, &patient.0.0)?;
    let binding = binding(session, patient, reader);
    let reads = ReadSet::new(kind, records.iter().map(|(id, _)| *id).collect(), keywords.to_vec());
    let index =
        RecordIndex::new(session.deployment().record_index, session.chain().writer()?.clone());
    let mut txs = Vec::new();
    for part in reads.split()? {
        let sealed = Bytes::from(seal_reads(&key, &binding, &part)?);
        let receipt =
            tx::send("log reads", index.logReads(patient, sealed)).await.map_err(|e| {
                match e.revert_reason().map(|r| r.error_name()) {
                    Some("IndexNotGrantee") => Error::ReadNotLoggable { patient, reader },
                    _ => Error::from(e),
                }
            })?;
        txs.push(TxInfo::of(&receipt));
    }
    Ok(ReadLogReport::Logged { txs })
}

/// The first read (by record number) that no grant flagged for unlogged reads covers, if
/// any: its Record grant, its category's grant or the All grant must carry the flag. A read
/// of no record (a search that matched nothing) still tells the reader something, so only a
/// flagged All grant covers it.
async fn first_logged_read(
    session: &Session,
    patient: Address,
    reader: Address,
    records: &[(u64, B256)],
) -> Result<Option<String>> {
    let consent = session.consent();
    let allowed = async |scope: Scope| -> Result<bool> {
        let call = consent.unloggedReadsAllowed(patient, reader, scope.to_sol());
        Ok(tx::call("read a grant's read logging", call).await?)
    };
    if allowed(Scope::All).await? {
        return Ok(None);
    }
    if records.is_empty() {
        return Ok(Some("a search that matched nothing".to_owned()));
    }
    let mut categories: Vec<(B256, bool)> = Vec::new();
    let mut sorted = records.to_vec();
    sorted.sort_unstable();
    for (record, category) in sorted {
        let by_category = match categories.iter().find(|(c, _)| *c == category) {
            Some((_, known)) => *known,
            None => {
                let flag = allowed(Scope::Category(category)).await?;
                categories.push((category, flag));
                flag
            }
        };
        if !by_category && !allowed(Scope::Record(record)).await? {
            return Ok(Some(format!("record {record}")));
        }
    }
    Ok(None)
}
