//! An API failure: an HTTP status and a JSON body `{"error": sentence, "revert"?: name}`.

use crate::response::json_response;
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde_json::json;

/// An API failure.
#[derive(Debug)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    message: String,
    revert: Option<&'static str>,
    /// Seconds until a refused quota resets (`Retry-After`).
    retry_after: Option<u64>,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), revert: None, retry_after: None }
    }
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    pub(crate) fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub(crate) fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub(crate) fn too_many(message: impl Into<String>, retry_after: u64) -> Self {
        Self { retry_after: Some(retry_after), ..Self::new(StatusCode::TOO_MANY_REQUESTS, message) }
    }
    pub(crate) fn not_found(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("nothing at {path}"))
    }
    pub(crate) fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
    pub(crate) fn into_response(self) -> Response<Full<Bytes>> {
        let mut body = json!({ "error": self.message });
        if let Some(revert) = self.revert {
            body["revert"] = json!(revert);
        }
        if let Some(seconds) = self.retry_after {
            body["retryAfter"] = json!(seconds);
        }
        let mut response = json_response(self.status, &body);
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<ehr_sdk::Error> for ApiError {
    fn from(e: ehr_sdk::Error) -> Self {
        use ehr_sdk::Error as E;
        let status = match &e {
            _ if e.revert_reason().is_some() => StatusCode::UNPROCESSABLE_ENTITY,
            E::RpcUnreachable { .. } | E::Rpc { .. } => StatusCode::BAD_GATEWAY,
            E::Contract(ehr_contracts::Error::Rpc { .. }) => StatusCode::BAD_GATEWAY,
            E::InvalidSignedGrant { .. } | E::Input(_) => StatusCode::BAD_REQUEST,
            E::UnknownPatient { .. } => StatusCode::NOT_FOUND,
            E::Io { .. } => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::UNPROCESSABLE_ENTITY,
        };
        Self {
            status,
            revert: e.revert_reason().map(|r| r.error_name()),
            message: e.to_string(),
            retry_after: None,
        }
    }
}

impl From<ehr_contracts::Error> for ApiError {
    fn from(e: ehr_contracts::Error) -> Self {
        ehr_sdk::Error::from(e).into()
    }
}
