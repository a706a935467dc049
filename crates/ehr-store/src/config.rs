//! Choosing a store with one setting:
//!
//! | setting | store |
//! | --- | --- |
//! | `local:PATH` | [`LocalStore`] in directory `PATH` (relative or absolute) |
//! | `kubo:http://127.0.0.1:5001` | [`KuboStore`] using that RPC API |
//! | `pinning:https://host/path?provider=kubo:http://127.0.0.1:5001` | [`PinningServiceStore`] for the service whose `/pins` is under `https://host/path`, storing through the `provider` node (`kubo:` or `local:`) |
//! | `replicated:kubo:URL1,kubo:URL2,kubo:URL3?factor=2` | [`ReplicatedStore`] over those kubo nodes (at least two, comma-separated, in the order reads try them; the first reachable one takes writes), each blob pinned on `factor` of them (default 2) |
//!
//! A pinning setting may add `&token_env=NAME`: the environment variable holding the bearer
//! token (default `EHR_PINNING_TOKEN`); [`StoreOptions::pinning_token`] takes precedence.
//! The token is never part of the setting, so settings can be logged. The service must be
//! `https`, except on a loopback address.

use crate::{
    BlobStore, Error, KuboStore, LocalStore, PinningOptions, PinningServiceStore, ProviderNode,
    ReplicatedStore, Result, store::DEFAULT_MAX_BLOB_SIZE,
};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use url::Url;

/// The environment variable a pinning service's token is read from by default.
pub const DEFAULT_TOKEN_ENV: &str = "EHR_PINNING_TOKEN";

/// A parsed store setting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    /// `local:PATH`.
    Local {
        /// The store's directory.
        path: PathBuf,
    },
    /// `kubo:URL`.
    Kubo {
        /// The RPC API base.
        api: Url,
    },
    /// `pinning:URL?provider=...`.
    Pinning {
        /// The service's API base.
        endpoint: Url,
        /// The node blobs go through (never itself a pinning setting).
        provider: Box<StoreUrl>,
        /// The environment variable with the token.
        token_env: String,
    },
    /// `replicated:kubo:URL,kubo:URL...?factor=N`.
    Replicated {
        /// The kubo nodes' RPC API bases, in order (at least two, no duplicates).
        nodes: Vec<Url>,
        /// How many of them pin each blob.
        factor: usize,
    },
}

/// The replication factor when a `replicated:` setting names none.
pub const DEFAULT_FACTOR: usize = 2;

/// Why a store setting was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreUrlError {
    /// No `kind:` prefix.
    MissingKind,
    /// A kind other than `local`, `kubo`, `pinning`.
    UnknownKind {
        /// The kind given.
        kind: String,
    },
    /// `local:` without a path.
    EmptyPath,
    /// The URL part does not parse.
    InvalidUrl {
        /// The URL parser's complaint.
        reason: String,
    },
    /// The URL is not `http` or `https`.
    UnsupportedScheme {
        /// The scheme given.
        scheme: String,
    },
    /// A plain-http pinning service on a non-loopback host (the token would travel in clear).
    InsecureEndpoint,
    /// A query, fragment or credentials where none belong.
    UnexpectedUrlPart {
        /// Which part.
        part: &'static str,
    },
    /// A pinning setting without `provider=`.
    MissingProvider,
    /// A pinning setting whose provider is itself a pinning setting.
    NestedPinning,
    /// The provider setting is invalid.
    InvalidProvider {
        /// What is wrong with it.
        reason: Box<StoreUrlError>,
    },
    /// A query parameter this crate does not know.
    UnknownParameter {
        /// Its name.
        name: String,
    },
    /// A query parameter given twice.
    DuplicateParameter {
        /// Its name.
        name: String,
    },
    /// A pinning setting whose provider is a replicated setting.
    ReplicatedProvider,
    /// A `replicated:` setting with fewer than two nodes.
    TooFewNodes {
        /// How many it named.
        count: usize,
    },
    /// A `replicated:` node (counted from 1) that is empty (`,,` or a trailing comma).
    EmptyNode {
        /// Its position.
        position: usize,
    },
    /// A `replicated:` node that is not `kubo:URL`.
    NotKubo {
        /// Its position (from 1).
        position: usize,
        /// The kind it has.
        kind: String,
    },
    /// A `replicated:` node that is not a valid `kubo:` setting.
    InvalidNode {
        /// Its position (from 1).
        position: usize,
        /// What is wrong with it.
        reason: Box<StoreUrlError>,
    },
    /// The same node twice in a `replicated:` setting.
    DuplicateNode {
        /// The later position (from 1).
        position: usize,
    },
    /// `factor=` is not a whole number from 1 to the number of nodes.
    InvalidFactor {
        /// The value given.
        value: String,
        /// How many nodes the setting names.
        nodes: usize,
    },
}

impl fmt::Display for StoreUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingKind => {
                write!(
                    f,
                    "expected local:PATH, kubo:URL, pinning:URL?provider=... or replicated:kubo:URL,kubo:URL?factor=N"
                )
            }
            Self::UnknownKind { kind } => {
                write!(
                    f,
                    "unknown store kind {kind:?}; expected local, kubo, pinning or replicated"
                )
            }
            Self::EmptyPath => write!(f, "local: needs a directory path"),
            Self::InvalidUrl { reason } => write!(f, "not a URL: {reason}"),
            Self::UnsupportedScheme { scheme } => {
                write!(f, "scheme {scheme:?} is not supported; use http or https")
            }
            Self::InsecureEndpoint => {
                write!(f, "a pinning service must use https (plain http only on loopback)")
            }
            Self::UnexpectedUrlPart { part } => write!(f, "the URL must not have a {part}"),
            Self::MissingProvider => write!(
                f,
                "a pinning service needs a provider node: add ?provider=kubo:URL or ?provider=local:PATH"
            ),
            Self::NestedPinning => write!(f, "the provider cannot be a pinning service"),
            Self::InvalidProvider { reason } => write!(f, "provider: {reason}"),
            Self::UnknownParameter { name } => {
                write!(
                    f,
                    "unknown parameter {name:?}; pinning: takes provider and token_env, replicated: takes factor"
                )
            }
            Self::DuplicateParameter { name } => write!(f, "parameter {name:?} given twice"),
            Self::ReplicatedProvider => {
                write!(f, "the provider cannot be a replicated store; name one node")
            }
            Self::TooFewNodes { count } => write!(
                f,
                "replicated: needs at least two nodes, comma-separated (got {count}): replicated:kubo:URL1,kubo:URL2"
            ),
            Self::EmptyNode { position } => {
                write!(f, "replicated: node {position} is empty (a stray comma?)")
            }
            Self::NotKubo { position, kind } => write!(
                f,
                "replicated: node {position} is {kind:?}; only kubo: nodes can fetch blobs from each other"
            ),
            Self::InvalidNode { position, reason } => {
                write!(f, "replicated: node {position}: {reason}")
            }
            Self::DuplicateNode { position } => {
                write!(f, "replicated: node {position} repeats an earlier node")
            }
            Self::InvalidFactor { value, nodes } => write!(
                f,
                "factor {value:?} must be a whole number from 1 to the {nodes} nodes named"
            ),
        }
    }
}

impl FromStr for StoreUrl {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        parse(text).map_err(|reason| Error::InvalidStoreUrl { input: text.to_owned(), reason })
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { path } => write!(f, "local:{}", path.display()),
            Self::Kubo { api } => write!(f, "kubo:{api}"),
            Self::Pinning { endpoint, provider, token_env } => {
                let mut url = endpoint.clone();
                url.query_pairs_mut().append_pair("provider", &provider.to_string());
                if token_env != DEFAULT_TOKEN_ENV {
                    url.query_pairs_mut().append_pair("token_env", token_env);
                }
                write!(f, "pinning:{url}")
            }
            Self::Replicated { nodes, factor } => {
                let nodes: Vec<String> = nodes.iter().map(|api| format!("kubo:{api}")).collect();
                write!(f, "replicated:{}?factor={factor}", nodes.join(","))
            }
        }
    }
}

fn parse(text: &str) -> std::result::Result<StoreUrl, StoreUrlError> {
    let (kind, rest) = text.split_once(':').ok_or(StoreUrlError::MissingKind)?;
    match kind {
        "local" if rest.is_empty() => Err(StoreUrlError::EmptyPath),
        "local" => Ok(StoreUrl::Local { path: PathBuf::from(rest) }),
        "kubo" => Ok(StoreUrl::Kubo { api: parse_kubo(rest)? }),
        "pinning" => parse_pinning(rest),
        "replicated" => parse_replicated(rest),
        "" => Err(StoreUrlError::MissingKind),
        other => Err(StoreUrlError::UnknownKind { kind: other.to_owned() }),
    }
}

fn parse_pinning(rest: &str) -> std::result::Result<StoreUrl, StoreUrlError> {
    let mut endpoint = http_url(rest)?;
    let mut provider = None;
    let mut token_env = None;
    for (name, value) in endpoint.query_pairs() {
        let slot = match &*name {
            "provider" => &mut provider,
            "token_env" => &mut token_env,
            _ => {
                return Err(StoreUrlError::UnknownParameter { name: name.into_owned() });
            }
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(StoreUrlError::DuplicateParameter { name: name.into_owned() });
        }
    }
    endpoint.set_query(None);
    if endpoint.scheme() == "http" && !is_loopback(&endpoint) {
        return Err(StoreUrlError::InsecureEndpoint);
    }
    let provider = provider.ok_or(StoreUrlError::MissingProvider)?;
    if provider.starts_with("pinning:") {
        return Err(StoreUrlError::NestedPinning);
    }
    if provider.starts_with("replicated:") {
        return Err(StoreUrlError::ReplicatedProvider);
    }
    let provider = parse(&provider)
        .map_err(|reason| StoreUrlError::InvalidProvider { reason: Box::new(reason) })?;
    Ok(StoreUrl::Pinning {
        endpoint,
        provider: Box::new(provider),
        token_env: token_env.unwrap_or_else(|| DEFAULT_TOKEN_ENV.to_owned()),
    })
}

fn parse_kubo(rest: &str) -> std::result::Result<Url, StoreUrlError> {
    let api = http_url(rest)?;
    if api.query().is_some() {
        return Err(StoreUrlError::UnexpectedUrlPart { part: "query" });
    }
    Ok(api)
}

/// `kubo:URL,kubo:URL...` and an optional `?factor=N`. kubo URLs take no query, so the
/// first `?` starts the setting's own parameters.
fn parse_replicated(rest: &str) -> std::result::Result<StoreUrl, StoreUrlError> {
    let (list, query) = match rest.split_once('?') {
        Some((list, query)) => (list, Some(query)),
        None => (rest, None),
    };
    let mut nodes: Vec<Url> = Vec::new();
    for (i, member) in list.split(',').enumerate() {
        let position = i + 1;
        let member = member.trim();
        if member.is_empty() {
            // A lone empty list is "no nodes", not "node 1 is empty".
            if list.trim().is_empty() {
                break;
            }
            return Err(StoreUrlError::EmptyNode { position });
        }
        let api = match member.split_once(':') {
            Some(("kubo", url)) => parse_kubo(url).map_err(|reason| {
                StoreUrlError::InvalidNode { position, reason: Box::new(reason) }
            })?,
            Some((kind, _)) if !kind.is_empty() => {
                return Err(StoreUrlError::NotKubo { position, kind: kind.to_owned() });
            }
            _ => {
                let reason = Box::new(StoreUrlError::MissingKind);
                return Err(StoreUrlError::InvalidNode { position, reason });
            }
        };
        if nodes.contains(&api) {
            return Err(StoreUrlError::DuplicateNode { position });
        }
        nodes.push(api);
    }
    if nodes.len() < 2 {
        return Err(StoreUrlError::TooFewNodes { count: nodes.len() });
    }
    let mut factor = None;
    for pair in query.into_iter().flat_map(|q| q.split('&')).filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "factor" {
            return Err(StoreUrlError::UnknownParameter { name: name.to_owned() });
        }
        if factor.is_some() {
            return Err(StoreUrlError::DuplicateParameter { name: name.to_owned() });
        }
        let bad = || StoreUrlError::InvalidFactor { value: value.to_owned(), nodes: nodes.len() };
        let n: usize = value.parse().map_err(|_| bad())?;
        if n == 0 || n > nodes.len() {
            return Err(bad());
        }
        factor = Some(n);
    }
    Ok(StoreUrl::Replicated { nodes, factor: factor.unwrap_or(DEFAULT_FACTOR) })
}

fn http_url(text: &str) -> std::result::Result<Url, StoreUrlError> {
    let url = Url::parse(text).map_err(|e| StoreUrlError::InvalidUrl { reason: e.to_string() })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(StoreUrlError::UnsupportedScheme { scheme: url.scheme().to_owned() });
    }
    if url.fragment().is_some() {
        return Err(StoreUrlError::UnexpectedUrlPart { part: "fragment" });
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(StoreUrlError::UnexpectedUrlPart { part: "user or password" });
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

/// Settings that apply to whichever store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Largest blob `put` accepts (default 4 GiB).
    pub max_blob_size: u64,
    /// Bearer token for a pinning service; `None` reads it from the setting's `token_env`.
    pub pinning_token: Option<String>,
    /// Polling and timeouts for a pinning service.
    pub pinning: PinningOptions,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_blob_size: DEFAULT_MAX_BLOB_SIZE,
            pinning_token: None,
            pinning: PinningOptions::default(),
        }
    }
}

/// Opens the store a setting names. Nothing is contacted yet except a local directory,
/// which is created if missing.
pub async fn open_store(url: &StoreUrl, options: &StoreOptions) -> Result<Arc<dyn BlobStore>> {
    match url {
        StoreUrl::Pinning { endpoint, provider, token_env } => {
            let token = match &options.pinning_token {
                Some(token) => token.clone(),
                None => std::env::var(token_env)
                    .ok()
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| Error::MissingToken { env_var: token_env.clone() })?,
            };
            let provider = open_provider(provider, options).await?;
            let store = PinningServiceStore::new(endpoint.clone(), token, provider)?
                .with_options(options.pinning.clone());
            Ok(Arc::new(store))
        }
        StoreUrl::Replicated { nodes, factor } => {
            let mut members: Vec<(String, Arc<dyn ProviderNode>)> = Vec::new();
            for api in nodes {
                // Offline reads: a node without the blob says so at once, and the read
                // moves on instead of waiting for the node to search its peers.
                let node = KuboStore::new(api.clone())?
                    .with_max_blob_size(options.max_blob_size)
                    .with_offline_reads(true);
                members.push((api.to_string(), Arc::new(node)));
            }
            Ok(Arc::new(ReplicatedStore::new(members, *factor)?))
        }
        other => Ok(open_provider(other, options).await?),
    }
}

async fn open_provider(url: &StoreUrl, options: &StoreOptions) -> Result<Arc<dyn ProviderNode>> {
    match url {
        StoreUrl::Local { path } => Ok(Arc::new(
            LocalStore::open(path.clone()).await?.with_max_blob_size(options.max_blob_size),
        )),
        StoreUrl::Kubo { api } => {
            Ok(Arc::new(KuboStore::new(api.clone())?.with_max_blob_size(options.max_blob_size)))
        }
        StoreUrl::Pinning { .. } => Err(Error::InvalidStoreUrl {
            input: url.to_string(),
            reason: StoreUrlError::NestedPinning,
        }),
        StoreUrl::Replicated { .. } => Err(Error::InvalidStoreUrl {
            input: url.to_string(),
            reason: StoreUrlError::ReplicatedProvider,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn reason(text: &str) -> StoreUrlError {
        match text.parse::<StoreUrl>() {
            Err(Error::InvalidStoreUrl { reason, .. }) => reason,
            other => panic!("{text:?} parsed to {other:?}"),
        }
    }

    #[test]
    fn parses_the_three_kinds() {
        assert_eq!(
            "local:/var/lib/ehr".parse::<StoreUrl>().unwrap(),
            StoreUrl::Local { path: "/var/lib/ehr".into() }
        );
        assert_eq!(
            "local:data/blobs".parse::<StoreUrl>().unwrap(),
            StoreUrl::Local { path: "data/blobs".into() }
        );
        let kubo: StoreUrl = "kubo:http://127.0.0.1:5001".parse().unwrap();
        assert_eq!(kubo, StoreUrl::Kubo { api: Url::parse("http://127.0.0.1:5001").unwrap() });
        let pinning: StoreUrl =
            "pinning:https://pins.example/api/v1?provider=kubo:http://127.0.0.1:5001&token_env=MY_TOKEN"
                .parse()
                .unwrap();
        let StoreUrl::Pinning { endpoint, provider, token_env } = &pinning else {
            panic!("{pinning:?}");
        };
        assert_eq!(endpoint.as_str(), "https://pins.example/api/v1");
        assert_eq!(**provider, kubo);
        assert_eq!(token_env, "MY_TOKEN");
        // Display gives a setting that parses back to the same thing.
        for url in [&pinning, &kubo] {
            assert_eq!(&url.to_string().parse::<StoreUrl>().unwrap(), url);
        }
        let local_provider: StoreUrl =
            "pinning:http://127.0.0.1:9000?provider=local:/tmp/x".parse().unwrap();
        assert!(
            matches!(local_provider, StoreUrl::Pinning { token_env, .. } if token_env == DEFAULT_TOKEN_ENV)
        );
    }

    #[test]
    fn bad_settings_have_specific_errors() {
        assert_eq!(reason(""), StoreUrlError::MissingKind);
        assert_eq!(reason("/var/lib/ehr"), StoreUrlError::MissingKind);
        assert_eq!(reason("s3:bucket"), StoreUrlError::UnknownKind { kind: "s3".into() });
        assert_eq!(reason("local:"), StoreUrlError::EmptyPath);
        assert!(matches!(reason("kubo:127.0.0.1:5001"), StoreUrlError::InvalidUrl { .. }));
        assert_eq!(
            reason("kubo:localhost:5001"),
            StoreUrlError::UnsupportedScheme { scheme: "localhost".into() }
        );
        assert!(matches!(reason("kubo:not a url"), StoreUrlError::InvalidUrl { .. }));
        assert_eq!(
            reason("kubo:ftp://127.0.0.1"),
            StoreUrlError::UnsupportedScheme { scheme: "ftp".into() }
        );
        assert_eq!(
            reason("kubo:http://127.0.0.1:5001?x=1"),
            StoreUrlError::UnexpectedUrlPart { part: "query" }
        );
        assert_eq!(
            reason("kubo:http://user:pw@127.0.0.1:5001"),
            StoreUrlError::UnexpectedUrlPart { part: "user or password" }
        );
        assert_eq!(reason("pinning:https://pins.example"), StoreUrlError::MissingProvider);
        assert_eq!(
            reason("pinning:http://pins.example?provider=local:/x"),
            StoreUrlError::InsecureEndpoint
        );
        assert_eq!(
            reason("pinning:https://p.example?provider=pinning:https://q.example"),
            StoreUrlError::NestedPinning
        );
        assert_eq!(
            reason("pinning:https://p.example?provider=local:"),
            StoreUrlError::InvalidProvider { reason: Box::new(StoreUrlError::EmptyPath) }
        );
        assert_eq!(
            reason("pinning:https://p.example?provider=local:/x&token=secret"),
            StoreUrlError::UnknownParameter { name: "token".into() }
        );
        assert_eq!(
            reason("pinning:https://p.example?provider=local:/x&provider=local:/y"),
            StoreUrlError::DuplicateParameter { name: "provider".into() }
        );
    }

    #[test]
    fn parses_replicated_settings() {
        let url: StoreUrl =
            "replicated:kubo:http://127.0.0.1:5001,kubo:http://127.0.0.1:5002, kubo:http://127.0.0.1:5003?factor=3"
                .parse()
                .unwrap();
        let StoreUrl::Replicated { nodes, factor } = &url else { panic!("{url:?}") };
        assert_eq!(*factor, 3);
        let ports: Vec<_> = nodes.iter().map(|u| u.port().unwrap()).collect();
        assert_eq!(ports, [5001, 5002, 5003]);
        assert_eq!(url.to_string().parse::<StoreUrl>().unwrap(), url);
        let default: StoreUrl =
            "replicated:kubo:http://127.0.0.1:5001,kubo:http://10.0.0.2:5001".parse().unwrap();
        assert!(matches!(default, StoreUrl::Replicated { factor: DEFAULT_FACTOR, .. }));
        assert!(default.to_string().ends_with("?factor=2"), "{default}");
    }

    #[test]
    fn bad_replicated_settings_say_what_is_wrong() {
        let two = "replicated:kubo:http://127.0.0.1:5001,kubo:http://127.0.0.1:5002";
        assert_eq!(reason("replicated:"), StoreUrlError::TooFewNodes { count: 0 });
        assert_eq!(
            reason("replicated:kubo:http://127.0.0.1:5001?factor=1"),
            StoreUrlError::TooFewNodes { count: 1 }
        );
        assert_eq!(
            reason("replicated:kubo:http://127.0.0.1:5001,,kubo:http://127.0.0.1:5002"),
            StoreUrlError::EmptyNode { position: 2 }
        );
        assert_eq!(reason(&format!("{two},")), StoreUrlError::EmptyNode { position: 3 });
        assert_eq!(
            reason("replicated:kubo:http://127.0.0.1:5001,local:/tmp/x"),
            StoreUrlError::NotKubo { position: 2, kind: "local".into() }
        );
        assert_eq!(
            reason("replicated:http://127.0.0.1:5001,kubo:http://127.0.0.1:5002"),
            StoreUrlError::NotKubo { position: 1, kind: "http".into() }
        );
        assert_eq!(
            reason("replicated:kubo:ftp://h,kubo:http://127.0.0.1:5002"),
            StoreUrlError::InvalidNode {
                position: 1,
                reason: Box::new(StoreUrlError::UnsupportedScheme { scheme: "ftp".into() })
            }
        );
        assert_eq!(
            reason("replicated:kubo:http://127.0.0.1:5001,kubo:http://127.0.0.1:5001/"),
            StoreUrlError::DuplicateNode { position: 2 }
        );
        for bad in ["0", "3", "two", "-1", ""] {
            assert_eq!(
                reason(&format!("{two}?factor={bad}")),
                StoreUrlError::InvalidFactor { value: bad.into(), nodes: 2 },
                "factor={bad}"
            );
        }
        assert_eq!(
            reason(&format!("{two}?factor=1&factor=2")),
            StoreUrlError::DuplicateParameter { name: "factor".into() }
        );
        assert_eq!(
            reason(&format!("{two}?replicas=2")),
            StoreUrlError::UnknownParameter { name: "replicas".into() }
        );
        assert_eq!(
            reason(&format!("pinning:https://p.example?provider={two}")),
            StoreUrlError::ReplicatedProvider
        );
        let message = format!("{two}?factor=5").parse::<StoreUrl>().unwrap_err().to_string();
        assert!(message.contains("from 1 to the 2 nodes"), "{message}");
    }

    #[tokio::test]
    async fn opening_a_replicated_store_contacts_no_node() {
        let url: StoreUrl =
            "replicated:kubo:http://127.0.0.1:1,kubo:http://127.0.0.1:2,kubo:http://127.0.0.1:3"
                .parse()
                .unwrap();
        let store = open_store(&url, &StoreOptions::default()).await.unwrap();
        let placement = store.placement(crate::compute_cid(b"x")).await.unwrap();
        assert_eq!(placement.factor, 2);
        assert_eq!(placement.nodes.len(), 3);
        assert!(
            placement.nodes.iter().all(|n| matches!(n.holding, crate::Holding::Unreachable { .. }))
        );
    }

    #[tokio::test]
    async fn opening_a_pinning_store_needs_a_token() {
        let url: StoreUrl = "pinning:https://p.example?provider=kubo:http://127.0.0.1:5001&token_env=EHR_STORE_TEST_UNSET_TOKEN"
            .parse()
            .unwrap();
        let error = open_store(&url, &StoreOptions::default()).await.unwrap_err();
        assert!(
            matches!(&error, Error::MissingToken { env_var } if env_var == "EHR_STORE_TEST_UNSET_TOKEN"),
            "{error:?}"
        );
        let options = StoreOptions { pinning_token: Some("t".into()), ..Default::default() };
        let store = open_store(&url, &options).await.unwrap();
        assert_eq!(store.max_blob_size(), DEFAULT_MAX_BLOB_SIZE);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,100}") {
            let _ = text.parse::<StoreUrl>();
        }

        #[test]
        fn parsing_url_like_strings_never_panics(
            kind in "(local|kubo|pinning|replicated|x)",
            rest in "[a-z:/?&=.0-9%@#]{0,60}",
        ) {
            let _ = format!("{kind}:{rest}").parse::<StoreUrl>();
        }
    }
}
