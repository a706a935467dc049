//! The command tree. Each command is a module with a clap `Args` struct (its doc comment is the
//! command's summary, its `after_help` the examples) and an `async fn run(args, &Context)`;
//! one line in [`commands!`] below adds it to `ehr` (see the crate README).

use crate::context::Context;

/// Declares the command modules, the `Command` enum and its dispatch from one list of
/// `Variant => module` lines.
macro_rules! commands {
    ($($variant:ident => $module:ident,)*) => {
        $(mod $module;)*

        #[derive(clap::Subcommand, Debug)]
        pub(crate) enum Command {
            $($variant($module::Args),)*
            /// A command that is not part of this build (see [`planned`]).
            #[command(external_subcommand)]
            Other(Vec<String>),
        }

        impl Command {
            /// Runs the command.
            pub(crate) async fn run(self, context: &Context) -> eyre::Result<()> {
                match self {
                    $(Self::$variant(args) => $module::run(args, context).await,)*
                    Self::Other(words) => planned::unavailable(&words),
                }
            }
        }
    };
}

mod planned;

commands! {
    Dev => dev,
    Deploy => deploy,
    Account => account,
    Org => org,
    Staff => staff,
    Patient => patient,
    Key => key,
    Grant => grant,
    Revoke => revoke,
    Reshare => reshare,
    Request => request,
    Requests => requests,
    Approve => approve,
    Deny => deny,
    Relay => relay,
    Emergency => emergency,
    Audit => audit,
    Upload => upload,
    Validate => validate,
    Search => search,
    Fetch => fetch,
    Export => export,
    Claim => claim,
    Demo => demo,
    Serve => serve,
    VoidSignatures => void_signatures,
    Grants => grants,
    UnloggedReads => unlogged_reads,
    Rotate => rotate,
    Store => store,
    Guardian => guardian,
}
