//! Settings: `ehr.toml` and the precedence rule flag > environment > config file > dev stack >
//! default. clap already resolves flag > environment; this module fills in the rest.
//!
//! ```toml
//! rpc_url = "http://127.0.0.1:8545"
//! deployment = ".ehr/deployment.json"
//! store = "local:.ehr/blobs"
//! account = "alice"
//! data_dir = ".ehr"
//! ```
//!
//! Relative paths in the file are relative to the file's directory, so a project's `ehr.toml`
//! works from anywhere.

use crate::cli::{EthArgs, GlobalArgs};
use ehr_sdk::devnet::StackFile;
use eyre::{WrapErr, eyre};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use url::Url;

/// The config file's name, looked for in the current directory.
pub(crate) const CONFIG_FILE: &str = "ehr.toml";
/// The RPC URL when nothing else names one (anvil's and Foundry's default).
pub(crate) const DEFAULT_RPC_URL: &str = "http://127.0.0.1:8545";

/// `ehr.toml`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    pub(crate) rpc_url: Option<Url>,
    pub(crate) deployment: Option<PathBuf>,
    pub(crate) store: Option<String>,
    pub(crate) account: Option<String>,
    pub(crate) data_dir: Option<PathBuf>,
}

/// Where a setting came from (shown with `-v`, useful when a value surprises).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// A flag or its environment variable.
    Flag,
    /// `ehr.toml`.
    Config,
    /// The running dev stack's `stack.json`.
    DevStack,
    /// Built in.
    Default,
}

/// Resolved global settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    file: ConfigFile,
    /// The config file's directory (relative paths in it start there).
    base: PathBuf,
    data_dir: PathBuf,
    stack: Option<StackFile>,
}

impl Settings {
    /// Reads `--config` (which must exist) or `./ehr.toml` (if it exists), and the dev
    /// stack file.
    pub(crate) fn load(global: &GlobalArgs) -> eyre::Result<Self> {
        let (path, required) = match &global.config {
            Some(path) => (path.clone(), true),
            None => (PathBuf::from(CONFIG_FILE), false),
        };
        let file = if path.exists() {
            let text = std::fs::read_to_string(&path)
                .wrap_err_with(|| format!("cannot read config file {}", path.display()))?;
            parse_config(&text).map_err(|e| eyre!("config file {}: {e}", path.display()))?
        } else if required {
            return Err(eyre!("config file {} does not exist", path.display()));
        } else {
            ConfigFile::default()
        };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let mut settings = Self::from_parts(file, base, global.data_dir.clone(), None);
        settings.stack = StackFile::load(&settings.dev_dir()).ok().flatten();
        Ok(settings)
    }

    /// Settings from their parts (tests build them without files).
    pub(crate) fn from_parts(
        file: ConfigFile,
        base: PathBuf,
        data_dir_flag: Option<PathBuf>,
        stack: Option<StackFile>,
    ) -> Self {
        let data_dir = match (data_dir_flag, &file.data_dir) {
            (Some(dir), _) => dir,
            (None, Some(dir)) => base.join(dir),
            (None, None) => PathBuf::from(".ehr"),
        };
        Self { file, base, data_dir, stack }
    }

    /// The data directory.
    pub(crate) fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// `<data dir>/dev`: the dev stack.
    pub(crate) fn dev_dir(&self) -> PathBuf {
        self.data_dir().join("dev")
    }

    /// `<data dir>/keystores`.
    pub(crate) fn keystore_dir(&self) -> PathBuf {
        self.data_dir().join("keystores")
    }

    /// The RPC URL.
    pub(crate) fn rpc_url(&self, args: &EthArgs) -> (Url, Source) {
        if let Some(url) = &args.rpc_url {
            return (url.clone(), Source::Flag);
        }
        if let Some(url) = &self.file.rpc_url {
            return (url.clone(), Source::Config);
        }
        if let Some(stack) = &self.stack {
            return (stack.anvil.url.clone(), Source::DevStack);
        }
        (DEFAULT_RPC_URL.parse().expect("the default URL is valid"), Source::Default)
    }

    /// The deployment file.
    pub(crate) fn deployment(&self, args: &EthArgs) -> (PathBuf, Source) {
        if let Some(path) = &args.deployment {
            return (path.clone(), Source::Flag);
        }
        if let Some(path) = &self.file.deployment {
            return (self.base.join(path), Source::Config);
        }
        (self.data_dir.join("deployment.json"), Source::Default)
    }

    /// The store setting.
    pub(crate) fn store(&self, args: &EthArgs) -> (String, Source) {
        if let Some(store) = &args.store {
            return (store.clone(), Source::Flag);
        }
        if let Some(store) = &self.file.store {
            let store = match store.strip_prefix("local:") {
                Some(dir) => format!("local:{}", self.base.join(dir).display()),
                None => store.clone(),
            };
            return (store, Source::Config);
        }
        if let Some(stack) = &self.stack {
            return (stack.store.clone(), Source::DevStack);
        }
        (self.local_store(), Source::Default)
    }

    /// The embedded store in the data dir.
    pub(crate) fn local_store(&self) -> String {
        format!("local:{}", self.data_dir.join("blobs").display())
    }

    /// The account name to sign with, if any.
    pub(crate) fn account(&self, flag: Option<&str>) -> Option<String> {
        flag.map(str::to_owned).or_else(|| self.file.account.clone())
    }
}

fn parse_config(text: &str) -> Result<ConfigFile, String> {
    toml::from_str(text).map_err(|e| e.message().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ehr_sdk::devnet::{STACK_FORMAT, ServiceInfo};

    fn stack() -> StackFile {
        StackFile {
            format: STACK_FORMAT,
            chain_id: 31337,
            anvil: ServiceInfo {
                pid: 1,
                url: "http://127.0.0.1:40000".parse().unwrap(),
                log: "anvil.log".into(),
            },
            state_file: "state.json".into(),
            kubo: None,
            store: "kubo:http://127.0.0.1:5001".into(),
        }
    }

    fn file() -> ConfigFile {
        parse_config(
            r#"
            rpc_url = "http://config:8545"
            deployment = "deploy/d.json"
            store = "local:blobs"
            account = "alice"
            data_dir = "state"
            "#,
        )
        .unwrap()
    }

    #[test]
    fn flags_beat_the_config_file() {
        let settings =
            Settings::from_parts(file(), "/proj".into(), Some("/flag".into()), Some(stack()));
        let args = EthArgs {
            rpc_url: Some("http://flag:1".parse().unwrap()),
            deployment: Some("flag.json".into()),
            store: Some("local:/x".into()),
            ..Default::default()
        };
        assert_eq!(settings.rpc_url(&args), ("http://flag:1".parse().unwrap(), Source::Flag));
        assert_eq!(settings.deployment(&args), ("flag.json".into(), Source::Flag));
        assert_eq!(settings.store(&args), ("local:/x".into(), Source::Flag));
        assert_eq!(settings.data_dir(), Path::new("/flag"));
        assert_eq!(settings.account(Some("bob")).as_deref(), Some("bob"));
    }

    #[test]
    fn the_config_file_beats_the_dev_stack_and_resolves_paths_from_its_directory() {
        let settings = Settings::from_parts(file(), "/proj".into(), None, Some(stack()));
        let args = EthArgs::default();
        assert_eq!(
            settings.rpc_url(&args),
            ("http://config:8545".parse().unwrap(), Source::Config)
        );
        assert_eq!(settings.deployment(&args), ("/proj/deploy/d.json".into(), Source::Config));
        assert_eq!(settings.store(&args), ("local:/proj/blobs".into(), Source::Config));
        assert_eq!(settings.data_dir(), Path::new("/proj/state"));
        assert_eq!(settings.keystore_dir(), Path::new("/proj/state/keystores"));
        assert_eq!(settings.account(None).as_deref(), Some("alice"));
    }

    #[test]
    fn the_dev_stack_beats_the_defaults() {
        let settings = Settings::from_parts(ConfigFile::default(), "".into(), None, Some(stack()));
        let args = EthArgs::default();
        assert_eq!(settings.rpc_url(&args).1, Source::DevStack);
        assert_eq!(settings.rpc_url(&args).0.port(), Some(40000));
        assert_eq!(settings.store(&args), ("kubo:http://127.0.0.1:5001".into(), Source::DevStack));
        assert_eq!(settings.deployment(&args), (".ehr/deployment.json".into(), Source::Default));
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let settings = Settings::from_parts(ConfigFile::default(), "".into(), None, None);
        let args = EthArgs::default();
        assert_eq!(settings.rpc_url(&args), (DEFAULT_RPC_URL.parse().unwrap(), Source::Default));
        assert_eq!(settings.store(&args), ("local:.ehr/blobs".into(), Source::Default));
        assert_eq!(settings.dev_dir(), Path::new(".ehr/dev"));
        assert_eq!(settings.account(None), None);
    }

    #[test]
    fn unknown_or_malformed_config_keys_are_errors() {
        assert!(parse_config("rpc = \"x\"").unwrap_err().contains("unknown field"));
        assert!(parse_config("rpc_url = \"not a url\"").is_err());
        assert!(parse_config("rpc_url = ").is_err());
        assert_eq!(parse_config("").unwrap(), ConfigFile::default());
    }
}
