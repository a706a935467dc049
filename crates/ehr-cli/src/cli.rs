//! The argument structure: global flags, the one struct of chain flags every chain command
//! flattens, and the top-level command.

use crate::commands::Command;
use crate::config::Settings;
use crate::context::Context;
use clap::{Args, Parser};
use std::path::PathBuf;
use url::Url;

const EXAMPLES: &str = "\
Examples:
  ehr dev up                                   # local chain + embedded store in .ehr/
  ehr account new alice --password-file pw     # an encrypted keystore in .ehr/keystores/
  ehr dev fund $(ehr account address alice)    # give it dev ether
  ehr deploy --account alice --password-file pw
  ehr audit 0xPATIENT --json                   # a patient's consent and access trail";

/// Patient-controlled, client-side-encrypted health records on Ethereum and IPFS.
#[derive(Parser, Debug)]
#[command(name = "ehr", version, after_help = EXAMPLES, allow_external_subcommands = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

impl Cli {
    /// Resolves the settings and runs the command.
    pub(crate) async fn run(self) -> eyre::Result<()> {
        let settings = Settings::load(&self.global)?;
        let context = Context::new(settings, self.global.json);
        self.command.run(&context).await
    }
}

/// Flags every command takes.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct GlobalArgs {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// More logs on stderr: -v progress, -vv details, -vvv everything.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub(crate) verbose: u8,
    /// The config file [default: ./ehr.toml when it exists].
    #[arg(long, env = "EHR_CONFIG", value_name = "FILE", global = true)]
    pub(crate) config: Option<PathBuf>,
    /// Where keystores, the dev stack and journals live [default: .ehr].
    #[arg(long, env = "EHR_DATA_DIR", value_name = "DIR", global = true)]
    pub(crate) data_dir: Option<PathBuf>,
    /// Give up on a JSON-RPC exchange after this many seconds (it is retried, then reported)
    /// [default: 30].
    #[arg(
        long,
        env = "EHR_RPC_TIMEOUT",
        value_name = "SECONDS",
        value_parser = clap::value_parser!(u64).range(1..=3600),
        global = true
    )]
    pub(crate) rpc_timeout: Option<u64>,
}

/// The signing account: a raw key, a keystore file, or a named keystore in the data dir.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct SignerArgs {
    /// Sign with this private key (hex). Prefer a keystore: keys in flags end up in shell history.
    #[arg(
        long,
        env = "EHR_PRIVATE_KEY",
        hide_env_values = true,
        value_name = "HEX",
        conflicts_with_all = ["keystore", "account"],
        help_heading = "Signer"
    )]
    pub(crate) private_key: Option<String>,
    /// Sign with this keystore file (Web3 Secret Storage).
    #[arg(
        long,
        env = "EHR_KEYSTORE",
        value_name = "PATH",
        conflicts_with = "account",
        help_heading = "Signer"
    )]
    pub(crate) keystore: Option<PathBuf>,
    /// Sign with the keystore named NAME in <data dir>/keystores [default: `account` in ehr.toml].
    #[arg(long, env = "EHR_ACCOUNT", value_name = "NAME", help_heading = "Signer")]
    pub(crate) account: Option<String>,
    /// Read the keystore password from FILE (else it is asked for on the terminal).
    #[arg(long, env = "EHR_PASSWORD_FILE", value_name = "FILE", help_heading = "Signer")]
    pub(crate) password_file: Option<PathBuf>,
}

/// The chain, the deployment, the store and the signer: flattened into every command that
/// talks to the chain.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct EthArgs {
    /// The JSON-RPC endpoint [default: the dev stack's, else http://127.0.0.1:8545].
    #[arg(long, env = "ETH_RPC_URL", value_name = "URL", help_heading = "Chain")]
    pub(crate) rpc_url: Option<Url>,
    /// The deployment file [default: <data dir>/deployment.json].
    #[arg(long, env = "EHR_DEPLOYMENT", value_name = "FILE", help_heading = "Chain")]
    pub(crate) deployment: Option<PathBuf>,
    /// The blob store: local:DIR, kubo:URL, pinning:URL?provider=… or
    /// replicated:kubo:URL,kubo:URL,…?factor=N [default: the dev stack's, else
    /// local:<data dir>/blobs].
    #[arg(long, env = "EHR_STORE", value_name = "STORE", help_heading = "Chain")]
    pub(crate) store: Option<String>,
    #[command(flatten)]
    pub(crate) signer: SignerArgs,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_argument_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    /// Every command's help shows an example, so `--help` always answers "how do I …".
    #[test]
    fn every_command_has_examples_in_its_help() {
        fn walk(command: &clap::Command, path: &str) {
            let path = format!("{path} {}", command.get_name());
            let help = command.clone().render_long_help().to_string();
            assert!(help.contains("Examples:"), "`{path} --help` has no examples");
            for sub in command.get_subcommands() {
                walk(sub, &path);
            }
        }
        walk(&Cli::command(), "");
    }
}
