#![doc = include_str!("../README.md")]

//! `ehr`: patient-controlled health records on Ethereum and IPFS, from the command line.
//!
//! Data goes to stdout (human text, or JSON with `--json`), logs (`-v`) and errors to stderr;
//! a failure is one `error:` line, sometimes a `hint:` line, and a non-zero exit code.

mod cli;
mod commands;
mod config;
mod context;
mod errors;
mod output;
mod signer;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    init_tracing(cli.global.verbose);
    if let Some(seconds) = cli.global.rpc_timeout {
        // The providers read the deadline from the environment (ehr_contracts::rpc_timeout),
        // so a --rpc-timeout flag is handed on that way; clap has checked the value.
        // SAFETY: no other thread exists yet (the runtime is built below), so nothing can
        // read the environment concurrently.
        unsafe { std::env::set_var("EHR_RPC_TIMEOUT", seconds.to_string()) };
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return errors::report(&eyre::eyre!("cannot start the async runtime: {e}")),
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => errors::report(&error),
    }
}

/// `-v` shows ehrkit's progress, `-vv` its details, `-vvv` everything (alloy's RPC traffic
/// too). Secrets are never logged: signers print as their address.
fn init_tracing(verbosity: u8) {
    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::prelude::*;
    let ours = match verbosity {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    let others = if verbosity >= 3 { LevelFilter::TRACE } else { LevelFilter::WARN };
    let filter = Targets::new()
        .with_default(others)
        .with_target("ehr", ours)
        .with_target("ehr_sdk", ours)
        .with_target("ehr_contracts", ours)
        .with_target("ehr_index", ours)
        .with_target("ehr_store", ours);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_target(verbosity >= 2);
    tracing_subscriber::registry().with(layer).with(filter).init();
}
