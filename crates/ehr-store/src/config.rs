//! Choosing a store with one setting:
//!
//! | setting | store |
//! | --- | --- |
//! | `local:PATH` | [`LocalStore`] in directory `PATH` (relative or absolute) |
//! | `kubo:http://127.0.0.1:5001` | [`KuboStore`] using that RPC API |
//! | `pinning:https://host/path?provider=kubo:http://127.0.0.1:5001` | [`PinningServiceStore`] for the service whose `/pins` is under `https://host/path`, storing through the `provider` node (`kubo:` or `local:`) |
//!
//! A pinning setting may add `&token_env=NAME`: the environment variable holding the bearer
//! token (default `EHR_PINNING_TOKEN`); [`StoreOptions::pinning_token`] takes precedence.
//! The token is never part of the setting, so settings can be logged. The service must be
//! `https`, except on a loopback address.

use crate::{
    BlobStore, Error, KuboStore, LocalStore, PinningOptions, PinningServiceStore, ProviderNode,
    Result, store::DEFAULT_MAX_BLOB_SIZE,
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
}

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
}

impl fmt::Display for StoreUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingKind => {
                write!(f, "expected local:PATH, kubo:URL or pinning:URL?provider=...")
            }
            Self::UnknownKind { kind } => {
                write!(f, "unknown store kind {kind:?}; expected local, kubo or pinning")
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
                write!(f, "unknown parameter {name:?}; known: provider, token_env")
            }
            Self::DuplicateParameter { name } => write!(f, "parameter {name:?} given twice"),
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
        }
    }
}

fn parse(text: &str) -> std::result::Result<StoreUrl, StoreUrlError> {
    let (kind, rest) = text.split_once(':').ok_or(StoreUrlError::MissingKind)?;
    match kind {
        "local" if rest.is_empty() => Err(StoreUrlError::EmptyPath),
        "local" => Ok(StoreUrl::Local { path: PathBuf::from(rest) }),
        "kubo" => {
            let api = http_url(rest)?;
            if api.query().is_some() {
                return Err(StoreUrlError::UnexpectedUrlPart { part: "query" });
            }
            Ok(StoreUrl::Kubo { api })
        }
        "pinning" => parse_pinning(rest),
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
    let provider = parse(&provider)
        .map_err(|reason| StoreUrlError::InvalidProvider { reason: Box::new(reason) })?;
    Ok(StoreUrl::Pinning {
        endpoint,
        provider: Box::new(provider),
        token_env: token_env.unwrap_or_else(|| DEFAULT_TOKEN_ENV.to_owned()),
    })
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
            kind in "(local|kubo|pinning|x)",
            rest in "[a-z:/?&=.0-9%@#]{0,60}",
        ) {
            let _ = format!("{kind}:{rest}").parse::<StoreUrl>();
        }
    }
}
