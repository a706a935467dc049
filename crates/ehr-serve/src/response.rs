//! JSON responses and reading JSON request bodies within the size and time limits.

use crate::api_error::ApiError;
use crate::config::Limits;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use serde::Serialize;
use serde_json::Value;

pub(crate) fn ok(value: impl Serialize) -> Response<Full<Bytes>> {
    json_response(StatusCode::OK, &serde_json::to_value(value).unwrap_or(Value::Null))
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

/// The body as JSON: `application/json`, at most `limits.max_body` bytes, all of it within
/// `limits.body_timeout`.
pub(crate) async fn read_json<T: serde::de::DeserializeOwned>(
    req: Request<Incoming>,
    limits: &Limits,
) -> Result<T, ApiError> {
    let json_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_type {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the body as application/json",
        ));
    }
    let max = limits.max_body;
    let collect = Limited::new(req.into_body(), max).collect();
    let body = tokio::time::timeout(limits.body_timeout, collect)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!("the body did not arrive within {} s", limits.body_timeout.as_secs()),
            )
        })?
        .map_err(|_| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over {max} bytes"))
        })?;
    serde_json::from_slice(&body.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}
