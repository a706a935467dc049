//! `ehr account`: keystores in the data dir.

use crate::cli::SignerArgs;
use crate::context::Context;
use crate::output::{Fields, Render};
use crate::signer;
use alloy::primitives::Address;
use ehr_sdk::accounts::{AccountInfo, KdfCost, Keystores, parse_private_key};
use eyre::eyre;
use serde::Serialize;
use std::io::IsTerminal;

/// Manage accounts: encrypted keystores in <data dir>/keystores.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr account new alice --password-file pw
  ehr account import hospital --private-key $KEY --password-file pw
  ehr account list
  ehr account address alice")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: AccountCommand,
}

#[derive(clap::Subcommand, Debug)]
enum AccountCommand {
    /// Create a new random account, encrypted with a password.
    #[command(after_help = "Examples:\n  ehr account new alice --password-file pw\n  ehr account new        # prompts for the password; name from the address")]
    New {
        /// Its name [default: acct-<first 8 hex digits of the address>].
        name: Option<String>,
        #[command(flatten)]
        kdf: KdfArgs,
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// Store an existing private key as an encrypted account.
    #[command(after_help = "Examples:\n  ehr account import doctor --private-key $KEY --password-file pw\n  ehr account import doctor          # prompts for the key and the password")]
    Import {
        /// Its name.
        name: String,
        #[command(flatten)]
        kdf: KdfArgs,
        #[command(flatten)]
        signer: SignerArgs,
    },
    /// List the accounts.
    #[command(after_help = "Examples:\n  ehr account list\n  ehr account list --json")]
    List,
    /// Print an account's address (no password needed).
    #[command(after_help = "Examples:\n  ehr account address alice\n  ehr account address --private-key $KEY")]
    Address {
        /// The account [default: the signer flags, or `account` in ehr.toml].
        name: Option<String>,
        #[command(flatten)]
        signer: SignerArgs,
    },
}

/// The keystore's password hardening.
#[derive(clap::Args, Debug)]
struct KdfArgs {
    /// Encrypt with scrypt N=2^13 instead of the standard 2^18 (geth's and Foundry's): 32x
    /// faster to unlock, and to guess. For tests and throw-away dev accounts only.
    #[arg(long)]
    fast_kdf: bool,
}

impl KdfArgs {
    fn cost(&self) -> KdfCost {
        if self.fast_kdf { KdfCost::Fast } else { KdfCost::Standard }
    }
}

/// The accounts in the keystore directory.
#[derive(Serialize)]
struct AccountList {
    accounts: Vec<AccountInfo>,
}

/// One address.
#[derive(Serialize)]
struct AccountAddress {
    address: Address,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let keystores = Keystores::new(context.settings.keystore_dir());
    match args.command {
        AccountCommand::New { name, kdf, signer } => {
            let keystores = keystores.with_kdf(kdf.cost());
            let key = alloy::signers::local::PrivateKeySigner::random();
            let name = name.unwrap_or_else(|| {
                format!("acct-{}", &key.address().to_string()[2..10].to_lowercase())
            });
            let path = keystores.path(&name)?;
            let password = signer::password(&signer, &path, true)?;
            context.print(&keystores.import(&name, &key, &password)?)
        }
        AccountCommand::Import { name, kdf, signer } => {
            let keystores = keystores.with_kdf(kdf.cost());
            let path = keystores.path(&name)?;
            let key = match &signer.private_key {
                Some(hex) => parse_private_key(hex)?,
                None if std::io::stdin().is_terminal() => {
                    let hex = zeroize::Zeroizing::new(rpassword::prompt_password("Private key (hex): ")?);
                    parse_private_key(&hex)?
                }
                None => {
                    return Err(eyre!(
                        "no key to import: pass --private-key HEX or EHR_PRIVATE_KEY (ehr cannot prompt, stdin is not a terminal)"
                    ));
                }
            };
            let password = signer::password(&signer, &path, true)?;
            context.print(&keystores.import(&name, &key, &password)?)
        }
        AccountCommand::List => context.print(&AccountList { accounts: keystores.list()? }),
        AccountCommand::Address { name, signer } => {
            let address = match name {
                Some(name) => keystores.get(&name)?.address,
                None => signer::resolve_address(&signer, &context.settings)?
                    .ok_or(ehr_sdk::Error::NoSigner)?,
            };
            context.print(&AccountAddress { address })
        }
    }
}

impl Render for AccountInfo {
    fn render(&self) -> String {
        Fields::new()
            .add("account", &self.name)
            .add("address", self.address)
            .add("keystore", self.path.display())
            .finish()
    }
}

impl Render for AccountList {
    fn render(&self) -> String {
        if self.accounts.is_empty() {
            return "no accounts yet (create one with `ehr account new NAME`)".to_owned();
        }
        let width = self.accounts.iter().map(|a| a.name.len()).max().unwrap_or(0);
        self.accounts.iter().map(|a| format!("{:<width$}  {}\n", a.name, a.address)).collect()
    }
}

impl Render for AccountAddress {
    fn render(&self) -> String {
        self.address.to_string()
    }
}
