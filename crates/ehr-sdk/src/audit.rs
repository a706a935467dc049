//! A patient's audit trail, read from chain events: every registration, grant, revocation,
//! epoch-key share, access request and answer, record write and correction, logged search,
//! break-glass access and insurance claim step, in chain order, with block times.
//!
//! Each kind of event is an [`EventSource`] (where it is emitted, which topic holds the
//! patient, how to decode it); [`default_sources`] lists them, and a new contract's events
//! join the trail by adding sources there (as the claim registry's three did).

use crate::Result;
use crate::claims::Currency;
use crate::logs::{BlockTimes, fetch_logs};
use crate::record_keys::key_ring;
use crate::serde_text::display;
use crate::session::Session;
use crate::time::rfc3339;
use alloy::primitives::Bytes;
use alloy::primitives::{Address, B256, TxHash};
use alloy::rpc::types::{Filter, Log};
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::ClaimRegistry::{ClaimDecided, ClaimReviewStarted, ClaimSubmitted};
use ehr_contracts::bindings::ConsentRegistry::{
    AccessGranted, AccessRequestApproved, AccessRequestDenied, AccessRequested, AccessRevoked,
    EmergencyAccessClosed, EmergencyAccessOpened, EpochKeysShared, NonceInvalidated,
    UnloggedReadsSet,
};
use ehr_contracts::bindings::RecordIndex::{
    ReadsLogged as ReadsLoggedEvent, RecordAdded, RecordSuperseded,
};
use ehr_contracts::bindings::RoleRegistry::PatientRegistered;
use ehr_contracts::{DecisionCode, Deployment, Purpose, ReasonCode, Scope};
use serde::Serialize;

/// One thing that happened to a patient's records or consent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum AuditEvent {
    /// The patient registered.
    PatientRegistered,
    /// A grant was created or replaced.
    Granted {
        /// The grantee.
        grantee: Address,
        /// What it covers (a category by its opaque on-chain id).
        #[serde(serialize_with = "display")]
        scope: Scope,
        /// The scope's category name, when the viewer's keys map its id.
        #[serde(skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// Why.
        #[serde(serialize_with = "display")]
        purpose: Purpose,
        /// Unix time it ends.
        expiry: u64,
        /// The key epoch.
        epoch: u64,
        /// Who sent it (the patient or a relayer).
        submitter: Address,
    },
    /// Every grant to a grantee was revoked; the key epoch advanced.
    Revoked {
        /// The grantee.
        grantee: Address,
        /// The epoch after the revocation.
        new_epoch: u64,
        /// Who sent it.
        submitter: Address,
    },
    /// A new epoch's keys were handed to a grantee that keeps access.
    EpochKeysShared {
        /// The grantee.
        grantee: Address,
        /// The epoch.
        epoch: u64,
    },
    /// The patient voided its nonce: signatures made with it and not submitted are void.
    NonceInvalidated {
        /// The voided nonce.
        nonce: u64,
    },
    /// The patient let a grantee read under one grant without logging each read, or took
    /// that back.
    UnloggedReadsSet {
        /// The grantee.
        grantee: Address,
        /// The grant's scopeId (keccak256 of its scope).
        scope_id: B256,
        /// Allowed (true) or logged again.
        allowed: bool,
    },
    /// Someone asked for access.
    AccessRequested {
        /// The request.
        request_id: u64,
        /// Who asked.
        requester: Address,
        /// What for (a category by its opaque on-chain id).
        #[serde(serialize_with = "display")]
        scope: Scope,
        /// The scope's category name, when the viewer's keys map its id.
        #[serde(skip_serializing_if = "Option::is_none")]
        category: Option<String>,
        /// Why.
        #[serde(serialize_with = "display")]
        purpose: Purpose,
        /// Unix time it stops being answerable.
        expires_at: u64,
        /// Why, as a code.
        #[serde(serialize_with = "display")]
        reason_code: ReasonCode,
        /// The requester's words, when the viewer is the patient they were encrypted to.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The words as on chain, encrypted to the patient (empty without).
        #[serde(skip)]
        encrypted_reason: Bytes,
    },
    /// The patient approved a request.
    RequestApproved {
        /// The request.
        request_id: u64,
        /// Who had asked.
        requester: Address,
    },
    /// The patient denied a request.
    RequestDenied {
        /// The request.
        request_id: u64,
        /// Who had asked.
        requester: Address,
    },
    /// A record was added.
    RecordAdded {
        /// The record's number.
        record_id: u64,
        /// Who wrote it.
        writer: Address,
        /// Its category: the name when the viewer's keys map the on-chain id, else the id.
        category: String,
        /// The category's opaque on-chain id.
        category_id: B256,
        /// The key epoch it was written in.
        epoch: u64,
    },
    /// A record was corrected by a newer one.
    RecordSuperseded {
        /// The corrected record.
        record_id: u64,
        /// The record replacing it.
        superseded_by: u64,
        /// Who corrected it.
        writer: Address,
        /// The category: the name when the viewer's keys map the on-chain id, else the id.
        category: String,
        /// The category's opaque on-chain id.
        category_id: B256,
    },
    /// A grantee logged that it read records (fetched them, or searched them).
    ReadsLogged {
        /// Who read: the account that sent the log (the contract makes it the caller).
        reader: Address,
        /// `fetch` or `search`, when the viewer (the patient) opened the log.
        #[serde(skip_serializing_if = "Option::is_none")]
        action: Option<ReadAction>,
        /// The records read (fetched, or found), when opened.
        #[serde(skip_serializing_if = "Option::is_none")]
        record_ids: Option<Vec<u64>>,
        /// A search's keywords, when opened.
        #[serde(skip_serializing_if = "Option::is_none")]
        keywords: Option<Vec<String>>,
        /// The viewer is the patient and the log did not open: it was not sealed to the
        /// patient as this reader (made up, or copied from another reader's log).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        unopenable: bool,
        /// What was read, sealed to the patient.
        #[serde(skip)]
        sealed_reads: Bytes,
    },
    /// A doctor opened break-glass access.
    EmergencyOpened {
        /// The doctor.
        doctor: Address,
        /// The doctor's hospital.
        hospital: Address,
        /// Unix time it ends.
        until: u64,
        /// Why, as a code.
        #[serde(serialize_with = "display")]
        reason_code: ReasonCode,
        /// The doctor's words, when the viewer is the patient they were encrypted to.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The words as on chain, encrypted to the patient (empty without).
        #[serde(skip)]
        encrypted_reason: Bytes,
    },
    /// Break-glass access was closed early.
    EmergencyClosed {
        /// The doctor.
        doctor: Address,
        /// Who closed it.
        closed_by: Address,
    },
    /// The patient named its guardians.
    GuardiansSet {
        /// Shares needed to read the emergency scope.
        threshold: u8,
        /// The guardians.
        guardians: Vec<Address>,
    },
    /// The patient removed its guardians.
    GuardiansCleared,
    /// The patient published an emergency kit (at `ehr guardian set`, and re-split at every
    /// new epoch).
    EmergencyKitPublished {
        /// The kit.
        kit_id: u64,
        /// The epoch it covers up to.
        epoch: u64,
    },
    /// A guardian released its share of the emergency kit to a break-glass doctor.
    ShareReleased {
        /// The doctor.
        doctor: Address,
        /// The guardian.
        guardian: Address,
        /// Its number in the set.
        index: u8,
        /// The kit.
        kit_id: u64,
    },
    /// The patient set its break-glass policy.
    EmergencyPolicySet {
        /// Only allowed hospitals may break the glass.
        allowed_only: bool,
        /// Seconds a doctor's access may add up to before the patient confirms (0: default).
        renewal_cap: u64,
    },
    /// The patient ruled on a hospital.
    HospitalRuleSet {
        /// The hospital.
        hospital: Address,
        /// 0 default, 1 allowed, 2 denied.
        rule: u8,
    },
    /// The patient confirmed a doctor's break-glass access (its time starts again).
    EmergencyConfirmed {
        /// The doctor.
        doctor: Address,
        /// Seconds it had used.
        used: u64,
    },
    /// The patient filed an insurance claim.
    ClaimSubmitted {
        /// The claim.
        claim_id: u64,
        /// The insurer it was filed with.
        insurer: Address,
        /// The records it covers.
        record_ids: Vec<u64>,
        /// The amount, e.g. `120.50`, when the viewer (the patient) opened the sealed terms
        /// and they matched the commitment; never on chain in clear.
        #[serde(skip_serializing_if = "Option::is_none")]
        amount: Option<String>,
        /// The ISO 4217 code, likewise.
        #[serde(skip_serializing_if = "Option::is_none")]
        currency: Option<String>,
        /// The commitment to the terms, as the event carries it.
        terms_commitment: B256,
        /// The terms sealed to the insurer and the patient.
        #[serde(skip)]
        sealed_terms: Bytes,
    },
    /// The insurer started reviewing a claim.
    ClaimReviewStarted {
        /// The claim.
        claim_id: u64,
        /// The insurer.
        insurer: Address,
        /// Who started it: the insurer's account or a staff member.
        reviewer: Address,
    },
    /// The insurer decided a claim.
    ClaimDecided {
        /// The claim.
        claim_id: u64,
        /// The insurer.
        insurer: Address,
        /// Who decided: the insurer's account or a staff member.
        reviewer: Address,
        /// Approved (true) or rejected.
        approved: bool,
        /// Why, as a code.
        #[serde(serialize_with = "display")]
        reason_code: DecisionCode,
        /// The reviewer's words, when the viewer is the patient they were encrypted to.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The words as on chain, encrypted to the patient (empty without).
        #[serde(skip)]
        encrypted_reason: Bytes,
    },
}

/// What a logged read did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ReadAction {
    /// Fetched the records.
    Fetch,
    /// Searched; the records are what matched.
    Search,
}

fn category_id_shown(value: &B256) -> String {
    ehr_index::Category::from_bytes32(*value).to_string()
}

/// The words of a reason, for a one-line summary.
fn shown_reason(reason: &Option<String>) -> String {
    reason.as_ref().map(|r| format!(": {r:?}")).unwrap_or_default()
}

/// `scope` as people read it: `category:NAME` when the name is known.
fn shown_scope(scope: &Scope, category: &Option<String>) -> String {
    match category {
        Some(name) => format!("category:{name}"),
        None => scope.to_string(),
    }
}

impl AuditEvent {
    /// Replaces category ids by names where `keys` map them (the patient: every well-known
    /// or learned name; a grantee: its grants' categories). Unknown ids stay ids.
    pub fn name_categories(&mut self, keys: &ehr_index::SearchKeys) {
        let name = |id: &B256| keys.category_name(&ehr_index::Category::from_bytes32(*id));
        match self {
            Self::Granted { scope: Scope::Category(id), category, .. }
            | Self::AccessRequested { scope: Scope::Category(id), category, .. } => {
                *category = name(id).map(str::to_owned);
            }
            Self::RecordAdded { category, category_id, .. }
            | Self::RecordSuperseded { category, category_id, .. } => {
                if let Some(known) = name(category_id) {
                    *category = known.to_owned();
                }
            }
            _ => {}
        }
    }

    /// One line saying what happened, for people.
    pub fn describe(&self) -> String {
        match self {
            Self::PatientRegistered => "registered as a patient".to_owned(),
            Self::Granted { grantee, scope, category, purpose, expiry, epoch, submitter } => {
                format!(
                    "granted {grantee} {} access for {purpose} until {} (epoch {epoch}, sent by {submitter})",
                    shown_scope(scope, category),
                    rfc3339(*expiry)
                )
            }
            Self::Revoked { grantee, new_epoch, .. } => {
                format!("revoked every grant to {grantee}; key epoch is now {new_epoch}")
            }
            Self::EpochKeysShared { grantee, epoch } => {
                format!("shared the keys of epoch {epoch} with {grantee}")
            }
            Self::NonceInvalidated { nonce } => {
                format!("voided nonce {nonce}: unsubmitted signatures made with it are void")
            }
            Self::UnloggedReadsSet { grantee, scope_id, allowed: true } => {
                format!("let {grantee} read under grant {scope_id} without logging each read")
            }
            Self::UnloggedReadsSet { grantee, scope_id, allowed: false } => {
                format!("{grantee}'s reads under grant {scope_id} are logged again")
            }
            Self::AccessRequested {
                request_id,
                requester,
                scope,
                category,
                purpose,
                reason_code,
                reason,
                ..
            } => {
                format!(
                    "request {request_id}: {requester} asked for {} access for {purpose} ({reason_code}){}",
                    shown_scope(scope, category),
                    shown_reason(reason)
                )
            }
            Self::RequestApproved { request_id, requester } => {
                format!("approved request {request_id} from {requester}")
            }
            Self::RequestDenied { request_id, requester } => {
                format!("denied request {request_id} from {requester}")
            }
            Self::RecordAdded { record_id, writer, category, epoch, .. } => {
                format!("record {record_id} ({category}) added by {writer} (epoch {epoch})")
            }
            Self::RecordSuperseded { record_id, superseded_by, writer, .. } => {
                format!("record {record_id} corrected by record {superseded_by} from {writer}")
            }
            Self::ReadsLogged { reader, action, record_ids, keywords, unopenable, .. } => {
                describe_reads(reader, *action, record_ids, keywords, *unopenable)
            }
            Self::EmergencyOpened { doctor, hospital, until, reason_code, reason, .. } => format!(
                "emergency access opened by {doctor} of {hospital} until {} ({reason_code}){}",
                rfc3339(*until),
                shown_reason(reason)
            ),
            Self::EmergencyClosed { doctor, closed_by } => {
                format!("emergency access of {doctor} closed by {closed_by}")
            }
            Self::GuardiansSet { threshold, guardians } => {
                let names: Vec<String> = guardians.iter().map(Address::to_string).collect();
                format!("named {threshold} of {} guardians: {}", guardians.len(), names.join(", "))
            }
            Self::GuardiansCleared => "removed the guardians".to_owned(),
            Self::EmergencyKitPublished { kit_id, epoch } => {
                format!("published emergency kit {kit_id} (epochs up to {epoch})")
            }
            Self::ShareReleased { doctor, guardian, index, kit_id } => format!(
                "guardian {index} ({guardian}) released its share of kit {kit_id} to {doctor}"
            ),
            Self::EmergencyPolicySet { allowed_only, renewal_cap } => format!(
                "break-glass policy: {}, renewal cap {}",
                if *allowed_only { "allowed hospitals only" } else { "any hospital not denied" },
                if *renewal_cap == 0 {
                    "72 h (default)".to_owned()
                } else {
                    format!("{renewal_cap} s")
                }
            ),
            Self::HospitalRuleSet { hospital, rule } => format!(
                "break-glass from hospital {hospital}: {}",
                match rule {
                    1 => "allowed",
                    2 => "denied",
                    _ => "default",
                }
            ),
            Self::EmergencyConfirmed { doctor, used } => {
                format!("confirmed the emergency access of {doctor} (after {used} s)")
            }
            Self::ClaimSubmitted { claim_id, insurer, record_ids, amount, currency, .. } => {
                let records: Vec<String> = record_ids.iter().map(u64::to_string).collect();
                let terms = match (amount, currency) {
                    (Some(amount), Some(currency)) => format!("for {amount} {currency}"),
                    _ => "(amount sealed to the insurer and the patient)".to_owned(),
                };
                format!(
                    "claim {claim_id} filed with {insurer} {terms} over records {}",
                    records.join(", ")
                )
            }
            Self::ClaimReviewStarted { claim_id, reviewer, .. } => {
                format!("claim {claim_id} taken into review by {reviewer}")
            }
            Self::ClaimDecided { claim_id, reviewer, approved, reason_code, reason, .. } => {
                format!(
                    "claim {claim_id} {} by {reviewer} ({reason_code}){}",
                    if *approved { "approved" } else { "rejected" },
                    shown_reason(reason)
                )
            }
        }
    }
}

/// "0xDOCTOR fetched record 7", "0xDOCTOR searched \"hba1c\" and found records 3, 9".
fn describe_reads(
    reader: &Address,
    action: Option<ReadAction>,
    record_ids: &Option<Vec<u64>>,
    keywords: &Option<Vec<String>>,
    unopenable: bool,
) -> String {
    let records = |ids: &[u64]| match ids {
        [] => "no records".to_owned(),
        [one] => format!("record {one}"),
        many => {
            format!("records {}", many.iter().map(u64::to_string).collect::<Vec<_>>().join(", "))
        }
    };
    match (action, record_ids) {
        _ if unopenable => {
            format!("{reader} logged a read that does not open: not sealed to you by that reader")
        }
        (Some(ReadAction::Fetch), Some(ids)) => format!("{reader} fetched {}", records(ids)),
        (Some(ReadAction::Search), Some(ids)) => {
            let words = keywords.as_deref().unwrap_or_default();
            let quoted: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
            format!("{reader} searched {} and found {}", quoted.join(" "), records(ids))
        }
        _ => format!("{reader} read records (what, only the patient can see)"),
    }
}

/// Where one kind of event comes from and how it reads.
#[derive(Debug, Clone, Copy)]
pub struct EventSource {
    /// The contract that emits it, if this deployment has one.
    pub contract: fn(&Deployment) -> Option<Address>,
    /// The event's topic 0.
    pub signature: B256,
    /// Which indexed topic holds the patient (1 to 3).
    pub patient_topic: usize,
    /// Decodes a log of this event (`None` if it does not decode).
    pub decode: fn(&Log) -> Option<AuditEvent>,
}

pub(crate) fn decoded<E: SolEvent>(log: &Log) -> Option<E> {
    log.log_decode::<E>().ok().map(|l| l.inner.data)
}

fn id(value: alloy::primitives::U256) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

/// Every event source of the current contracts.
pub fn default_sources() -> Vec<EventSource> {
    let roles = |d: &Deployment| Some(d.role_registry);
    let consent = |d: &Deployment| Some(d.consent_registry);
    let index = |d: &Deployment| Some(d.record_index);
    let claims = |d: &Deployment| Some(d.claim_registry);
    vec![
        EventSource {
            contract: roles,
            signature: PatientRegistered::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| decoded::<PatientRegistered>(log).map(|_| AuditEvent::PatientRegistered),
        },
        EventSource {
            contract: consent,
            signature: AccessGranted::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<AccessGranted>(log)?;
                Some(AuditEvent::Granted {
                    grantee: e.grantee,
                    scope: Scope::from_sol(&e.scope).ok()?,
                    category: None,
                    purpose: Purpose::from_u8(e.purpose).ok()?,
                    expiry: e.expiry,
                    epoch: e.epoch,
                    submitter: e.submitter,
                })
            },
        },
        EventSource {
            contract: consent,
            signature: AccessRevoked::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<AccessRevoked>(log)?;
                Some(AuditEvent::Revoked {
                    grantee: e.grantee,
                    new_epoch: e.newEpoch,
                    submitter: e.submitter,
                })
            },
        },
        EventSource {
            contract: consent,
            signature: EpochKeysShared::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<EpochKeysShared>(log)?;
                Some(AuditEvent::EpochKeysShared { grantee: e.grantee, epoch: e.epoch })
            },
        },
        EventSource {
            contract: consent,
            signature: NonceInvalidated::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<NonceInvalidated>(log)?;
                Some(AuditEvent::NonceInvalidated { nonce: e.nonce.saturating_to() })
            },
        },
        EventSource {
            contract: consent,
            signature: UnloggedReadsSet::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<UnloggedReadsSet>(log)?;
                Some(AuditEvent::UnloggedReadsSet {
                    grantee: e.grantee,
                    scope_id: e.scopeId,
                    allowed: e.allowed,
                })
            },
        },
        EventSource {
            contract: consent,
            signature: AccessRequested::SIGNATURE_HASH,
            patient_topic: 2,
            decode: |log| {
                let e = decoded::<AccessRequested>(log)?;
                Some(AuditEvent::AccessRequested {
                    request_id: id(e.requestId),
                    requester: e.requester,
                    scope: Scope::from_sol(&e.scope).ok()?,
                    category: None,
                    purpose: Purpose::from_u8(e.purpose).ok()?,
                    expires_at: e.expiresAt,
                    reason_code: ReasonCode::from_u16(e.reasonCode).ok()?,
                    reason: None,
                    encrypted_reason: e.encryptedReason,
                })
            },
        },
        EventSource {
            contract: consent,
            signature: AccessRequestApproved::SIGNATURE_HASH,
            patient_topic: 2,
            decode: |log| {
                let e = decoded::<AccessRequestApproved>(log)?;
                Some(AuditEvent::RequestApproved {
                    request_id: id(e.requestId),
                    requester: e.requester,
                })
            },
        },
        EventSource {
            contract: consent,
            signature: AccessRequestDenied::SIGNATURE_HASH,
            patient_topic: 2,
            decode: |log| {
                let e = decoded::<AccessRequestDenied>(log)?;
                Some(AuditEvent::RequestDenied {
                    request_id: id(e.requestId),
                    requester: e.requester,
                })
            },
        },
        EventSource {
            contract: consent,
            signature: EmergencyAccessOpened::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<EmergencyAccessOpened>(log)?;
                Some(AuditEvent::EmergencyOpened {
                    doctor: e.doctor,
                    hospital: e.hospital,
                    until: e.until,
                    reason_code: ReasonCode::from_u16(e.reasonCode).ok()?,
                    reason: None,
                    encrypted_reason: e.encryptedReason,
                })
            },
        },
        EventSource {
            contract: consent,
            signature: EmergencyAccessClosed::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<EmergencyAccessClosed>(log)?;
                Some(AuditEvent::EmergencyClosed { doctor: e.doctor, closed_by: e.closedBy })
            },
        },
        EventSource {
            contract: index,
            signature: RecordAdded::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<RecordAdded>(log)?;
                Some(AuditEvent::RecordAdded {
                    record_id: e.recordId,
                    writer: e.writer,
                    category: category_id_shown(&e.category),
                    category_id: e.category,
                    epoch: e.epoch,
                })
            },
        },
        EventSource {
            contract: index,
            signature: RecordSuperseded::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<RecordSuperseded>(log)?;
                Some(AuditEvent::RecordSuperseded {
                    record_id: e.recordId,
                    superseded_by: e.supersededBy,
                    writer: e.writer,
                    category: category_id_shown(&e.category),
                    category_id: e.category,
                })
            },
        },
        EventSource {
            contract: index,
            signature: ReadsLoggedEvent::SIGNATURE_HASH,
            patient_topic: 1,
            decode: |log| {
                let e = decoded::<ReadsLoggedEvent>(log)?;
                Some(AuditEvent::ReadsLogged {
                    reader: e.reader,
                    action: None,
                    record_ids: None,
                    keywords: None,
                    unopenable: false,
                    sealed_reads: e.sealedReads,
                })
            },
        },
        EventSource {
            contract: claims,
            signature: ClaimSubmitted::SIGNATURE_HASH,
            patient_topic: 2,
            decode: |log| {
                let e = decoded::<ClaimSubmitted>(log)?;
                Some(AuditEvent::ClaimSubmitted {
                    claim_id: id(e.claimId),
                    insurer: e.insurer,
                    record_ids: e.recordIds,
                    amount: None,
                    currency: None,
                    terms_commitment: e.termsCommitment,
                    sealed_terms: e.sealedTerms,
                })
            },
        },
        EventSource {
            contract: claims,
            signature: ClaimReviewStarted::SIGNATURE_HASH,
            patient_topic: 2,
            decode: |log| {
                let e = decoded::<ClaimReviewStarted>(log)?;
                Some(AuditEvent::ClaimReviewStarted {
                    claim_id: id(e.claimId),
                    insurer: e.insurer,
                    reviewer: e.reviewer,
                })
            },
        },
        EventSource {
            contract: claims,
            signature: ClaimDecided::SIGNATURE_HASH,
            patient_topic: 2,
            decode: |log| {
                let e = decoded::<ClaimDecided>(log)?;
                Some(AuditEvent::ClaimDecided {
                    claim_id: id(e.claimId),
                    insurer: e.insurer,
                    reviewer: e.reviewer,
                    approved: e.approved,
                    reason_code: DecisionCode::from_u16(e.reasonCode).ok()?,
                    reason: None,
                    encrypted_reason: e.encryptedReason,
                })
            },
        },
    ]
    .into_iter()
    .chain(crate::audit_guardians::sources())
    .collect()
}

/// One entry of the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// The block.
    pub block: u64,
    /// The log's index in the block.
    pub log_index: u64,
    /// The block's unix time.
    pub timestamp: u64,
    /// The block's time, RFC 3339 UTC.
    pub time: String,
    /// The transaction.
    pub tx_hash: TxHash,
    /// What happened, typed.
    pub event: AuditEvent,
    /// What happened, as one line ([`AuditEvent::describe`]).
    pub summary: String,
}

/// A patient's trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Timeline {
    /// The patient.
    pub patient: Address,
    /// The last block read (the trail is complete up to it).
    pub to_block: u64,
    /// Only entries at or after this unix time, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<u64>,
    /// The entries, by (block, log index).
    pub entries: Vec<AuditEntry>,
}

/// The audit trail of `patient` from every [`default_sources`] event, optionally only from
/// unix time `since` on.
pub async fn audit(session: &Session, patient: Address, since: Option<u64>) -> Result<Timeline> {
    audit_with(session, patient, since, &default_sources()).await
}

/// [`audit`] over a chosen list of sources.
pub async fn audit_with(
    session: &Session,
    patient: Address,
    since: Option<u64>,
    sources: &[EventSource],
) -> Result<Timeline> {
    session.require_patient(patient).await?;
    let deployment = session.deployment();
    let (head, _) = session.chain().head().await?;
    // One query per (contract, patient topic): topic 0 matches any of the group's events.
    let mut groups: Vec<(Address, usize, Vec<&EventSource>)> = Vec::new();
    for source in sources {
        let Some(contract) = (source.contract)(deployment) else { continue };
        match groups.iter_mut().find(|(c, t, _)| *c == contract && *t == source.patient_topic) {
            Some((_, _, members)) => members.push(source),
            None => groups.push((contract, source.patient_topic, vec![source])),
        }
    }
    let mut logs: Vec<(Log, AuditEvent)> = Vec::new();
    for (contract, topic, members) in &groups {
        let signatures: Vec<B256> = members.iter().map(|s| s.signature).collect();
        let filter = Filter::new().address(*contract).event_signature(signatures);
        let filter = match topic {
            1 => filter.topic1(patient.into_word()),
            2 => filter.topic2(patient.into_word()),
            _ => filter.topic3(patient.into_word()),
        };
        for log in fetch_logs(session.chain(), &filter, deployment.deployed_at_block, head).await? {
            let signature = log.topic0().copied().unwrap_or_default();
            let event =
                members.iter().filter(|s| s.signature == signature).find_map(|s| (s.decode)(&log));
            if let Some(event) = event {
                logs.push((log, event));
            }
        }
    }
    logs.sort_by_key(|(log, _)| (log.block_number, log.log_index));
    let keys = viewer_keys(session, patient, head).await;
    let mut times = BlockTimes::default();
    let mut entries = Vec::with_capacity(logs.len());
    for (log, mut event) in logs {
        if let Some(keys) = &keys {
            event.name_categories(keys);
        }
        open_reasons(session, patient, &mut event);
        open_claim_terms(session, patient, &mut event);
        open_reads(session, patient, &mut event);
        let timestamp = times.of(session.chain(), &log).await?;
        if since.is_some_and(|since| timestamp < since) {
            continue;
        }
        entries.push(AuditEntry {
            block: log.block_number.unwrap_or_default(),
            log_index: log.log_index.unwrap_or_default(),
            timestamp,
            time: rfc3339(timestamp),
            tx_hash: log.transaction_hash.unwrap_or_default(),
            summary: event.describe(),
            event,
        });
    }
    Ok(Timeline { patient, to_block: head, since, entries })
}

/// Opens a claim's sealed terms when the viewer is the patient (checked against the event's
/// commitment; `ehr claim show` checks against the stored one).
fn open_claim_terms(session: &Session, patient: Address, event: &mut AuditEvent) {
    let AuditEvent::ClaimSubmitted {
        insurer,
        amount,
        currency,
        terms_commitment,
        sealed_terms,
        ..
    } = event
    else {
        return;
    };
    if session.chain().address().ok() != Some(patient) {
        return;
    }
    let Ok(secret) = crate::keys::signer_secret_key(session) else { return };
    let binding = ehr_crypto::claim_terms::TermsBinding {
        chain_id: session.chain().chain_id(),
        claim_registry: session.deployment().claim_registry.0.0,
        patient: patient.0.0,
        insurer: insurer.0.0,
    };
    let opened =
        ehr_crypto::claim_terms::open_terms(sealed_terms, &secret, &binding, &terms_commitment.0);
    if let Ok(terms) = opened
        && let Ok(code) = Currency::from_sol(alloy::primitives::FixedBytes(terms.currency))
    {
        *amount = Some(code.format_amount(terms.amount));
        *currency = Some(code.to_string());
    }
}

/// Opens a read log when the viewer is the patient, as the reader the chain names: a log
/// that does not open was not sealed to the patient by that reader, and is shown as such.
fn open_reads(session: &Session, patient: Address, event: &mut AuditEvent) {
    let AuditEvent::ReadsLogged { reader, action, record_ids, keywords, unopenable, sealed_reads } =
        event
    else {
        return;
    };
    if session.chain().address().ok() != Some(patient) {
        return;
    }
    let Ok(secret) = crate::keys::signer_secret_key(session) else { return };
    let binding = crate::read_log::binding(session, patient, *reader);
    match ehr_crypto::read_log::open_reads(&secret, &binding, sealed_reads) {
        Ok(reads) => {
            *action = Some(match reads.kind {
                ehr_crypto::read_log::ReadKind::Fetch => ReadAction::Fetch,
                ehr_crypto::read_log::ReadKind::Search => ReadAction::Search,
            });
            *record_ids = Some(reads.record_ids);
            *keywords = Some(reads.keywords);
        }
        Err(_) => *unopenable = true,
    }
}

/// Decrypts the words of a request, a break-glass opening or a claim decision when the viewer
/// is the patient.
fn open_reasons(session: &Session, patient: Address, event: &mut AuditEvent) {
    use crate::requests::{open_reason, reason_binding};
    use ehr_crypto::reason::ReasonContext;
    let (context, sender, code, sealed, reason) = match event {
        AuditEvent::AccessRequested {
            requester, reason_code, encrypted_reason, reason, ..
        } => (ReasonContext::Request, *requester, reason_code.as_u16(), &*encrypted_reason, reason),
        AuditEvent::EmergencyOpened { doctor, reason_code, encrypted_reason, reason, .. } => {
            (ReasonContext::Emergency, *doctor, reason_code.as_u16(), &*encrypted_reason, reason)
        }
        AuditEvent::ClaimDecided { reviewer, reason_code, encrypted_reason, reason, .. } => (
            ReasonContext::ClaimDecision,
            *reviewer,
            reason_code.as_u16(),
            &*encrypted_reason,
            reason,
        ),
        _ => return,
    };
    *reason =
        open_reason(session, &reason_binding(session, context, patient, sender, code), sealed);
}

/// The viewer's keys for `patient`'s records, to show category names. Naming is a courtesy:
/// without a signing account, or when its grants cannot be read, the trail shows opaque ids.
async fn viewer_keys(
    session: &Session,
    patient: Address,
    head: u64,
) -> Option<ehr_index::SearchKeys> {
    session.chain().signer().ok()?;
    let ring = key_ring(session, patient, head).await;
    ring.ok().map(|ring| ring.keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_source_has_a_distinct_event() {
        let sources = default_sources();
        let mut signatures: Vec<B256> = sources.iter().map(|s| s.signature).collect();
        signatures.sort();
        signatures.dedup();
        assert_eq!(signatures.len(), sources.len());
        assert!(sources.iter().all(|s| (1..=3).contains(&s.patient_topic)));
    }

    #[test]
    fn events_serialize_with_their_kind_and_read_as_one_line() {
        let mut keys = ehr_index::SearchKeys::patient(ehr_index::MasterSecret::from_bytes([4; 32]));
        keys.learn_names(["lab"]);
        let lab = keys.category_id("lab").unwrap();
        let mut event = AuditEvent::Granted {
            grantee: Address::repeat_byte(2),
            scope: Scope::Category(*lab.as_bytes32()),
            category: None,
            purpose: Purpose::Treatment,
            expiry: 1_740_837_909,
            epoch: 0,
            submitter: Address::repeat_byte(1),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["scope"], format!("category:{lab}"), "an id, not a name");
        assert!(json.get("category").is_none());
        event.name_categories(&keys);
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(json["kind"], "granted");
        assert_eq!(json["scope"], format!("category:{lab}"));
        assert_eq!(json["category"], "lab");
        assert_eq!(json["purpose"], "treatment");
        assert_eq!(json["expiry"], 1_740_837_909u64);
        assert_eq!(
            event.describe(),
            "granted 0x0202020202020202020202020202020202020202 category:lab access for treatment until 2025-03-01T14:05:09Z (epoch 0, sent by 0x0101010101010101010101010101010101010101)"
        );
        let json = serde_json::to_value(AuditEvent::RequestDenied {
            request_id: 3,
            requester: Address::ZERO,
        })
        .unwrap();
        assert_eq!(json["kind"], "requestDenied");
        assert_eq!(json["requestId"], 3);
        let decided = AuditEvent::ClaimDecided {
            claim_id: 2,
            insurer: Address::repeat_byte(3),
            reviewer: Address::repeat_byte(4),
            approved: true,
            reason_code: DecisionCode::Covered,
            reason: Some("plan B".into()),
            encrypted_reason: Bytes::new(),
        };
        assert_eq!(serde_json::to_value(&decided).unwrap()["kind"], "claimDecided");
        assert_eq!(
            decided.describe(),
            "claim 2 approved by 0x0404040404040404040404040404040404040404 (covered): \"plan B\""
        );
    }
}
