//! Access requests: staff or an organization asks a patient for access; the patient approves
//! (creating the grant, with key material) or denies. Listing reads the `AccessRequested`
//! events and each request's current state.

use crate::consent::GrantRecord;
use crate::keys::{named_scope, patient_keys, scope_keys, wrap_for_grantee};
use crate::logs::fetch_logs;
use crate::parse::{MAX_DURATION, ParseError, duration_within};
use crate::serde_text::display;
use crate::session::{Session, TxInfo, event_in};
use crate::{Error, Result};
use alloy::primitives::Bytes;
use alloy::primitives::{Address, U256};
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use ehr_contracts::bindings::ConsentRegistry::{
    AccessRequestDenied, AccessRequested, ConsentNotRequestPatient, ConsentRegistryErrors,
    ConsentUnknownRequest,
};
use ehr_contracts::{Purpose, ReasonCode, RevertReason, Scope, tx};
use ehr_crypto::DataKey;
use ehr_crypto::reason::{ReasonBinding, ReasonContext};
use serde::Serialize;
use std::time::Duration;

/// The longest a request stays answerable (the consent registry's `MAX_REQUEST_TTL`).
pub const MAX_REQUEST_TTL: Duration = Duration::from_secs(30 * 86_400);
/// The longest reason the consent registry takes, in bytes.
pub const MAX_REASON_LEN: usize = 256;

/// What staff or an organization asks for.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// The patient asked.
    pub patient: Address,
    /// What access should cover. A category goes on chain as the patient's opaque id for it,
    /// which only the patient and its All grantees compute, and which a Category grant of that
    /// name tells its grantee: a requester without either cannot ask for a category by name
    /// ([`ehr_index::Error::UnknownCategoryName`]); it asks for `all` and says why.
    pub scope: crate::NamedScope,
    /// Why.
    pub purpose: Purpose,
    /// How long the patient may answer (1 s to 30 days).
    pub ttl: Duration,
    /// Why, as a code everyone sees.
    pub reason_code: ReasonCode,
    /// Why, in words (1 to 256 bytes): encrypted to the patient, only it reads them.
    pub reason: Option<String>,
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RequestStatus {
    /// Waiting for the patient.
    Pending,
    /// Pending, but past its answer time: it can only be denied.
    Expired,
    /// Approved: a grant was created.
    Approved,
    /// Denied.
    Denied,
}

impl std::fmt::Display for RequestStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Pending => "pending",
            Self::Expired => "expired",
            Self::Approved => "approved",
            Self::Denied => "denied",
        })
    }
}

/// One access request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessRequestInfo {
    /// Its id (ids start at 1).
    pub id: u64,
    /// The patient asked.
    pub patient: Address,
    /// Who asked.
    pub requester: Address,
    /// What access should cover.
    #[serde(serialize_with = "display")]
    pub scope: Scope,
    /// Why.
    #[serde(serialize_with = "display")]
    pub purpose: Purpose,
    /// Where it stands now.
    pub status: RequestStatus,
    /// Unix time it stops being answerable.
    pub expires_at: u64,
    /// Why, as a code.
    #[serde(serialize_with = "display")]
    pub reason_code: ReasonCode,
    /// The requester's words: decrypted when the viewer is the patient, otherwise `None` (also
    /// when there are none).
    pub reason: Option<String>,
    /// Whether the requester wrote words (encrypted to the patient).
    pub has_encrypted_reason: bool,
    /// The request's transaction.
    pub tx: TxInfo,
}

fn request_id(id: U256) -> u64 {
    u64::try_from(id).unwrap_or(u64::MAX)
}

/// Files an access request as the signer (active staff or organization).
pub async fn request_access(session: &Session, spec: RequestSpec) -> Result<AccessRequestInfo> {
    let ttl = duration_within(
        "a request's time to live",
        spec.ttl,
        Duration::from_secs(1),
        MAX_REQUEST_TTL,
    )?;
    let scope = on_chain_scope(session, spec.patient, &spec.scope).await?;
    let sender = session.chain().address()?;
    let binding = reason_binding(
        session,
        ReasonContext::Request,
        spec.patient,
        sender,
        spec.reason_code.as_u16(),
    );
    let sealed = seal_reason(session, &binding, spec.reason.as_deref()).await?;
    let contract = session.consent_as_signer()?;
    let call = contract.requestAccess(
        spec.patient,
        scope.to_sol(),
        spec.purpose.as_u8(),
        ttl.as_secs(),
        spec.reason_code.as_u16(),
        sealed.clone(),
    );
    let receipt = tx::send("request access", call).await?;
    let event: AccessRequested =
        event_in(&receipt, session.deployment().consent_registry, "request access")?;
    Ok(AccessRequestInfo {
        id: request_id(event.requestId),
        patient: event.patient,
        requester: event.requester,
        scope,
        purpose: spec.purpose,
        status: RequestStatus::Pending,
        expires_at: event.expiresAt,
        reason_code: spec.reason_code,
        reason: spec.reason,
        has_encrypted_reason: !sealed.is_empty(),
        tx: TxInfo::of(&receipt),
    })
}

/// Where a reason belongs in this deployment.
pub(crate) fn reason_binding(
    session: &Session,
    context: ReasonContext,
    patient: Address,
    sender: Address,
    code: u16,
) -> ReasonBinding {
    let d = session.deployment();
    let registry = match context {
        ReasonContext::ClaimDecision => d.claim_registry,
        ReasonContext::Request | ReasonContext::Emergency => d.consent_registry,
    };
    ReasonBinding {
        context,
        chain_id: session.chain().chain_id(),
        registry: registry.0.0,
        patient: patient.0.0,
        sender: sender.0.0,
        code,
    }
}

/// `text` encrypted to the patient's registered key (empty without text).
pub(crate) async fn seal_reason(
    session: &Session,
    binding: &ReasonBinding,
    text: Option<&str>,
) -> Result<Bytes> {
    let Some(text) = text else { return Ok(Bytes::new()) };
    check_reason(text)?;
    let patient = Address::from(binding.patient);
    let raw = crate::roles::registered_public_key(session, patient).await?;
    let key = ehr_crypto::public_key_for_address(&raw, &binding.patient)?;
    Ok(ehr_crypto::reason::seal_reason(&key, binding, text)?.into())
}

/// The words of a reason, when the session's account is the patient it was encrypted to.
/// A reason that does not open is shown as such rather than failing the listing.
pub(crate) fn open_reason(
    session: &Session,
    binding: &ReasonBinding,
    sealed: &[u8],
) -> Option<String> {
    if sealed.is_empty() || session.chain().address().ok()?.0.0 != binding.patient {
        return None;
    }
    let secret = crate::keys::signer_secret_key(session).ok()?;
    Some(ehr_crypto::reason::open_reason(&secret, binding, sealed).unwrap_or_else(|_| {
        "[the encrypted reason does not open: not written for this request]".into()
    }))
}

/// `scope` as the chain holds it, a category mapped to the patient's id with the requester's
/// keys.
pub(crate) async fn on_chain_scope(
    session: &Session,
    patient: Address,
    scope: &crate::NamedScope,
) -> Result<Scope> {
    Ok(match scope {
        crate::NamedScope::All => Scope::All,
        crate::NamedScope::Record(id) => Scope::Record(*id),
        crate::NamedScope::Category(name) => {
            let (head, _) = session.chain().head().await?;
            let ring = crate::record_keys::key_ring(session, patient, head).await?;
            Scope::Category(*ring.keys.category_id(name)?.as_bytes32())
        }
    })
}

/// Checks a reason against the contract's rule before any gas is spent.
pub fn check_reason(reason: &str) -> Result<()> {
    if reason.trim().is_empty() {
        return Err(ParseError::new(
            "a reason must not be empty: say why, e.g. --reason \"follow-up visit\"",
        )
        .into());
    }
    if reason.len() > MAX_REASON_LEN {
        return Err(ParseError::new(format!(
            "a reason must be 1 to {MAX_REASON_LEN} bytes, not {}",
            reason.len()
        ))
        .into());
    }
    Ok(())
}

/// Which requests to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFilter {
    /// Only requests to this patient.
    pub patient: Option<Address>,
    /// Only requests by this requester.
    pub requester: Option<Address>,
    /// Only requests still answerable.
    pub pending_only: bool,
}

/// The requests matching `filter`, oldest first, each with its current status.
pub async fn list_requests(
    session: &Session,
    filter: RequestFilter,
) -> Result<Vec<AccessRequestInfo>> {
    let mut logs_filter = Filter::new()
        .address(session.deployment().consent_registry)
        .event_signature(AccessRequested::SIGNATURE_HASH);
    if let Some(patient) = filter.patient {
        logs_filter = logs_filter.topic2(patient.into_word());
    }
    if let Some(requester) = filter.requester {
        logs_filter = logs_filter.topic3(requester.into_word());
    }
    let (head, now) = session.chain().now().await?;
    let logs =
        fetch_logs(session.chain(), &logs_filter, session.deployment().deployed_at_block, head)
            .await?;
    let consent = session.consent();
    let mut requests = Vec::new();
    for log in &logs {
        let Ok(decoded) = log.log_decode::<AccessRequested>() else { continue };
        let event = decoded.inner.data;
        let stored = tx::call("read a request", consent.accessRequest(event.requestId)).await?;
        let status = match stored.status {
            1 if stored.expiresAt < now => RequestStatus::Expired,
            1 => RequestStatus::Pending,
            2 => RequestStatus::Approved,
            3 => RequestStatus::Denied,
            _ => continue,
        };
        if filter.pending_only && status != RequestStatus::Pending {
            continue;
        }
        requests.push(AccessRequestInfo {
            id: request_id(event.requestId),
            patient: event.patient,
            requester: event.requester,
            scope: Scope::from_sol(&event.scope)?,
            purpose: Purpose::from_u8(event.purpose)?,
            status,
            expires_at: event.expiresAt,
            reason_code: ReasonCode::from_u16(event.reasonCode)?,
            reason: open_reason(
                session,
                &reason_binding(
                    session,
                    ReasonContext::Request,
                    event.patient,
                    event.requester,
                    event.reasonCode,
                ),
                &event.encryptedReason,
            ),
            has_encrypted_reason: !event.encryptedReason.is_empty(),
            tx: TxInfo {
                tx_hash: log.transaction_hash.unwrap_or_default(),
                block: log.block_number.unwrap_or_default(),
            },
        });
    }
    Ok(requests)
}

/// A refusal the contract would give, raised before any work is done.
fn refused(action: &'static str, error: ConsentRegistryErrors) -> Error {
    Error::Contract(ehr_contracts::Error::Reverted { action, reason: RevertReason::Consent(error) })
}

/// An approved request and the grant it created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    /// The request.
    pub request_id: u64,
    /// The grant created.
    pub grant: GrantRecord,
}

/// Approves request `id` as its patient (the signer): the grant lasts `duration` and carries
/// the scope's keys wrapped to the requester. A record scope needs the record's data key.
pub async fn approve(
    session: &Session,
    id: u64,
    duration: Duration,
    record_key: Option<DataKey>,
) -> Result<Approval> {
    const ACTION: &str = "approve the request";
    let patient = session.chain().address()?;
    duration_within("a grant's duration", duration, Duration::from_secs(1), MAX_DURATION)?;
    let request_id = U256::from(id);
    let stored = tx::call("read the request", session.consent().accessRequest(request_id)).await?;
    if stored.status == 0 {
        return Err(refused(
            ACTION,
            ConsentRegistryErrors::ConsentUnknownRequest(ConsentUnknownRequest {
                requestId: request_id,
            }),
        ));
    }
    if stored.patient != patient {
        return Err(refused(
            ACTION,
            ConsentRegistryErrors::ConsentNotRequestPatient(ConsentNotRequestPatient {
                requestId: request_id,
                caller: patient,
            }),
        ));
    }
    let scope = Scope::from_sol(&stored.scope)?;
    let epoch = tx::call("read the key epoch", session.consent().epochOf(patient)).await?;
    let (_, now) = session.chain().now().await?;
    let patient_keys = patient_keys(session).await?;
    let scope = named_scope(&patient_keys.search_keys(), &scope)?;
    let keys = scope_keys(&patient_keys, &scope, epoch, record_key)?;
    let category = match &scope {
        crate::NamedScope::Category(name) => Some(name.clone()),
        _ => None,
    };
    let wrapped = wrap_for_grantee(session, &keys, patient, stored.requester, epoch).await?;
    let contract = session.consent_as_signer()?;
    let call = contract.approveRequest(request_id, now + duration.as_secs(), wrapped);
    let receipt = tx::send(ACTION, call).await?;
    let mut grant = GrantRecord::from_receipt(session, &receipt, ACTION)?;
    grant.scope.category = category;
    Ok(Approval { request_id: id, grant })
}

/// A denied request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Denial {
    /// The request.
    pub request_id: u64,
    /// The patient.
    pub patient: Address,
    /// Who had asked.
    pub requester: Address,
    /// The transaction.
    pub tx: TxInfo,
}

/// Denies request `id` as its patient (the signer).
pub async fn deny(session: &Session, id: u64) -> Result<Denial> {
    const ACTION: &str = "deny the request";
    let contract = session.consent_as_signer()?;
    let call = contract.denyRequest(U256::from(id));
    let receipt = tx::send(ACTION, call).await?;
    let event: AccessRequestDenied =
        event_in(&receipt, session.deployment().consent_registry, ACTION)?;
    Ok(Denial {
        request_id: id,
        patient: event.patient,
        requester: event.requester,
        tx: TxInfo::of(&receipt),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_checked_like_the_contract_does() {
        assert!(check_reason("follow-up visit").is_ok());
        assert!(check_reason("").is_err());
        assert!(check_reason("   ").is_err());
        assert!(check_reason(&"x".repeat(256)).is_ok());
        let message = check_reason(&"x".repeat(257)).unwrap_err().to_string();
        assert_eq!(message, "a reason must be 1 to 256 bytes, not 257");
    }
}
