//! `ehr serve`: the patient web page and a small JSON API over hyper 1.
//!
//! The page (`web/`, embedded at build time with the pinned `@noble` modules it imports) talks
//! to the patient's own EIP-1193 wallet for every signature and for its own transactions; the
//! patient's master secret is derived in the page and never sent here. The API only reads the
//! chain (requests, grants, emergencies, the audit trail) and relays grants the patient signed,
//! from the server's account, which pays.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/deployment` | chain id, contract addresses, RPC URL, the relayer's address |
//! | `GET /api/accounts/{addr}` | role, registered public key, key epoch, grant nonce |
//! | `GET /api/patients/{addr}/requests` | access requests to the patient, with status |
//! | `GET /api/patients/{addr}/grants` | active grants |
//! | `GET /api/patients/{addr}/emergencies` | open break-glass accesses |
//! | `GET /api/patients/{addr}/audit` | the audit timeline |
//! | `POST /api/relay/grant` | `{grant, nonce, deadline, signature}` → `grantWithSig` |
//! | `POST /api/relay/approve` | `{requestId, grant, nonce, deadline, signature}` → `approveRequestWithSig` |
//!
//! Errors are `{"error": sentence, "revert"?: custom error name}` with 400 (bad input), 404,
//! 405, 413, 422 (the contract refused, or a rule it would apply), 502 (RPC) or 503 (no relay
//! account). Logs carry method, path and status only: never a body.

use alloy::primitives::{Address, U256};
use bytes::Bytes;
use ehr_contracts::tx;
use ehr_sdk::Session;
use ehr_sdk::audit::AuditEvent;
use ehr_sdk::relay::{GrantJson, SignedGrant};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

mod assets {
    include!(concat!(env!("OUT_DIR"), "/assets.rs"));
}

/// Largest request body accepted (a signed grant is about 1 KiB).
const MAX_BODY: usize = 64 * 1024;

/// What the server needs: an open session (with a signer to relay, without one read-only).
pub struct Server {
    session: Session,
    /// Serialises relayed transactions so two requests never race for the relayer's nonce.
    relay_lock: tokio::sync::Mutex<()>,
}

impl Server {
    /// A server over `session`; relaying needs the session's signer.
    pub fn new(session: Session) -> Arc<Self> {
        Arc::new(Self { session, relay_lock: tokio::sync::Mutex::new(()) })
    }

    /// Serves HTTP/1.1 on `listener` until the task is dropped.
    pub async fn run(self: Arc<Self>, listener: TcpListener) -> std::io::Result<()> {
        loop {
            let (stream, peer) = listener.accept().await?;
            let server = self.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let server = server.clone();
                    async move { Ok::<_, Infallible>(server.handle(req).await) }
                });
                if let Err(e) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
            });
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let (method, path) = (req.method().clone(), req.uri().path().to_owned());
        let response = match self.route(req).await {
            Ok(response) => response,
            Err(e) => e.into_response(),
        };
        tracing::info!(%method, %path, status = response.status().as_u16(), "request");
        response
    }

    async fn route(&self, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, ApiError> {
        let path = req.uri().path().to_owned();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let get = req.method() == Method::GET || req.method() == Method::HEAD;
        let post = req.method() == Method::POST;
        match parts.as_slice() {
            ["api", "deployment"] if get => Ok(ok(self.deployment())),
            ["api", "accounts", addr] if get => Ok(ok(self.account(address(addr)?).await?)),
            ["api", "patients", addr, view] if get => {
                let patient = address(addr)?;
                match *view {
                    "requests" => Ok(ok(self.requests(patient).await?)),
                    "grants" => Ok(ok(self.grants(patient).await?)),
                    "emergencies" => Ok(ok(self.emergencies(patient).await?)),
                    "audit" => Ok(ok(self.audit(patient).await?)),
                    _ => Err(ApiError::not_found(&path)),
                }
            }
            ["api", "relay", "grant"] if post => {
                let body = read_json::<SignedGrant>(req).await?;
                Ok(ok(self.relay_grant(body).await?))
            }
            ["api", "relay", "approve"] if post => {
                let body = read_json::<SignedApproval>(req).await?;
                Ok(ok(self.relay_approve(body).await?))
            }
            ["api", ..] if known_api(&parts) => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not allowed on {path}", req.method()),
            )),
            ["api", ..] => Err(ApiError::not_found(&path)),
            _ if get => static_file(&path),
            _ => Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "only GET serves the page")),
        }
    }

    fn deployment(&self) -> Value {
        let d = self.session.deployment();
        json!({
            "chainId": d.chain_id,
            "rpcUrl": self.session.chain().rpc_url().as_str(),
            "roleRegistry": d.role_registry,
            "consentRegistry": d.consent_registry,
            "recordIndex": d.record_index,
            "deployedAtBlock": d.deployed_at_block,
            "relayer": self.session.chain().address().ok(),
        })
    }

    async fn account(&self, account: Address) -> Result<Value, ApiError> {
        let role = ehr_sdk::roles::role_of(&self.session, account).await?;
        let roles = self.session.roles();
        let key = tx::call("read the public key", roles.publicKeyOf(account)).await?;
        let consent = self.session.consent();
        let epoch = tx::call("read the key epoch", consent.epochOf(account)).await?;
        let nonce = tx::call("read the grant nonce", consent.nonces(account)).await?;
        Ok(json!({
            "address": account,
            "role": role.to_string(),
            "publicKey": if key.is_empty() { Value::Null } else { json!(key) },
            "epoch": epoch,
            "nonce": nonce.to_string(),
        }))
    }

    async fn requests(&self, patient: Address) -> Result<Value, ApiError> {
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
            out.push(value);
        }
        Ok(json!({ "patient": patient, "requests": out }))
    }

    async fn grants(&self, patient: Address) -> Result<Value, ApiError> {
        let grants = ehr_sdk::consent::active_grants(&self.session, patient).await?;
        Ok(json!({ "patient": patient, "grants": grants }))
    }

    async fn emergencies(&self, patient: Address) -> Result<Value, ApiError> {
        let timeline = ehr_sdk::audit::audit(&self.session, patient, None).await?;
        let (_, now) = self.session.chain().now().await?;
        let consent = self.session.consent();
        let mut seen = Vec::new();
        let mut open = Vec::new();
        for entry in timeline.entries.iter().rev() {
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
                open.push(json!({
                    "doctor": doctor, "hospital": hospital, "until": until,
                    "reason": reason, "openedAt": entry.time,
                }));
            }
        }
        Ok(json!({ "patient": patient, "emergencies": open }))
    }

    async fn audit(&self, patient: Address) -> Result<Value, ApiError> {
        let timeline = ehr_sdk::audit::audit(&self.session, patient, None).await?;
        serde_json::to_value(timeline).map_err(ApiError::internal)
    }

    /// Checks a signed grant before paying for it: the signer is the grant's patient for this
    /// deployment's domain, and the deadline and expiry are in the future. The contract checks
    /// the rest (epoch, nonce, grantee, scope) in the gas estimate before anything is sent.
    async fn check_signed(&self, grant: &GrantJson, signed: &SignedGrant) -> Result<(), ApiError> {
        if signed.signature.len() != 65 {
            return Err(ApiError::bad_request("the signature must be 65 bytes (r ‖ s ‖ v)"));
        }
        if grant.wrapped_keys.is_empty() {
            return Err(ApiError::bad_request(
                "wrappedKeys is empty: the grantee could not read anything",
            ));
        }
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

    async fn relay_grant(&self, signed: SignedGrant) -> Result<Value, ApiError> {
        self.relayer()?;
        self.check_signed(&signed.grant, &signed).await?;
        let _guard = self.relay_lock.lock().await;
        let record = ehr_sdk::relay::submit_signed_grant(&self.session, &signed).await?;
        serde_json::to_value(record).map_err(ApiError::internal)
    }

    async fn relay_approve(&self, body: SignedApproval) -> Result<Value, ApiError> {
        self.relayer()?;
        let signed = SignedGrant {
            grant: body.grant.clone(),
            nonce: body.nonce,
            deadline: body.deadline,
            signature: body.signature.clone(),
        };
        self.check_signed(&body.grant, &signed).await?;
        let _guard = self.relay_lock.lock().await;
        let consent = self.session.consent_as_signer()?;
        let call = consent.approveRequestWithSig(
            U256::from(body.request_id),
            (&body.grant).into(),
            body.nonce,
            body.deadline,
            body.signature,
        );
        let receipt = tx::send("approve the request", call).await?;
        Ok(json!({
            "requestId": body.request_id,
            "grantee": body.grant.grantee,
            "tx": ehr_sdk::TxInfo::of(&receipt),
        }))
    }
}

/// `POST /api/relay/approve`'s body: a signed grant and the request it approves.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SignedApproval {
    request_id: u64,
    grant: GrantJson,
    nonce: U256,
    deadline: U256,
    signature: alloy::primitives::Bytes,
}

fn known_api(parts: &[&str]) -> bool {
    matches!(
        parts,
        ["api", "deployment"]
            | ["api", "accounts", _]
            | ["api", "patients", _, _]
            | ["api", "relay", "grant" | "approve"]
    )
}

fn address(text: &str) -> Result<Address, ApiError> {
    text.parse::<Address>().map_err(|_| {
        ApiError::bad_request(format!("{text:?} is not an address (0x and 40 hex digits)"))
    })
}

async fn read_json<T: serde::de::DeserializeOwned>(req: Request<Incoming>) -> Result<T, ApiError> {
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
    let body = Limited::new(req.into_body(), MAX_BODY).collect().await.map_err(|_| {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, format!("the body is over {MAX_BODY} bytes"))
    })?;
    serde_json::from_slice(&body.to_bytes())
        .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
}

fn ok(value: impl Serialize) -> Response<Full<Bytes>> {
    json_response(StatusCode::OK, &serde_json::to_value(value).unwrap_or(Value::Null))
}

fn json_response(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

fn static_file(path: &str) -> Result<Response<Full<Bytes>>, ApiError> {
    let name = match path.trim_start_matches('/') {
        "" => "index.html",
        name => name,
    };
    let Some((_, bytes)) = assets::FILES.iter().find(|(n, _)| *n == name) else {
        return Err(ApiError::not_found(path));
    };
    let content_type = match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "text/plain; charset=utf-8",
    };
    let mut response = Response::new(Full::new(Bytes::from_static(bytes)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    // Everything comes from this server: no CDN, no inline script, no framing.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
        ),
    );
    Ok(response)
}

/// An API failure: an HTTP status and a JSON body.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
    revert: Option<&'static str>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self { status, message: message.into(), revert: None }
    }
    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, message)
    }
    fn not_found(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("nothing at {path}"))
    }
    fn internal(e: impl std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
    fn into_response(self) -> Response<Full<Bytes>> {
        let mut body = json!({ "error": self.message });
        if let Some(revert) = self.revert {
            body["revert"] = json!(revert);
        }
        json_response(self.status, &body)
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
        Self { status, revert: e.revert_reason().map(|r| r.error_name()), message: e.to_string() }
    }
}

impl From<ehr_contracts::Error> for ApiError {
    fn from(e: ehr_contracts::Error) -> Self {
        ehr_sdk::Error::from(e).into()
    }
}

/// Why the embedded page cannot work, if it cannot: this binary was built without npm modules
/// the page imports (its crypto). `scripts/setup` installs them; then rebuild.
pub fn page_problem() -> Option<String> {
    (!assets::MISSING.is_empty()).then(|| {
        format!(
            "this build of ehr has no {} for the patient page (node_modules was empty when it \
             was compiled)",
            assets::MISSING.join(" or ")
        )
    })
}

/// Binds `addr` (loopback unless told otherwise) and returns the listener and its address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_crypto_modules_are_embedded() {
        let names: Vec<&str> = assets::FILES.iter().map(|(n, _)| *n).collect();
        for name in ["index.html", "app.js", "crypto.js"] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        // The crypto the page imports is there (scripts/setup installs it before any build).
        assert_eq!(page_problem(), None);
        for module in ["vendor/@noble/curves/secp256k1.js", "vendor/@noble/hashes/sha3.js"] {
            assert!(names.contains(&module), "{module} missing from {names:?}");
        }
        assert!(static_file("/").is_ok());
        assert!(static_file("/../Cargo.toml").is_err());
    }

    #[test]
    fn api_paths_are_recognised() {
        assert!(known_api(&["api", "relay", "grant"]));
        assert!(!known_api(&["api", "relay", "other"]));
        assert!(address("0x12").is_err());
    }
}
