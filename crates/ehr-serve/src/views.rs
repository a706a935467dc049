//! The read views: what the page shows of a patient (requests, stored grants, open
//! emergencies, the audit trail) and of the parties in them (role, organization).

use crate::Server;
use crate::api_error::ApiError;
use alloy::primitives::{Address, U256};
use alloy::providers::Provider;
use ehr_contracts::{OrgKind, Role, Scope, tx};
use ehr_sdk::audit::{AuditEvent, Timeline};
use serde_json::{Value, json};
use std::sync::Arc;

impl Server {
    /// The chain and the contracts: not the server's RPC URL (it often carries a provider's
    /// API key; the page reads the chain through its own wallet), only the one configured for
    /// wallets to add.
    pub(crate) fn deployment(&self) -> Value {
        let d = self.session.deployment();
        json!({
            "chainId": d.chain_id,
            "roleRegistry": d.role_registry,
            "consentRegistry": d.consent_registry,
            "recordIndex": d.record_index,
            "deployedAtBlock": d.deployed_at_block,
            "relayer": self.session.chain().address().ok(),
            "walletRpcUrl": self.wallet_rpc_url,
        })
    }

    pub(crate) async fn head(&self) -> Result<u64, ApiError> {
        let reader = self.session.chain().reader();
        reader.get_block_number().await.map_err(|e| {
            ApiError::new(hyper::StatusCode::BAD_GATEWAY, format!("read the latest block: {e}"))
        })
    }

    pub(crate) async fn account(&self, account: Address) -> Result<Value, ApiError> {
        let key =
            tx::call("read the public key", self.session.roles().publicKeyOf(account)).await?;
        let consent = self.session.consent();
        let epoch = tx::call("read the key epoch", consent.epochOf(account)).await?;
        let nonce = tx::call("read the grant nonce", consent.nonces(account)).await?;
        let mut value = self.party(account).await?;
        value["publicKey"] = if key.is_empty() { Value::Null } else { json!(key) };
        value["epoch"] = json!(epoch);
        value["nonce"] = json!(nonce.to_string());
        Ok(value)
    }

    /// An account's role, and for an organization or a staff member the organization's name,
    /// kind and whether it is active.
    pub(crate) async fn party(&self, account: Address) -> Result<Value, ApiError> {
        let roles = self.session.roles();
        let role = Role::from_u8(tx::call("read the role", roles.roleOf(account)).await?)?;
        let org = match role {
            Role::Organization => Some(account),
            Role::Staff => Some(tx::call("read the organization", roles.orgOf(account)).await?),
            _ => None,
        };
        let mut value = json!({ "address": account, "role": role.to_string() });
        if let Some(org) = org {
            let info = tx::call("read the organization", roles.organization(org)).await?;
            value["organization"] = json!({
                "address": org,
                "name": info.name,
                "kind": OrgKind::from_u8(info.kind)?.to_string(),
                "active": info.active,
            });
        }
        Ok(value)
    }

    pub(crate) async fn requests(
        &self,
        patient: Address,
        head: u64,
    ) -> Result<Arc<Value>, ApiError> {
        self.views.get_or_compute(patient, "requests", head, self.compute_requests(patient)).await
    }

    async fn compute_requests(&self, patient: Address) -> Result<Value, ApiError> {
        let filter =
            ehr_sdk::requests::RequestFilter { patient: Some(patient), ..Default::default() };
        let requests = ehr_sdk::requests::list_requests(&self.session, filter).await?;
        // The raw scope and purpose too, so the page can build the grant that approves one.
        let consent = self.session.consent();
        let mut out = Vec::new();
        for r in requests {
            let stored =
                tx::call("read a request", consent.accessRequest(U256::from(r.id))).await?;
            let mut value = serde_json::to_value(&r).map_err(ApiError::internal)?;
            // The page shows one reason: the code, and the words when this server can read
            // them (they are encrypted to the patient, whose wallet cannot decrypt).
            value["reason"] =
                json!(shown_reason(r.reason_code, r.reason.as_deref(), r.has_encrypted_reason));
            value["scopeKind"] = json!(stored.scope.kind);
            value["scopeValue"] = json!(stored.scope.value);
            value["purposeId"] = json!(stored.purpose);
            value["requesterInfo"] = self.party(r.requester).await?;
            out.push(value);
        }
        Ok(json!({ "patient": patient, "requests": out }))
    }

    /// The patient's audit timeline at `head`, shared by the views built from it; `None` for
    /// an account that is not a patient.
    async fn timeline(
        &self,
        patient: Address,
        head: u64,
    ) -> Result<Option<Arc<Timeline>>, ApiError> {
        let is_patient =
            tx::call("check the patient", self.session.roles().isPatient(patient)).await?;
        if !is_patient {
            return Ok(None);
        }
        let compute = async {
            ehr_sdk::audit::audit(&self.session, patient, None).await.map_err(ApiError::from)
        };
        Ok(Some(self.timelines.get_or_compute(patient, "timeline", head, compute).await?))
    }

    pub(crate) async fn audit(&self, patient: Address, head: u64) -> Result<Value, ApiError> {
        let Some(timeline) = self.timeline(patient, head).await? else {
            return Err(ehr_sdk::Error::UnknownPatient { account: patient }.into());
        };
        serde_json::to_value(&*timeline).map_err(ApiError::internal)
    }

    /// Every grant stored for the patient, expired ones included (the contract's `revoke`
    /// still removes those), found through the `AccessGranted` events and read with
    /// `grantOf` (which forgets revoked and replaced grants).
    pub(crate) async fn grants(&self, patient: Address, head: u64) -> Result<Arc<Value>, ApiError> {
        let timeline = self.timeline(patient, head).await?;
        self.views
            .get_or_compute(patient, "grants", head, self.compute_grants(patient, timeline))
            .await
    }

    async fn compute_grants(
        &self,
        patient: Address,
        timeline: Option<Arc<Timeline>>,
    ) -> Result<Value, ApiError> {
        let consent = self.session.consent();
        let mut seen: Vec<(Address, Scope)> = Vec::new();
        let mut out = Vec::new();
        for entry in timeline.iter().flat_map(|t| t.entries.iter()) {
            let AuditEvent::Granted { grantee, scope, .. } = &entry.event else { continue };
            if seen.contains(&(*grantee, *scope)) {
                continue;
            }
            seen.push((*grantee, *scope));
            let info = tx::call("read a grant", consent.grantOf(patient, *grantee, scope.to_sol()))
                .await?;
            if info.expiry == 0 {
                continue; // revoked (a revocation deletes every grant to the grantee)
            }
            let sol = scope.to_sol();
            // Whether the patient let this grant read without a read log (`--no-log`).
            let unlogged = tx::call(
                "read the grant's read-log flag",
                consent.unloggedReadsAllowed(patient, *grantee, sol.clone()),
            )
            .await?;
            out.push(json!({
                "grantee": grantee,
                "granteeInfo": self.party(*grantee).await?,
                "scope": scope.to_string(),
                "scopeKind": sol.kind,
                "scopeValue": sol.value,
                "purpose": ehr_contracts::Purpose::from_u8(info.purpose)?.to_string(),
                "expiry": info.expiry,
                "epoch": info.epoch,
                "grantedAt": info.grantedAt,
                "expired": !info.active,
                "unloggedReads": unlogged,
            }));
        }
        Ok(json!({ "patient": patient, "grants": out }))
    }

    pub(crate) async fn emergencies(
        &self,
        patient: Address,
        head: u64,
    ) -> Result<Arc<Value>, ApiError> {
        let timeline = self.timeline(patient, head).await?;
        let compute = self.compute_emergencies(patient, timeline);
        self.views.get_or_compute(patient, "emergencies", head, compute).await
    }

    async fn compute_emergencies(
        &self,
        patient: Address,
        timeline: Option<Arc<Timeline>>,
    ) -> Result<Value, ApiError> {
        let (_, now) = self.session.chain().now().await?;
        let consent = self.session.consent();
        // Which of the patient's guardians released their share to each open doctor: guardian
        // registry state (two eth_calls), not another scan of the openings' logs.
        let guardianship = ehr_sdk::emergency::guardianship_of(&self.session, patient).await?;
        let mut seen = Vec::new();
        let mut open = Vec::new();
        for entry in timeline.iter().flat_map(|t| t.entries.iter().rev()) {
            let AuditEvent::EmergencyOpened {
                doctor,
                hospital,
                reason_code,
                reason,
                encrypted_reason,
                ..
            } = &entry.event
            else {
                continue;
            };
            let reason =
                shown_reason(*reason_code, reason.as_deref(), !encrypted_reason.is_empty());
            if seen.contains(doctor) {
                continue;
            }
            seen.push(*doctor);
            let until =
                tx::call("read emergency access", consent.emergencyUntil(patient, *doctor)).await?;
            if until > now {
                let (released_by, threshold) = ehr_sdk::emergency::released_to(
                    &self.session,
                    patient,
                    *doctor,
                    guardianship.as_ref(),
                )
                .await?;
                open.push(json!({
                    "doctor": doctor, "hospital": hospital, "until": until,
                    "reason": reason, "openedAt": entry.time,
                    "doctorInfo": self.party(*doctor).await?,
                    "guardians": { "threshold": threshold, "releasedBy": released_by },
                }));
            }
        }
        Ok(json!({ "patient": patient, "emergencies": open }))
    }
}

/// A reason as the page shows it: its code, then the words if readable here, or a note that
/// they are encrypted to the patient (`ehr requests` and `ehr audit` decrypt them).
fn shown_reason(code: ehr_contracts::ReasonCode, words: Option<&str>, encrypted: bool) -> String {
    match (words, encrypted) {
        (Some(words), _) => format!("{code}: {words}"),
        (None, true) => format!("{code} (words encrypted to the patient: ehr requests)"),
        (None, false) => code.to_string(),
    }
}
