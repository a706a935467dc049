//! FHIR validation of whole patient bundles: the Synthea R4 bundles of the shared corpus
//! (`../shared/fhir-corpus/synthea-r4` beside the repository), each parsed, validated and
//! given its category by `ehr_record::validate_fhir_json`, as `ehr upload` and
//! `ehr validate` do.

use std::path::Path;
use std::time::Instant;

use crate::{Results, Sizes};

pub(crate) fn run(sizes: &Sizes, results: &mut Results) -> eyre::Result<()> {
    // Runs per bundle, the median counting; the smoke run (a debug build) only shows it runs.
    let runs = if sizes.smoke { 3 } else { 21 };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fhir-corpus/synthea-r4");
    let mut bundles: Vec<_> = std::fs::read_dir(&dir)
        .map_err(|e| eyre::eyre!("the FHIR corpus is missing at {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    bundles.sort();
    eyre::ensure!(!bundles.is_empty(), "no Synthea bundles in {}", dir.display());
    // The definitions load once per process, before the first validation is timed.
    let _ = ehr_record::validate_fhir_json(br#"{"resourceType":"Basic","code":{"text":"x"}}"#);
    let (mut slowest, mut total_ms, mut total_mb) = (0.0f64, 0.0, 0.0);
    for (i, path) in bundles.iter().enumerate() {
        let bytes = std::fs::read(path)?;
        let mut times = Vec::with_capacity(runs);
        for _ in 0..runs {
            let started = Instant::now();
            let report = ehr_record::validate_fhir_json(&bytes);
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            eyre::ensure!(
                report.is_valid(),
                "{} is not valid: {:?}",
                path.display(),
                report.errors
            );
        }
        times.sort_by(f64::total_cmp);
        let median = times[runs / 2];
        let mb = bytes.len() as f64 / 1e6;
        results.put(
            &format!("fhir.synthea.{i}.validate_ms"),
            median,
            &format!(
                "median of {runs} validate_fhir_json calls (parse, validate, category) on {} \
                 ({mb:.2} MB)",
                path.file_name().unwrap_or_default().to_string_lossy()
            ),
        );
        slowest = slowest.max(median);
        total_ms += median;
        total_mb += mb;
    }
    results.put(
        "fhir.synthea.max_validate_ms",
        slowest,
        "slowest median among the Synthea bundles (fhir.synthea.N.validate_ms)",
    );
    results.put(
        "fhir.synthea.ms_per_mb",
        total_ms / total_mb,
        "sum of the medians over the bundles' total size",
    );
    Ok(())
}
