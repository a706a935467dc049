//! Relaying grants the patient signed, from the server's account, within the patient's quota.
//!
//! Nothing serialises relays here: `ehr_contracts::send_replacing` reads the relayer's nonce
//! under the account's lock and releases it once the node has the transaction, and the receipt
//! is awaited without it. So a relay whose transaction is slow to be mined does not hold up the
//! next patient's, which is sent at the following nonce straight away. A transaction that is
//! not mined within the configured wait (fee too low, dropped by the node) is replaced at its
//! nonce with fees raised by at least 10 %, up to a cap, so neither the patient nor the
//! relayer's later nonces wait for it forever; when no version is mined the patient gets a
//! 504 that says so.

use crate::Server;
use crate::api_error::ApiError;
use alloy::primitives::U256;
use alloy::rpc::types::TransactionReceipt;
use ehr_contracts::tx;
use ehr_sdk::relay::{GrantJson, SignedGrant};
use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

/// `POST /api/relay/approve`'s body: a signed grant and the request it approves.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct SignedApproval {
    request_id: u64,
    grant: GrantJson,
    nonce: U256,
    deadline: U256,
    signature: alloy::primitives::Bytes,
}

const GRANT: &str = "submit the signed grant";
const APPROVE: &str = "approve the request";

impl Server {
    pub(crate) async fn relay_grant(&self, signed: SignedGrant) -> Result<Value, ApiError> {
        self.check_signed(&signed).await?;
        let consent = self.session.consent_as_signer()?;
        let call = consent.grantWithSig(
            (&signed.grant).into(),
            signed.nonce,
            signed.deadline,
            signed.signature.clone(),
        );
        let receipt = self.within_quota(&signed.grant, GRANT, call).await?;
        Ok(json!({
            "patient": signed.grant.patient,
            "grantee": signed.grant.grantee,
            "tx": ehr_sdk::TxInfo::of(&receipt),
        }))
    }

    pub(crate) async fn relay_approve(&self, body: SignedApproval) -> Result<Value, ApiError> {
        let signed = SignedGrant {
            grant: body.grant,
            nonce: body.nonce,
            deadline: body.deadline,
            signature: body.signature,
        };
        self.check_signed(&signed).await?;
        let consent = self.session.consent_as_signer()?;
        let call = consent.approveRequestWithSig(
            U256::from(body.request_id),
            (&signed.grant).into(),
            signed.nonce,
            signed.deadline,
            signed.signature.clone(),
        );
        let receipt = self.within_quota(&signed.grant, APPROVE, call).await?;
        Ok(json!({
            "requestId": body.request_id,
            "grantee": signed.grant.grantee,
            "tx": ehr_sdk::TxInfo::of(&receipt),
        }))
    }

    /// Estimates `call` (the contract's own checks run here: a refusal costs nothing and
    /// counts nothing), reserves its gas limit in the patient's quota, sends it, and settles
    /// the quota with the gas the receipt reports.
    async fn within_quota<P, D>(
        &self,
        grant: &GrantJson,
        action: &'static str,
        call: alloy::contract::CallBuilder<P, D>,
    ) -> Result<TransactionReceipt, ApiError>
    where
        P: alloy::providers::Provider + Clone,
        D: alloy::contract::CallDecoder + Clone,
    {
        let estimate = call
            .estimate_gas()
            .await
            .map_err(|e| ehr_contracts::Error::from_contract(action, e))?;
        let limit = tx::gas_limit(estimate);
        let reservation = self.quota.reserve(grant.patient, limit, ehr_sdk::time::unix_now())?;
        match ehr_contracts::send_replacing(action, call, self.replacement).await {
            Ok(receipt) => {
                self.quota.settle(reservation, receipt.gas_used);
                Ok(receipt)
            }
            // Refused at its (second) estimate: nothing was sent.
            Err(e @ ehr_contracts::Error::Reverted { .. }) => {
                self.quota.refund(reservation);
                Err(e.into())
            }
            // Sent and never mined: it may still be, so it counts in full.
            Err(e @ ehr_contracts::Error::NotMinedAfterReplacement { .. }) => {
                self.quota.settle(reservation, u64::MAX);
                Err(ApiError::new(StatusCode::GATEWAY_TIMEOUT, e.to_string()))
            }
            // Sent, or maybe sent: it counts in full.
            Err(e) => {
                self.quota.settle(reservation, u64::MAX);
                Err(e.into())
            }
        }
    }

    /// Checks a signed grant before paying for it: a relay account, a patient the relay
    /// serves, key material of exactly the size its scope needs, the signer is the grant's
    /// patient for this deployment's domain, and the deadline and expiry are in the future.
    /// The contract checks the rest (epoch, nonce, grantee, scope) in the gas estimate.
    async fn check_signed(&self, signed: &SignedGrant) -> Result<(), ApiError> {
        let grant = &signed.grant;
        self.relayer()?;
        self.quota.check_allowed(grant.patient)?;
        if signed.signature.len() != 65 {
            return Err(ApiError::bad_request("the signature must be 65 bytes (r ‖ s ‖ v)"));
        }
        check_wrapped_keys(grant)?;
        let signer = signed.recover_signer(&self.session).await?;
        if signer != grant.patient {
            return Err(ApiError::unprocessable(format!(
                "the signature is {signer}'s, not the patient {}'s (wrong account, chain or contract?)",
                grant.patient
            )));
        }
        let (_, now) = self.session.chain().now().await?;
        if signed.deadline <= U256::from(now) {
            return Err(ApiError::unprocessable("the signature's deadline has passed; sign again"));
        }
        if grant.expiry <= now {
            return Err(ApiError::unprocessable("the grant's expiry is not in the future"));
        }
        Ok(())
    }

    fn relayer(&self) -> Result<(), ApiError> {
        self.session.chain().address().map(|_| ()).map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "this server has no relay account (start `ehr serve` with --account); submit from the wallet instead",
            )
        })
    }
}

/// A grant carries one wrapped key item for its own scope: exactly
/// `ehr_crypto::patient_keys::grant_item_len(kind)` bytes, so a relayed grant cannot make the
/// relay pay for kilobytes of calldata.
fn check_wrapped_keys(grant: &GrantJson) -> Result<(), ApiError> {
    let kind = grant.scope.kind;
    let Some(want) = ehr_crypto::patient_keys::grant_item_len(kind) else {
        return Err(ApiError::bad_request(format!(
            "scope kind {kind} is unknown (0 all, 1 category, 2 record)"
        )));
    };
    let got = grant.wrapped_keys.len();
    if got == 0 {
        return Err(ApiError::bad_request(
            "wrappedKeys is empty: the grantee could not read anything",
        ));
    }
    if got != want {
        return Err(ApiError::bad_request(format!(
            "wrappedKeys is {got} bytes; a grant of scope kind {kind} carries one {want}-byte \
             key item"
        )));
    }
    if grant.wrapped_keys[1] != kind {
        return Err(ApiError::bad_request(format!(
            "wrappedKeys holds a key item of kind {}, not of the grant's scope kind {kind}",
            grant.wrapped_keys[1]
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::{Address, B256, Bytes};
    use ehr_sdk::relay::ScopeJson;

    fn grant(kind: u8, wrapped: Vec<u8>) -> GrantJson {
        GrantJson {
            patient: Address::repeat_byte(1),
            grantee: Address::repeat_byte(2),
            scope: ScopeJson { kind, value: B256::repeat_byte(3) },
            purpose: 0,
            expiry: 1,
            epoch: 0,
            wrapped_keys: Bytes::from(wrapped),
        }
    }

    fn item(kind: u8) -> Vec<u8> {
        let mut item = vec![0u8; ehr_crypto::patient_keys::grant_item_len(kind).unwrap()];
        item[0] = ehr_crypto::patient_keys::GRANT_KEYS_VERSION;
        item[1] = kind;
        item
    }

    #[test]
    fn wrapped_keys_must_be_one_item_of_the_scope_kind() {
        for kind in [0, 1, 2] {
            assert!(check_wrapped_keys(&grant(kind, item(kind))).is_ok(), "kind {kind}");
            let mut long = item(kind);
            long.extend(item(kind));
            let e = format!("{:?}", check_wrapped_keys(&grant(kind, long)).unwrap_err());
            assert!(e.contains("bytes; a grant of scope kind"), "{e}");
        }
        assert!(check_wrapped_keys(&grant(1, vec![0; 4096])).is_err());
        assert!(check_wrapped_keys(&grant(0, vec![])).is_err());
        assert!(check_wrapped_keys(&grant(7, item(0))).is_err());
        // An All-sized item (83 bytes) under a Record scope (also 83) with the wrong kind byte.
        assert!(check_wrapped_keys(&grant(2, item(0))).is_err());
    }
}
