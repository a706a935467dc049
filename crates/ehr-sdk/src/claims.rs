//! Insurance claims: the patient files a claim with an insurer over some of its records; the
//! insurer reviews it (fetches, decrypts and verifies every record) and decides it.
//!
//! The claim registry accepts a claim only when the insurer can already read every record it
//! covers (`hasAccess(patient, insurer, Record(id))`), so [`submit_claim`] first gives the
//! insurer one Insurance-purpose Record grant per record, each carrying that record's data key
//! wrapped to the insurer's registered public key, and then files the claim. [`review_claim`]
//! reads those keys back from the insurer's grants and fetches every record through the
//! patient's *verified* index, exactly as `ehr fetch` does.
//!
//! An amount is a whole number of the currency's minor unit (cents for EUR); [`Currency`]
//! knows how many decimals each ISO 4217 code has, to read and print `120.50`. Neither the
//! amount nor the currency goes on chain: the registry stores a commitment to them and the
//! `ClaimSubmitted` event carries them encrypted to the insurer and to the patient
//! (`ehr_crypto::claim_terms`); those two open and check them against the stored commitment,
//! everyone else (an insurer's staff too) sees only that there is one.

use std::collections::HashMap;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use alloy::primitives::{Address, B256, FixedBytes, U256, keccak256};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::ClaimRegistry::{
    ClaimDecided, ClaimInvalidInsurer, ClaimInvalidRecords, ClaimNotInsurer, ClaimRegistryErrors,
    ClaimReviewStarted, ClaimSubmitted, ClaimUnknown, ClaimUnknownRecord,
};
use ehr_contracts::bindings::IClaimRegistry;
use ehr_contracts::{ClaimStatus, DecisionCode, OrgKind, Purpose, RevertReason, Scope, tx};
use serde::{Serialize, Serializer};

use crate::consent::{self, GrantRecord, GrantSpec};
use crate::fetch::{FetchOutput, FetchReport, fetch_verified, locate_envelope};
use crate::logs::fetch_logs;
use crate::parse::{ParseError, ParseResult, duration_within};
use crate::record_keys::{key_ring, reader_key};
use crate::records::{index_client, session_store};
use crate::requests::{open_reason, reason_binding, seal_reason};
use crate::serde_text::display;
use crate::session::{Session, TxInfo, event_in};
use crate::{Error, Result};
use ehr_crypto::claim_terms::{ClaimTerms, TermsBinding};
use ehr_crypto::reason::ReasonContext;

/// The most records one claim covers (the claim registry's `MAX_RECORDS`).
pub const MAX_CLAIM_RECORDS: usize = 64;
/// How long the Record grants [`submit_claim`] gives the insurer last by default.
pub const CLAIM_GRANT_DURATION: Duration = Duration::from_secs(90 * 86_400);
/// The most separately scoped grants a patient may give one grantee (the consent registry's
/// `MAX_SCOPES_PER_GRANTEE`).
pub const MAX_SCOPES_PER_GRANTEE: usize = 32;

// ---------------------------------------------------------------------------------------
// Currencies and amounts
// ---------------------------------------------------------------------------------------

/// An ISO 4217 currency code: three ASCII letters, stored upper-case as the contract wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

/// Codes whose minor unit is not the hundredth (ISO 4217's list of exponents 0, 3 and 4).
const DECIMALS: &[(&str, u32)] = &[
    ("BIF", 0),
    ("CLP", 0),
    ("DJF", 0),
    ("GNF", 0),
    ("ISK", 0),
    ("JPY", 0),
    ("KMF", 0),
    ("KRW", 0),
    ("PYG", 0),
    ("RWF", 0),
    ("UGX", 0),
    ("UYI", 0),
    ("VND", 0),
    ("VUV", 0),
    ("XAF", 0),
    ("XOF", 0),
    ("XPF", 0),
    ("BHD", 3),
    ("IQD", 3),
    ("JOD", 3),
    ("KWD", 3),
    ("LYD", 3),
    ("OMR", 3),
    ("TND", 3),
    ("CLF", 4),
    ("UYW", 4),
];

impl Currency {
    /// A code from what people type: three ASCII letters, any case (`eur` is `EUR`).
    pub fn new(code: &str) -> ParseResult<Self> {
        let text = code.trim();
        match <[u8; 3]>::try_from(text.as_bytes()) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_alphabetic) => {
                Ok(Self(bytes.map(|b| b.to_ascii_uppercase())))
            }
            _ => Err(ParseError::new(format!(
                "invalid currency {text:?}: use a three-letter ISO 4217 code, e.g. EUR, USD or CHF"
            ))),
        }
    }

    /// The code, e.g. `EUR`.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("three ASCII letters")
    }

    /// How many decimals the currency's minor unit has: 2 for most, 0 for JPY, 3 for KWD.
    pub fn decimals(&self) -> u32 {
        DECIMALS.iter().find(|(code, _)| *code == self.code()).map_or(2, |(_, d)| *d)
    }

    /// The contract's `bytes3`.
    pub fn to_sol(self) -> FixedBytes<3> {
        FixedBytes(self.0)
    }

    /// From the contract's `bytes3` (which it checked to be three upper-case letters).
    pub fn from_sol(value: FixedBytes<3>) -> Result<Self> {
        if value.0.iter().all(u8::is_ascii_uppercase) {
            Ok(Self(value.0))
        } else {
            Err(Error::Rpc {
                action: "read a claim",
                reason: format!(
                    "the contract returned currency {value}, which is no ISO 4217 code"
                ),
            })
        }
    }

    /// Reads an amount in this currency (`120.50`, `120`, `0.99`) as a whole number of minor
    /// units (`12050`). At most [`Currency::decimals`] decimals; more than zero.
    pub fn parse_amount(&self, input: &str) -> ParseResult<u128> {
        let text = input.trim();
        let decimals = self.decimals();
        let invalid = || {
            ParseError::new(format!(
                "invalid amount {text:?}: use digits with an optional decimal point, e.g. {}",
                self.format_amount(12_050 * 10u128.pow(decimals) / 100)
            ))
        };
        let (whole, fraction) = match text.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (text, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
            return Err(invalid());
        }
        let fraction = fraction.unwrap_or("");
        if fraction.len() > decimals as usize {
            return Err(ParseError::new(match decimals {
                0 => format!("invalid amount {text:?}: {} has no decimals", self.code()),
                d => format!(
                    "invalid amount {text:?}: {} has {d} decimal{}",
                    self.code(),
                    if d == 1 { "" } else { "s" }
                ),
            }));
        }
        let too_large = || ParseError::new(format!("amount {text:?} is too large"));
        let scale = 10u128.pow(decimals);
        let padded = format!("{fraction:0<width$}", width = decimals as usize);
        let fraction: u128 =
            if padded.is_empty() { 0 } else { padded.parse().map_err(|_| invalid())? };
        let minor = whole
            .parse::<u128>()
            .ok()
            .and_then(|w| w.checked_mul(scale))
            .and_then(|w| w.checked_add(fraction))
            .ok_or_else(too_large)?;
        if minor == 0 {
            return Err(ParseError::new(format!(
                "the amount must be more than zero, not {text:?}"
            )));
        }
        Ok(minor)
    }

    /// A whole number of minor units in the usual notation: `12050` EUR is `120.50`.
    pub fn format_amount(&self, minor: u128) -> String {
        let decimals = self.decimals();
        if decimals == 0 {
            return minor.to_string();
        }
        let scale = 10u128.pow(decimals);
        format!("{}.{:0width$}", minor / scale, minor % scale, width = decimals as usize)
    }
}

impl FromStr for Currency {
    type Err = ParseError;

    fn from_str(s: &str) -> ParseResult<Self> {
        Self::new(s)
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A currency code as a clap `value_parser`.
pub fn currency(input: &str) -> ParseResult<Currency> {
    Currency::new(input)
}

/// One record id as people type it (a whole number from 1), as a clap `value_parser`.
pub fn record_id(input: &str) -> ParseResult<u64> {
    let text = input.trim();
    match text.parse::<u64>() {
        Ok(0) => Err(ParseError::new("record ids start at 1")),
        Ok(id) => Ok(id),
        Err(_) => Err(ParseError::new(format!(
            "invalid record id {text:?}: list record numbers separated by commas, e.g. 1,2,5"
        ))),
    }
}

// ---------------------------------------------------------------------------------------
// Claims as read back
// ---------------------------------------------------------------------------------------

/// The insurer's decision on a claim (`ClaimDecided`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// Approved (true) or rejected.
    pub approved: bool,
    /// Why, as a code.
    #[serde(serialize_with = "display")]
    pub reason_code: DecisionCode,
    /// The reviewer's words, when the viewer is the patient they were encrypted to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the reviewer sent words (on chain only encrypted to the patient).
    pub has_encrypted_reason: bool,
    /// Who decided: the insurer's account or a staff member.
    pub reviewer: Address,
    /// The transaction.
    pub tx: TxInfo,
}

/// A claim as the claim registry holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimInfo {
    /// Its id (ids start at 1).
    pub id: u64,
    /// The patient who filed it.
    pub patient: Address,
    /// The insurer it was filed with.
    pub insurer: Address,
    /// Where it stands: `submitted`, `underReview`, `approved` or `rejected`.
    #[serde(serialize_with = "status_word")]
    pub status: ClaimStatus,
    /// The records it covers, in the order filed.
    pub record_ids: Vec<u64>,
    /// The on-chain commitment to the amount and currency.
    pub terms_commitment: B256,
    /// The amount in the currency's usual notation, e.g. `120.50`, when the viewer (the patient
    /// or the insurer's account) opened the terms and they matched the commitment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// The amount as a whole number of the currency's minor unit (e.g. cents), likewise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub minor_units: Option<u128>,
    /// The ISO 4217 code, likewise.
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "display_some")]
    pub currency: Option<Currency>,
    /// Unix time it was filed.
    pub submitted_at: u64,
    /// Unix time it was decided.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<u64>,
    /// The decision, once there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
}

fn display_some<S: Serializer>(
    value: &Option<Currency>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    match value {
        Some(currency) => s.collect_str(currency),
        None => s.serialize_none(),
    }
}

/// The status as one JSON word.
fn status_word<S: Serializer>(status: &ClaimStatus, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(match status {
        ClaimStatus::None => "unknown",
        ClaimStatus::Submitted => "submitted",
        ClaimStatus::UnderReview => "underReview",
        ClaimStatus::Approved => "approved",
        ClaimStatus::Rejected => "rejected",
    })
}

fn claim_id(id: U256) -> u64 {
    u64::try_from(id).unwrap_or(u64::MAX)
}

/// A refusal the contract would give, raised before any gas is spent.
fn refused(action: &'static str, error: ClaimRegistryErrors) -> Error {
    Error::Contract(ehr_contracts::Error::Reverted { action, reason: RevertReason::Claim(error) })
}

/// Claim `id`, with its decision once decided; [`ClaimUnknown`] (as the contract words it)
/// when there is none.
pub async fn get_claim(session: &Session, id: u64) -> Result<ClaimInfo> {
    let stored = tx::call("read the claim", session.claims().claim(U256::from(id))).await?;
    let status = ClaimStatus::from_u8(stored.status)?;
    if status == ClaimStatus::None {
        return Err(refused(
            "read the claim",
            ClaimRegistryErrors::ClaimUnknown(ClaimUnknown { claimId: U256::from(id) }),
        ));
    }
    let decision = if status.is_decided() {
        let filter =
            claim_filter(session, ClaimDecided::SIGNATURE_HASH).topic1(B256::from(U256::from(id)));
        decisions(session, &filter).await?.remove(&id)
    } else {
        None
    };
    let filter =
        claim_filter(session, ClaimSubmitted::SIGNATURE_HASH).topic1(B256::from(U256::from(id)));
    let (head, _) = session.chain().head().await?;
    let logs =
        fetch_logs(session.chain(), &filter, session.deployment().deployed_at_block, head).await?;
    let sealed = logs
        .iter()
        .find_map(|log| log.log_decode::<ClaimSubmitted>().ok())
        .map(|event| event.inner.data.sealedTerms)
        .unwrap_or_default();
    Ok(claim_info(session, id, stored, status, decision, &sealed))
}

/// Where claim terms between `patient` and `insurer` belong in this deployment.
fn terms_binding(session: &Session, patient: Address, insurer: Address) -> TermsBinding {
    TermsBinding {
        chain_id: session.chain().chain_id(),
        claim_registry: session.deployment().claim_registry.0.0,
        patient: patient.0.0,
        insurer: insurer.0.0,
    }
}

/// The claim's terms, when the session's account (the patient or the insurer's account) opens
/// them and they match the commitment the registry stores.
fn open_claim_terms(
    session: &Session,
    stored: &IClaimRegistry::Claim,
    sealed: &[u8],
) -> Option<(u128, Currency)> {
    let me = session.chain().address().ok()?;
    if me != stored.patient && me != stored.insurer {
        return None;
    }
    let secret = crate::keys::signer_secret_key(session).ok()?;
    let binding = terms_binding(session, stored.patient, stored.insurer);
    let terms =
        ehr_crypto::claim_terms::open_terms(sealed, &secret, &binding, &stored.termsCommitment.0)
            .ok()?;
    let currency = Currency::from_sol(FixedBytes(terms.currency)).ok()?;
    Some((terms.amount, currency))
}

/// A stored claim as the SDK reports it, its terms opened when the viewer can.
fn claim_info(
    session: &Session,
    id: u64,
    stored: IClaimRegistry::Claim,
    status: ClaimStatus,
    decision: Option<Decision>,
    sealed: &[u8],
) -> ClaimInfo {
    let terms = open_claim_terms(session, &stored, sealed);
    ClaimInfo {
        id,
        patient: stored.patient,
        insurer: stored.insurer,
        status,
        record_ids: stored.recordIds,
        terms_commitment: stored.termsCommitment,
        amount: terms.map(|(amount, currency)| currency.format_amount(amount)),
        minor_units: terms.map(|(amount, _)| amount),
        currency: terms.map(|(_, currency)| currency),
        submitted_at: stored.submittedAt,
        decided_at: status.is_decided().then_some(stored.decidedAt),
        decision,
    }
}

/// Which claims to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClaimFilter {
    /// Only claims filed by this patient.
    pub patient: Option<Address>,
    /// Only claims filed with this insurer.
    pub insurer: Option<Address>,
}

/// The claims matching `filter`, oldest first, each as it stands now.
pub async fn list_claims(session: &Session, filter: ClaimFilter) -> Result<Vec<ClaimInfo>> {
    let narrow = |mut f: Filter| {
        if let Some(patient) = filter.patient {
            f = f.topic2(patient.into_word());
        }
        if let Some(insurer) = filter.insurer {
            f = f.topic3(insurer.into_word());
        }
        f
    };
    let submitted = narrow(claim_filter(session, ClaimSubmitted::SIGNATURE_HASH));
    let (head, _) = session.chain().head().await?;
    let logs =
        fetch_logs(session.chain(), &submitted, session.deployment().deployed_at_block, head)
            .await?;
    let mut decided =
        decisions(session, &narrow(claim_filter(session, ClaimDecided::SIGNATURE_HASH))).await?;
    let contract = session.claims();
    let mut claims = Vec::new();
    for log in &logs {
        let Ok(event) = log.log_decode::<ClaimSubmitted>() else { continue };
        let id = claim_id(event.inner.data.claimId);
        let stored = tx::call("read a claim", contract.claim(U256::from(id))).await?;
        let status = ClaimStatus::from_u8(stored.status)?;
        let sealed = &event.inner.data.sealedTerms;
        claims.push(claim_info(session, id, stored, status, decided.remove(&id), sealed));
    }
    Ok(claims)
}

/// A filter for one of the claim registry's events.
fn claim_filter(session: &Session, signature: B256) -> Filter {
    Filter::new().address(session.deployment().claim_registry).event_signature(signature)
}

/// The decisions `filter` (over `ClaimDecided`) finds, by claim id.
async fn decisions(session: &Session, filter: &Filter) -> Result<HashMap<u64, Decision>> {
    let (head, _) = session.chain().head().await?;
    let logs =
        fetch_logs(session.chain(), filter, session.deployment().deployed_at_block, head).await?;
    Ok(logs
        .iter()
        .filter_map(|log| {
            let event = log.log_decode::<ClaimDecided>().ok()?.inner.data;
            let tx = TxInfo {
                tx_hash: log.transaction_hash.unwrap_or_default(),
                block: log.block_number.unwrap_or_default(),
            };
            let binding = reason_binding(
                session,
                ReasonContext::ClaimDecision,
                event.patient,
                event.reviewer,
                event.reasonCode,
            );
            let decision = Decision {
                approved: event.approved,
                reason_code: DecisionCode::from_u16(event.reasonCode).ok()?,
                reason: open_reason(session, &binding, &event.encryptedReason),
                has_encrypted_reason: !event.encryptedReason.is_empty(),
                reviewer: event.reviewer,
                tx,
            };
            Some((claim_id(event.claimId), decision))
        })
        .collect())
}

// ---------------------------------------------------------------------------------------
// Submitting (patient)
// ---------------------------------------------------------------------------------------

/// A claim to file.
#[derive(Debug, Clone)]
pub struct ClaimRequest {
    /// The insurer organization's account.
    pub insurer: Address,
    /// The records the claim covers (1 to 64, each once).
    pub record_ids: Vec<u64>,
    /// The amount, a whole number of the currency's minor unit ([`Currency::parse_amount`]).
    pub amount: u128,
    /// The currency.
    pub currency: Currency,
    /// Give the insurer an Insurance-purpose Record grant of every record first, lasting this
    /// long (replacing any Record grant it holds for them); `None` relies on the access the
    /// insurer already holds (an All grant, or Record grants given before).
    pub grant_for: Option<Duration>,
}

/// A filed claim and the grants given for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmittedClaim {
    /// The claim as stored.
    pub claim: ClaimInfo,
    /// The Record grants given to the insurer first (none with `grant_for: None`).
    pub grants: Vec<GrantRecord>,
    /// The claim's transaction.
    pub tx: TxInfo,
}

/// Files a claim as the signing patient with `insurer` over `record_ids` for `amount` minor
/// units of `currency`: gives the insurer a 90-day ([`CLAIM_GRANT_DURATION`]) Insurance-purpose
/// Record grant of each record, carrying its data key, then submits the claim.
pub async fn submit_claim(
    session: &Session,
    insurer: Address,
    record_ids: &[u64],
    amount: u128,
    currency: Currency,
) -> Result<SubmittedClaim> {
    let request = ClaimRequest {
        insurer,
        record_ids: record_ids.to_vec(),
        amount,
        currency,
        grant_for: Some(CLAIM_GRANT_DURATION),
    };
    submit_claim_with(session, request).await
}

/// Files a claim as the signing patient (see [`ClaimRequest`]).
///
/// What the claim registry checks is checked first, so a refusal costs no gas and leaves no
/// grant behind: the claim's shape, that the signer is a patient, that the insurer is an
/// active insurer, that every record exists, and that the new grants fit the consent
/// registry's limit per grantee. The insurer's access itself is the contract's to check (the
/// grants create it; without them its refusal, decoded, is the error). The grants are sent one
/// by one before the claim; should the claim then fail, they stay (submitting again replaces
/// them).
pub async fn submit_claim_with(session: &Session, request: ClaimRequest) -> Result<SubmittedClaim> {
    const ACTION: &str = "submit the claim";
    let ClaimRequest { insurer, record_ids, amount, currency, grant_for } = request;
    let count = record_ids.len();
    let repeated = record_ids.iter().enumerate().any(|(i, id)| record_ids[..i].contains(id));
    if count == 0 || count > MAX_CLAIM_RECORDS || repeated {
        return Err(refused(
            ACTION,
            ClaimRegistryErrors::ClaimInvalidRecords(ClaimInvalidRecords {
                count: U256::from(count),
                max: U256::from(MAX_CLAIM_RECORDS),
            }),
        ));
    }
    if amount == 0 {
        return Err(ParseError::new("the amount must be more than zero").into());
    }
    let patient = session.chain().address()?;
    session.require_patient(patient).await?;
    let is_insurer = tx::call(
        "check the insurer",
        session.roles().isActiveOrganizationOfKind(insurer, OrgKind::Insurer.as_u8()),
    )
    .await?;
    if !is_insurer {
        return Err(refused(
            ACTION,
            ClaimRegistryErrors::ClaimInvalidInsurer(ClaimInvalidInsurer { insurer }),
        ));
    }
    let known = tx::call("read the record count", session.index().stateOf(patient)).await?.records;
    if let Some(&unknown) = record_ids.iter().find(|&&id| id == 0 || id > known) {
        return Err(refused(
            ACTION,
            ClaimRegistryErrors::ClaimUnknownRecord(ClaimUnknownRecord { recordId: unknown }),
        ));
    }
    let grants = match grant_for {
        Some(duration) => grant_records(session, patient, insurer, &record_ids, duration).await?,
        None => Vec::new(),
    };
    // The amount stays off chain: a commitment, and the terms sealed to the insurer and to the
    // patient (its key from the role registry, checked against its address).
    let terms = ClaimTerms::new(amount, currency.to_sol().0);
    let insurer_key = registered_key(session, insurer).await?;
    let patient_key = registered_key(session, patient).await?;
    let sealed = ehr_crypto::claim_terms::seal_terms(
        &terms,
        &insurer_key,
        &patient_key,
        &terms_binding(session, patient, insurer),
    )?;
    let contract = session.claims_as_signer()?;
    let call =
        contract.submitClaim(insurer, record_ids, B256::from(terms.commitment()), sealed.into());
    let receipt = tx::send(ACTION, call).await?;
    let event: ClaimSubmitted = event_in(&receipt, session.deployment().claim_registry, ACTION)?;
    let claim = get_claim(session, claim_id(event.claimId)).await?;
    Ok(SubmittedClaim { claim, grants, tx: TxInfo::of(&receipt) })
}

/// `account`'s registered public key, checked against its address.
async fn registered_key(session: &Session, account: Address) -> Result<ehr_crypto::PublicKey> {
    let raw = crate::roles::registered_public_key(session, account).await?;
    Ok(ehr_crypto::public_key_for_address(&raw, &account.0.0)?)
}

/// The consent registry's scopeId of a Record scope: keccak256(abi.encode(uint8 2, bytes32 id)).
fn record_scope_id(record_id: u64) -> B256 {
    let mut preimage = [0u8; 64];
    preimage[31] = 2;
    preimage[32..].copy_from_slice(Scope::Record(record_id).to_sol().value.as_slice());
    keccak256(preimage)
}

/// Gives `insurer` an Insurance-purpose Record grant of each record, carrying the record's
/// data key (read from its envelope, located by the patient's verified index).
async fn grant_records(
    session: &Session,
    patient: Address,
    insurer: Address,
    record_ids: &[u64],
    duration: Duration,
) -> Result<Vec<GrantRecord>> {
    duration_within(
        "a claim grant's duration",
        duration,
        Duration::from_secs(1),
        crate::parse::MAX_DURATION,
    )?;
    crate::roles::registered_public_key(session, insurer).await?;
    let held =
        tx::call("read the insurer's grants", session.consent().scopeIdsOf(patient, insurer))
            .await?;
    let new = record_ids.iter().filter(|&&id| !held.contains(&record_scope_id(id))).count();
    if held.len() + new > MAX_SCOPES_PER_GRANTEE {
        return Err(Error::TooManyClaimGrants {
            patient,
            insurer,
            held: held.len(),
            new,
            max: MAX_SCOPES_PER_GRANTEE,
        });
    }
    let store = session_store(session)?;
    let index = index_client(session).verified_index(patient, None).await?;
    let mut keys = Vec::with_capacity(record_ids.len());
    for &id in record_ids {
        let record = index.record(id).ok_or(Error::UnknownRecord { patient, record: id })?;
        let cid = locate_envelope(&**store, id, record.digest).await?;
        keys.push(crate::keys::record_data_key(session, id, cid).await?);
    }
    let mut grants = Vec::with_capacity(record_ids.len());
    for (&id, key) in record_ids.iter().zip(keys) {
        let spec = GrantSpec {
            grantee: insurer,
            scope: crate::NamedScope::Record(id),
            purpose: Purpose::Insurance,
            duration,
            record_key: Some(key),
        };
        grants.push(consent::grant(session, spec).await?);
    }
    Ok(grants)
}

// ---------------------------------------------------------------------------------------
// Reviewing and deciding (insurer)
// ---------------------------------------------------------------------------------------

/// Where [`review_claim`] puts the records it fetched.
#[derive(Debug, Clone)]
pub enum ReviewOutput {
    /// Decrypt and verify only; keep nothing.
    VerifyOnly,
    /// Also write each record into this directory (created if needed) as `record-ID.json`,
    /// or `record-ID-NAME` for a wrapped file named NAME; existing files are replaced.
    Directory(PathBuf),
}

/// What a review did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimReview {
    /// The claim, as it stands after the review started.
    pub claim: ClaimInfo,
    /// The `startReview` transaction, when this review moved the claim from submitted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_started: Option<TxInfo>,
    /// Every record of the claim, fetched, decrypted and verified against the patient's index.
    pub records: Vec<FetchReport>,
}

/// Reviews claim `id` as the insurer or its staff (the signer): moves a submitted claim to
/// review, then fetches every record it covers through the patient's verified index, opens it
/// with the data key the insurer's grant carried, and checks it (envelope authenticity, its
/// digest in the index, a wrapped file's SHA-256), optionally saving it.
///
/// An account that may not act on the claim, or that holds no key for one of its records (the
/// insurer's staff: the grants carry the keys to the insurer's own account), is refused before
/// anything is sent. A claim under review or decided can be reviewed again (its records are
/// fetched again); nothing is sent then.
pub async fn review_claim(session: &Session, id: u64, output: ReviewOutput) -> Result<ClaimReview> {
    const ACTION: &str = "start reviewing the claim";
    let me = session.chain().address()?;
    let claim = get_claim(session, id).await?;
    require_reviewer(session, id, me, ACTION).await?;
    let store = session_store(session)?;
    // Every record's key before anything is sent: an account that cannot read them (staff,
    // whose insurer's account holds the grants) is refused with the claim left as it was.
    let signer = session.chain().signer()?;
    let client = index_client(session);
    let patient = claim.patient;
    let index = client.verified_index(patient, None).await?;
    let ring = key_ring(session, patient, index.at_block).await?;
    let mut keyed = Vec::with_capacity(claim.record_ids.len());
    for &record_id in &claim.record_ids {
        let record =
            index.record(record_id).ok_or(Error::UnknownRecord { patient, record: record_id })?;
        let key = reader_key(&ring, signer, record).map_err(|e| match e {
            Error::NoRecordKey { reader, record_id, .. } => Error::NoClaimRecordKey {
                claim_id: id,
                record_id,
                reviewer: reader,
                insurer: claim.insurer,
            },
            other => other,
        })?;
        keyed.push((record, key));
    }

    let review_started = if claim.status == ClaimStatus::Submitted {
        let contract = session.claims_as_signer()?;
        let receipt = tx::send(ACTION, contract.startReview(U256::from(id))).await?;
        let _: ClaimReviewStarted =
            event_in(&receipt, session.deployment().claim_registry, ACTION)?;
        Some(TxInfo::of(&receipt))
    } else {
        None
    };
    let claim = if review_started.is_some() { get_claim(session, id).await? } else { claim };

    if let ReviewOutput::Directory(dir) = &output {
        std::fs::create_dir_all(dir)
            .map_err(|source| Error::Io { context: "creating the review directory", source })?;
    }
    let mut records = Vec::with_capacity(keyed.len());
    for (record, key) in keyed {
        let record_id = record.record_id;
        let report = match &output {
            ReviewOutput::VerifyOnly => {
                let sink = FetchOutput::Writer(Box::new(std::io::sink()));
                let mut report =
                    fetch_verified(session, &**store, patient, record, index.at_block, key, sink)
                        .await?;
                report.output = "(verified, not saved)".to_owned();
                report
            }
            ReviewOutput::Directory(dir) => {
                let partial = dir.join(format!("record-{record_id}"));
                let file = FetchOutput::File(partial.clone());
                let mut report =
                    fetch_verified(session, &**store, patient, record, index.at_block, key, file)
                        .await?;
                let path = dir.join(record_file_name(record_id, &report));
                std::fs::rename(&partial, &path)
                    .map_err(|source| Error::Io { context: "naming a reviewed record", source })?;
                report.output = path.display().to_string();
                report
            }
        };
        records.push(report);
    }
    Ok(ClaimReview { claim, review_started, records })
}

/// `record-ID.json` for a FHIR record, `record-ID-NAME` for a wrapped file named NAME (its
/// name reduced to letters, digits, `.`, `-` and `_`, so it cannot leave the directory).
fn record_file_name(record_id: u64, report: &FetchReport) -> String {
    let name = report.file_name.as_deref().map(|name| {
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
            .collect::<String>()
            .trim_start_matches('.')
            .to_owned()
    });
    match name {
        Some(name) if !name.is_empty() => format!("record-{record_id}-{name}"),
        _ => format!("record-{record_id}.json"),
    }
}

/// Refuses (as the contract would) an account that may not act on claim `id`.
async fn require_reviewer(
    session: &Session,
    id: u64,
    account: Address,
    action: &'static str,
) -> Result<()> {
    let claim_id = U256::from(id);
    let allowed =
        tx::call("check the reviewer", session.claims().canReview(claim_id, account)).await?;
    if !allowed {
        return Err(refused(
            action,
            ClaimRegistryErrors::ClaimNotInsurer(ClaimNotInsurer {
                claimId: claim_id,
                caller: account,
            }),
        ));
    }
    Ok(())
}

/// Decides claim `id` as the insurer or its staff (the signer): approves it or rejects it,
/// for the reason `code`, with the reviewer's own words (1 to 256 bytes) if any, which go on
/// chain encrypted to the claim's patient. The claim must be under review ([`review_claim`]
/// moves it there); the contract refuses anything else, and its refusal is the error.
pub async fn decide_claim(
    session: &Session,
    id: u64,
    approve: bool,
    code: DecisionCode,
    reason: Option<&str>,
) -> Result<ClaimInfo> {
    const ACTION: &str = "decide the claim";
    if let Some(text) = reason {
        crate::requests::check_reason(text)?;
    }
    let patient = get_claim(session, id).await?.patient;
    let reviewer = session.chain().address()?;
    let binding =
        reason_binding(session, ReasonContext::ClaimDecision, patient, reviewer, code.as_u16());
    let sealed = seal_reason(session, &binding, reason).await?;
    let contract = session.claims_as_signer()?;
    let call = contract.decide(U256::from(id), approve, code.as_u16(), sealed);
    let receipt = tx::send(ACTION, call).await?;
    let _: ClaimDecided = event_in(&receipt, session.deployment().claim_registry, ACTION)?;
    get_claim(session, id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_three_letters_upper_cased() {
        assert_eq!(Currency::new("eur").unwrap().code(), "EUR");
        assert_eq!(Currency::new(" chf ").unwrap().to_sol(), FixedBytes(*b"CHF"));
        for bad in ["EU", "EURO", "E1R", "€UR", ""] {
            let message = Currency::new(bad).unwrap_err().to_string();
            assert!(message.contains("three-letter ISO 4217 code"), "{bad}: {message}");
        }
        assert!(Currency::from_sol(FixedBytes(*b"eur")).is_err());
    }

    #[test]
    fn amounts_follow_the_currency_decimals() {
        let eur = Currency::new("EUR").unwrap();
        assert_eq!(eur.parse_amount("120.50").unwrap(), 12_050);
        assert_eq!(eur.parse_amount("120.5").unwrap(), 12_050);
        assert_eq!(eur.parse_amount("120").unwrap(), 12_000);
        assert_eq!(eur.parse_amount("0.01").unwrap(), 1);
        assert_eq!(eur.format_amount(12_050), "120.50");
        assert_eq!(eur.format_amount(7), "0.07");
        let jpy = Currency::new("jpy").unwrap();
        assert_eq!(jpy.parse_amount("1500").unwrap(), 1_500);
        assert_eq!(jpy.format_amount(1_500), "1500");
        assert!(jpy.parse_amount("15.5").unwrap_err().to_string().contains("JPY has no decimals"));
        let kwd = Currency::new("KWD").unwrap();
        assert_eq!(kwd.parse_amount("1.5").unwrap(), 1_500);
        assert_eq!(kwd.format_amount(1_500), "1.500");
        for bad in ["", "12,50", "-1", "1e3", ".5", "5.", "1.2.3", "0", "0.00"] {
            assert!(eur.parse_amount(bad).is_err(), "{bad:?} is refused");
        }
        let message = eur.parse_amount("1.005").unwrap_err().to_string();
        assert_eq!(message, "invalid amount \"1.005\": EUR has 2 decimals");
        assert!(eur.parse_amount(&"9".repeat(40)).unwrap_err().to_string().contains("too large"));
    }

    #[test]
    fn record_ids_are_whole_numbers_from_one() {
        assert_eq!(record_id(" 7").unwrap(), 7);
        assert!(record_id("0").unwrap_err().to_string().contains("start at 1"));
        assert!(record_id("").is_err());
        assert!(record_id("one").unwrap_err().to_string().contains("separated by commas"));
    }

    #[test]
    fn record_scope_ids_match_the_consent_registry() {
        // keccak256(abi.encode(uint8(2), bytes32(uint256(1)))), as ConsentRegistry.scopeIdOf.
        let mut preimage = [0u8; 64];
        preimage[31] = 2;
        preimage[63] = 1;
        assert_eq!(record_scope_id(1), keccak256(preimage));
        assert_ne!(record_scope_id(1), record_scope_id(2));
    }

    #[test]
    fn reviewed_files_keep_safe_names() {
        let mut report = FetchReport {
            patient: Address::ZERO,
            record_id: 4,
            cid: ehr_store::Cid::new(ehr_store::Codec::Raw, [0; 32]),
            digest: B256::ZERO,
            category: "document".into(),
            epoch: 0,
            writer: Address::ZERO,
            verified_at_block: 1,
            superseded_by: None,
            resource_type: "DocumentReference".into(),
            content_type: "application/pdf".into(),
            file_name: Some("../discharge summary.pdf".into()),
            bytes: 1,
            sha256: B256::ZERO,
            output: String::new(),
            read_log: crate::read_log::ReadLogReport::ClaimReview,
        };
        assert_eq!(record_file_name(4, &report), "record-4-_discharge_summary.pdf");
        report.file_name = None;
        assert_eq!(record_file_name(4, &report), "record-4.json");
    }

    #[test]
    fn claims_serialize_with_words_and_the_amount_both_ways() {
        let claim = ClaimInfo {
            id: 1,
            patient: Address::repeat_byte(1),
            insurer: Address::repeat_byte(2),
            status: ClaimStatus::UnderReview,
            record_ids: vec![1, 2],
            terms_commitment: B256::repeat_byte(7),
            amount: Some("120.50".into()),
            minor_units: Some(12_050),
            currency: Some(Currency::new("EUR").unwrap()),
            submitted_at: 1_700_000_000,
            decided_at: None,
            decision: None,
        };
        let json = serde_json::to_value(&claim).unwrap();
        assert_eq!(json["status"], "underReview");
        assert_eq!(json["currency"], "EUR");
        assert_eq!(json["amount"], "120.50");
        assert_eq!(json["minorUnits"], 12_050);
        assert_eq!(json["recordIds"], serde_json::json!([1, 2]));
        assert!(json.get("decision").is_none());
        let hidden = ClaimInfo { amount: None, minor_units: None, currency: None, ..claim };
        let json = serde_json::to_value(&hidden).unwrap();
        assert!(json.get("amount").is_none() && json.get("currency").is_none());
        assert_eq!(json["termsCommitment"], format!("{}", B256::repeat_byte(7)));
    }
}
