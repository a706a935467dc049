//! ehrkit's benchmark runner, started by `bench/run`: measures gas from real anvil receipts,
//! verified search latency, the upload pipeline, a large file through the embedded store,
//! envelope throughput beside `openssl speed`, and FHIR validation of patient bundles, all in
//! one run on a local stack it starts itself; writes `results.json` and `RESULTS.md`.
//!
//! ```text
//! ehr-bench run [--smoke] --baseline PATH_TO_SstoreBaselineIndex.json --out DIR
//! ehr-bench largefile --mib N --dir DIR     (child process: prints one JSON line)
//! ```

mod fhir;
mod gas;
mod gas_builds;
mod gas_claims;
mod gas_guardians;
mod report;
mod search;
mod stream;
mod upload;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use alloy::providers::DynProvider;
use alloy::signers::local::PrivateKeySigner;
use ehr_contracts::{DeployOptions, Deployment, EvmBuild};
use ehr_devstack::{AnvilOptions, DevStack, StackOptions};

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    pub(crate) smoke: bool,
    /// Records per searched patient.
    pub(crate) search_records: [usize; 3],
    /// Search repetitions (per patient size: small, medium, large).
    pub(crate) search_reps: [usize; 3],
    /// Single uploads timed.
    pub(crate) single_uploads: usize,
    /// Records in the batched upload.
    pub(crate) batched_records: usize,
    /// Large file size in MiB.
    pub(crate) large_mib: u64,
    /// Envelope benchmark size in MiB.
    pub(crate) envelope_mib: usize,
}

impl Sizes {
    fn full() -> Self {
        Self {
            smoke: false,
            search_records: [1_000, 10_000, 100_000],
            search_reps: [30, 30, 7],
            single_uploads: 40,
            batched_records: 1_000,
            large_mib: 1024,
            envelope_mib: 512,
        }
    }
    fn smoke() -> Self {
        Self {
            smoke: true,
            search_records: [20, 60, 120],
            search_reps: [3, 3, 2],
            single_uploads: 3,
            batched_records: 20,
            large_mib: 4,
            envelope_mib: 4,
        }
    }
}

/// Figures and how each was measured.
#[derive(Debug, Default)]
pub(crate) struct Results {
    pub(crate) figures: BTreeMap<String, f64>,
    pub(crate) methods: BTreeMap<String, String>,
    pub(crate) notes: Vec<String>,
}

impl Results {
    pub(crate) fn put(&mut self, key: &str, value: f64, method: &str) {
        eprintln!("  {key} = {value:.3}");
        self.figures.insert(key.to_owned(), value);
        self.methods.insert(key.to_owned(), method.to_owned());
    }
    /// The figures, methods and notes of an earlier `results.json`.
    fn load(path: &std::path::Path) -> eyre::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| eyre::eyre!("--merge: cannot read {}: {e}", path.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text)?;
        let figures = serde_json::from_value(json["figures"].clone())?;
        let methods = serde_json::from_value(json["methods"].clone())?;
        let notes = serde_json::from_value(json["notes"].clone()).unwrap_or_default();
        Ok(Self { figures, methods, notes })
    }

    pub(crate) fn note(&mut self, note: String) {
        eprintln!("  note: {note}");
        self.notes.push(note);
    }
}

/// A stack with ehrkit deployed.
pub(crate) struct Env {
    pub(crate) stack: DevStack,
    pub(crate) deployment: Deployment,
    pub(crate) admin: PrivateKeySigner,
}

impl Env {
    async fn start(kubo: bool) -> eyre::Result<Self> {
        Self::start_build(kubo, None).await
    }

    /// A stack with `evm` (the newest anvil runs when `None`) deployed.
    pub(crate) async fn start_build(kubo: bool, evm: Option<EvmBuild>) -> eyre::Result<Self> {
        let stack = DevStack::start(StackOptions {
            kubo,
            anvil: AnvilOptions { silent: true, ..Default::default() },
            ..Default::default()
        })
        .await?;
        let admin = funded(&stack).await?;
        let provider = ehr_contracts::signing_provider(stack.anvil().rpc_url(), admin.clone());
        let deployment = ehr_contracts::deploy(
            &provider,
            DeployOptions { admin: admin.address(), admin_transfer_delay: 0, evm },
        )
        .await?;
        Ok(Self { stack, deployment, admin })
    }

    pub(crate) async fn account(&self) -> eyre::Result<PrivateKeySigner> {
        funded(&self.stack).await
    }

    pub(crate) fn provider(&self, signer: &PrivateKeySigner) -> DynProvider {
        ehr_contracts::signing_provider(self.stack.anvil().rpc_url(), signer.clone())
    }

    pub(crate) fn reader(&self) -> DynProvider {
        ehr_contracts::read_provider(self.stack.anvil().rpc_url())
    }
}

async fn funded(stack: &DevStack) -> eyre::Result<PrivateKeySigner> {
    let signer = PrivateKeySigner::random();
    stack.anvil().set_balance(&signer.address().to_string(), 10_000 * 10u128.pow(18)).await?;
    Ok(signer)
}

/// The 64-byte public key (X ‖ Y) the RoleRegistry stores.
pub(crate) fn public_key(signer: &PrivateKeySigner) -> alloy::primitives::Bytes {
    let point = signer.credential().verifying_key().to_encoded_point(false);
    alloy::primitives::Bytes::copy_from_slice(&point.as_bytes()[1..])
}

/// p-th percentile (nearest rank) of `samples` in milliseconds.
pub(crate) fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

struct Args {
    command: String,
    smoke: bool,
    baseline: Option<PathBuf>,
    out: PathBuf,
    mib: u64,
    dir: Option<PathBuf>,
    only: Vec<String>,
    /// Keep the figures of `<out>/results.json` that this run does not measure (with --only).
    merge: bool,
}

fn parse_args() -> eyre::Result<Args> {
    let mut it = std::env::args().skip(1);
    let command = it.next().unwrap_or_else(|| "run".into());
    let mut args = Args {
        command,
        smoke: false,
        baseline: None,
        out: PathBuf::from("bench"),
        mib: 1024,
        dir: None,
        only: Vec::new(),
        merge: false,
    };
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| eyre::eyre!("{arg} needs a value"));
        match arg.as_str() {
            "--smoke" => args.smoke = true,
            "--baseline" => args.baseline = Some(value()?.into()),
            "--out" => args.out = value()?.into(),
            "--mib" => args.mib = value()?.parse()?,
            "--dir" => args.dir = Some(value()?.into()),
            "--only" => args.only = value()?.split(',').map(str::to_owned).collect(),
            "--merge" => args.merge = true,
            other => eyre::bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

fn main() -> eyre::Result<()> {
    let args = parse_args()?;
    match args.command.as_str() {
        "largefile" => {
            let dir = args.dir.ok_or_else(|| eyre::eyre!("largefile needs --dir"))?;
            stream::largefile_child(args.mib, &dir)
        }
        "run" => {
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(run(args))
        }
        other => eyre::bail!("unknown command {other} (run | largefile)"),
    }
}

async fn run(args: Args) -> eyre::Result<()> {
    let sizes = if args.smoke { Sizes::smoke() } else { Sizes::full() };
    let wanted = |part: &str| args.only.is_empty() || args.only.iter().any(|o| o == part);
    let started = Instant::now();
    let mut results = Results::default();
    std::fs::create_dir_all(&args.out)?;
    if args.merge {
        results = Results::load(&args.out.join("results.json"))?;
        results.note(format!(
            "{} re-measured on {} (--only … --merge); every other figure is from the earlier run",
            args.only.join(", "),
            report::date()
        ));
    }

    if wanted("fhir") {
        eprintln!("==> FHIR validation of the Synthea patient bundles");
        fhir::run(&sizes, &mut results)?;
    }
    if wanted("envelope") {
        eprintln!("==> envelope throughput vs openssl");
        stream::envelope(&sizes, &mut results)?;
    }
    if wanted("largefile") {
        eprintln!("==> large file ({} MiB) through the embedded store", sizes.large_mib);
        stream::largefile(&sizes, &mut results)?;
    }
    if wanted("gas") {
        eprintln!("==> gas from anvil receipts");
        let env = Env::start(false).await?;
        gas::run(&env, args.baseline.as_deref(), &mut results).await?;
    }
    if wanted("gas-builds") {
        eprintln!("==> gas per EVM build (shanghai, cancun, prague), each on its own anvil");
        gas_builds::run(&mut results).await?;
    }
    if wanted("search") {
        eprintln!("==> verified search latency");
        let env = Env::start(false).await?;
        search::run(&env, &sizes, &mut results).await?;
    }
    if wanted("upload") {
        eprintln!("==> upload pipeline (embedded store and kubo)");
        let env = Env::start(true).await?;
        upload::run(&env, &sizes, &mut results).await?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    report::write(&args.out, &sizes, &results, elapsed)?;
    eprintln!("==> wrote {}/results.json and RESULTS.md in {elapsed:.0} s", args.out.display());
    Ok(())
}
