//! A remote pinning service speaking the IPFS Pinning Service API v1.
//!
//! The service keeps a CID that a provider node holds: blobs are stored in and read from the
//! provider (a [`crate::KuboStore`] the service can fetch from, or a [`crate::LocalStore`]),
//! and `put`/`pin` additionally ask the service to pin the CID and wait until it reports
//! `pinned` (or `failed`), polling with exponential backoff within a deadline.
//!
//! Endpoints used: `POST /pins` (add), `GET /pins` (list by CID and status),
//! `GET /pins/{requestid}` (poll), `POST /pins/{requestid}` (replace a failed request),
//! `DELETE /pins/{requestid}` (remove); every request carries `Authorization: Bearer`.

use crate::store::{BlobStore, ByteStream, ProviderNode};
use crate::{BlobSource, Cid, Error, Result};
use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// Where a pin request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PinState {
    /// Accepted, not started.
    Queued,
    /// The service is fetching the blocks.
    Pinning,
    /// The service holds the whole DAG.
    Pinned,
    /// The service gave up.
    Failed,
}

impl PinState {
    /// Every state, for listing requests whatever their state.
    pub const ALL: [PinState; 4] = [Self::Queued, Self::Pinning, Self::Pinned, Self::Failed];

    fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Pinning => "pinning",
            Self::Pinned => "pinned",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for PinState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The spec's `Pin` object: what to pin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pin {
    /// The CID (as the service echoes it; may be another spelling of ours).
    pub cid: String,
    /// An optional human-readable name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Multiaddrs of nodes that hold the data.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub origins: Vec<String>,
    /// Optional metadata.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
}

/// The spec's `PinStatus` object: a pin request and its state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinStatus {
    /// The service's id of this request.
    pub requestid: String,
    /// Its state.
    pub status: PinState,
    /// When it was made (RFC 3339).
    pub created: String,
    /// What is pinned.
    pub pin: Pin,
    /// Multiaddrs of the service's nodes to connect to.
    #[serde(default)]
    pub delegates: Vec<String>,
    /// Extra information from the service (for example why it failed).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub info: BTreeMap<String, String>,
}

/// The spec's `PinResults` object.
#[derive(Debug, Clone, Deserialize)]
struct PinResults {
    count: u64,
    results: Vec<PinStatus>,
}

/// The spec's `Failure` object.
#[derive(Debug, Deserialize)]
struct Failure {
    error: FailureBody,
}

#[derive(Debug, Deserialize)]
struct FailureBody {
    reason: String,
    #[serde(default)]
    details: Option<String>,
}

/// How to wait for a pin and how long a request may take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinningOptions {
    /// First pause between status polls (default 500 ms); it doubles after every poll.
    pub poll_initial: Duration,
    /// Longest pause between polls (default 10 s).
    pub poll_max: Duration,
    /// How long to wait for `pinned` before giving up with [`Error::PinTimeout`]
    /// (default 10 min; the request stays with the service).
    pub wait_timeout: Duration,
    /// Timeout of a single HTTP request (default 30 s).
    pub request_timeout: Duration,
}

impl Default for PinningOptions {
    fn default() -> Self {
        Self {
            poll_initial: Duration::from_millis(500),
            poll_max: Duration::from_secs(10),
            wait_timeout: Duration::from_secs(600),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A pinning service in front of a provider node. Cheap to clone.
#[derive(Clone)]
pub struct PinningServiceStore {
    /// The API base, ending in `/` (`pins` is joined onto it).
    endpoint: Url,
    token: Arc<str>,
    provider: Arc<dyn ProviderNode>,
    client: reqwest::Client,
    options: PinningOptions,
}

impl fmt::Debug for PinningServiceStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PinningServiceStore")
            .field("endpoint", &self.endpoint.as_str())
            .field("token", &"<redacted>")
            .field("provider", &self.provider)
            .field("options", &self.options)
            .finish()
    }
}

impl PinningServiceStore {
    /// A client of the service at `endpoint` (the URL `/pins` lives under) using the bearer
    /// `token`, storing through `provider`.
    pub fn new(
        endpoint: Url,
        token: impl Into<String>,
        provider: Arc<dyn ProviderNode>,
    ) -> Result<Self> {
        let mut endpoint = endpoint;
        if !endpoint.path().ends_with('/') {
            let path = format!("{}/", endpoint.path());
            endpoint.set_path(&path);
        }
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|source| Error::Request { url: endpoint.to_string(), source })?;
        Ok(Self {
            endpoint,
            token: token.into().into(),
            provider,
            client,
            options: PinningOptions::default(),
        })
    }

    /// Replaces the polling and timeout settings.
    pub fn with_options(mut self, options: PinningOptions) -> Self {
        self.options = options;
        self
    }

    /// The service's API base.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    /// The node blobs are stored in and read from.
    pub fn provider(&self) -> &Arc<dyn ProviderNode> {
        &self.provider
    }

    fn url(&self, path: &str) -> Url {
        self.endpoint.join(path).expect("a relative path joins onto an http URL")
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &Url) -> Result<reqwest::Response> {
        let response = request
            .bearer_auth(&*self.token)
            .timeout(self.options.request_timeout)
            .send()
            .await
            .map_err(|source| {
                let url = url.to_string();
                if source.is_connect() {
                    Error::Unreachable { url, source }
                } else {
                    Error::Request { url, source }
                }
            })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let message = match serde_json::from_str::<Failure>(&text) {
            Ok(Failure { error }) => match error.details {
                Some(details) => format!("{}: {details}", error.reason),
                None => error.reason,
            },
            Err(_) => text,
        };
        let (url, status) = (url.to_string(), status.as_u16());
        Err(match status {
            401 | 403 => Error::Unauthorized { url, status, message },
            _ => Error::Http { url, status, message },
        })
    }

    async fn json<T: serde::de::DeserializeOwned>(
        url: &Url,
        response: reqwest::Response,
    ) -> Result<T> {
        let text = response
            .text()
            .await
            .map_err(|source| Error::Request { url: url.to_string(), source })?;
        serde_json::from_str(&text).map_err(|e| Error::Protocol {
            url: url.to_string(),
            detail: format!("{e} in {text:?}"),
        })
    }

    /// `POST /pins`: asks the service to pin `cid`, naming the provider's addresses as
    /// origins.
    pub async fn add_pin(&self, cid: Cid) -> Result<PinStatus> {
        let url = self.url("pins");
        let pin = self.pin_object(cid).await?;
        let response = self.send(self.client.post(url.clone()).json(&pin), &url).await?;
        Self::json(&url, response).await
    }

    /// `GET /pins`: the service's requests for `cid` (all CIDs if `None`) in any of
    /// `statuses` (up to the spec's maximum page of 1000).
    pub async fn list_pins(
        &self,
        cid: Option<Cid>,
        statuses: &[PinState],
    ) -> Result<Vec<PinStatus>> {
        let url = self.url("pins");
        let status = statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",");
        let mut url = url;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("status", &status).append_pair("limit", "1000");
            if let Some(cid) = cid {
                query.append_pair("cid", &cid.to_string());
            }
        }
        let response = self.send(self.client.get(url.clone()), &url).await?;
        let results: PinResults = Self::json(&url, response).await?;
        if results.count < results.results.len() as u64 {
            return Err(Error::Protocol {
                url: url.to_string(),
                detail: format!("count {} but {} results", results.count, results.results.len()),
            });
        }
        Ok(results.results)
    }

    /// `GET /pins/{requestid}`.
    pub async fn get_pin(&self, requestid: &str) -> Result<PinStatus> {
        let url = self.request_url(requestid)?;
        let response = self.send(self.client.get(url.clone()), &url).await?;
        Self::json(&url, response).await
    }

    /// `POST /pins/{requestid}`: replaces a request with a new one for `cid` (the service
    /// answers with a new request id).
    pub async fn replace_pin(&self, requestid: &str, cid: Cid) -> Result<PinStatus> {
        let url = self.request_url(requestid)?;
        let pin = self.pin_object(cid).await?;
        let response = self.send(self.client.post(url.clone()).json(&pin), &url).await?;
        Self::json(&url, response).await
    }

    /// `DELETE /pins/{requestid}`.
    pub async fn remove_pin(&self, requestid: &str) -> Result<()> {
        let url = self.request_url(requestid)?;
        self.send(self.client.delete(url.clone()), &url).await.map(drop)
    }

    fn request_url(&self, requestid: &str) -> Result<Url> {
        // One path segment, whatever the id contains.
        let mut url = self.url("pins");
        url.path_segments_mut()
            .map_err(|()| Error::Protocol {
                url: self.endpoint.to_string(),
                detail: "the endpoint cannot have a path".to_owned(),
            })?
            .push(requestid);
        Ok(url)
    }

    async fn pin_object(&self, cid: Cid) -> Result<Pin> {
        Ok(Pin {
            cid: cid.to_string(),
            name: None,
            origins: self.provider.origins().await?,
            meta: BTreeMap::new(),
        })
    }

    /// Makes sure the service pins `cid` and waits until it reports `pinned`: an existing
    /// pinned or pending request is reused, a failed one is replaced, otherwise a new one is
    /// made.
    pub async fn pin_remote(&self, cid: Cid) -> Result<PinStatus> {
        let existing = self.list_pins(Some(cid), &PinState::ALL).await?;
        let find = |state| existing.iter().find(|p| p.status == state).cloned();
        let request = if let Some(pinned) = find(PinState::Pinned) {
            return Ok(pinned);
        } else if let Some(pending) = find(PinState::Pinning).or_else(|| find(PinState::Queued)) {
            pending
        } else if let Some(failed) = find(PinState::Failed) {
            self.replace_pin(&failed.requestid, cid).await?
        } else {
            self.add_pin(cid).await?
        };
        // Best effort: the service can also find the provider through `origins` or the DHT,
        // so a failed dial must not fail the pin.
        let _ = self.provider.connect(&request.delegates).await;
        self.wait_pinned(cid, request).await
    }

    /// Polls the request until it is `pinned` ([`Error::PinFailed`] when it is `failed`,
    /// [`Error::PinTimeout`] after [`PinningOptions::wait_timeout`]). Rate limiting (429) and
    /// server errors while polling are retried until the deadline.
    pub async fn wait_pinned(&self, cid: Cid, mut status: PinStatus) -> Result<PinStatus> {
        let started = Instant::now();
        let mut pause = self.options.poll_initial;
        loop {
            match status.status {
                PinState::Pinned => return Ok(status),
                PinState::Failed => {
                    let detail = if status.info.is_empty() {
                        "no reason given".to_owned()
                    } else {
                        status
                            .info
                            .iter()
                            .map(|(k, v)| format!("{k}: {v}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    };
                    return Err(Error::PinFailed { cid, requestid: status.requestid, detail });
                }
                PinState::Queued | PinState::Pinning => {}
            }
            let waited = started.elapsed();
            if waited >= self.options.wait_timeout {
                return Err(Error::PinTimeout {
                    cid,
                    requestid: status.requestid,
                    status: status.status,
                    waited,
                });
            }
            tokio::time::sleep(pause.min(self.options.wait_timeout - waited)).await;
            pause = (pause * 2).min(self.options.poll_max);
            match self.get_pin(&status.requestid).await {
                Ok(next) => status = next,
                Err(Error::Http { status: code, .. }) if code == 429 || code >= 500 => {}
                Err(Error::Request { .. }) => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl BlobStore for PinningServiceStore {
    /// Stores in the provider, then has the service pin the blob.
    fn put<'a>(&'a self, source: BlobSource<'a>) -> BoxFuture<'a, Result<Cid>> {
        Box::pin(async move {
            let cid = self.provider.put(source).await?;
            self.pin_remote(cid).await?;
            Ok(cid)
        })
    }

    /// Reads (verified) through the provider.
    fn get(&self, cid: Cid) -> BoxFuture<'_, Result<ByteStream>> {
        self.provider.get(cid)
    }

    /// Pins in the provider (so the service can fetch from it), then at the service.
    fn pin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            self.provider.pin(cid).await?;
            self.pin_remote(cid).await.map(drop)
        })
    }

    /// Removes every request for the CID at the service, then the provider's pin.
    fn unpin(&self, cid: Cid) -> BoxFuture<'_, Result<()>> {
        Box::pin(async move {
            for request in self.list_pins(Some(cid), &PinState::ALL).await? {
                match self.remove_pin(&request.requestid).await {
                    Err(Error::Http { status: 404, .. }) | Ok(()) => {}
                    Err(e) => return Err(e),
                }
            }
            self.provider.unpin(cid).await
        })
    }

    /// Whether the service reports the CID pinned.
    fn is_pinned(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        Box::pin(
            async move { Ok(!self.list_pins(Some(cid), &[PinState::Pinned]).await?.is_empty()) },
        )
    }

    /// Whether the provider holds the blob or the service has it pinned.
    fn has(&self, cid: Cid) -> BoxFuture<'_, Result<bool>> {
        Box::pin(async move { Ok(self.provider.has(cid).await? || self.is_pinned(cid).await?) })
    }

    fn max_blob_size(&self) -> u64 {
        self.provider.max_blob_size()
    }
}
