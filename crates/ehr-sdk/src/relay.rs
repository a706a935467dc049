//! Grants a patient signs (EIP-712) for someone else to submit and pay for: the signed grant
//! as JSON, handing it to a relay over HTTP, and submitting it from any account.

use crate::consent::{GrantRecord, GrantSpec, prepare_grant};
use crate::session::{Session, TxInfo};
use crate::{Error, Result};
use alloy::primitives::{Address, B256, Bytes, U256};
use ehr_contracts::bindings::ConsentRegistry;
use ehr_contracts::bindings::IConsentRegistry::{GrantRequest, Scope as SolScope};
use ehr_contracts::{eip712, tx};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use url::Url;

/// The grant as the contract takes it, in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GrantJson {
    /// The patient who signed.
    pub patient: Address,
    /// The grantee.
    pub grantee: Address,
    /// The scope as the contract stores it.
    pub scope: ScopeJson,
    /// The purpose as the contract's `uint8`.
    pub purpose: u8,
    /// Unix time the grant ends.
    pub expiry: u64,
    /// The patient's key epoch.
    pub epoch: u64,
    /// The key material wrapped to the grantee.
    pub wrapped_keys: Bytes,
}

/// `IConsentRegistry.Scope` in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopeJson {
    /// 0 all, 1 category, 2 record.
    pub kind: u8,
    /// The scope's value.
    pub value: B256,
}

/// A grant with the patient's signature: what a relay receives and `ehr relay submit` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedGrant {
    /// The grant.
    pub grant: GrantJson,
    /// The patient's nonce the signature uses.
    pub nonce: U256,
    /// Last unix time the signature is accepted.
    pub deadline: U256,
    /// 65-byte `r ‖ s ‖ v`.
    pub signature: Bytes,
}

impl From<&GrantRequest> for GrantJson {
    fn from(g: &GrantRequest) -> Self {
        Self {
            patient: g.patient,
            grantee: g.grantee,
            scope: ScopeJson { kind: g.scope.kind, value: g.scope.value },
            purpose: g.purpose,
            expiry: g.expiry,
            epoch: g.epoch,
            wrapped_keys: g.wrappedKeys.clone(),
        }
    }
}

impl From<&GrantJson> for GrantRequest {
    fn from(g: &GrantJson) -> Self {
        Self {
            patient: g.patient,
            grantee: g.grantee,
            scope: SolScope { kind: g.scope.kind, value: g.scope.value },
            purpose: g.purpose,
            expiry: g.expiry,
            epoch: g.epoch,
            wrappedKeys: g.wrapped_keys.clone(),
        }
    }
}

impl SignedGrant {
    /// Reads a signed grant from JSON, checking its shape and the signature's length.
    pub fn from_json(text: &str) -> Result<Self> {
        let signed: Self = serde_json::from_str(text)
            .map_err(|e| Error::InvalidSignedGrant { reason: e.to_string() })?;
        if signed.signature.len() != 65 {
            return Err(Error::InvalidSignedGrant {
                reason: format!("the signature is {} bytes, expected 65", signed.signature.len()),
            });
        }
        Ok(signed)
    }

    /// The signer of the signature for this deployment's EIP-712 domain.
    pub async fn recover_signer(&self, session: &Session) -> Result<Address> {
        let domain =
            eip712::consent_domain(session.chain().reader(), session.deployment().consent_registry)
                .await?;
        let hash =
            eip712::grant_signing_hash(&domain, &(&self.grant).into(), self.nonce, self.deadline);
        let signature = alloy::primitives::Signature::try_from(self.signature.as_ref())
            .map_err(|e| Error::InvalidSignedGrant { reason: e.to_string() })?;
        signature
            .recover_address_from_prehash(&hash)
            .map_err(|e| Error::InvalidSignedGrant { reason: e.to_string() })
    }
}

/// Builds the grant as [`crate::consent::grant`] does and signs it as the patient instead of
/// sending it; the signature is valid for `valid_for` (its deadline) and for the patient's
/// next nonce.
pub async fn sign_grant(
    session: &Session,
    spec: GrantSpec,
    valid_for: Duration,
) -> Result<SignedGrant> {
    crate::rotation::maintain(session).await?;
    let request = prepare_grant(session, spec).await?;
    let consent = session.consent();
    let nonce = tx::call("read the patient's nonce", consent.nonces(request.patient)).await?;
    let (_, now) = session.chain().now().await?;
    let deadline = U256::from(now + valid_for.as_secs());
    let domain =
        eip712::consent_domain(session.chain().reader(), session.deployment().consent_registry)
            .await?;
    let signer = session.chain().signer()?;
    let signature = eip712::sign_grant(signer, &domain, &request, nonce, deadline).await?;
    let signed = SignedGrant { grant: (&request).into(), nonce, deadline, signature };
    // Remembered before it leaves this function: if it never reaches the chain, its keys are
    // rotated away.
    crate::rotation::remember_signed(session, &signed)?;
    Ok(signed)
}

/// A voided nonce ([`invalidate_nonce`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoidedNonce {
    /// The nonce every voided signature carries.
    pub nonce: U256,
    /// The transaction.
    pub tx: TxInfo,
}

/// Voids the signing patient's current nonce: every grant, revocation or approval it signed
/// and nobody submitted yet (they all carry that nonce) can no longer be submitted. For a
/// signature handed to the wrong party, or withheld by a relayer.
pub async fn invalidate_nonce(session: &Session) -> Result<VoidedNonce> {
    const ACTION: &str = "void the signed, unsubmitted grants";
    let patient = session.chain().address()?;
    session.require_patient(patient).await?;
    let receipt = tx::send(ACTION, session.consent_as_signer()?.invalidateNonce()).await?;
    let event = crate::session::event_in::<ConsentRegistry::NonceInvalidated>(
        &receipt,
        session.deployment().consent_registry,
        ACTION,
    )?;
    Ok(VoidedNonce { nonce: event.nonce, tx: TxInfo::of(&receipt) })
}

/// What a relay answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RelayReceipt {
    /// The relay's URL.
    pub url: String,
    /// The HTTP status.
    pub status: u16,
    /// The relay's answer (JSON when it sent JSON, else its text).
    pub response: serde_json::Value,
}

/// POSTs the signed grant as JSON to a relay; any status other than 2xx is [`Error::Relay`].
pub async fn post_to_relay(url: &Url, signed: &SignedGrant) -> Result<RelayReceipt> {
    let relay_error = |reason: String| Error::Relay { url: url.to_string(), reason };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| relay_error(e.to_string()))?;
    let response = client
        .post(url.clone())
        .json(signed)
        .send()
        .await
        .map_err(|e| relay_error(e.to_string()))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| relay_error(e.to_string()))?;
    if !status.is_success() {
        let text: String = text.chars().take(300).collect();
        return Err(relay_error(format!("HTTP {status}: {}", text.trim())));
    }
    let response = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
    Ok(RelayReceipt { url: url.to_string(), status: status.as_u16(), response })
}

/// Submits a patient's signed grant from the session's account, which pays the gas.
pub async fn submit_signed_grant(session: &Session, signed: &SignedGrant) -> Result<GrantRecord> {
    let contract = session.consent_as_signer()?;
    let call = contract.grantWithSig(
        (&signed.grant).into(),
        signed.nonce,
        signed.deadline,
        signed.signature.clone(),
    );
    let receipt = tx::send("submit the signed grant", call).await?;
    let mut record = GrantRecord::from_receipt(session, &receipt, "submit the signed grant")?;
    record.scope.category = category_name_for_grantee(session, signed);
    Ok(record)
}

/// A Category grant's name, read from its key material when the submitter is the grantee
/// (the chain only holds the category's id).
fn category_name_for_grantee(session: &Session, signed: &SignedGrant) -> Option<String> {
    let g = &signed.grant;
    if g.scope.kind != 1 || session.chain().address().ok()? != g.grantee {
        return None;
    }
    let secret = crate::keys::signer_secret_key(session).ok()?;
    let scope = ehr_crypto::GrantScope::Category(g.scope.value.0);
    match ehr_index::grant::unwrap_grant(&g.wrapped_keys, &secret, g.patient, g.epoch, scope) {
        Ok(ehr_crypto::GrantKeys::Category { name, .. }) => {
            let end = name.iter().position(|b| *b == 0).unwrap_or(name.len());
            String::from_utf8(name[..end].to_vec()).ok()
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SignedGrant {
        SignedGrant {
            grant: GrantJson {
                patient: Address::repeat_byte(1),
                grantee: Address::repeat_byte(2),
                scope: ScopeJson { kind: 1, value: B256::repeat_byte(3) },
                purpose: 0,
                expiry: 1_000,
                epoch: 2,
                wrapped_keys: Bytes::from_static(&[4; 83]),
            },
            nonce: U256::from(5),
            deadline: U256::from(6),
            signature: Bytes::from_static(&[7; 65]),
        }
    }

    #[test]
    fn signed_grants_round_trip_through_json() {
        let text = serde_json::to_string(&sample()).unwrap();
        assert!(text.contains("\"wrappedKeys\""), "{text}");
        assert_eq!(SignedGrant::from_json(&text).unwrap(), sample());
        let request: GrantRequest = (&sample().grant).into();
        assert_eq!(GrantJson::from(&request), sample().grant);
    }

    #[test]
    fn malformed_signed_grants_are_refused() {
        let mut short = sample();
        short.signature = Bytes::from_static(&[7; 64]);
        let text = serde_json::to_string(&short).unwrap();
        assert!(SignedGrant::from_json(&text).unwrap_err().to_string().contains("64 bytes"));
        assert!(matches!(SignedGrant::from_json("{}"), Err(Error::InvalidSignedGrant { .. })));
        let mut value = serde_json::to_value(sample()).unwrap();
        value["extra"] = 1.into();
        assert!(SignedGrant::from_json(&value.to_string()).is_err());
    }
}
