//! `ehr key`: public key registration, so patients can wrap record keys to an account; and a
//! patient's recovery code, the second factor of its master secret.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use ehr_sdk::{keys, roles};
use serde::Serialize;

/// Public keys: register yours so patients can grant you access (doctors need this first).
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr key register --account doctor
  ehr key recovery-code --account alice")]
pub(crate) struct Args {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(clap::Subcommand, Debug)]
enum KeyCommand {
    /// Register (or replace) the signer's public key.
    #[command(after_help = "Examples:\n  ehr key register --account doctor")]
    Register {
        #[command(flatten)]
        eth: EthArgs,
    },
    /// Show the patient's recovery code for its current key generation (what the web page asks
    /// for). Anyone holding it AND a master-secret signature from the wallet can derive the
    /// patient's keys: keep it like a password; `ehr rotate --keys` replaces it.
    #[command(
        after_help = "Examples:\n  ehr key recovery-code --account alice\n  ehr key recovery-code --generation 1 --account alice"
    )]
    RecoveryCode {
        /// The key generation whose code to show (default: the current one). After a key
        /// rotation the page also needs generation 1's: its category naming key keeps
        /// category ids stable.
        #[arg(long, value_name = "G")]
        generation: Option<u64>,
        #[command(flatten)]
        eth: EthArgs,
    },
}

/// A recovery code (printed only on request).
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RecoveryCode {
    generation: u64,
    code: String,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    match args.command {
        KeyCommand::Register { eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            context.print(&roles::register_public_key(&session).await?)
        }
        KeyCommand::RecoveryCode { generation: asked, eth } => {
            let session = context.session(&eth, Signing::Required, false).await?;
            let patient = session.chain().address()?;
            session.require_patient(patient).await?;
            // Checked against the chain first: a code that does not derive the registered key
            // is never shown.
            let keys = keys::patient_keys(&session).await?;
            let current = keys.generation();
            if current == 0 {
                eyre::bail!(
                    "patient {patient} has no key generation yet: `ehr rotate --keys` starts one"
                );
            }
            let generation = asked.unwrap_or(current);
            if generation == 0 || generation > current {
                eyre::bail!(
                    "patient {patient} has key generations 1 to {current}: there is no generation {generation}"
                );
            }
            let code = keys::recovery_secret(&session, generation)?.to_code().to_string();
            context.print(&RecoveryCode { generation, code })
        }
    }
}

impl Render for RecoveryCode {
    fn render(&self) -> String {
        Fields::new()
            .add("key generation", self.generation)
            .add("recovery code", &self.code)
            .add("keep it", "like a password: with a wallet signature it opens every record")
            .finish()
    }
}
