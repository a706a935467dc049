//! `ehr deploy`: deploy the contracts and write the deployment file.

use crate::cli::EthArgs;
use crate::context::{Context, Signing};
use crate::output::{Fields, Render};
use alloy::primitives::Address;
use ehr_sdk::deploy::{DeployRequest, Deployed};
use ehr_sdk::parse;

/// Deploy ehrkit's contracts from the signer and write the deployment file.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Examples:
  ehr deploy --account admin --password-file pw
  ehr deploy --private-key $KEY --rpc-url https://rpc.example --admin 0xADMIN --admin-delay 172800
  ehr deploy --account admin --force      # replace this chain's deployment file
  ehr deploy --account admin --evm shanghai   # an older build than the node's newest

The node is probed first (eth_call of tiny PUSH0 / TSTORE+MCOPY+BLOBHASH code, and the prague
BLS12-381 precompile) and the newest build of the contracts it runs is deployed: prague,
cancun or shanghai (`evm build` in the output).")]
pub(crate) struct Args {
    /// The first system admin (adds and removes organizations) [default: the signer].
    #[arg(long, value_parser = parse::address, value_name = "ADDRESS")]
    admin: Option<Address>,
    /// Seconds a new admin must wait before taking over the admin role (0 on the dev chain).
    #[arg(long, value_name = "SECONDS")]
    admin_delay: Option<u64>,
    /// Replace an existing deployment file of the same chain.
    #[arg(long)]
    force: bool,
    /// Deploy this build (shanghai, cancun, prague) instead of the newest the node runs.
    #[arg(long, value_name = "EVM")]
    evm: Option<ehr_contracts::EvmBuild>,
    #[command(flatten)]
    eth: EthArgs,
}

pub(crate) async fn run(args: Args, context: &Context) -> eyre::Result<()> {
    let chain = context.chain(&args.eth, Signing::Required).await?;
    let (path, _) = context.settings.deployment(&args.eth);
    let request = DeployRequest {
        path,
        admin: args.admin,
        admin_delay: args.admin_delay,
        force: args.force,
        evm: args.evm,
    };
    context.print(&ehr_sdk::deploy::deploy(&chain, request).await?)
}

impl Render for Deployed {
    fn render(&self) -> String {
        let d = &self.deployment;
        Fields::new()
            .add("deployed to chain", d.chain_id)
            .add("evm build", d.evm_build)
            .add("RoleRegistry", d.role_registry)
            .add("ConsentRegistry", d.consent_registry)
            .add("RecordIndex", d.record_index)
            .add("admin", self.admin)
            .add("admin delay", format!("{} s", self.admin_delay))
            .add("first block", d.deployed_at_block)
            .add(if self.replaced { "replaced" } else { "saved" }, self.path.display())
            .finish()
    }
}
