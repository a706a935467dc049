//! `ehr serve`: the patient web page and a small JSON API over hyper 1.
//!
//! The page (`web/`, embedded at build time with the pinned `@noble` modules it imports) talks
//! to the patient's own EIP-1193 wallet for every signature, for its own transactions and for
//! the chain reads it signs over (epoch, nonce, contract addresses); the patient's master
//! secret is derived in the page and never sent here. The API only reads the chain (requests,
//! grants, emergencies, the audit trail) and relays grants the patient signed, from the
//! server's account, which pays.
//!
//! | route | what |
//! | --- | --- |
//! | `GET /api/deployment` | chain id, contract addresses, the relayer's address, the RPC URL for wallets if configured (never the server's own) |
//! | `GET /api/accounts/{addr}` | role, organization, registered public key, key epoch, grant nonce |
//! | `GET /api/patients/{addr}/requests` | access requests to the patient, with status and the requester's role and organization |
//! | `GET /api/patients/{addr}/grants` | stored grants, expired ones included (`expired`) |
//! | `GET /api/patients/{addr}/emergencies` | open break-glass accesses |
//! | `GET /api/patients/{addr}/audit` | the audit timeline |
//! | `GET /api/patients/{addr}/records/{id}/header` | the envelope header of record `id` (header bytes only, at most `MAX_HEADER_LEN`), from the store, at the CID whose digest the record index holds: the page opens its symmetric slot for a Record grant |
//! | `POST /api/relay/grant` | `{grant, nonce, deadline, signature}` → `grantWithSig` |
//! | `POST /api/relay/approve` | `{requestId, grant, nonce, deadline, signature}` → `approveRequestWithSig` |
//!
//! Every request must name the served origin in `Host` (and `Origin`, when sent): see
//! [`origin`](crate::origin) for why (DNS rebinding). Every `/api` call must carry the token
//! this launch embedded in the page, in the `x-ehr-token` header. Relays count against
//! per-patient quotas ([`RelayPolicy`]).
//!
//! Errors are `{"error": sentence, "revert"?: custom error name, "retryAfter"?: seconds}` with
//! 400 (bad input), 401 (no or wrong token), 403 (foreign host or origin, patient not
//! allowed), 404, 405, 408 (slow body), 413, 415, 422 (the contract refused, or a rule it would
//! apply), 429 (quota; with `Retry-After`), 502 (RPC) or 503 (no relay account). Logs carry
//! method, path and status only: never a body.

mod api_error;
mod config;
mod connections;
mod error;
mod origin;
mod page;
mod quota;
mod record_header;
mod relay;
mod response;
mod view_cache;
mod views;

pub use config::{Limits, RelayPolicy, ServeConfig};
pub use error::{Error, Result};
pub use origin::TOKEN_HEADER;
pub use page::page_problem;

use api_error::ApiError;
use bytes::Bytes;
use ehr_sdk::Session;
use ehr_sdk::audit::Timeline;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use origin::OriginGuard;
use page::Page;
use quota::RelayQuota;
use response::{ok, read_json};
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;
use view_cache::HeadCache;

/// What the server needs: an open session (with a signer to relay, without one read-only).
pub struct Server {
    session: Session,
    guard: OriginGuard,
    page: Page,
    limits: Limits,
    wallet_rpc_url: Option<String>,
    quota: RelayQuota,
    replacement: ehr_contracts::Replacement,
    views: HeadCache<Value>,
    timelines: HeadCache<Timeline>,
}

impl Server {
    /// A server over `session` for a listener bound to `local`; relaying needs the session's
    /// signer.
    pub fn new(session: Session, local: SocketAddr, config: ServeConfig) -> Result<Arc<Self>> {
        let limits = config.limits;
        for (what, zero) in [
            ("the connection limit", limits.max_connections == 0),
            ("the body size limit", limits.max_body == 0),
            ("the relays per patient", config.relay.max_relays == 0),
            ("the gas per patient", config.relay.max_gas == 0),
            ("the quota window", config.relay.window.is_zero()),
        ] {
            if zero {
                return Err(Error::ZeroLimit { what });
            }
        }
        let guard = OriginGuard::new(local, config.public_origin.as_deref())?;
        let page = Page::new(guard.token());
        Ok(Arc::new(Self {
            session,
            page,
            guard,
            limits,
            wallet_rpc_url: config.wallet_rpc_url,
            quota: RelayQuota::new(config.relay),
            replacement: config.replacement,
            views: HeadCache::new(),
            timelines: HeadCache::new(),
        }))
    }

    /// The origins the server answers for (`http://127.0.0.1:PORT` first).
    pub fn origins(&self) -> &[String] {
        self.guard.origins()
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

    async fn route(
        &self,
        req: Request<Incoming>,
    ) -> std::result::Result<Response<Full<Bytes>>, ApiError> {
        self.guard.check_origin(req.headers())?;
        let path = req.uri().path().to_owned();
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        if parts.first() == Some(&"api") {
            self.guard.check_token(req.headers())?;
        }
        let get = req.method() == Method::GET || req.method() == Method::HEAD;
        let post = req.method() == Method::POST;
        match parts.as_slice() {
            ["api", "deployment"] if get => Ok(ok(self.deployment())),
            ["api", "accounts", addr] if get => Ok(ok(self.account(address(addr)?).await?)),
            ["api", "patients", addr, view] if get => {
                let patient = address(addr)?;
                let head = self.head().await?;
                match *view {
                    "requests" => Ok(ok(&*self.requests(patient, head).await?)),
                    "grants" => Ok(ok(&*self.grants(patient, head).await?)),
                    "emergencies" => Ok(ok(&*self.emergencies(patient, head).await?)),
                    "audit" => Ok(ok(self.audit(patient, head).await?)),
                    _ => Err(ApiError::not_found(&path)),
                }
            }
            ["api", "patients", addr, "records", id, "header"] if get => {
                Ok(ok(self.record_header(address(addr)?, record_id(id)?).await?))
            }
            ["api", "relay", "grant"] if post => {
                let body = read_json(req, &self.limits).await?;
                Ok(ok(self.relay_grant(body).await?))
            }
            ["api", "relay", "approve"] if post => {
                let body = read_json(req, &self.limits).await?;
                Ok(ok(self.relay_approve(body).await?))
            }
            ["api", ..] if known_api(&parts) => Err(ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} is not allowed on {path}", req.method()),
            )),
            ["api", ..] => Err(ApiError::not_found(&path)),
            _ if get => self.page.file(&path),
            _ => Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "only GET serves the page")),
        }
    }
}

fn known_api(parts: &[&str]) -> bool {
    matches!(
        parts,
        ["api", "deployment"]
            | ["api", "accounts", _]
            | ["api", "patients", _, _]
            | ["api", "patients", _, "records", _, "header"]
            | ["api", "relay", "grant" | "approve"]
    )
}

fn record_id(text: &str) -> std::result::Result<u64, ApiError> {
    match text.parse::<u64>() {
        Ok(id) if id > 0 => Ok(id),
        _ => Err(ApiError::bad_request(format!(
            "{text:?} is not a record id (a whole number from 1)"
        ))),
    }
}

fn address(text: &str) -> std::result::Result<alloy::primitives::Address, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request(format!("{text:?} is not an address (0x and 40 hex digits)"))
    })
}

/// Binds `addr` (loopback unless told otherwise) and returns the listener and its address.
pub async fn bind(addr: SocketAddr) -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((listener, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_paths_are_recognised() {
        assert!(known_api(&["api", "relay", "grant"]));
        assert!(!known_api(&["api", "relay", "other"]));
        assert!(address("0x12").is_err());
        assert!(known_api(&["api", "patients", "0x1", "records", "3", "header"]));
        assert_eq!(record_id("3").unwrap(), 3);
        for bad in ["0", "-1", "x", "18446744073709551616", ""] {
            assert!(record_id(bad).is_err(), "{bad}");
        }
    }
}
