//! A record's envelope header for the page: what a Record grant's data key is opened from.
//! Read-only, header bytes only (never a chunk), and only at the CID the record index names
//! for the record; the page checks the header itself (its MAC in the record's context).

use crate::Server;
use crate::api_error::ApiError;
use alloy::primitives::{Address, hex};
use serde_json::{Value, json};

impl Server {
    pub(crate) async fn record_header(
        &self,
        patient: Address,
        record_id: u64,
    ) -> Result<Value, ApiError> {
        let (cid, header) = ehr_sdk::keys::record_header(&self.session, patient, record_id)
            .await
            .map_err(|e| match e {
            ehr_sdk::Error::UnknownRecord { .. } => {
                ApiError::new(hyper::StatusCode::NOT_FOUND, e.to_string())
            }
            other => other.into(),
        })?;
        Ok(json!({
            "patient": patient,
            "recordId": record_id,
            "cid": cid.to_string(),
            "header": hex::encode_prefixed(header),
        }))
    }
}
