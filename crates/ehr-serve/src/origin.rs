//! Who may talk to the server: the `Host` and `Origin` a request carries must be the served
//! origin's, and every API call must carry the token embedded in the page this launch served.
//!
//! A web page elsewhere whose DNS name is rebound to 127.0.0.1 becomes same-origin with the
//! server in the browser's eyes; its requests still carry its own name in `Host` (and in
//! `Origin`), so they are refused here — the page (and its token) included. The token is
//! random per launch and only readable by a page the browser considers same-origin, so a
//! cross-site form or `fetch` without it gets nothing even from a loopback name.

use crate::api_error::ApiError;
use crate::error::{Error, Result};
use hyper::HeaderMap;
use hyper::header::{HOST, ORIGIN};
use rand_core::{OsRng, RngCore};
use std::net::SocketAddr;
use subtle::ConstantTimeEq;

/// The request header carrying the page's API token.
pub const TOKEN_HEADER: &str = "x-ehr-token";

/// The accepted `Host` and `Origin` values and the launch's API token.
pub(crate) struct OriginGuard {
    /// `host[:port]`, lower case.
    hosts: Vec<String>,
    /// `scheme://host[:port]`, lower case.
    origins: Vec<String>,
    token: String,
}

impl OriginGuard {
    /// For a server listening on `local`, also reached at `public_origin` when given.
    pub(crate) fn new(local: SocketAddr, public_origin: Option<&str>) -> Result<Self> {
        let port = local.port();
        let mut hosts = Vec::new();
        if local.ip().is_loopback() || local.ip().is_unspecified() {
            hosts.extend([format!("127.0.0.1:{port}"), format!("localhost:{port}")]);
            hosts.push(format!("[::1]:{port}"));
        } else {
            hosts.push(local.to_string());
        }
        let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}")).collect();
        if let Some(origin) = public_origin {
            let (origin, host) = parse_origin(origin)?;
            hosts.push(host);
            origins.push(origin);
        }
        let mut bytes = [0u8; 32];
        OsRng.try_fill_bytes(&mut bytes).map_err(|e| Error::Randomness(e.to_string()))?;
        let token = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self { hosts, origins, token })
    }

    /// The token the page sends in [`TOKEN_HEADER`].
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The origin the server is reached at first (what `ehr serve` prints).
    pub(crate) fn origins(&self) -> &[String] {
        &self.origins
    }

    /// Refuses a request whose `Host` is not one of the served origins', or whose `Origin`
    /// (sent by browsers on cross-origin and on POST requests) is another site's.
    pub(crate) fn check_origin(&self, headers: &HeaderMap) -> std::result::Result<(), ApiError> {
        let host = headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| ApiError::forbidden("the request has no Host header"))?
            .to_ascii_lowercase();
        if !self.hosts.contains(&host) {
            return Err(ApiError::forbidden(format!(
                "this server answers only for {} (the request was for host {host:?}: a page on \
                 another site, or a DNS name rebound to this machine?)",
                self.origins.join(", ")
            )));
        }
        if let Some(origin) = headers.get(ORIGIN) {
            let origin = origin.to_str().unwrap_or("").to_ascii_lowercase();
            if !self.origins.contains(&origin) {
                return Err(ApiError::forbidden(format!(
                    "requests from {origin:?} are refused: only the page served from {} may \
                     use this server",
                    self.origins.join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Refuses an API call without this launch's token, compared in constant time.
    pub(crate) fn check_token(&self, headers: &HeaderMap) -> std::result::Result<(), ApiError> {
        let Some(sent) = headers.get(TOKEN_HEADER) else {
            return Err(ApiError::unauthorized(format!(
                "the API needs the token of the page this server served (the {TOKEN_HEADER} \
                 header); reload the page (other clients read it from the page's \
                 <meta name=\"ehr-api-token\">)"
            )));
        };
        let sent = sent.as_bytes();
        let want = self.token.as_bytes();
        if sent.len() != want.len() || !bool::from(sent.ct_eq(want)) {
            return Err(ApiError::unauthorized(format!(
                "the {TOKEN_HEADER} token is not this server's (it changes every launch): \
                 reload the page"
            )));
        }
        Ok(())
    }
}

/// `scheme://host[:port]` → (the origin, lower case, without a trailing slash; its
/// `host[:port]`).
fn parse_origin(text: &str) -> Result<(String, String)> {
    let bad = |reason| Error::BadPublicOrigin { origin: text.to_owned(), reason };
    let origin = text.trim().trim_end_matches('/').to_ascii_lowercase();
    let host = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or(bad("it must start with https:// (or http://)"))?;
    if host.is_empty() {
        return Err(bad("it has no host"));
    }
    if host.contains(['/', '?', '#', '@', ' ']) {
        return Err(bad("an origin has no path, query, user or spaces"));
    }
    Ok((origin.clone(), host.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn only_the_served_hosts_and_origins_pass() {
        let guard = OriginGuard::new("127.0.0.1:8080".parse().unwrap(), None).unwrap();
        assert!(guard.check_origin(&headers(&[("host", "127.0.0.1:8080")])).is_ok());
        assert!(guard.check_origin(&headers(&[("host", "LOCALHOST:8080")])).is_ok());
        let same = [("host", "localhost:8080"), ("origin", "http://localhost:8080")];
        assert!(guard.check_origin(&headers(&same)).is_ok());
        for bad in [
            vec![("host", "evil.example:8080")],
            vec![("host", "127.0.0.1:8081")],
            vec![("host", "127.0.0.1:8080"), ("origin", "http://evil.example:8080")],
            vec![("host", "127.0.0.1:8080"), ("origin", "null")],
            vec![],
        ] {
            let e = guard.check_origin(&headers(&bad)).unwrap_err();
            assert_eq!(e.status, hyper::StatusCode::FORBIDDEN, "{bad:?}");
        }
    }

    #[test]
    fn a_public_origin_is_added_and_checked() {
        let local = "127.0.0.1:9000".parse().unwrap();
        let guard = OriginGuard::new(local, Some("https://EHR.example.org/")).unwrap();
        let ok = [("host", "ehr.example.org"), ("origin", "https://ehr.example.org")];
        assert!(guard.check_origin(&headers(&ok)).is_ok());
        let http = [("host", "ehr.example.org"), ("origin", "http://ehr.example.org")];
        assert!(guard.check_origin(&headers(&http)).is_err());
        for bad in ["ehr.example.org", "https://", "https://ehr.example.org/path"] {
            assert!(matches!(
                OriginGuard::new(local, Some(bad)),
                Err(Error::BadPublicOrigin { .. })
            ));
        }
    }

    #[test]
    fn the_token_is_random_per_launch_and_required() {
        let local = "127.0.0.1:1".parse().unwrap();
        let (a, b) =
            (OriginGuard::new(local, None).unwrap(), OriginGuard::new(local, None).unwrap());
        assert_ne!(a.token(), b.token());
        assert_eq!(a.token().len(), 64);
        assert!(a.check_token(&headers(&[(TOKEN_HEADER, a.token())])).is_ok());
        assert!(a.check_token(&headers(&[(TOKEN_HEADER, b.token())])).is_err());
        assert!(a.check_token(&headers(&[(TOKEN_HEADER, &a.token()[1..])])).is_err());
        assert!(a.check_token(&headers(&[])).is_err());
    }
}
